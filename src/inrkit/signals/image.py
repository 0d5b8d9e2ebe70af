"""Images as signals: values on a cell-centre grid of [-1, 1]^2 (see ``inrkit.coords``)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from .. import coords as C
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

    def sampler(self, batch_size: int = 0, device=None) -> PointSampler:
        """Pixels for :func:`inrkit.train.fit`: ``batch_size`` random ones per step, or all (0) as a grid."""
        h, w = self.shape
        return PointSampler(self.coords(device).reshape(-1, 2), self.targets(device).reshape(-1, self.channels),
                            batch_size, grid=(h, w))

    def meta(self) -> dict:
        """Kind, shape, coordinate convention and value range: the checkpoint's description of the signal."""
        h, w = self.shape
        return {"kind": "image", "name": self.name, "shape": [h, w], "channels": self.channels, **self.info}
