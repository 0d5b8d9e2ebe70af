"""A batch with named fields: what one training step observes.

Samplers (``Signal.sampler(...)``, :class:`inrkit.signals.sampling.PointSampler`, or any
callable ``generator -> Batch``) draw one each step; objectives read what they need by name.
Every layer may import this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import Tensor


@dataclass
class Batch:
    """Observations for one step.

    ``coords (N, d)``: where the field is evaluated (``None`` for tasks that make their own
    points, such as rays). ``targets (N, ...)``: what the forward operator should give there
    (values ``(N, C)``, gradients ``(N, C, d)``, Laplacians ``(N, C)``, ...). ``extras``: any
    other named tensor the objective reads (``"mask"``, ``"values"``, ``"origins"``,
    ``"directions"``, ``"background"``, ...), each with ``N`` rows unless its objective says
    otherwise. ``grid``: set to the grid shape (in ``inrkit.coords.grid`` order) when the batch
    holds every point of a regular grid in raster order, which stencil objectives need;
    ``None`` for a random subset.
    """

    coords: Tensor | None = None
    targets: Tensor | None = None
    extras: dict[str, Tensor] = field(default_factory=dict)
    grid: tuple[int, ...] | None = None

    def __getitem__(self, name: str) -> Tensor:
        """An extra by name; a clear error names the ones the batch has."""
        try:
            return self.extras[name]
        except KeyError:
            raise KeyError(f"this batch has no {name!r}; it holds {sorted(self.extras) or 'no extras'}") from None

    def __contains__(self, name: str) -> bool:
        return name in self.extras

    def __len__(self) -> int:
        for t in (self.coords, self.targets, *self.extras.values()):
            if t is not None:
                return int(t.shape[0])
        return 0
