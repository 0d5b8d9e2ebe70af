"""``inrkit pde list | solve``: physics-informed solving of built-in PDE problems (``inrkit.pde``)."""

from __future__ import annotations

import sys
from pathlib import Path

from .options import Command, Group, Invocation, opt, options
from .shared import DryRun, Log, Out, Overwrite, Quiet, dry_run_by_probe


@options
class ListArgs:
    pass


def run_list(a: ListArgs, run: Invocation) -> None:
    from ..pde import PROBLEMS, recipe

    for name, make in PROBLEMS.items():
        p = make()
        c = recipe(p)
        print(f"{name:18s} {p.description}")
        print(f"{'':18s} {p.equation}")
        rounds = f" in {c.lbfgs_rounds} rounds" if c.lbfgs_rounds > 1 else ""
        rar = f", +{c.lbfgs_rar} RAR points per round" if c.lbfgs_rar else ""
        lp = f" ({c.lbfgs_points} for L-BFGS)" if c.lbfgs_points and c.lbfgs_points != c.points else ""
        print(f"{'':18s} default: {c.arch} {c.layers} x {c.width}, {c.points} points{lp}, {c.adam_steps} Adam steps, "
              f"{c.lbfgs_steps} L-BFGS iterations{rounds}{' (float64)' if c.float64 else ''}{rar}")


@options
class SolveArgs(Out, Overwrite, Quiet, DryRun, Log):
    problem: str = opt(help="a built-in problem (inrkit pde list)", positional=True)
    arch: str | None = opt(None, "tanh, siren, ffn or sin", choices=("tanh", "siren", "ffn", "sin"),
                           unset="the problem's recipe")
    width: int | None = opt(None, "hidden width", at_least=1, at_most=4096, unset="the problem's recipe")
    layers: int | None = opt(None, "hidden layers", at_least=1, at_most=32, group="model", unset="the problem's recipe")
    points: int | None = opt(None, "interior collocation points per step", at_least=1, at_most=1 << 22, group="training",
                             unset="the problem's recipe")
    lbfgs_points: int | None = opt(None, "collocation points of the L-BFGS phase (drawn once)", at_least=1,
                                   at_most=1 << 22, group="training", unset="--points, else the problem's recipe")
    sampling: str = opt("sobol", "how points are drawn", choices=("uniform", "sobol", "halton"), group="training")
    fixed_points: bool = opt(False, "draw the points once instead of every Adam step", group="training")
    soft: bool = opt(False, "impose boundary and initial conditions as loss terms, not hard constraints", group="training")
    adam_steps: int | None = opt(None, "Adam steps", at_least=0, group="training", unset="the problem's recipe")
    lr: float | None = opt(None, "Adam learning rate", above=0, unset="the problem's recipe")
    lbfgs_steps: int | None = opt(None, "L-BFGS iterations after Adam (0: none)", at_least=0, group="training",
                                  unset="the problem's recipe")
    float64: bool = opt(False, "run the L-BFGS phase in float64 (the recipes do for every built-in problem)", group="training")
    float32: bool = opt(False, "run the L-BFGS phase in float32 (to see it stall)", group="training")
    rar: int = opt(0, "residual-based adaptive refinement: add 10 points of largest residual every RAR Adam steps",
                   at_least=0, group="training")
    lbfgs_rounds: int | None = opt(None, "split the L-BFGS iterations into rounds, each on fresh points with a fresh "
                                   "memory", at_least=1, at_most=1000, group="training", unset="the problem's recipe")
    lbfgs_rar: int | None = opt(None, "before each L-BFGS round after the first, add this many points of largest "
                                "residual (of 20,000 candidates)", at_least=0, at_most=1 << 20, group="training",
                                unset="the problem's recipe")
    derivatives: str = opt("auto", "forward mode where the field allows, or always autograd", group="training",
                           choices=("auto", "forward", "autograd"))
    seed: int = opt(0, "random seed", at_least=0, at_most=2**31 - 1)
    threads: int | None = opt(None, "torch CPU threads", at_least=1, at_most=1024, group="run", unset="torch's default")


def run_solve(a: SolveArgs, run: Invocation) -> None:
    from ..apps.pde import run_solve as solve_and_write
    from ..errors import InrkitError
    from ..pde import get_problem, recipe
    from ..report.rundir import default_run_dir
    from .image import preflight

    problem = get_problem(a.problem)
    if a.float64 and a.float32:
        raise InrkitError("--float64 and --float32 contradict each other")
    precision = True if a.float64 else False if a.float32 else None
    cfg = recipe(problem, a.seed, arch=a.arch, width=a.width, layers=a.layers, points=a.points,
                 lbfgs_points=a.lbfgs_points or a.points, sampling=a.sampling,
                 resample=False if a.fixed_points else None, hard=False if a.soft else None,
                 adam_steps=a.adam_steps, lr=a.lr, lbfgs_steps=a.lbfgs_steps, float64=precision,
                 rar_every=a.rar or None, lbfgs_rounds=a.lbfgs_rounds, lbfgs_rar=a.lbfgs_rar,
                 derivatives=a.derivatives, threads=a.threads)
    cfg.check()
    out = Path(a.out) if a.out else default_run_dir("pde", problem.name)
    preflight(out, a.overwrite)
    if a.dry_run:
        return dry_run_by_probe(
            a, run, out, lambda: solve_and_write(problem, cfg, out, a.overwrite, run.command),
            steps=cfg.adam_steps + cfg.lbfgs_steps,
            notes=(f"problem {problem.name}: the estimate times Adam steps; an L-BFGS iteration costs about as much "
                   f"as 1.2 of them",))
    say = None if a.quiet else (lambda s: print(f"inrkit: {s}", file=sys.stderr))
    if say:
        lp = f" ({cfg.lbfgs_points} for L-BFGS)" if cfg.lbfgs_points and cfg.lbfgs_points != cfg.points else ""
        say(f"solving {problem.name}: {cfg.arch} {cfg.layers} x {cfg.width}, {cfg.points} points{lp}, "
            f"{cfg.adam_steps} Adam steps, {cfg.lbfgs_steps} L-BFGS iterations"
            f"{' in float64' if cfg.float64 and cfg.lbfgs_steps else ''}")
    m = solve_and_write(problem, cfg, out, a.overwrite, run.command, log=say, progress=not a.quiet)
    coef = "".join(f", {k} = {v:.4f}" for k, v in m["coefficients"].items())
    err = f"relative L2 error {m['rel_l2']:.3e}" if m["rel_l2"] is not None else "no reference"
    print(f"{problem.name}: {err}{coef}, {m['seconds']:.1f} s, status {m['status']} -> {out}/report.html")
    if m["status"] == "diverged":
        from ..errors import DivergedError

        raise DivergedError(f"{'; '.join(m['messages'])}; {out} holds the last finite weights, marked diverged")


GROUP = Group((
    Command("list", "list the built-in PDE problems and their default recipes", ListArgs, run_list),
    Command("solve", "solve a built-in PDE problem with a physics-informed field", SolveArgs, run_solve),
), name="pde", help="physics-informed solving of PDEs (residual, boundary and initial conditions as the objective)")
