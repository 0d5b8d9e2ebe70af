"""Inverse problems: the field is observed only through a forward operator A.

- :class:`RayIntegral`: A = parallel-beam line integrals (sparse-view CT, Tancik et al. 2020,
  sec. 6), computed from the field along each ray of the batch (:mod:`inrkit.rendering.radon`);
- :class:`MaskedFourier`: A = the masked unitary 2-D DFT of the field's values on the pixel grid
  (undersampled MRI, :mod:`inrkit.ops.fourier`).

Both read their rays or k-space from the batch by name and return named terms with ``"loss"``;
the loop is :func:`inrkit.train.fit`, as for every other task.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..batch import Batch
from ..errors import InrkitError


class RayIntegral:
    """A = line integrals of the field along the batch's rays; loss = mean squared error per ray.

    The batch carries ``targets (R, 1)`` (measured integrals, in pixel lengths, as
    ``skimage.transform.radon`` gives them) and extras ``angles (R,)`` radians, ``offsets (R,)`` and
    ``t (R, S)`` pixels (:class:`inrkit.signals.tomography.RaySampler`). The residual is divided by
    ``n`` (the image side, the longest path in pixels), so the loss measures the mean attenuation
    along a ray and stays of order one whatever the resolution. ``support=True``: the field is
    zero outside the reconstruction circle (what ``radon(circle=True)`` assumes).
    """

    def __init__(self, n: int, support: bool = True):
        if n < 1:
            raise ValueError(f"n must be positive, not {n}")
        self.n, self.support = n, support

    def __call__(self, field: nn.Module, batch: Batch) -> dict[str, Tensor]:
        from ..rendering.radon import project

        pred = project(field, self.n, batch["angles"], batch["offsets"], batch["t"], self.support)  # (R,)
        loss = (((pred - batch.targets[:, 0]) / self.n) ** 2).mean()
        return {"loss": loss}


class MaskedFourier:
    """A = the masked unitary DFT of the field on the whole pixel grid; loss = mean |A f - y|^2 over
    the sampled locations.

    The batch holds every pixel in raster order (``grid = (H, W)``; the field's first channel is the
    image) with extras ``kspace (H*W, 2)`` (real, imaginary; centred) and ``mask (H*W, 1)``
    (:class:`inrkit.signals.kspace.KSpaceSampler`). With the unitary DFT the squared k-space error
    equals the squared image-domain error of the sampled frequencies, so the loss is in the
    image's own units (values in [0, 1]).
    """

    def __call__(self, field: nn.Module, batch: Batch) -> dict[str, Tensor]:
        from ..ops.fourier import masked_fft

        if batch.grid is None or len(batch.grid) != 2:
            raise InrkitError("the masked-Fourier objective needs every pixel of a 2-D grid each step")
        h, w = batch.grid
        img = field(batch.coords)[:, 0].reshape(h, w)
        mask = batch["mask"].reshape(h, w)
        y = batch["kspace"].reshape(h, w, 2)
        pred = masked_fft(img, mask)
        residual = torch.view_as_real(pred) - y * mask[..., None]
        loss = (residual ** 2).sum() / mask.sum().clamp_min(1.0)
        return {"loss": loss}


__all__ = ["RayIntegral", "MaskedFourier"]
