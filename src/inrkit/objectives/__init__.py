"""Objectives: the forward operator A and the loss, as named terms.

Every objective is called as ``objective(model, batch) -> dict[str, Tensor]`` with a
``"loss"`` entry (what the optimiser minimises) and any other named terms to log. It reads
what it needs from the :class:`~inrkit.batch.Batch` by name; a new task is a new class here
(or in its own module), never a new loop.
"""

from .fitting import GradientMatch, LaplacianMatch, Reconstruction, StencilMatch
from .inverse import MaskedFourier, RayIntegral
from .shape import Occupancy, SignedDistance
from .meta import MetaReconstruction
from .rendering import VolumeRendering

__all__ = ["Reconstruction", "GradientMatch", "LaplacianMatch", "StencilMatch", "VolumeRendering",
           "MetaReconstruction", "RayIntegral", "MaskedFourier",
           "SignedDistance", "Occupancy"]

from .pde import PDEResidual  # noqa: E402  (physics-informed solving, inrkit.pde)

__all__ += ["PDEResidual"]
