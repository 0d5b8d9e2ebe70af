"""Parallel-beam ray integrals of a 2-D field (the Radon transform), in scikit-image's geometry.

Why here and not in ``ops/``: ``ops`` holds differential operators of a field at its own points;
a projection is, like volume rendering (``rendering/volume.py``), a quadrature of the field
along rays, made of ray geometry plus a sum over samples. It is pure-absorption rendering
(Beer-Lambert: the log of the transmitted intensity is minus the line integral of the
attenuation mu), so it lives with the other ray functions, as pure functions (layer 1).

Geometry (``skimage.transform.radon`` with ``circle=True``, the reference the tests compare with):
an ``n x n`` image rotates about the pixel ``c = n // 2``; for the view at angle theta (degrees,
``np.deg2rad``) and the detector bin ``k`` (``s = k - c`` pixels from the axis) the ray visits the
pixel positions, for ``t = r - c``, ``r = 0 .. n-1``::

    column = c + s cos(theta) + t sin(theta)
    row    = c - s sin(theta) + t cos(theta)

and the sinogram entry ``[k, view]`` is the sum over ``r`` of the bilinearly interpolated image
there (zero outside), i.e. the line integral in pixel lengths. inrkit's coordinates put pixel
centre ``j`` at ``-1 + (2 j + 1) / n`` (``inrkit.coords``), so a field evaluated at these points,
and summed, gives the same sinogram: for the bilinear interpolant of a pixel image, exactly
scikit-image's to rounding (tests/inverse/test_radon.py). Training draws the ``t`` samples
stratified (one uniform jitter per ray), an unbiased estimate of the integral of a continuous
field instead of a fixed rule that a network could alias between.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

FieldFn = Callable[[Tensor], Tensor]  # coords (M, 2) -> values (M, 1)


def ray_points(n: int, angles: Tensor, offsets: Tensor, t: Tensor) -> Tensor:
    """Points of parallel rays in inrkit coordinates.

    ``angles (R,)`` in radians, ``offsets (R,)`` the detector position ``s`` in pixels from the
    rotation axis, ``t (R, S)`` positions along each ray in pixels from the axis. Returns
    ``(R, S, 2)`` coordinates ``(x, y)`` of an ``n x n`` image in [-1, 1] (pixel centres at
    ``-1 + (2 j + 1) / n``), see the module's docstring for the geometry.
    """
    c = float(n // 2)
    cos, sin = torch.cos(angles)[:, None], torch.sin(angles)[:, None]  # (R, 1)
    s = offsets[:, None]
    col = c + s * cos + t * sin  # (R, S) in pixel indices
    row = c - s * sin + t * cos
    return torch.stack([(2 * col + 1) / n - 1, (2 * row + 1) / n - 1], dim=-1)


def ray_samples(n: int, rays: int, generator: torch.Generator | None = None, jitter: bool = True,
                samples: int | None = None) -> Tensor:
    """``(rays, S)`` positions along each ray in pixels from the axis, ``S = samples`` (default ``n``).

    The ray's extent, ``[-c - 1/2, n - c - 1/2]`` with ``c = n // 2``, is cut into ``S`` cells of
    ``n / S`` pixels; each sample sits in its cell at the same fraction, drawn uniformly per ray when
    ``jitter`` (stratified sampling), at the centre otherwise. With ``S = n`` and no jitter these are
    scikit-image's points ``r - c``, ``r = 0 .. n-1``. Each sample stands for ``n / S`` pixels of path
    (:func:`project`'s ``step``).
    """
    s = n if samples is None else samples
    cell = n / s
    u = torch.rand(rays, 1, generator=generator) if jitter else torch.full((rays, 1), 0.5)
    k = torch.arange(s, dtype=torch.float32)
    return -float(n // 2) - 0.5 + cell * (k + u)  # (rays, S)


def disc_mask(coords: Tensor, n: int) -> Tensor:
    """1 inside the reconstruction circle of ``radon(circle=True)`` (radius ``n // 2`` pixels about
    pixel ``n // 2``) widened by 1.5 pixels, else 0: ``(..., 2) -> (..., 1)``. The object is assumed
    zero outside the circle; the margin (more than the sqrt(2) pixels of a bilinear footprint) keeps
    every point where an interpolant of such an image can be non-zero."""
    c = n // 2
    col = (coords[..., 0] + 1) * n / 2 - 0.5
    row = (coords[..., 1] + 1) * n / 2 - 0.5
    inside = (col - c) ** 2 + (row - c) ** 2 <= (n // 2 + 1.5) ** 2
    return inside.to(coords.dtype)[..., None]


def project(fn: FieldFn, n: int, angles: Tensor, offsets: Tensor, t: Tensor, support: bool = True) -> Tensor:
    """Line integrals ``(R,)`` of ``fn`` along the rays ``(angles, offsets)`` sampled at ``t (R, S)``
    in pixels: the sum of the samples times ``n / S`` pixels each (:func:`ray_samples`), the integral
    in pixel lengths as ``skimage.transform.radon`` measures it.
    ``support=True`` multiplies the field by :func:`disc_mask` (zero outside the circle)."""
    pts = ray_points(n, angles, offsets, t)  # (R, S, 2)
    r, s = t.shape
    values = fn(pts.reshape(r * s, 2)).reshape(r, s, -1)[..., 0]  # (R, S)
    if support:
        values = values * disc_mask(pts, n)[..., 0]
    return values.sum(dim=1) * (n / s)


def sinogram(fn: FieldFn, n: int, theta: Tensor, chunk_rays: int = 4096, support: bool = True) -> Tensor:
    """The whole sinogram ``(n, V)`` of ``fn`` for angles ``theta (V,)`` in degrees, with
    scikit-image's fixed samples (no jitter), evaluated ``chunk_rays`` rays at a time."""
    v = theta.shape[0]
    k = torch.arange(n, dtype=torch.float32) - float(n // 2)
    offsets = k.repeat(v)  # (n * V,) detector-major within each view
    angles = torch.deg2rad(theta.float()).repeat_interleave(n)
    out = []
    for i in range(0, n * v, chunk_rays):
        a, o = angles[i:i + chunk_rays], offsets[i:i + chunk_rays]
        out.append(project(fn, n, a, o, ray_samples(n, a.shape[0], jitter=False), support))
    return torch.cat(out).reshape(v, n).T  # (n, V)


def bilinear(image: Tensor) -> FieldFn:
    """The bilinear interpolant of an ``(H, W)`` image, zero outside, as a field on inrkit's
    coordinates (``grid_sample`` with ``align_corners=False``: pixel centres at the cell centres).
    The continuous stand-in for a pixel image that scikit-image's ``warp`` integrates."""
    img = image.float()[None, None]  # (1, 1, H, W)

    def fn(coords: Tensor) -> Tensor:
        g = coords.reshape(1, -1, 1, 2).to(img.dtype)
        return F.grid_sample(img, g, mode="bilinear", padding_mode="zeros", align_corners=False).reshape(-1, 1)
    return fn


def even_angles(views: int, span: float = 180.0) -> Tensor:
    """``views`` angles in degrees evenly spaced over ``[0, span)``, as ``np.linspace(0, 180, views,
    endpoint=False)`` (the usual sparse-view protocol)."""
    return torch.arange(views, dtype=torch.float64) * (span / views)


__all__ = ["ray_points", "ray_samples", "disc_mask", "project", "sinogram", "bilinear", "even_angles"]
