"""THE coordinate convention of inrkit.

A signal of N samples along an axis covers the interval [-1, 1]; sample i sits at the
centre of its cell::

    x_i = -1 + (2 i + 1) / N,   i = 0 .. N-1

so the cell edges, not the centres, touch -1 and 1. This is the convention of
``grid_sample(align_corners=False)``: rendering the same field on a grid of another size
samples the same square, and a pixel of the 8x render sits inside the pixel it refines.

Coordinates are channels-last. For images the last axis is ``(x, y)``: x grows to the
right along columns, y grows downwards along rows (image order), so
``grid(H, W)[i, j] == (x_j, y_i)``. Derivatives are taken with respect to these
coordinates: one pixel is a step of ``2 / W`` in x and ``2 / H`` in y.
"""

from __future__ import annotations

import torch
from torch import Tensor

Bounds = tuple[tuple[float, float], ...]
"""Per-axis ``(low, high)`` of a region of the domain, in coordinate order (x, y, ...)."""

FULL_2D: Bounds = ((-1.0, 1.0), (-1.0, 1.0))


def axis(n: int, low: float = -1.0, high: float = 1.0, dtype: torch.dtype = torch.float32,
         device: torch.device | str | None = None) -> Tensor:
    """Cell centres of ``n`` equal cells covering ``[low, high]``: shape ``(n,)``."""
    step = (high - low) / n
    return low + step * (torch.arange(n, dtype=dtype, device=device) + 0.5)


def grid(shape: tuple[int, ...], bounds: Bounds | None = None, dtype: torch.dtype = torch.float32,
         device: torch.device | str | None = None) -> Tensor:
    """Cell-centre grid for an array of ``shape`` (row-major sizes, e.g. ``(H, W)``).

    Returns a tensor of shape ``(*shape, len(shape))`` whose last axis is in coordinate
    order, which is the reverse of array order: for ``(H, W)`` it is ``(x, y)``.
    ``bounds`` are given in coordinate order too; default ``[-1, 1]`` on every axis.
    """
    d = len(shape)
    if bounds is None:
        bounds = tuple((-1.0, 1.0) for _ in range(d))
    if len(bounds) != d:
        raise ValueError(f"bounds has {len(bounds)} axes, shape has {d}")
    # Array axis k corresponds to coordinate d-1-k.
    axes = [axis(n, *bounds[d - 1 - k], dtype=dtype, device=device) for k, n in enumerate(shape)]
    mesh = torch.meshgrid(*axes, indexing="ij")  # each (*shape,), in array order
    return torch.stack(mesh[::-1], dim=-1)  # (*shape, d), coordinate order


def pixel_step(shape: tuple[int, ...], bounds: Bounds | None = None) -> tuple[float, ...]:
    """Distance between neighbouring samples along each coordinate (coordinate order)."""
    d = len(shape)
    if bounds is None:
        bounds = tuple((-1.0, 1.0) for _ in range(d))
    return tuple((bounds[c][1] - bounds[c][0]) / shape[d - 1 - c] for c in range(d))
