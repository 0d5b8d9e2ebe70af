"""Finite-difference derivatives: of arrays (for targets) and of fields (for checks).

Arrays are ``(H, W)`` scalars on inrkit's grid; ``step = (hx, hy)`` is the distance
between pixels in coordinates (``coords.pixel_step``). Results are in coordinate
order (x, y) and in the same units as the autodiff operators, so they compare directly.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage
from torch import Tensor, nn


def central_gradient(array: np.ndarray, step: tuple[float, float]) -> np.ndarray:
    """Second-order central differences inside, one-sided at the border: ``(H, W)`` -> ``(H, W, 2)``."""
    gy, gx = np.gradient(array.astype(np.float64), step[1], step[0])
    return np.stack([gx, gy], axis=-1)


def laplacian_5point(array: np.ndarray, step: tuple[float, float]) -> np.ndarray:
    """Five-point Laplacian (f(x+h) - 2 f(x) + f(x-h)) / h^2 per axis, borders replicated."""
    a = np.pad(array.astype(np.float64), 1, mode="edge")
    dxx = (a[1:-1, 2:] - 2 * a[1:-1, 1:-1] + a[1:-1, :-2]) / step[0] ** 2
    dyy = (a[2:, 1:-1] - 2 * a[1:-1, 1:-1] + a[:-2, 1:-1]) / step[1] ** 2
    return dxx + dyy


def sobel_gradient(array: np.ndarray, step: tuple[float, float]) -> np.ndarray:
    """Sobel-filtered gradient, scaled to a derivative: ``(H, W)`` -> ``(H, W, 2)``.

    The Sobel kernel is [1, 2, 1] (smoothing) times [-1, 0, 1] (difference), which sums
    to 8 h times the derivative, hence the division. Borders are reflected.
    """
    a = array.astype(np.float64)
    gx = ndimage.sobel(a, axis=1, mode="reflect") / (8.0 * step[0])
    gy = ndimage.sobel(a, axis=0, mode="reflect") / (8.0 * step[1])
    return np.stack([gx, gy], axis=-1)


def field_gradient(field: nn.Module, coords: Tensor, h: float = 1e-5) -> Tensor:
    """Central-difference gradient of a scalar field (channel mean): ``(*, d)`` -> ``(*, d)``."""
    cols = []
    with torch.no_grad():
        for i in range(coords.shape[-1]):
            e = torch.zeros(coords.shape[-1], dtype=coords.dtype, device=coords.device)
            e[i] = h
            cols.append((field(coords + e).mean(-1) - field(coords - e).mean(-1)) / (2 * h))
    return torch.stack(cols, dim=-1)


def field_laplacian(field: nn.Module, coords: Tensor, h: float = 1e-4) -> Tensor:
    """Central second differences summed over axes: ``(*, d)`` -> ``(*, 1)``."""
    total = 0.0
    with torch.no_grad():
        centre = field(coords).mean(-1)
        for i in range(coords.shape[-1]):
            e = torch.zeros(coords.shape[-1], dtype=coords.dtype, device=coords.device)
            e[i] = h
            total = total + (field(coords + e).mean(-1) - 2 * centre + field(coords - e).mean(-1)) / h**2
    return total[..., None]
