"""The physics-informed objective: PDE residual plus boundary, initial and observation terms.

For a problem with residual ``R[u](x)`` and conditions ``B_j[u](x) = 0`` the loss is

    loss = w_r mean_x R[u](x)^2 + sum_j w_j mean_x B_j[u](x)^2 + w_d mean_i (u(x_i) - y_i)^2

(Raissi, Perdikaris & Karniadakis 2019, J. Comput. Phys. 378, 686, eq. 4; Lagaris et al. 1998
for the residual form), each mean over the points the batch holds for that term (see
:mod:`inrkit.pde.sampling`). Every term is returned under its name (``"residual"``, the
condition's name, ``"data"``) with ``"loss"`` their weighted sum, so ``fit`` logs each.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..batch import Batch
from ..errors import InrkitError
from ..pde.derivatives import Derivatives
from ..pde.problem import Dirichlet, Initial, Neumann, Periodic, Problem


class PDEResidual:
    """``objective(model, batch) -> {"residual", <condition names>, "data", "loss"}`` for a :class:`~inrkit.pde.model.PINN`.

    ``weights``: per-term multipliers (default 1 each). ``derivatives``: ``"auto"`` (forward mode
    where the field allows), ``"forward"`` or ``"autograd"``.
    """

    def __init__(self, problem: Problem, weights: dict[str, float] | None = None, derivatives: str = "auto"):
        self.problem = problem
        self.weights = dict(weights or {})
        names = {"residual", "data"} | {c.name for c in problem.soft_conditions()}
        unknown = sorted(set(self.weights) - names)
        if unknown:
            raise InrkitError(f"loss weights for unknown terms {unknown}; terms are {sorted(names)}")
        self.derivatives = derivatives

    def residual(self, model: nn.Module, x: Tensor) -> Tensor:
        """The residual ``(N, k)`` at points ``x (N, d)``, shape-checked."""
        dom = self.problem.domain
        D = Derivatives(model, x, dom.spatial, dom.time_index, self.problem.second_dims, self.derivatives,
                        self.problem.laplacian)
        params = dict(model.coefficients.items()) if hasattr(model, "coefficients") else {}
        with torch.enable_grad():
            r = self.problem.residual(D.x, D, params)
        if not isinstance(r, Tensor):
            raise InrkitError(f"problem {self.problem.name}: the residual must return a tensor, got {type(r).__name__}")
        if r.dim() == 1:
            r = r[:, None]
        if r.dim() != 2 or r.shape[0] != x.shape[0]:
            raise InrkitError(f"problem {self.problem.name}: the residual returned shape {tuple(r.shape)} for "
                              f"{x.shape[0]} points; it must be (N, k) or (N,)")
        return r

    def __call__(self, model: nn.Module, batch: Batch) -> dict[str, Tensor]:
        w = self.weights
        terms: dict[str, Tensor] = {"residual": self.residual(model, batch.coords).square().mean()}
        for c in self.problem.soft_conditions():
            terms[c.name] = self._condition(model, c, batch)
        if "obs_coords" in batch:
            terms["data"] = (model(batch["obs_coords"]) - batch["obs_values"]).square().mean()
        terms["loss"] = sum(w.get(k, 1.0) * v for k, v in terms.items())
        return terms

    def _condition(self, model: nn.Module, c, batch: Batch) -> Tensor:
        x = batch[c.name]
        if isinstance(c, (Dirichlet, Initial)):
            return (model(x) - _col(c.value(x))).square().mean()
        if isinstance(c, Neumann):
            xg = x.detach().requires_grad_(True)
            with torch.enable_grad():
                u = model(xg)
                g = torch.autograd.grad(u.sum(), xg, create_graph=True)[0]  # (N, d); one channel
            dn = (g * batch[c.name + "_normals"]).sum(-1, keepdim=True)
            return (dn - _col(c.value(x))).square().mean()
        if isinstance(c, Periodic):
            a, b = x.detach().requires_grad_(True), batch[c.name + "_b"].detach().requires_grad_(True)
            with torch.enable_grad():
                ua, ub = model(a), model(b)
                term = (ua - ub).square().mean()
                if c.derivative:
                    ga = torch.autograd.grad(ua.sum(), a, create_graph=True)[0][:, c.dim]
                    gb = torch.autograd.grad(ub.sum(), b, create_graph=True)[0][:, c.dim]
                    term = term + (ga - gb).square().mean()
            return term
        raise InrkitError(f"unknown condition type {type(c).__name__}")


def _col(v: Tensor) -> Tensor:
    return v[:, None] if v.dim() == 1 else v
