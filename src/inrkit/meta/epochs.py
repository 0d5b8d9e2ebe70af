"""A sampler over a fixed dataset in epochs: a fresh permutation each epoch, cut into minibatches.

Used by the models trained on a functaset (classifier, flow); with :func:`inrkit.train.fit`
and ``steps = epochs * batches_per_epoch`` it visits every row once per epoch.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..batch import Batch


class EpochBatches:
    """Minibatches ``Batch(coords=inputs[b], targets=targets[b])`` of a permutation drawn per epoch.

    ``inputs (M, ...)`` and ``targets (M, ...)`` (optional) are indexed together. At the start
    of every epoch one ``torch.randperm(M, generator=generator)`` is drawn on the CPU (and then
    moved to the inputs' device), so a seed fixes the order of every epoch on every device. The
    last minibatch of an epoch holds the remainder (``M % batch_size`` rows when not zero).
    """

    def __init__(self, inputs: Tensor, targets: Tensor | None = None, batch_size: int = 128):
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        if targets is not None and targets.shape[0] != inputs.shape[0]:
            raise ValueError(f"targets has {targets.shape[0]} rows, inputs {inputs.shape[0]}")
        self.inputs, self.targets, self.batch_size = inputs, targets, batch_size
        self.perm: Tensor | None = None
        self.pos = 0

    def __len__(self) -> int:
        """Minibatches per epoch."""
        return max(1, math.ceil(self.inputs.shape[0] / self.batch_size))

    def __call__(self, generator: torch.Generator | None = None) -> Batch:
        if self.perm is None or self.pos >= len(self.perm):
            self.perm = torch.randperm(self.inputs.shape[0], generator=generator).to(self.inputs.device)
            self.pos = 0
        b = self.perm[self.pos:self.pos + self.batch_size]
        self.pos += self.batch_size
        return Batch(coords=self.inputs[b], targets=None if self.targets is None else self.targets[b])
