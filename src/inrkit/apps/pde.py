"""Workflow behind ``inrkit pde solve``: solve a problem, write the run folder and its report."""

from __future__ import annotations

import dataclasses
import html
from pathlib import Path

import numpy as np

from .. import __version__
from ..atomic import write_bytes_atomic, write_json
from ..pde import Problem, SolveConfig, SolveResult, predict, solve
from ..report import html as H
from ..report.plots import _plt
from ..report.plots import fig_to_png_bytes as _png
from ..report.rundir import RunDir
from ..train import checkpoint


def _fields(result: SolveResult, problem: Problem) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, tuple]:
    sizes = problem.eval_grid
    x = problem.domain.grid(sizes)
    u = predict(result.model, x).double().numpy()[:, 0].reshape(sizes)
    ref = problem.reference(x).numpy()[:, 0].reshape(sizes) if problem.reference is not None else None
    return x.numpy(), u, ref, sizes


def solution_figure(problem: Problem, u: np.ndarray, ref: np.ndarray | None) -> bytes:
    """1-D: solution and reference curves and the error; 2-D: solution, reference and |error| maps."""
    plt = _plt()
    dom = problem.domain
    names = dom.names
    if dom.dim == 1:
        x = np.linspace(dom.lo[0], dom.hi[0], u.shape[0])
        fig, ax = plt.subplots(1, 2, figsize=(10, 3.4))
        ax[0].plot(x, u, label="inrkit")
        if ref is not None:
            ax[0].plot(x, ref, "--", label="reference")
            ax[1].semilogy(x, np.abs(u - ref) + 1e-300)
        ax[0].set(xlabel=names[0], ylabel="u", title="solution")
        ax[0].legend()
        ax[1].set(xlabel=names[0], ylabel="|u - u_ref|", title="error")
        fig.tight_layout()
        return _png(fig)
    panels = [("inrkit", u)] + ([("reference", ref), ("|error|", np.abs(u - ref))] if ref is not None else [])
    fig, axes = plt.subplots(1, len(panels), figsize=(4.4 * len(panels), 3.6), squeeze=False)
    vmax = float(np.abs(ref if ref is not None else u).max()) or 1.0
    for ax, (title, arr) in zip(axes[0], panels):
        err = title == "|error|"
        # grid is (first coordinate, second); draw the first horizontally
        im = ax.imshow(arr.T, origin="lower", aspect="auto", cmap="magma" if err else "RdBu_r",
                       vmin=None if err else -vmax, vmax=None if err else vmax,
                       extent=(dom.lo[0], dom.hi[0], dom.lo[1], dom.hi[1]))
        fig.colorbar(im, ax=ax)
        ax.set(xlabel=names[0], ylabel=names[1], title=title)
    fig.tight_layout()
    return _png(fig)


def slices_figure(problem: Problem, u: np.ndarray, ref: np.ndarray | None) -> bytes:
    """Time-dependent 1-D problems: u(x, t) at four times, against the reference."""
    plt = _plt()
    dom = problem.domain
    x = np.linspace(dom.lo[0], dom.hi[0], u.shape[0])
    ts = np.linspace(dom.lo[1], dom.hi[1], u.shape[1])
    picks = [0, u.shape[1] // 4, u.shape[1] // 2, u.shape[1] - 1]
    fig, axes = plt.subplots(1, 4, figsize=(16, 3.2))
    for ax, k in zip(axes, picks):
        ax.plot(x, u[:, k], label="inrkit")
        if ref is not None:
            ax.plot(x, ref[:, k], "--", label="reference")
        ax.set(title=f"t = {ts[k]:.3g}", xlabel="x")
    axes[0].legend()
    fig.tight_layout()
    return _png(fig)


def loss_figure(history: list[dict], terms: list[str]) -> bytes:
    """Every loss term (and the relative L2 error where recorded) against step, log axis; L-BFGS steps shaded."""
    plt = _plt()
    fig, ax = plt.subplots(1, 2, figsize=(11, 3.6))
    steps = [h["step"] for h in history]
    for t in terms:
        vals = [max(h.get(t, np.nan), 1e-300) for h in history]
        ax[0].semilogy(steps, vals, label=t)
    lb = [h["step"] for h in history if h["phase"] == "lbfgs"]
    for a in ax:
        if lb:
            a.axvspan(min(lb), max(lb), color="0.92", label="L-BFGS" if a is ax[0] else None)
    ax[0].set(xlabel="step (an L-BFGS step is several iterations)", title="loss terms")
    ax[0].legend(fontsize=8)
    pts = [(h["step"], h["rel_l2"]) for h in history if h.get("rel_l2") is not None]
    if pts:
        ax[1].semilogy([p[0] for p in pts], [p[1] for p in pts], marker=".")
    ax[1].set(xlabel="step", title="relative L2 error on the dense grid")
    fig.tight_layout()
    return _png(fig)


def _constraint_text(hard, problem: Problem) -> str:
    """What the hard constraint imposes exactly, for the report (empty without one)."""
    if hard is None:
        return "<p>No hard constraint: every condition is a loss term.</p>"
    names = {"bc": "the boundary conditions", "ic": "the initial condition"}
    parts = [names.get(k, k) for k in hard.imposes]
    text = f"Imposed exactly by the output transform u = g + h N (no loss term): {', '.join(parts)}."
    if hard.odd:
        axes = ", ".join(problem.domain.names[i] for i in hard.odd)
        text += (f" The solution is odd in {axes} (u changes sign when {axes} does), imposed exactly by taking "
                 "the network's odd part, (N(x) - N(reflected x)) / 2.")
    return f"<p>{html.escape(text)}</p>"


def write_report(path: Path, problem: Problem, result: SolveResult, metrics: dict, command: str,
                 figures: dict[str, bytes]) -> None:
    cfg = result.config
    status = metrics["status"]
    cards = [("relative L2 error", f"{result.rel_l2:.3e}" if result.rel_l2 is not None else "n/a"),
             ("seconds", f"{result.seconds:.1f}"), ("status", status)]
    for k, v in result.coefficients.items():
        cards.append((f"recovered {k} (true {problem.truth.get(k, '?')})", f"{v:.4f}"))
    notes = "".join(f"<p class='note'><b>{html.escape(m)}</b></p>" for m in result.messages)
    phases = H.table(["phase", "fit steps", "iterations", "seconds", "status", "final loss", "note"],
                     [[p["phase"], p["steps"], p["iterations"], f"{p['seconds']:.1f}", p["status"],
                       f"{p['final'].get('loss', float('nan')):.3e}", p["stall_message"] or p["message"]]
                      for p in result.phases])
    settings = H.table(["setting", "value"], [[k, v] for k, v in dataclasses.asdict(cfg).items()])
    sections = [
        ("Result", H.cards(cards) + notes),
        ("Problem", f"<p>{html.escape(problem.description)}</p><pre>{html.escape(problem.equation)}</pre>"
                    f"<p>Domain: {html.escape(problem.domain.describe())}. Error measured on a "
                    f"{' x '.join(map(str, problem.eval_grid))} grid against inrkit's reference.</p>"
                    + _constraint_text(result.model.hard, problem)),
        ("Solution, reference and error", H.figure(figures["solution.png"], "the trained field, the reference and "
                                                   "their difference on the evaluation grid")),
    ]
    if "slices.png" in figures:
        sections.append(("Time slices", H.figure(figures["slices.png"], "u(x, t) at four times")))
    sections += [("Loss terms", H.figure(figures["loss.png"], "each loss term (weighted sum = loss) per step")),
                 ("Phases", phases), ("Settings", settings), ("Command", H.command(command))]
    page = H.page(f"inrkit pde solve {problem.name}", f"inrkit {__version__}", sections)
    write_bytes_atomic(path, page.encode())


def run_solve(problem: Problem, cfg: SolveConfig, out: str | Path, overwrite: bool = False, command: str = "",
              log=None, progress: bool = False) -> dict:
    """Solve ``problem`` and write ``out``: checkpoint, metrics.json, history.json, solution.npy, report.html."""
    result = solve(problem, cfg, log=log, progress=progress)
    _, u, ref, sizes = _fields(result, problem)
    metrics = {"problem": problem.name, "rel_l2": result.rel_l2, "seconds": result.seconds, "status": result.status,
               "messages": result.messages, "phases": result.phases, "coefficients": result.coefficients,
               "truth": problem.truth, "grid": list(sizes), "config": dataclasses.asdict(cfg),
               "stalled": any(p["stalled"] for p in result.phases), "inrkit_version": __version__}
    terms = sorted({k for h in result.history for k in h if k not in ("phase", "step", "seconds", "rel_l2")
                    and k not in result.coefficients})
    figures = {"solution.png": solution_figure(problem, u, ref), "loss.png": loss_figure(result.history, terms)}
    if problem.domain.time and problem.domain.dim == 2:
        figures["slices.png"] = slices_figure(problem, u, ref)
    with RunDir(out, overwrite=overwrite) as tmp:
        field = result.model.field
        checkpoint.save(tmp / "model", field.float() if cfg.float64 else field,
                        {"task": "pde", "problem": problem.name, "hard_constraint": result.model.hard is not None,
                         "odd_in": list(result.model.hard.odd) if result.model.hard is not None else [],
                         "coefficients": result.coefficients, "rel_l2": result.rel_l2, "status": result.status})
        write_json(tmp / "metrics.json", metrics)
        write_json(tmp / "history.json", result.history)
        np.save(tmp / "solution.npy", u.astype(np.float32))
        for name, png in figures.items():
            write_bytes_atomic(tmp / name, png)
        write_report(tmp / "report.html", problem, result, metrics, command, figures)
    return metrics
