"""Objectives: the forward operator A and the loss, as named terms.

Every objective is called as ``objective(field, coords, targets) -> dict`` with a
``"loss"`` entry (what the optimiser minimises) and any other named terms to log.
"""

from __future__ import annotations

from torch import Tensor, nn


class Reconstruction:
    """A = identity: mean squared error between f(x) and the targets."""

    def __call__(self, field: nn.Module, coords: Tensor, targets: Tensor) -> dict[str, Tensor]:
        pred = field(coords)
        loss = ((pred - targets) ** 2).mean()
        return {"loss": loss}
