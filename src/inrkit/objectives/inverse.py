"""Inverse problems: the field is observed only through a forward operator A.

- :class:`RayIntegral`: A = parallel-beam line integrals (sparse-view CT, Tancik et al. 2020,
  sec. 6), computed from the field along each ray of the batch (:mod:`inrkit.rendering.radon`), or
  (``pixels=True``) scikit-image's radon of the field's pixel image, the measurement's own operator;
- :class:`MaskedFourier`: A = the masked unitary 2-D DFT of the field's values on the pixel grid
  (undersampled MRI, :mod:`inrkit.ops.fourier`).

Both read their rays or k-space from the batch by name and return named terms with ``"loss"``;
the loop is :func:`inrkit.train.fit`, as for every other task.

Both take an optional total-variation weight ``tv``: the loss becomes the data term plus ``tv`` times
the field's isotropic total variation in pixel steps (:func:`total_variation`; for CT at random
points, :class:`RayIntegral`), the prior of compressed sensing that INR reconstructions of
tomography and MRI often add to the network's own bias (``tv=0``: the pure INR, as Tancik et al.
2020). The terms ``data`` and ``tv`` are reported apart.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..batch import Batch
from ..errors import InrkitError

TV_EPS = 1e-8
"""Added under the square root of the isotropic total variation, so its gradient is finite where the
field is flat."""


def total_variation(img: Tensor) -> Tensor:
    """Isotropic total variation of ``img (H, W)``: the mean over pixels of sqrt(dx^2 + dy^2 + eps),
    forward differences of neighbouring pixels (zero across the far edges)."""
    dx = torch.nn.functional.pad(img[:, 1:] - img[:, :-1], (0, 1))
    dy = torch.nn.functional.pad(img[1:, :] - img[:-1, :], (0, 0, 0, 1))
    return torch.sqrt(dx ** 2 + dy ** 2 + TV_EPS).mean()


def _check_tv(tv: float) -> float:
    tv = float(tv)
    if not (tv >= 0.0 and tv < float("inf")):
        raise InrkitError(f"the total-variation weight must be a finite number >= 0, not {tv}")
    return tv


class RayIntegral:
    """A = line integrals of the field along the batch's rays; loss = mean squared error per ray.

    The batch carries ``targets (R, 1)`` (measured integrals, in pixel lengths, as
    ``skimage.transform.radon`` gives them) and extras ``angles (R,)`` radians, ``offsets (R,)`` and
    ``t (R, S)`` pixels (:class:`inrkit.signals.tomography.RaySampler`). The residual is divided by
    ``n`` (the image side, the longest path in pixels), so the loss measures the mean attenuation
    along a ray and stays of order one whatever the resolution. ``support=True``: the field is
    zero outside the reconstruction circle (what ``radon(circle=True)`` assumes).

    ``tv > 0`` adds ``tv`` times the field's total variation, estimated at the batch's ``tv_points
    (P, 2)`` (random points in the square; :class:`inrkit.signals.tomography.RaySampler`): the mean of
    sqrt(dx^2 + dy^2 + eps) over the points, dx and dy the differences of the field one pixel step
    (2 / n) along x and along y, in the same units as :func:`total_variation` of the pixel image.

    ``pixels=True``: the operator of the measurement itself instead of the continuous line integral
    (the full-image projection of Tancik et al. 2020's CT experiment). The field is evaluated once per
    step at the ``n x n`` pixel centres, and each ray sums the bilinear interpolant of that pixel image at
    scikit-image's fixed points (``t = r - n // 2``, :func:`inrkit.rendering.radon.bilinear`), which is
    ``skimage.transform.radon`` of the image to rounding; the batch's ``t`` is not used. Cost: n^2 field
    evaluations per step whatever the number of rays, so every ray each step (a sampler with
    ``rays=0``) is exact, full-batch gradient descent on the discrete problem with no sampling noise.
    With ``tv > 0`` the total variation is then :func:`total_variation` of that pixel image (exact, no
    ``tv_points`` needed).
    """

    def __init__(self, n: int, support: bool = True, tv: float = 0.0, pixels: bool = False):
        if n < 1:
            raise ValueError(f"n must be positive, not {n}")
        self.n, self.support, self.tv, self.pixels = n, support, _check_tv(tv), bool(pixels)
        self._grid: Tensor | None = None

    def _pixel_image(self, field: nn.Module, device) -> Tensor:
        from .. import coords as C
        from ..rendering.radon import disc_mask

        if self._grid is None or self._grid.device != device:
            self._grid = C.grid((self.n, self.n), device=device).reshape(-1, 2)
        v = field(self._grid)[:, :1]
        if self.support:
            v = v * disc_mask(self._grid, self.n)
        return v.reshape(self.n, self.n)

    def __call__(self, field: nn.Module, batch: Batch) -> dict[str, Tensor]:
        from ..rendering.radon import bilinear, disc_mask, project, ray_samples

        img = None
        if self.pixels:
            angles = batch["angles"]
            img = self._pixel_image(field, angles.device)
            t = ray_samples(self.n, angles.shape[0], jitter=False).to(angles.device)
            pred = project(bilinear(img), self.n, angles, batch["offsets"], t, support=False)  # (R,)
        else:
            pred = project(field, self.n, batch["angles"], batch["offsets"], batch["t"], self.support)  # (R,)
        data = (((pred - batch.targets[:, 0]) / self.n) ** 2).mean()
        if not self.tv:
            return {"loss": data}
        if img is not None:  # the pixel image is at hand: its exact total variation
            tv = total_variation(img)
            return {"loss": data + self.tv * tv, "data": data, "tv": tv}
        if "tv_points" not in batch.extras:
            raise InrkitError("a total-variation weight needs the sampler's tv_points (RaySampler(tv_points=P))")
        p = batch["tv_points"]
        h = 2.0 / self.n
        q = torch.cat([p, p + p.new_tensor([h, 0.0]), p + p.new_tensor([0.0, h])])
        v = field(q)[:, 0]
        if self.support:
            v = v * disc_mask(q, self.n)[:, 0]
        f0, fx, fy = v.chunk(3)
        tv = torch.sqrt((fx - f0) ** 2 + (fy - f0) ** 2 + TV_EPS).mean()
        return {"loss": data + self.tv * tv, "data": data, "tv": tv}


class MaskedFourier:
    """A = the masked unitary DFT of the field on the whole pixel grid; loss = mean |A f - y|^2 over
    the sampled locations.

    The batch holds every pixel in raster order (``grid = (H, W)``; the field's first channel is the
    image) with extras ``kspace (H*W, 2)`` (real, imaginary; centred) and ``mask (H*W, 1)``
    (:class:`inrkit.signals.kspace.KSpaceSampler`). With the unitary DFT the squared k-space error
    equals the squared image-domain error of the sampled frequencies, so the loss is in the
    image's own units (values in [0, 1]). ``tv > 0`` adds ``tv`` times :func:`total_variation` of the
    field's image. With an extra ``support (H*W, 1)`` the field's image is multiplied by it first (the
    object is known to be zero outside it; :func:`inrkit.signals.kspace.estimate_support`).
    """

    def __init__(self, tv: float = 0.0):
        self.tv = _check_tv(tv)

    def __call__(self, field: nn.Module, batch: Batch) -> dict[str, Tensor]:
        from ..ops.fourier import masked_fft

        if batch.grid is None or len(batch.grid) != 2:
            raise InrkitError("the masked-Fourier objective needs every pixel of a 2-D grid each step")
        h, w = batch.grid
        img = field(batch.coords)[:, 0].reshape(h, w)
        if "support" in batch:  # the image is zero off the support: part of the forward model
            img = img * batch["support"].reshape(h, w)
        mask = batch["mask"].reshape(h, w)
        y = batch["kspace"].reshape(h, w, 2)
        pred = masked_fft(img, mask)
        residual = torch.view_as_real(pred) - y * mask[..., None]
        data = (residual ** 2).sum() / mask.sum().clamp_min(1.0)
        if not self.tv:
            return {"loss": data}
        tv = total_variation(img)
        return {"loss": data + self.tv * tv, "data": data, "tv": tv}


__all__ = ["RayIntegral", "MaskedFourier", "total_variation"]
