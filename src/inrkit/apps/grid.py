"""Fitting, comparing and rendering any sampled signal on a grid (audio, volumes, video): one workflow.

A kind (:mod:`inrkit.signals.kinds`) supplies a loader, presets, report panels and a renderer;
everything else is here and the same for every kind: the field from ``config.build_field``
(``in_dim`` = the kind's dimensions), the one loop ``train.fit`` on random batches of the grid
(:class:`~inrkit.signals.grid.GridSampler`, coordinates computed per batch), a seeded held-out
fraction of samples scored separately, PSNR on the [-1, 1] targets, and a run folder written
atomically (``report.rundir.RunDir``): ``model.safetensors`` + ``model.json`` (the signal's kind,
shape, coordinate bounds, value range), ``metrics.json``, ``training.png`` and ``report.html``.

For SIREN the options' ``w0`` is the FIRST layer's omega_0 on these kinds (3000 for audio,
Sitzmann et al. 2020 sec. 4.1); the hidden layers keep the paper's 30 (sec. 3.2).
"""

from __future__ import annotations

import html
import resource
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .. import __version__
from ..atomic import write_json
from ..config import (ARCH_LABELS, FieldConfig, TrainConfig, build_field, check_arch, learning_rate, make_optimizer,
                      resolve_preset)
from ..device import resolve_device
from ..errors import InrkitError
from ..fields import num_parameters
from ..metrics import psnr
from ..objectives import Reconstruction
from ..ops.chunked import DEFAULT_CHUNK
from ..report import html as H, plots
from ..report.rundir import RunDir
from ..signals import kinds as K
from ..signals.grid import GridSignal, evaluate_grid, holdout_mask  # noqa: F401 (evaluate_grid re-exported)
from ..train import Callback, FitState, Progress, checkpoint, fit, schedules

HIDDEN_W0 = 30.0
"""SIREN's hidden-layer omega_0 (Sitzmann 2020, sec. 3.2); ``FieldConfig.w0`` is the first layer's here."""

EVAL_SAMPLES = 1 << 16
"""PSNR during training is measured on this many fixed random samples (training and held-out each),
so evaluating a 256^3 volume every few steps costs a batch, not the volume."""


@dataclass
class GridFit:
    """A fitted grid signal: the field, the signal, the prediction in signal units, measurements."""

    field: nn.Module
    signal: GridSignal
    kind: K.Kind
    field_cfg: FieldConfig
    train_cfg: TrainConfig
    lr: float
    device: str
    metrics: dict
    history: list[dict]
    prediction: np.ndarray  # (*shape, C), signal units
    folder: Path | None = None  # the (temporary) run folder while it is written: panels may add files

    @property
    def arch(self) -> str:
        return self.field_cfg.arch

    def meta(self) -> dict:
        s = self.signal
        axes = ["x", "y", "z"][:s.dims] if s.kind != "audio" else ["t"]
        if s.kind == "video":
            axes = ["x", "y", "t"]
        return {
            "arch": self.arch, "task": "fit-" + s.kind, "signal": s.meta(),
            "coords": {"convention": "cell centres, x_i = lo + (hi - lo) (i + 1/2) / N", "order": axes,
                       "bounds": [list(b) for b in s.bounds]},
            "value_range": list(s.value_range),
            "values_from_outputs": "values = lo + (outputs + 1) (hi - lo) / 2",
            "training": {"field": asdict(self.field_cfg), "train": asdict(self.train_cfg), "lr": self.lr,
                         "first_w0": self.field_cfg.w0 if self.arch == "siren" else None,
                         "device": self.device, "torch_version": torch.__version__,
                         "seconds": self.metrics["seconds"], "final_psnr": self.metrics["psnr"],
                         "history": self.history},
        }


class GridEvaluation(Callback):
    """PSNR on fixed random training (and held-out) samples every ``every`` steps and at the end."""

    def __init__(self, field: nn.Module, signal: GridSignal, every: int, train_idx: torch.Tensor,
                 held_idx: torch.Tensor | None):
        self.field, self.every = field, max(1, every)
        self.sets = {"psnr": (signal.coords(train_idx), signal.targets(train_idx))}
        if held_idx is not None and len(held_idx):
            self.sets["psnr_heldout"] = (signal.coords(held_idx), signal.targets(held_idx))
        self.history: list[dict] = []

    def after_step(self, state: FitState) -> None:
        if state.step % self.every == 0 or state.step == 1 or state.last_step:
            row = {"step": state.step, "loss": state.loss_terms["loss"], "seconds": state.train_seconds}
            dev = next((p.device for p in self.field.parameters()), torch.device("cpu"))
            with torch.no_grad():
                for key, (x, y) in self.sets.items():
                    pred = torch.cat([self.field(x[i:i + DEFAULT_CHUNK].to(dev)).cpu()
                                      for i in range(0, len(x), DEFAULT_CHUNK)])
                    row[key] = psnr(pred, y)
            state.log["psnr"] = row["psnr"]
            if "psnr_heldout" in row:
                state.log["held-out"] = row["psnr_heldout"]
            self.history.append(row)

    def state_dict(self) -> dict:
        return {"history": [dict(h) for h in self.history]}

    def load_state_dict(self, d: dict) -> None:
        self.history = [dict(h) for h in d["history"]]


def peak_rss_mib() -> float:
    """The process's peak resident memory so far (``getrusage``), MiB."""
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / 1024.0 if sys.platform != "darwin" else r / 2**20


def fit_grid(signal: GridSignal, field_cfg: FieldConfig, train_cfg: TrainConfig, device: str = "auto",
             progress: bool = False, holdout: float = 0.0, max_seconds: float | None = None,
             state_dir: Path | None = None, snapshot_seconds: float = 300.0, resume: bool = False) -> GridFit:
    """Fit ``field_cfg``'s architecture to ``signal`` with the one loop; measure it.

    Random batches of ``train_cfg.batch_size`` samples (0: every training sample each step); a seeded
    ``holdout`` fraction never trained on and scored as ``psnr_heldout``. ``max_seconds`` adds a
    time budget (benchmarks at equal time). Initialisation uses ``seed``, batches ``seed + 1`` and
    the held-out draw ``seed + 2``, as for images.

    With ``state_dir`` the whole training state is saved there every ``snapshot_seconds``
    (:mod:`inrkit.train.resume`); ``resume=True`` continues from it (same signal and settings, checked).
    """
    kind = K.get(signal.kind)
    check_arch(field_cfg.arch)
    if train_cfg.steps < 1:
        raise InrkitError(f"steps must be at least 1, not {train_cfg.steps}")
    dev = resolve_device(device)
    held = holdout_mask(signal.samples, holdout, train_cfg.seed)
    init_gen = torch.Generator().manual_seed(train_cfg.seed)
    cfg = replace(field_cfg, w0=HIDDEN_W0) if field_cfg.arch == "siren" else field_cfg
    field = build_field(cfg, signal.dims, signal.channels, tuple(reversed(signal.shape)), generator=init_gen,
                        first_w0=field_cfg.w0 if field_cfg.arch == "siren" else None).to(dev)
    lr = learning_rate(field_cfg, train_cfg)
    opt = make_optimizer(field, field_cfg.arch, lr)
    eval_gen = torch.Generator().manual_seed(train_cfg.seed + 3)
    train_rows = torch.nonzero(torch.as_tensor(~held))[:, 0] if held.any() else None
    held_rows = torch.nonzero(torch.as_tensor(held))[:, 0] if held.any() else None

    def subset(rows: torch.Tensor | None, n: int) -> torch.Tensor:
        if rows is None:
            return torch.randperm(n, generator=eval_gen)[:EVAL_SAMPLES] if n > EVAL_SAMPLES else torch.arange(n)
        return rows[torch.randperm(len(rows), generator=eval_gen)[:EVAL_SAMPLES]] if len(rows) > EVAL_SAMPLES \
            else rows

    tracker = GridEvaluation(field, signal, train_cfg.log_every, subset(train_rows, signal.samples),
                             subset(held_rows, 0) if held_rows is not None else None)
    del train_rows
    sampler = signal.sampler(train_cfg.batch_size, dev, held if held.any() else None)
    callbacks: list = [tracker, Progress(f"{signal.kind} {ARCH_LABELS[field_cfg.arch]}", progress)]
    snap = None
    if state_dir is not None:
        import json

        from ..train import resume as resume_lib
        from .image import _resume_state

        run_id = json.loads(json.dumps({"task": "fit-" + signal.kind, "signal": signal.meta(),
                                        "field": asdict(field_cfg), "train": asdict(train_cfg),
                                        "holdout": holdout}, default=str))
        snap = _resume_state(Path(state_dir), run_id) if resume else None
        callbacks.append(resume_lib.Snapshots(state_dir, snapshot_seconds, run_id))
    train_field = field
    if train_cfg.compile:
        from .image import CompiledOrEager

        train_field = CompiledOrEager(field)
    result = fit(train_field, sampler, Reconstruction(), steps=train_cfg.steps, max_seconds=max_seconds, optimizer=opt,
                 scheduler=schedules.make(train_cfg.schedule, opt, train_cfg.steps),
                 callbacks=callbacks, generator=torch.Generator().manual_seed(train_cfg.seed + 1), amp=train_cfg.amp,
                 resume=snap)
    del sampler
    field.eval()
    outputs = evaluate_grid(field, signal.shape, signal.bounds)  # (*shape, C) in [-1, 1] units
    sq = _squared_errors(outputs, signal)  # (N,) per sample, mean over channels
    metrics = {"arch": field_cfg.arch, "kind": signal.kind,
               "psnr": _psnr_of(sq[~held] if held.any() else sq),
               "psnr_heldout": _psnr_of(sq[held]) if held.any() else None,
               "holdout": {"fraction": holdout, "samples": int(held.sum()), "of": signal.samples,
                           "protocol": (f"a random {holdout:.0%} of samples drawn with seed {train_cfg.seed} + 2 and "
                                        "never trained on (Tancik et al. 2020)") if held.any() else
                           "none: trained and scored on every sample"}}
    del sq
    if metrics["psnr_heldout"] is not None:  # the image workflow's rule: against a classical interpolation
        from .image import heldout_metrics, interpolate_heldout

        lo, hi = signal.value_range
        units = (signal.values.astype(np.float64) - lo) * (2.0 / (hi - lo)) - 1.0  # [-1, 1], as the outputs
        est, method = interpolate_heldout(units, held)
        base = _psnr_of(((est - units.reshape(-1, signal.channels)[held]) ** 2).mean(-1))
        del units, est
        metrics.update(heldout_metrics(metrics["psnr"], metrics["psnr_heldout"], base, method))
    prediction = signal.to_values(outputs, inplace=True)  # no second copy of a whole clip's outputs
    del outputs
    metrics.update(kind.extra_metrics(prediction, signal))
    n_params = num_parameters(field)
    model_bytes = sum(t.numel() * t.element_size() for t in field.state_dict().values())
    metrics.update({"parameters": n_params, "model_bytes": model_bytes,
                    "signal_bytes": int(signal.values.nbytes), "seconds": result.seconds, "steps": train_cfg.steps,
                    "steps_done": result.steps, "shape": list(signal.shape), "channels": signal.channels,
                    "status": result.status, "peak_rss_mib": peak_rss_mib(),
                    **({"message": result.message} if not result.finished else {})})
    return GridFit(field, signal, kind, field_cfg, train_cfg, lr, str(dev), metrics, tracker.history, prediction)


def _squared_errors(outputs: np.ndarray, signal: GridSignal, block: int = 1 << 20) -> np.ndarray:
    """Per-sample squared error in [-1, 1] units, channel mean, float64 ``(N,)``; computed in blocks."""
    c = signal.channels
    out, tgt = outputs.reshape(-1, c), signal.values.reshape(-1, c)
    lo, hi = signal.value_range
    sq = np.empty(len(out), dtype=np.float64)
    for a in range(0, len(out), block):
        t = (tgt[a:a + block].astype(np.float64) - lo) * (2.0 / (hi - lo)) - 1.0
        sq[a:a + block] = ((out[a:a + block] - t) ** 2).mean(-1)
    return sq


def _psnr_of(sq: np.ndarray) -> float:
    mse = float(np.mean(sq)) if len(sq) else float("nan")
    return float("inf") if mse == 0 else float(10.0 * np.log10(4.0 / mse))


# ---- configuration: a kind's presets with the options given put over them -------------------------

def kind_configs(kind: K.Kind, preset: str, device: str = "auto", field_changes: dict | None = None,
                 train_changes: dict | None = None) -> tuple[FieldConfig, TrainConfig, str]:
    """``(FieldConfig, TrainConfig, recipe name)``: the kind's preset (``auto``: ``reference`` on a CUDA GPU,
    ``cpu`` elsewhere) with ``field_changes`` / ``train_changes`` put over it (nested encoding settings
    as dicts, e.g. ``{"hash": {"levels": 4}}``)."""
    name, _ = resolve_preset(preset, device)
    f, t = kind.preset(name)
    f = FieldConfig(**f) if isinstance(f, dict) else f  # kind modules write presets as plain dicts (layer 2)
    t = TrainConfig(**t) if isinstance(t, dict) else t
    fc = dict(field_changes or {})
    for enc in ("pe", "ffn", "hash"):
        if isinstance(fc.get(enc), dict):
            fc[enc] = replace(getattr(f, enc), **fc[enc])
    return replace(f, **fc), replace(t, **(train_changes or {})), name


# ---- run folders --------------------------------------------------------------------------------

def _settings(fit_: GridFit) -> dict:
    from .image import field_settings, train_settings

    s = field_settings(fit_.field_cfg)
    if fit_.arch == "siren":
        s.pop("w0 (first-layer frequency)", None)
        s["w0 (first layer)"] = fit_.field_cfg.w0
        s["w0 (hidden layers)"] = HIDDEN_W0
    s.update(train_settings(fit_.train_cfg, fit_.lr, fit_.device))
    if fit_.train_cfg.batch_size == 0:
        s["batch"] = "every sample"
    return s


def _summary(fit_: GridFit) -> str:
    m = fit_.metrics
    held = m.get("psnr_heldout")
    cards = ([("held-out PSNR", H.decibels(held)), ("training PSNR", H.decibels(m["psnr"]))] if held is not None
             else [("PSNR", H.decibels(m["psnr"]))])
    cards += [("parameters", f"{m['parameters']:,}"), ("training time", f"{m['seconds']:.1f} s"),
              ("steps", str(m["steps_done"]))] + ([("status", m["status"].upper())] if m["status"] != "ok" else [])
    text = H.cards(cards)
    if m["status"] != "ok":
        text += f"<p class='note'>{html.escape(m.get('message', ''))}</p>"
    text += (f"<p class='note'>PSNR is 10 log10(2^2 / MSE) with the signal's values mapped to [-1, 1] (its range "
             f"{fit_.signal.value_range[0]:g} to {fit_.signal.value_range[1]:g}). Held out: "
             f"{html.escape(m['holdout']['protocol'])}.</p>")
    if m.get("psnr_heldout_interpolation") is not None:
        from .image import verdict_note

        text += f"<p class='note'>{verdict_note(m)}</p>"
    return text


def write_grid_run(fit_: GridFit, out: Path, command: str = "", overwrite: bool = False) -> Path:
    """Write the run folder of one fit atomically (nothing appears if anything fails); return its path."""
    with RunDir(out, overwrite) as tmp:
        fit_.folder = tmp
        try:
            checkpoint.save(tmp / "model", fit_.field, fit_.meta())
            curves = plots.training_curves({ARCH_LABELS[fit_.arch]: fit_.history},
                                           keys=("psnr", "psnr_heldout", "loss"),
                                           titles={"psnr": "training PSNR", "psnr_heldout": "held-out PSNR"})
            (tmp / "training.png").write_bytes(curves)
            panels = fit_.kind.panels(fit_)
            write_json(tmp / "metrics.json", dict(fit_.metrics, command=command, inrkit_version=__version__,
                                                  device=fit_.device, history=fit_.history))
            src = H.table(["", ""], [["source", fit_.signal.info.get("source", fit_.signal.name)],
                                     ["kind", fit_.signal.kind],
                                     ["shape (array order) x channels",
                                      " x ".join(map(str, fit_.signal.shape)) + f" x {fit_.signal.channels}"],
                                     ["coordinate bounds", ", ".join(f"[{a:.4g}, {b:.4g}]" for a, b in fit_.signal.bounds)]])
            cfg = H.table(["setting", "value"], [[k, v] for k, v in _settings(fit_).items()])
            sections = [("Summary", _summary(fit_)), *panels,
                        ("Training", H.figure(curves, "PSNR on fixed random training (and held-out) samples, and "
                                                      "the loss, against step")),
                        ("Signal", src), ("Configuration", cfg), ("Command", H.command(command))]
            (tmp / "report.html").write_text(H.page(
                f"inrkit fit: {fit_.signal.name} ({fit_.signal.kind}) with {ARCH_LABELS[fit_.arch]}",
                f"inrkit {__version__}, torch {torch.__version__}, {time.strftime('%Y-%m-%d %H:%M')}", sections))
        finally:
            fit_.folder = None
    return out


def write_compare_run(fits: list[GridFit], out: Path, command: str = "", overwrite: bool = False) -> Path:
    """One folder per architecture (``out/ARCH/``, each a whole run) and a summary report and table."""
    with RunDir(out, overwrite) as tmp:
        for f in fits:
            sub = tmp / f.arch
            write_grid_run(f, sub, command)
        from .image import BASELINE_LABEL, MEMORISATION_RULE, baseline_psnr, ranked

        rows = [[ARCH_LABELS[f.arch], H.decibels(f.metrics["psnr"]),
                 H.decibels(f.metrics["psnr_heldout"]) if f.metrics.get("psnr_heldout") is not None else "",
                 f.metrics.get("verdict", ""), f"{f.metrics['parameters']:,}", f"{f.metrics['seconds']:.1f}",
                 f"<a href='{f.arch}/report.html'>{f.arch}/</a>"] for f in ranked(fits)]  # best held-out first
        base = baseline_psnr(fits)
        note = ""
        if base is not None:
            at = sum(1 for f in fits if f.metrics.get("psnr_heldout") is not None and f.metrics["psnr_heldout"] > base)
            rows.insert(at, [BASELINE_LABEL, "exact", H.decibels(base), "baseline", "0", "", ""])
            note = (f"<p class='note'>Ranked by held-out PSNR. {BASELINE_LABEL}: "
                    f"{html.escape(fits[0].metrics['interpolation'])} from the same training samples. Verdict: "
                    f"{html.escape(MEMORISATION_RULE)}.</p>")
        table = H.table(["architecture", "PSNR (training)", "held-out PSNR", "verdict", "parameters", "seconds", "run"],
                        rows) + note
        table = table.replace("&lt;a href=", "<a href=").replace("&gt;", ">").replace("&lt;/a", "</a")
        curves = plots.training_curves({ARCH_LABELS[f.arch]: f.history for f in fits},
                                       keys=("psnr", "psnr_heldout"),
                                       titles={"psnr": "training PSNR", "psnr_heldout": "held-out PSNR"})
        (tmp / "training.png").write_bytes(curves)
        write_json(tmp / "metrics.json", {"command": command, "inrkit_version": __version__,
                                          "runs": {f.arch: f.metrics for f in fits}})
        s = fits[0].signal
        (tmp / "report.html").write_text(H.page(
            f"inrkit compare: {s.name} ({s.kind})",
            f"inrkit {__version__}, torch {torch.__version__}, {time.strftime('%Y-%m-%d %H:%M')}",
            [("Architectures", table + "<p class='note'>Same steps, seed and batches for every architecture; "
              "each architecture's paper learning rate unless --lr is given.</p>"),
             ("Training", H.figure(curves, "PSNR against step")), ("Command", H.command(command))]))
    return out


# ---- the entry points ---------------------------------------------------------------------------

def load_signal(path: str | Path, kind: str | None = None) -> GridSignal:
    """Read ``path`` as its kind (by suffix, or ``kind``); images are refused here (see apps.image)."""
    k = K.kind_of(path, kind)
    if k.load is None:
        raise InrkitError(f"{path} is an {k.name}; fit it with inrkit.apps.image")
    return k.load(Path(path))


def fit_file(path: str | Path, kind: str | None = None, preset: str = "auto", arch: str | None = None,
             steps: int | None = None, lr: float | None = None, seed: int | None = None, device: str = "auto",
             out: str | Path | None = None, overwrite: bool = False, holdout: float = 0.0, progress: bool = False,
             field_cfg: FieldConfig | None = None, train_cfg: TrainConfig | None = None, command: str = "",
             max_seconds: float | None = None) -> GridFit:
    """Read ``path`` (audio, volume, video ...), fit it with the kind's ``preset`` (or the given configs),
    and write the run folder when ``out`` is given. What ``inrkit fit FILE`` and ``inrkit.fit(FILE)`` run."""
    signal = load_signal(path, kind)
    k = K.get(signal.kind)
    if field_cfg is None or train_cfg is None:
        fc, tc, _ = kind_configs(k, preset, device)
        field_cfg, train_cfg = field_cfg or fc, train_cfg or tc
    if arch is not None:
        field_cfg = replace(field_cfg, arch=arch)
    train_cfg = replace(train_cfg, **{k_: v for k_, v in {"steps": steps, "lr": lr, "seed": seed}.items()
                                      if v is not None})
    fit_ = fit_grid(signal, field_cfg, train_cfg, device, progress, holdout, max_seconds)
    if out is not None:
        write_grid_run(fit_, Path(out), command, overwrite)
    return fit_


def render_kind(field: nn.Module, meta: dict, req: K.RenderRequest) -> K.Rendering:
    """Render a checkpoint of any grid kind (``meta["signal"]["kind"]``) as its kind asks."""
    sig = meta.get("signal")
    if not isinstance(sig, dict) or not isinstance(sig.get("kind"), str):
        raise InrkitError("this checkpoint records no signal kind")
    k = K.get(sig["kind"])
    if k.render is None:
        raise InrkitError(f"{k.name} fields cannot be rendered yet")
    _check_signal_meta(sig)
    return k.render(field, meta, req)


def _check_signal_meta(sig: dict) -> None:
    shape, bounds = sig.get("shape"), sig.get("bounds")
    if (not isinstance(shape, list) or not shape or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 1
                                                             for n in shape)):
        raise InrkitError(f"the checkpoint's signal shape {shape!r:.40} is not positive integers")
    if (not isinstance(bounds, list) or len(bounds) != len(shape) or
            not all(isinstance(b, list) and len(b) == 2 and all(isinstance(v, (int, float)) for v in b) and b[0] < b[1]
                    for b in bounds)):
        raise InrkitError(f"the checkpoint's coordinate bounds {bounds!r:.60} are not (low, high) per axis")
    vr = sig.get("value_range")
    if not (isinstance(vr, list) and len(vr) == 2 and all(isinstance(v, (int, float)) for v in vr)):
        raise InrkitError(f"the checkpoint's value range {vr!r:.40} is not two numbers")


__all__ = ["GridFit", "fit_grid", "fit_file", "kind_configs", "write_grid_run", "write_compare_run", "evaluate_grid",
           "render_kind", "load_signal"]
