"""Images as signals: values on a cell-centre grid of [-1, 1]^2 (see ``inrkit.coords``)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from .. import coords as C
from ..errors import InrkitError
from .sampling import PointSampler


@dataclass
class ImageSignal:
    """An image as observations of a field.

    ``pixels`` is float32 ``(H, W, C)`` in [0, 1]. Fields are fitted to
    ``targets = 2 * pixels - 1`` in [-1, 1] (the SIREN recipe, Sitzmann 2020 sec. 4.1)
    at ``coords = coords.grid((H, W))``, channels-last, coordinate order (x, y).
    """

    pixels: np.ndarray
    name: str = "image"
    info: dict = field(default_factory=dict)

    VALUE_RANGE = (-1.0, 1.0)

    def __post_init__(self):
        if self.pixels.ndim == 2:
            self.pixels = self.pixels[..., None]
        self.pixels = np.ascontiguousarray(self.pixels, dtype=np.float32)

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.pixels.shape[0]), int(self.pixels.shape[1])

    @property
    def channels(self) -> int:
        return int(self.pixels.shape[2])

    def coords(self, device=None, dtype=torch.float32) -> Tensor:
        """``(H, W, 2)`` cell-centre coordinates."""
        return C.grid(self.shape, dtype=dtype, device=device)

    def targets(self, device=None, dtype=torch.float32) -> Tensor:
        """``(H, W, C)`` values in [-1, 1]."""
        return torch.as_tensor(self.pixels * 2.0 - 1.0, dtype=dtype, device=device)

    def sampler(self, batch_size: int = 0, device=None, rows: Tensor | None = None) -> PointSampler:
        """Pixels for :func:`inrkit.train.fit`: ``batch_size`` random ones per step, or all (0) as a grid.

        ``rows`` (indices into the raster order, e.g. :func:`holdout_split`'s training rows)
        restricts the sampler to those pixels: random batches are drawn among them, and a
        whole-image step hands over all of them (not marked as a grid, since it is not one).
        """
        h, w = self.shape
        coords = self.coords(device).reshape(-1, 2)  # (H*W, 2), raster order
        targets = self.targets(device).reshape(-1, self.channels)  # (H*W, C)
        if rows is None:
            return PointSampler(coords, targets, batch_size, grid=(h, w))
        rows = rows.to(coords.device)
        return PointSampler(coords[rows], targets[rows], batch_size)

    def meta(self) -> dict:
        """Kind, shape, coordinate convention and value range: the checkpoint's description of the signal."""
        h, w = self.shape
        return {"kind": "image", "name": self.name, "shape": [h, w], "channels": self.channels, **self.info}


def holdout_split(pixels: int, fraction: float, seed: int) -> tuple[Tensor, Tensor]:
    """Split ``pixels`` raster rows into (training rows, held-out rows), both sorted ``(n,)`` int64.

    The held-out rows are ``round(fraction * pixels)`` pixels drawn uniformly without
    replacement (at least one and at most all but one when ``fraction > 0``), the protocol of
    Tancik et al. 2020 (sec. 5.1: fit on some pixels, report PSNR on pixels never seen). They
    come from their own generator seeded with ``seed + 2`` (initialisation uses ``seed`` and
    the training batches ``seed + 1``), so a fit with a hold-out draws the same initial weights
    and batch indices as one without. ``fraction = 0`` holds out nothing.
    """
    k = holdout_count(pixels, fraction)
    gen = torch.Generator().manual_seed(seed + HOLDOUT_SEED_OFFSET)
    held = torch.randperm(pixels, generator=gen)[:k] if k else torch.zeros(0, dtype=torch.int64)
    mask = torch.zeros(pixels, dtype=torch.bool)
    mask[held] = True
    return torch.nonzero(~mask)[:, 0], torch.nonzero(mask)[:, 0]


def holdout_count(samples: int, fraction: float) -> int:
    """How many of ``samples`` a hold-out of ``fraction`` keeps out: ``round(fraction * samples)``,
    at least one and at most all but one when ``fraction > 0``; refuses a fraction outside [0, 1)."""
    if not 0.0 <= fraction < 1.0:
        raise InrkitError(f"the held-out fraction must be in [0, 1), not {fraction}")
    if samples < 2:
        return 0
    k = int(round(fraction * samples))
    return min(max(k, 1), samples - 1) if fraction > 0 else k


HOLDOUT_SEED_OFFSET = 2
"""The held-out pixels' generator is seeded with ``seed + 2``: apart from init (``seed``) and batches (``seed + 1``)."""


def _image_kind():
    from .kinds import Kind

    return Kind("image", (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".webp"), None, in_dim=2,
                describe="image (PNG, JPEG, TIFF, ...; or a built-in name): (x, y) -> colour; fitted by "
                         "inrkit.apps.image")


KIND = _image_kind()
"""Images as a kind (:mod:`inrkit.signals.kinds`): the command line hands them to :mod:`inrkit.apps.image`."""
