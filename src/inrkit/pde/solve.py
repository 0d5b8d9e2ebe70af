"""Solving a problem: Adam on fresh collocation points, then L-BFGS on a fixed set, both through ``fit``.

The recipe (Raissi et al. 2019, sec. 3.1; Lu et al. 2021, sec. 2.4): Adam first, then L-BFGS
(``torch.optim.LBFGS`` with the strong Wolfe line search, Nocedal & Wright 2006, alg. 3.5) to
polish. Each phase is one call of :func:`inrkit.train.fit`; ``fit`` hands L-BFGS the closure it
needs. :class:`StallDetector` ends a phase whose loss stops falling and says so (a float32
L-BFGS often stops after a handful of iterations once the loss's rounding noise exceeds its
decrease); ``float64=True`` runs the L-BFGS phase in double precision, which avoids that.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch
from torch import nn

from ..errors import InrkitError
from ..train.fit import Callback, FitResult, FitState, fit
from .domains import METHODS
from .model import ARCHS, PINN, build_model
from .problem import Problem
from .sampling import CollocationSampler, ResidualRefinement


@dataclass(frozen=True)
class SolveConfig:
    """How to solve: the field, the points, the two phases. ``lbfgs_steps`` counts L-BFGS iterations."""

    arch: str = "tanh"
    width: int = 32
    layers: int = 3
    w0: float | None = None
    sigma: float | None = None
    points: int = 1000
    boundary: int = 100
    initial: int = 100
    sampling: str = "sobol"
    resample: bool = True
    hard: bool = True
    adam_steps: int = 5000
    lr: float = 1e-3
    lr_final: float | None = None
    lbfgs_steps: int = 0
    lbfgs_points: int | None = None
    lbfgs_per_step: int = 20
    lbfgs_rounds: int = 1
    lbfgs_rar: int = 0
    lbfgs_rar_candidates: int = 20_000
    float64: bool = False
    stall_patience: int = 10
    stall_rtol: float = 1e-4
    weights: dict = field(default_factory=dict)
    derivatives: str = "auto"
    rar_every: int = 0
    rar_add: int = 10
    eval_every: int = 500
    seed: int = 0
    threads: int | None = None

    def check(self) -> None:
        if self.arch not in ARCHS:
            raise InrkitError(f"unknown architecture {self.arch!r}; choose from {', '.join(ARCHS)}")
        if self.sampling not in METHODS:
            raise InrkitError(f"unknown sampling {self.sampling!r}; choose from {', '.join(METHODS)}")
        for k in ("points", "width", "layers"):
            if getattr(self, k) < 1:
                raise InrkitError(f"{k} must be at least 1")
        if self.lbfgs_rar < 0 or self.lbfgs_rar_candidates < 1:
            raise InrkitError("lbfgs_rar must be non-negative and lbfgs_rar_candidates at least 1")
        if self.lbfgs_rounds < 1:
            raise InrkitError("lbfgs_rounds must be at least 1")
        for k in ("adam_steps", "lbfgs_steps", "boundary", "initial"):
            if getattr(self, k) < 0:
                raise InrkitError(f"{k} must be non-negative")
        if self.adam_steps + self.lbfgs_steps == 0:
            raise InrkitError("nothing to do: both adam_steps and lbfgs_steps are 0")


def deepxde_config(problem: Problem, seed: int = 0) -> SolveConfig:
    """DeepXDE's own example settings for ``problem`` (soft constraints except Helmholtz, fixed points, float32)."""
    s = problem.settings
    return SolveConfig(arch="sin" if s.get("activation") == "sin" else "tanh", width=s["width"], layers=s["layers"],
                       points=s["points"], boundary=s["boundary"], initial=s["initial"], sampling="uniform",
                       resample=False, hard=problem.name == "helmholtz-2d", adam_steps=s["adam_steps"], lr=s["lr"],
                       lbfgs_steps=15_000 if s.get("lbfgs") else 0, float64=False, seed=seed)


class StallDetector(Callback):
    """Ends a phase whose loss has not fallen by a fraction ``rtol`` of its best value in ``patience`` steps.

    ``message`` then says so (and ``state.log["stalled"] = 1``); ``fired`` is True. For L-BFGS a
    step is ``lbfgs_per_step`` iterations, so ``patience`` 10 is a few hundred iterations.
    """

    def __init__(self, patience: int = 10, rtol: float = 1e-4, phase: str = "L-BFGS"):
        self.patience, self.rtol, self.phase = max(1, int(patience)), float(rtol), phase
        self.best = math.inf
        self.since = 0
        self.fired = False
        self.message = ""

    def after_step(self, state: FitState) -> None:
        loss = state.loss_terms["loss"]
        if loss < self.best * (1.0 - self.rtol) or self.best == math.inf:
            self.best, self.since = loss, 0
            return
        self.since += 1
        if self.since >= self.patience:
            self.fired = True
            state.stop = True
            state.log["stalled"] = 1.0
            self.message = (f"{self.phase} stalled at its step {state.step} (converged, or stuck): the loss "
                            f"({loss:.3e}) has not fallen below {self.best:.3e} by a fraction {self.rtol:g} in "
                            f"{self.patience} steps; stopped")


class History(Callback):
    """Every term every ``every`` steps (and the relative L2 error every ``eval_every``), into ``rows``."""

    def __init__(self, phase: str, rows: list, offset: dict, every: int = 10, evaluate=None, eval_every: int = 0):
        self.phase, self.rows, self.offset, self.every = phase, rows, offset, max(1, every)
        self.evaluate, self.eval_every = evaluate, eval_every

    def after_step(self, state: FitState) -> None:
        if state.step % self.every == 0 or state.step == 1 or state.last_step:
            row = {"phase": self.phase, "step": self.offset["step"] + state.step,
                   "seconds": self.offset["seconds"] + state.train_seconds, **state.loss_terms}
            if self.evaluate is not None and self.eval_every and (state.step % self.eval_every == 0 or state.last_step):
                row["rel_l2"] = self.evaluate(state.model)
            for k, v in getattr(state.model, "coefficients", {}).items():
                row[k] = float(v.detach())
            self.rows.append(row)


@dataclass
class SolveResult:
    model: PINN
    config: SolveConfig
    rel_l2: float | None
    seconds: float
    history: list
    phases: list  # one dict per phase: name, steps, iterations, seconds, status, message, stalled
    coefficients: dict
    status: str = "ok"
    messages: list = field(default_factory=list)
    rar_points: int = 0
    cpu_seconds: float = 0.0  # time.process_time of this process over the solve (all threads)


def relative_l2(model: nn.Module, problem: Problem, chunk: int = 65_536) -> float | None:
    """``||u - u_ref|| / ||u_ref||`` on the problem's dense grid (None without a reference)."""
    if problem.reference is None:
        return None
    x = problem.domain.grid(problem.eval_grid)
    ref = problem.reference(x).double()
    u = predict(model, x).double()
    return float(torch.linalg.norm(u - ref) / torch.linalg.norm(ref))


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, chunk: int = 65_536) -> torch.Tensor:
    p = next(model.parameters())
    return torch.cat([model(x[i:i + chunk].to(p.dtype)).cpu() for i in range(0, x.shape[0], chunk)], 0)


def solve(problem: Problem, cfg: SolveConfig, callbacks=(), log=None, progress: bool = False) -> SolveResult:
    """Solve ``problem`` with ``cfg``; ``log(str)`` receives one line per phase event (stalls, divergence).

    Each phase carries the one progress display (:class:`inrkit.train.Progress`: a bar on stderr when
    ``progress``, and the scalars that ``--log`` records either way)."""
    from ..train.progress import Progress

    from ..objectives.pde import PDEResidual  # here, not at the top: objectives import inrkit.pde

    cfg.check()
    say = log or (lambda s: None)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    gen = torch.Generator().manual_seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    model = build_model(problem, cfg.arch, cfg.width, cfg.layers, gen, hard=cfg.hard, w0=cfg.w0, sigma=cfg.sigma)
    if not cfg.hard and problem.hard is not None:  # every condition becomes a loss term
        problem = _without_hard(problem)
    objective = PDEResidual(problem, cfg.weights, cfg.derivatives)
    needs_b = any(c for c in problem.soft_conditions() if c.name != "ic")
    needs_i = any(c for c in problem.soft_conditions() if c.name == "ic")
    sampler = CollocationSampler(problem, cfg.points, cfg.boundary if needs_b else 0, cfg.initial if needs_i else 0,
                                 cfg.sampling, cfg.resample)
    rows: list = []
    phases: list = []
    rar = None
    offset = {"step": 0, "seconds": 0.0}
    status, messages = "ok", []
    evaluate = (lambda m: relative_l2(m, problem)) if problem.reference is not None else None
    t_start, c_start = time.perf_counter(), time.process_time()
    lbfgs_added = 0
    if cfg.adam_steps:
        params = [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.Adam(params, lr=cfg.lr)
        sched = None
        if cfg.lr_final is not None:
            gamma = (cfg.lr_final / cfg.lr) ** (1.0 / max(1, cfg.adam_steps))
            sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma)
        cbs = [History("adam", rows, offset, max(1, cfg.adam_steps // 200), evaluate, cfg.eval_every),
               Progress(f"{problem.name} Adam", progress), *callbacks]
        if cfg.rar_every:
            rar = ResidualRefinement(sampler, objective, cfg.rar_every, add=cfg.rar_add, generator=gen)
            cbs.append(rar)
        r = fit(model, sampler, objective, steps=cfg.adam_steps, optimizer=opt, scheduler=sched, callbacks=cbs,
                generator=gen)
        phases.append(_phase("adam", r, r.steps, None))
        offset["step"] += r.steps
        offset["seconds"] += r.seconds
        if not r.finished:
            status = r.status
            messages.append(f"Adam: {r.message}")
            say(f"Adam: {r.message}")
    if cfg.lbfgs_steps and status == "ok":
        if cfg.float64:
            model.double()
        rounds = max(1, min(cfg.lbfgs_rounds, cfg.lbfgs_steps))
        per_round = math.ceil(cfg.lbfgs_steps / rounds)
        total_iters, stalls, fit_steps, t_lbfgs, last = 0, [], 0, 0.0, None
        sampler.dtype = torch.float64 if cfg.float64 else torch.float32  # RAR's candidates in the model's dtype
        for k in range(rounds):
            if k and cfg.lbfgs_rar:  # RAR between rounds: the worst-resolved points join every later round
                top = sampler.refine(lambda x: objective.residual(model, x), cfg.lbfgs_rar_candidates,
                                     cfg.lbfgs_rar, gen)
                lbfgs_added += int(top.shape[0])
            # Each round: its own fixed points (fresh from the sequence after the first) and a fresh
            # L-BFGS memory, so the polish does not over-fit one point set (Lu et al. 2021, sec. 2.8,
            # resample between phases; Wu et al. 2023, CMAME 403, 115671, on resampling PINN points).
            fixed = CollocationSampler(problem, cfg.lbfgs_points or cfg.points, sampler.boundary, sampler.initial,
                                       cfg.sampling, resample=False,
                                       dtype=torch.float64 if cfg.float64 else torch.float32)
            fixed.extra = sampler.extra
            opt = torch.optim.LBFGS([p for p in model.parameters() if p.requires_grad], lr=1.0,
                                    max_iter=cfg.lbfgs_per_step, history_size=50, tolerance_grad=0.0,
                                    tolerance_change=0.0, line_search_fn="strong_wolfe")
            stall = StallDetector(cfg.stall_patience, cfg.stall_rtol)
            steps = math.ceil(min(per_round, cfg.lbfgs_steps - total_iters) / cfg.lbfgs_per_step)
            cbs = [History("lbfgs", rows, offset, 1, evaluate,
                           max(1, cfg.eval_every // cfg.lbfgs_per_step) if cfg.eval_every else 0), stall,
                   Progress(f"{problem.name} L-BFGS" + (f" {k + 1}/{rounds}" if rounds > 1 else ""), progress),
                   *callbacks]
            r = fit(model, fixed, objective, steps=steps, optimizer=opt, callbacks=cbs, generator=gen)
            iters = _lbfgs_iterations(opt)
            total_iters += iters
            fit_steps += r.steps
            t_lbfgs += r.seconds
            offset["step"] += r.steps
            offset["seconds"] += r.seconds
            last = (r, stall)
            if stall.fired:
                where = f" (round {k + 1} of {rounds})" if rounds > 1 else ""
                stalls.append(stall.message + f" after {iters} iterations{where}")
                say(stalls[-1])
            if not r.finished or total_iters >= cfg.lbfgs_steps:
                break
        r, stall = last
        ph = _phase("lbfgs", r, total_iters, stall)
        ph.update(steps=fit_steps, seconds=t_lbfgs, rounds=rounds, rar_points=lbfgs_added, stalled=bool(stalls),
                  stall_message=" | ".join(stalls))
        phases.append(ph)
        messages.extend(stalls)
        if not r.finished:
            status = r.status
            messages.append(f"L-BFGS: {r.message}")
            say(messages[-1])
    seconds = time.perf_counter() - t_start
    cpu_seconds = time.process_time() - c_start
    return SolveResult(model=model, config=cfg, rel_l2=relative_l2(model, problem), seconds=seconds,
                       cpu_seconds=cpu_seconds, history=rows,
                       phases=phases, coefficients=model.coefficient_values(), status=status, messages=messages,
                       rar_points=(rar.added if rar is not None else 0) + lbfgs_added)


def _lbfgs_iterations(opt: torch.optim.LBFGS) -> int:
    for st in opt.state.values():
        if "n_iter" in st:
            return int(st["n_iter"])
    return 0


def _phase(name: str, r: FitResult, iterations: int, stall: StallDetector | None) -> dict:
    return {"phase": name, "steps": r.steps, "iterations": iterations, "seconds": r.seconds, "status": r.status,
            "message": r.message, "stalled": bool(stall and stall.fired),
            "stall_message": stall.message if stall and stall.fired else "", "final": dict(r.final_terms)}


def _without_hard(problem: Problem) -> Problem:
    import dataclasses

    return dataclasses.replace(problem, hard=None)


RECIPES = {
    # inrkit's own settings per built-in problem, on top of DeepXDE's network sizes and point
    # counts (Problem.settings): hard constraints, fresh Sobol points every Adam step, forward-mode
    # derivatives, then a float64 L-BFGS phase with stall detection. Measured in docs/benchmarks.md ("PDE").
    "poisson-1d": dict(points=32, adam_steps=2000, lbfgs_steps=1000, float64=True),
    "poisson-neumann-1d": dict(points=32, adam_steps=2000, lbfgs_steps=1000, float64=True),
    "diffusion-1d": dict(points=256, adam_steps=1000, lbfgs_steps=1000, float64=True),
    "heat": dict(points=2048, adam_steps=3000, lbfgs_steps=3000, float64=True),
    "helmholtz-2d": dict(points=1024, adam_steps=1000, lbfgs_steps=1000, float64=True),
    # Burgers: u is odd in x (Problem.hard.odd), so each point counts twice; Adam on 1270 fresh points, then
    # L-BFGS on DeepXDE's 2540 fixed ones
    "burgers": dict(points=1270, lbfgs_points=2540, adam_steps=5000, lbfgs_steps=3000, float64=True),
    "convection": dict(points=1024, adam_steps=2000, lbfgs_steps=2000, float64=True),
    "diffusion-inverse": dict(points=256, adam_steps=2000, lbfgs_steps=2000, float64=True),
}
"""Per built-in problem: the :class:`SolveConfig` values that differ from :func:`recipe`'s base."""


def recipe(problem: Problem, seed: int = 0, **overrides) -> SolveConfig:
    """inrkit's settings for ``problem``: its DeepXDE sizes, then :data:`RECIPES`, then ``overrides``."""
    import dataclasses

    s = problem.settings
    base = SolveConfig(arch=s.get("activation", "tanh") if s.get("activation") in ARCHS else "tanh",
                       width=s.get("width", 32), layers=s.get("layers", 3), points=s.get("points", 1000),
                       boundary=s.get("boundary", 100), initial=s.get("initial", 100),
                       adam_steps=s.get("adam_steps", 5000), lr=s.get("lr", 1e-3), seed=seed)
    cfg = dataclasses.replace(base, **RECIPES.get(problem.name, {}))
    return dataclasses.replace(cfg, **{k: v for k, v in overrides.items() if v is not None})
