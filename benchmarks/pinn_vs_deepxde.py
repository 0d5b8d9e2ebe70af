"""DeepXDE against inrkit on DeepXDE's own example problems, back to back, one thread, the same seeds.

    DDE_BACKEND=pytorch python benchmarks/pinn_vs_deepxde.py --problems poisson-1d,diffusion-1d --seeds 0,1,2

DeepXDE (Lu et al. 2021, SIAM Review 63, 208; version 1.15, PyTorch backend, float32) runs each problem
with its example's settings (``examples/pinn_forward/*.py``: network, activation, initialiser,
point counts, Adam steps and learning rate, the L-BFGS phase where the example has one);
inrkit runs its own recipe for the problem (``inrkit.pde.solve.RECIPES``: the same network sizes and point
counts, plus what DeepXDE's examples do not use: hard constraints, fresh Sobol points every
step, forward-mode derivatives, a float64 L-BFGS phase with stall detection). Both are scored
by inrkit's relative L2 error against inrkit's reference on the problem's dense grid
(``inrkit.pde.builtins``: analytic, or Cole-Hopf for Burgers). Every run is its own process
(``torch.set_num_threads(1)``); wall time is the training calls' (model building and scoring
excluded, for both), and so is CPU time (``time.process_time`` of the worker process), which is the
figure to compare on a shared machine; the 1-minute load average before and after each run is kept.
``--json FILE`` saves every finished run as it goes (a stopped benchmark keeps what it measured;
with ``--append`` the runs already in FILE are kept and the new ones added after them);
``--table FILE...`` prints the table of saved runs. ``--inrkit-overrides JSON`` replaces inrkit recipe
values (a candidate recipe, measured in this same harness; each run and the file's header record it).

``diffusion-inverse`` follows DeepXDE's ``examples/pinn_inverse/diffusion_1d_inverse.py`` (a trainable
``dde.Variable`` C, initial guess 2, true 1, fitted with the network by Adam; the same 32 x 3 tanh
network and 40 + 20 + 10 points) but both tools see inrkit's observations (``Problem.observations``:
50 noisy values inside the domain, anchored as collocation points for DeepXDE, a ``PointSetBC`` term)
instead of the example's 10 noise-free values at t = 1, and DeepXDE takes 10,000 Adam steps, not
50,000 (``settings["adam_steps"]``). Each run then also reports the recovered coefficient and its
relative error ``|C - C_true| / |C_true|`` (``coefficient_errors``), next to the solution's relative L2.
DeepXDE is installed only for this script, never a dependency of inrkit.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

def inrkit_config(name: str, seed: int, overrides: dict | None = None):
    """The problem and inrkit's recipe for it (``inrkit.pde.solve.RECIPES``), one thread, no evaluation during training.

    ``overrides`` (``--inrkit-overrides``) replace recipe values, to measure a candidate recipe in the same harness."""
    from inrkit import pde

    problem = pde.get_problem(name)
    return problem, pde.recipe(problem, seed, threads=1, eval_every=0, **(overrides or {}))


def coefficient_errors(problem, coefficients: dict) -> dict:
    """``|c - c_true| / |c_true|`` per recovered coefficient that the problem knows the truth of."""
    return {k: abs(v - problem.truth[k]) / abs(problem.truth[k]) for k, v in (coefficients or {}).items()
            if k in problem.truth and problem.truth[k] != 0}


def run_inrkit(name: str, seed: int, overrides: dict | None = None) -> dict:
    import torch

    from inrkit import pde

    torch.set_num_threads(1)
    problem, cfg = inrkit_config(name, seed, overrides)
    r = pde.solve(problem, cfg)
    steps = sum(p["steps"] for p in r.phases)
    iters = sum(p["iterations"] for p in r.phases)
    return {"tool": "inrkit", "problem": name, "seed": seed, "rel_l2": r.rel_l2, "seconds": r.seconds,
            "cpu_seconds": r.cpu_seconds, "steps": iters, "status": r.status, "messages": r.messages,
            "coefficients": r.coefficients, "coefficient_errors": coefficient_errors(problem, r.coefficients),
            "lbfgs_iterations": sum(p["iterations"] for p in r.phases if p["phase"] == "lbfgs"), "fit_steps": steps,
            "overrides": overrides or {}}


def run_deepxde(name: str, seed: int) -> dict:
    os.environ.setdefault("DDE_BACKEND", "pytorch")
    import numpy as np
    import torch

    torch.set_num_threads(1)
    import deepxde as dde

    from inrkit import pde

    dde.config.set_random_seed(seed)
    problem = pde.get_problem(name)
    s = problem.settings
    pi = np.pi
    sin, exp = torch.sin, torch.exp
    interval = dde.geometry.Interval
    lbfgs_iters = 0
    transform = None
    variables = []
    if name == "poisson-1d":
        geom = interval(-1, 1)
        res = lambda x, y: -dde.grad.hessian(y, x) - pi ** 2 * sin(pi * x)  # noqa: E731
        bcs = [dde.icbc.DirichletBC(geom, lambda x: np.sin(pi * x), lambda x, on: on)]
        data = dde.data.PDE(geom, res, bcs, s["points"], s["boundary"])
    elif name == "poisson-neumann-1d":  # DeepXDE's Poisson_Neumann_1d.py
        geom = interval(-1, 1)
        res = lambda x, y: dde.grad.hessian(y, x) - 2  # noqa: E731
        bcs = [dde.icbc.DirichletBC(geom, lambda x: (x + 1) ** 2, lambda x, on: on and np.isclose(x[0], -1)),
               dde.icbc.NeumannBC(geom, lambda x: 2 * (x + 1), lambda x, on: on and np.isclose(x[0], 1))]
        data = dde.data.PDE(geom, res, bcs, s["points"], s["boundary"])
    elif name == "convection":  # Krishnapriyan et al. 2021, beta = 1; periodic in x with DeepXDE's PeriodicBC
        geom = dde.geometry.GeometryXTime(interval(0, 2 * pi), dde.geometry.TimeDomain(0, 1))
        res = lambda x, y: dde.grad.jacobian(y, x, i=0, j=1) + dde.grad.jacobian(y, x, i=0, j=0)  # noqa: E731
        bcs = [dde.icbc.PeriodicBC(geom, 0, lambda _, on: on, derivative_order=0),
               dde.icbc.PeriodicBC(geom, 0, lambda _, on: on, derivative_order=1),
               dde.icbc.IC(geom, lambda x: np.sin(x[:, 0:1]), lambda _, on: on)]
        data = dde.data.TimePDE(geom, res, bcs, num_domain=s["points"], num_boundary=s["boundary"],
                                num_initial=s["initial"])
    elif name in ("diffusion-1d", "diffusion-inverse"):
        geom = dde.geometry.GeometryXTime(interval(-1, 1), dde.geometry.TimeDomain(0, 1))
        exact = lambda x: np.sin(pi * x[:, 0:1]) * np.exp(-x[:, 1:])  # noqa: E731
        if name == "diffusion-inverse":
            C = dde.Variable(2.0)
            variables = [C]
        else:
            C = 1.0

        def res(x, y):
            return (dde.grad.jacobian(y, x, i=0, j=1) - C * dde.grad.hessian(y, x, i=0, j=0)
                    + exp(-x[:, 1:]) * (sin(pi * x[:, 0:1]) - pi ** 2 * sin(pi * x[:, 0:1])))

        bcs = [dde.icbc.DirichletBC(geom, exact, lambda _, on: on), dde.icbc.IC(geom, exact, lambda _, on: on)]
        anchors = None
        if name == "diffusion-inverse":
            obs = problem.observations
            bcs.append(dde.icbc.PointSetBC(obs.coords.numpy(), obs.values.numpy()))
            anchors = obs.coords.numpy()
        data = dde.data.TimePDE(geom, res, bcs, num_domain=s["points"], num_boundary=s["boundary"],
                                num_initial=s["initial"], anchors=anchors)
    elif name == "heat":
        geom = dde.geometry.GeometryXTime(interval(0, 1), dde.geometry.TimeDomain(0, 1))
        res = lambda x, y: dde.grad.jacobian(y, x, i=0, j=1) - 0.4 * dde.grad.hessian(y, x, i=0, j=0)  # noqa: E731
        bcs = [dde.icbc.DirichletBC(geom, lambda x: 0, lambda _, on: on),
               dde.icbc.IC(geom, lambda x: np.sin(pi * x[:, 0:1]), lambda _, on: on)]
        data = dde.data.TimePDE(geom, res, bcs, num_domain=s["points"], num_boundary=s["boundary"],
                                num_initial=s["initial"])
    elif name == "helmholtz-2d":
        k0 = 4 * pi
        geom = dde.geometry.Rectangle([0, 0], [1, 1])

        def res(x, y):
            return (-dde.grad.hessian(y, x, i=0, j=0) - dde.grad.hessian(y, x, i=1, j=1) - k0 ** 2 * y
                    - k0 ** 2 * sin(k0 * x[:, 0:1]) * sin(k0 * x[:, 1:2]))

        bcs = []
        data = dde.data.PDE(geom, res, bcs, num_domain=s["points"], num_boundary=s["boundary"])
        transform = lambda x, y: x[:, 0:1] * (1 - x[:, 0:1]) * x[:, 1:2] * (1 - x[:, 1:2]) * y  # noqa: E731
    elif name == "burgers":
        geom = dde.geometry.GeometryXTime(interval(-1, 1), dde.geometry.TimeDomain(0, 0.99))

        def res(x, y):
            return (dde.grad.jacobian(y, x, i=0, j=1) + y * dde.grad.jacobian(y, x, i=0, j=0)
                    - 0.01 / pi * dde.grad.hessian(y, x, i=0, j=0))

        bcs = [dde.icbc.DirichletBC(geom, lambda x: 0, lambda _, on: on),
               dde.icbc.IC(geom, lambda x: -np.sin(pi * x[:, 0:1]), lambda _, on: on)]
        data = dde.data.TimePDE(geom, res, bcs, num_domain=s["points"], num_boundary=s["boundary"],
                                num_initial=s["initial"])
    else:
        raise SystemExit(f"no DeepXDE setup for {name}")
    net = dde.nn.FNN([problem.domain.dim] + [s["width"]] * s["layers"] + [1], s["activation"], s["init"])
    if transform is not None:
        net.apply_output_transform(transform)
    model = dde.Model(data, net)
    model.compile("adam", lr=s["lr"], external_trainable_variables=variables or None)
    t0, c0 = time.perf_counter(), time.process_time()
    model.train(iterations=s["adam_steps"], display_every=1000, verbose=0)
    if s.get("lbfgs"):
        model.compile("L-BFGS", external_trainable_variables=variables or None)
        before = model.train_state.step
        model.train(verbose=0)
        lbfgs_iters = model.train_state.step - before
    seconds = time.perf_counter() - t0
    cpu_seconds = time.process_time() - c0
    x = problem.domain.grid(problem.eval_grid)
    ref = problem.reference(x).numpy()
    u = model.predict(x.numpy().astype(np.float32)).astype(np.float64)
    rel = float(np.linalg.norm(u - ref) / np.linalg.norm(ref))
    out = {"tool": "deepxde", "problem": name, "seed": seed, "rel_l2": rel, "seconds": seconds,
           "cpu_seconds": cpu_seconds,
           "steps": s["adam_steps"] + lbfgs_iters, "lbfgs_iterations": lbfgs_iters, "status": "ok"}
    if variables:
        out["coefficients"] = {"C": float(variables[0].detach())}
        out["coefficient_errors"] = coefficient_errors(problem, out["coefficients"])
    return out


def worker(tool: str, name: str, seed: int, overrides: dict | None = None) -> None:
    r = run_inrkit(name, seed, overrides) if tool == "inrkit" else run_deepxde(name, seed)
    print("RESULT " + json.dumps(r), flush=True)


def spawn(tool: str, name: str, seed: int, overrides: dict | None = None) -> dict:
    env = dict(os.environ, DDE_BACKEND="pytorch", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    load0 = os.getloadavg()[0]
    extra = ["--inrkit-overrides", json.dumps(overrides)] if overrides and tool == "inrkit" else []
    p = subprocess.run([sys.executable, __file__, "--worker", tool, name, str(seed), *extra], env=env,
                       capture_output=True, text=True)
    load = {"load_before": load0, "load_after": os.getloadavg()[0]}
    for line in p.stdout.splitlines():
        if line.startswith("RESULT "):
            return {**json.loads(line[7:]), **load}
    return {"tool": tool, "problem": name, "seed": seed, "rel_l2": float("nan"), "seconds": float("nan"),
            "cpu_seconds": float("nan"), "steps": 0, **load,
            "status": "failed: " + (p.stderr.strip().splitlines() or ["?"])[-1][:200]}


def _save(path: str, header: dict, runs: list) -> None:
    """Every finished run so far (a stopped benchmark keeps what it measured): temporary name, then rename."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump({**header, "runs": runs}, f, indent=1)
    os.replace(tmp, path)


def _load(path: str) -> list:
    with open(path) as f:
        data = json.load(f)
    return data["runs"] if isinstance(data, dict) else data


def table(runs: list, problems: list[str], tools: list[str]) -> str:
    """Median and worst error per tool, median wall and CPU seconds, inrkit / DeepXDE ratios of the medians."""
    lines = ["| problem | tool | seeds | median rel. L2 | worst seed | median wall s | median CPU s | ms / iteration "
             "| wall ratio | CPU ratio | coefficient |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name in problems:
        meds: dict = {}
        for tool in tools:
            rs = [r for r in runs if r["problem"] == name and r["tool"] == tool and r["status"] == "ok"]
            if not rs:
                continue
            errs = [r["rel_l2"] for r in rs]
            secs = [r["seconds"] for r in rs]
            cpus = [r.get("cpu_seconds", float("nan")) for r in rs]
            ms = [1e3 * r["seconds"] / max(1, r["steps"]) for r in rs]
            meds[tool] = (statistics.median(secs), statistics.median(cpus))
            ratio = cratio = ""
            if tool == "inrkit" and "deepxde" in meds:
                ratio = f"{meds['inrkit'][0] / meds['deepxde'][0]:.2f}"
                cratio = f"{meds['inrkit'][1] / meds['deepxde'][1]:.2f}"
            coef = ""
            if any(r.get("coefficients") for r in rs):
                cs = [v for r in rs for v in (r.get("coefficients") or {}).values()]
                coef = "C = " + ", ".join(f"{c:.4f}" for c in cs)
                es = [v for r in rs for v in (r.get("coefficient_errors") or {}).values()]
                if es:
                    coef += f"; median rel. error {statistics.median(es):.2e} (worst {max(es):.2e})"
            seeds = ",".join(str(r["seed"]) for r in rs)
            lines.append(f"| {name} | {tool} | {seeds} | {statistics.median(errs):.2e} | {max(errs):.2e} "
                         f"| {statistics.median(secs):.1f} | {statistics.median(cpus):.1f} "
                         f"| {statistics.median(ms):.2f} | {ratio} | {cratio} | {coef} |")
    return "\n".join(lines)


def _fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", default="poisson-1d,diffusion-1d,heat,helmholtz-2d,burgers,diffusion-inverse")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--tools", default="deepxde,inrkit")
    ap.add_argument("--json", default=None, help="also write every run's result here, after each run")
    ap.add_argument("--append", action="store_true",
                    help="keep the runs already saved in --json FILE and add the new ones after them")
    ap.add_argument("--table", nargs="+", metavar="JSON", default=None,
                    help="print the table of saved results (several files are merged) and exit")
    ap.add_argument("--inrkit-overrides", default=None, metavar="JSON",
                    help='replace inrkit recipe values for every problem run, e.g. \'{"lbfgs_steps": 7000}\' '
                         "(a candidate recipe, measured in the same harness; recorded with each run)")
    ap.add_argument("--worker", nargs=3, metavar=("TOOL", "PROBLEM", "SEED"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    overrides = None
    if a.inrkit_overrides:
        try:
            overrides = json.loads(a.inrkit_overrides)
        except ValueError as e:
            _fail(f"--inrkit-overrides is not JSON: {e}")
        if not isinstance(overrides, dict):
            _fail("--inrkit-overrides must be a JSON object, e.g. '{\"lbfgs_steps\": 7000}'")
        import dataclasses

        from inrkit.pde.solve import SolveConfig

        unknown = sorted(set(overrides) - {f.name for f in dataclasses.fields(SolveConfig)})
        if unknown:
            _fail(f"--inrkit-overrides: unknown recipe field(s) {', '.join(unknown)}")
    if a.worker:
        return worker(a.worker[0], a.worker[1], int(a.worker[2]), overrides)
    problems, tools = a.problems.split(","), a.tools.split(",")
    if a.table:
        runs = [r for path in a.table for r in _load(path)]
        if a.problems == ap.get_default("problems"):
            problems = list(dict.fromkeys(r["problem"] for r in runs))
        print(table(runs, problems, tools))
        return
    import torch

    header = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}",
              "argv": sys.argv[1:], "inrkit_overrides": overrides or {}, "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}
    try:
        import importlib.metadata as md

        header["deepxde"] = md.version("deepxde")
    except Exception:  # noqa: BLE001 - only a label
        header["deepxde"] = "?"
    print(f"machine: {header['machine']}, DeepXDE {header['deepxde']}, one thread per run", flush=True)
    runs = []
    if a.append and a.json and os.path.exists(a.json):
        with open(a.json) as f:
            old = json.load(f)
        runs = _load(a.json)
        if isinstance(old, dict):  # the earlier invocations' headers, oldest first
            header["earlier"] = old.get("earlier", []) + [{k: v for k, v in old.items()
                                                           if k not in ("runs", "earlier")}]
        print(f"keeping {len(runs)} runs already in {a.json}", flush=True)
    for name in problems:
        for seed in [int(s) for s in a.seeds.split(",")]:
            for tool in tools:  # back to back, alternating per seed
                r = spawn(tool, name, seed, overrides)
                runs.append(r)
                print(f"  {name:17s} seed {seed} {tool:8s} rel L2 {r['rel_l2']:.3e}  {r['seconds']:7.1f} s wall "
                      f"{r.get('cpu_seconds', float('nan')):7.1f} s CPU  {r.get('steps', 0):6d} iterations  "
                      f"load {r['load_before']:.1f}-{r['load_after']:.1f}  {r['status']}"
                      + (f"  {r.get('coefficients')} rel. error {r.get('coefficient_errors')}"
                         if r.get("coefficients") else "")
                      + ("  " + " | ".join(r["messages"]) if r.get("messages") else ""), flush=True)
                if a.json:
                    _save(a.json, header, runs)
    print()
    print(table(runs, problems, tools))


if __name__ == "__main__":
    main()
