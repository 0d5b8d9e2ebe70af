"""Collocation points for :func:`inrkit.train.fit`: a sampler returning one :class:`~inrkit.batch.Batch` per step.

The batch holds the interior points as ``coords`` and, in ``extras``, the points of every soft
condition under the condition's name (``"bc"``, ``"ic"``, ...; boundary normals under
``"<name>_normals"``, periodic partners under ``"<name>_b"``) and the observations under
``"obs_coords"`` / ``"obs_values"`` (their own row count).

``resample=True`` draws fresh points every step (Adam); ``False`` draws once and returns the same
points (L-BFGS, whose curvature pairs assume one objective; DeepXDE's default for both phases).
Residual-based adaptive refinement (RAR, Lu et al. 2021, SIAM Review 63, 208, sec. 2.8) adds the
points of a large random candidate set where ``|residual|`` is largest to a persistent set that
every later batch includes (:class:`ResidualRefinement`).
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..batch import Batch
from ..errors import InrkitError
from ..train.fit import Callback, FitState
from .domains import QMCStream
from .problem import Dirichlet, Initial, Neumann, Periodic, Problem


class CollocationSampler:
    """``sampler(generator) -> Batch`` of collocation points for ``problem`` in ``dtype``."""

    def __init__(self, problem: Problem, points: int, boundary: int = 0, initial: int = 0, method: str = "sobol",
                 resample: bool = True, dtype: torch.dtype = torch.float32, device: str | torch.device = "cpu"):
        if points < 1:
            raise InrkitError(f"need at least one collocation point, got {points}")
        self.problem, self.points, self.boundary, self.initial = problem, int(points), int(boundary), int(initial)
        self.method, self.resample, self.dtype, self.device = method, resample, dtype, torch.device(device)
        self.stream = QMCStream(method) if method in ("sobol", "halton") else method
        self.extra: Tensor | None = None  # RAR's added points, float64
        self._fixed: Batch | None = None
        for c in problem.soft_conditions():
            if isinstance(c, Initial) and self.initial < 1:
                raise InrkitError(f"problem {problem.name} has an initial condition: give it initial points")
            if isinstance(c, (Dirichlet, Neumann, Periodic)) and self.boundary < 1:
                raise InrkitError(f"problem {problem.name} has a boundary condition: give it boundary points")

    def __call__(self, generator: torch.Generator | None = None) -> Batch:
        if not self.resample and self._fixed is not None:
            return self._fixed
        batch = self.draw(generator)
        if not self.resample:
            self._fixed = batch
        return batch

    def frozen(self, generator: torch.Generator | None = None) -> "CollocationSampler":
        """A sampler with the same settings that draws once and keeps those points (for L-BFGS)."""
        s = CollocationSampler(self.problem, self.points, self.boundary, self.initial, self.method, False,
                               self.dtype, self.device)
        s.extra = self.extra
        return s

    def _t(self, x: Tensor) -> Tensor:
        return x.to(device=self.device, dtype=self.dtype)

    def draw(self, generator: torch.Generator | None) -> Batch:
        dom, m = self.problem.domain, self.stream
        x = dom.interior(self.points, m, generator)
        if self.extra is not None:
            x = torch.cat([x, self.extra], 0)
        extras: dict[str, Tensor] = {}
        for c in self.problem.soft_conditions():
            if isinstance(c, Initial):
                extras[c.name] = self._t(dom.initial(self.initial, m, generator))
            elif isinstance(c, Periodic):
                a, b = dom.periodic_pairs(self.boundary, c.dim, m, generator)
                extras[c.name], extras[c.name + "_b"] = self._t(a), self._t(b)
            else:
                pts, normals = dom.boundary(self.boundary, m, generator, c.faces)
                extras[c.name] = self._t(pts)
                if isinstance(c, Neumann):
                    extras[c.name + "_normals"] = self._t(normals)
        obs = self.problem.observations
        if obs is not None:
            extras["obs_coords"], extras["obs_values"] = self._t(obs.coords), self._t(obs.values)
        return Batch(coords=self._t(x), extras=extras)

    def refine(self, residual_fn, candidates: int, add: int, generator: torch.Generator | None) -> Tensor:
        """Add the ``add`` candidates with the largest ``|residual|`` to every later batch; returns them."""
        cand = self.problem.domain.interior(candidates, "uniform", generator)
        r = residual_fn(self._t(cand)).detach().abs().reshape(candidates, -1).sum(1)  # (candidates,)
        top = cand[torch.topk(r.cpu(), min(add, candidates)).indices]
        self.extra = top if self.extra is None else torch.cat([self.extra, top], 0)
        self._fixed = None
        return top


class ResidualRefinement(Callback):
    """RAR as a callback: every ``every`` steps, ``sampler.refine(...)`` with the objective's residual."""

    def __init__(self, sampler: CollocationSampler, objective, every: int = 1000, candidates: int = 10_000,
                 add: int = 10, generator: torch.Generator | None = None):
        self.sampler, self.objective, self.every = sampler, objective, max(1, int(every))
        self.candidates, self.add, self.generator = candidates, add, generator
        self.added = 0

    def after_step(self, state: FitState) -> None:
        if state.step % self.every == 0 and not state.last_step:
            top = self.sampler.refine(lambda x: self.objective.residual(state.model, x), self.candidates, self.add,
                                      self.generator)
            self.added += int(top.shape[0])
            state.log["rar_points"] = float(self.added)
