"""3-D shapes: signed distance from oriented points, occupancy from labelled points.

:class:`SignedDistance` is the loss of Sitzmann et al. 2020 (SIREN), sec. 4.2, eq. 6: on surface
points ``f = 0`` and ``grad f`` along the normal; everywhere ``|grad f| = 1`` (the eikonal
equation); off the surface a penalty ``exp(-alpha |f|)`` against spurious zeros. The weights are
those of the authors' released training script (SIREN's ``loss_functions.sdf``): 3e3 on-surface,
1e2 normal, 5e1 eikonal, 1e2 off-surface, ``alpha = 100``; the paper states only ``alpha >> 1``.
``grad f`` comes by forward propagation (:func:`inrkit.ops.jet.jet`, one backward pass to train)
for MLP fields, else by autograd.

:class:`Occupancy` is binary cross-entropy on the field's logit (Tancik et al. 2020, sec. 6,
"3D shape regression", following Mescheder et al. 2019).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..batch import Batch

SIREN_SDF_WEIGHTS = {"surface": 3e3, "normal": 1e2, "eikonal": 5e1, "off_surface": 1e2}
SIREN_SDF_ALPHA = 100.0


def value_and_gradient(field: nn.Module, x: Tensor) -> tuple[Tensor, Tensor]:
    """``f (N, 1)`` and ``grad f (N, d)``, differentiable in the parameters: forward mode for MLP
    fields (:mod:`inrkit.ops.jet`), autograd otherwise."""
    from ..ops import gradient
    from ..ops.jet import jet, supports_jet

    if supports_jet(field):
        f, g, _ = jet(field, x.detach(), laplacian=False)
        return f[:, :1], g[:, 0]
    x = x.detach().requires_grad_(True)
    f = field(x)[:, :1]
    return f, gradient(f, x)


class SignedDistance:
    """Sitzmann et al. 2020, sec. 4.2. The batch: ``coords (N, 3)`` with extras ``on_surface (N, 1)``
    (1 for points of the cloud, 0 for free-space samples) and ``normals (N, 3)`` (used where
    ``on_surface`` is 1)."""

    def __init__(self, weights: dict[str, float] | None = None, alpha: float = SIREN_SDF_ALPHA):
        self.weights = dict(SIREN_SDF_WEIGHTS, **(weights or {}))
        self.alpha = alpha

    def __call__(self, field: nn.Module, batch: Batch) -> dict[str, Tensor]:
        f, g = value_and_gradient(field, batch.coords)
        on = batch["on_surface"]
        off = 1.0 - on
        n_on, n_off = on.sum().clamp_min(1.0), off.sum().clamp_min(1.0)
        surface = (on * f.abs()).sum() / n_on
        cos = F.cosine_similarity(g, batch["normals"], dim=-1)[:, None]
        normal = (on * (1 - cos)).sum() / n_on
        eikonal = ((g.norm(dim=-1, keepdim=True) - 1).abs()).mean()
        off_surface = (off * torch.exp(-self.alpha * f.abs())).sum() / n_off
        terms = {"surface": surface, "normal": normal, "eikonal": eikonal, "off_surface": off_surface}
        terms["loss"] = sum(self.weights[k] * v for k, v in terms.items())
        return terms


class Occupancy:
    """Binary cross-entropy between the field's logit (first channel) and ``targets (N, 1)`` in {0, 1}
    (1 inside)."""

    def __call__(self, field: nn.Module, batch: Batch) -> dict[str, Tensor]:
        logit = field(batch.coords)[:, :1]
        loss = F.binary_cross_entropy_with_logits(logit, batch.targets)
        return {"loss": loss}


__all__ = ["SignedDistance", "Occupancy", "value_and_gradient", "SIREN_SDF_WEIGHTS", "SIREN_SDF_ALPHA"]
