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


def _pad_symmetric(t: Tensor) -> Tensor:
    """``(H, W, C)`` -> ``(H + 2, W + 2, C)``, each border pixel repeated once (the half-sample
    mirror of ``np.pad(mode="edge")`` and ``scipy.ndimage``'s ``reflect`` for a width of one)."""
    t = torch.cat([t[:1], t, t[-1:]], dim=0)
    return torch.cat([t[:, :1], t, t[:, -1:]], dim=1)


def grid_laplacian(t: Tensor, step: tuple[float, float]) -> Tensor:
    """:func:`laplacian_5point` of every channel of a grid tensor ``(H, W, C)``, differentiable."""
    a = _pad_symmetric(t)
    dxx = (a[1:-1, 2:] - 2 * a[1:-1, 1:-1] + a[1:-1, :-2]) / step[0] ** 2
    dyy = (a[2:, 1:-1] - 2 * a[1:-1, 1:-1] + a[:-2, 1:-1]) / step[1] ** 2
    return dxx + dyy


def grid_sobel(t: Tensor, step: tuple[float, float]) -> Tensor:
    """:func:`sobel_gradient` of every channel of a grid tensor: ``(H, W, C)`` -> ``(H, W, C, 2)``,
    differentiable."""
    a = _pad_symmetric(t)
    sy = a[:-2] + 2 * a[1:-1] + a[2:]  # smoothed along y, (H, W + 2, C)
    sx = a[:, :-2] + 2 * a[:, 1:-1] + a[:, 2:]  # smoothed along x, (H + 2, W, C)
    gx = (sy[:, 2:] - sy[:, :-2]) / (8.0 * step[0])
    gy = (sx[2:] - sx[:-2]) / (8.0 * step[1])
    return torch.stack([gx, gy], dim=-1)


def grid_neumann_power(t: Tensor, step: tuple[float, float], power: float) -> Tensor:
    """``(-L)^(-power) t`` for a grid tensor ``(H, W, C)``, where L is :func:`grid_laplacian` (the
    5-point Laplacian with mirrored borders, i.e. Neumann); the constant mode is dropped.

    Computed exactly in the cosine basis that diagonalises L (the mirrored array's FFT).
    ``power=1`` solves the Poisson equation; ``power=0.5`` turns the squared norm of a residual into
    its H^-1 (Sobolev) norm, which weighs every frequency of a Laplacian residual as the residual
    of the solution's gradient would be weighed: how ``StencilMatch(precondition=True)`` evens out
    the 5-point operator's k^4 spread of scales. Differentiable.
    """
    h, w = t.shape[:2]
    ky = torch.arange(2 * h, dtype=torch.float64, device=t.device)[:, None]
    kx = torch.arange(w + 1, dtype=torch.float64, device=t.device)[None, :]
    eig = (2 - 2 * torch.cos(torch.pi * kx / w)) / step[0] ** 2 + (2 - 2 * torch.cos(torch.pi * ky / h)) / step[1] ** 2
    weight = torch.where(eig > 1e-12 * eig.max(), eig.clamp_min(1e-300) ** (-power), torch.zeros_like(eig))
    weight = weight.to(t.real.dtype)[..., None]  # (2H, W + 1, 1)
    m = torch.cat([t, t.flip(1)], dim=1)
    m = torch.cat([m, m.flip(0)], dim=0)  # (2H, 2W, C): even extension about the half-pixel borders
    out = torch.fft.irfft2(torch.fft.rfft2(m, dim=(0, 1)) * weight, s=m.shape[:2], dim=(0, 1))
    return out[:h, :w]


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
