"""Samplers: callables ``generator -> Batch`` that :func:`inrkit.train.fit` calls every step.

The contract every signal follows (see docs/architecture.md):

- ``Signal.sampler(batch_size, device) -> Sampler``: a sampler over the signal's observations;
- ``Signal.meta() -> dict``: kind, shape, coordinate bounds and value range, stored in the
  checkpoint's JSON.

:class:`PointSampler` covers every signal whose observations are a fixed set of rows
(pixels, samples, voxels, gradient targets with anchors). Tasks that draw fresh points every
step (collocation points, off-surface samples) write their own sampler: any callable taking
the generator and returning a :class:`~inrkit.batch.Batch`.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from ..batch import Batch

Sampler = Callable[[torch.Generator | None], Batch]


class PointSampler:
    """Fixed observations, drawn ``batch_size`` rows at a time uniformly with replacement.

    ``coords (N, d)``, ``targets (N, ...)`` and each of ``extras`` (``N`` rows) are indexed
    together. ``batch_size=0`` (or ``>= N``) hands over every row every step, marked with
    ``grid`` when the rows are a whole grid in raster order (stencil objectives need that);
    random subsets never carry ``grid``. Indices are drawn on the CPU from the generator and
    then moved, so a seed gives the same batches on every device.
    """

    def __init__(self, coords: Tensor, targets: Tensor | None = None, batch_size: int = 0,
                 extras: dict[str, Tensor] | None = None, grid: tuple[int, ...] | None = None):
        if batch_size < 0:
            raise ValueError(f"batch_size must be 0 (every point) or positive, not {batch_size}")
        n = coords.shape[0]
        for name, t in [("targets", targets), *(extras or {}).items()]:
            if t is not None and t.shape[0] != n:
                raise ValueError(f"{name} has {t.shape[0]} rows, coords {n}")
        self.coords, self.targets, self.extras = coords, targets, dict(extras or {})
        self.batch_size = batch_size
        self.full = Batch(coords, targets, self.extras, grid)

    def __len__(self) -> int:
        return int(self.coords.shape[0])

    def __call__(self, generator: torch.Generator | None = None) -> Batch:
        n = len(self)
        if not self.batch_size or self.batch_size >= n:
            return self.full
        idx = torch.randint(0, n, (self.batch_size,), generator=generator).to(self.coords.device)
        return Batch(self.coords[idx], None if self.targets is None else self.targets[idx],
                     {k: v[idx] for k, v in self.extras.items()})
