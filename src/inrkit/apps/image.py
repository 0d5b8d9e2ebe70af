"""Image fitting, comparison and rendering: the workflow behind ``inrkit fit/compare/render``.

Everything here composes the nouns (signals, ``config.build_field``, ``Reconstruction``,
``train.fit``, ``ops``) and writes run folders; no maths lives here.
"""

from __future__ import annotations

import html
import json
import shutil
import time
from dataclasses import asdict, dataclass, field as dc_field, replace as dataclasses_replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .. import __version__, coords as C
from ..config import (ARCH_LABELS, ARCHS, FieldConfig, TrainConfig, build_field, check_arch, learning_rate,
                      make_optimizer, replace)
from ..errors import DivergedError, InrkitError, RunInterrupted
from ..fields import num_parameters
from ..metrics import psnr, ssim
from ..objectives import Reconstruction
from ..ops import evaluate, finite
from ..ops.chunked import default_chunk
from ..report import html as H, plots
from ..atomic import write_json
from ..report.rundir import RunDir
from ..device import resolve_device
from ..pixels import to_uint8, values_to_pixels
from ..scaling import normalised, set_output_range
from ..signals import DEFAULT_MAX_PIXELS, ImageSignal, load_image, write_png
from ..signals.image import HOLDOUT_SEED_OFFSET, holdout_split
from ..train import Callback, FitState, Progress, checkpoint, fit, schedules
from ..train import resume as resume_lib


class CompiledOrEager(nn.Module):
    """``torch.compile`` of a field for training, falling back to eager on the first failure.

    Compilation fails on some platforms (no C++ compiler, unsupported ops); the run then
    continues eagerly with the same parameters, and ``self.compiled`` says which ran.
    """

    def __init__(self, field: nn.Module):
        super().__init__()
        self.field = field
        self._compiled = torch.compile(field, dynamic=False)
        self.compiled = True

    def forward(self, coords: torch.Tensor) -> torch.Tensor:
        if self.compiled:
            try:
                return self._compiled(coords)
            except Exception:  # backend failures vary by platform; eager is always correct
                self.compiled = False
        return self.field(coords)


@dataclass
class ImageFit:
    """A fitted image: the field, its signal, measurements and derivative maps."""

    field: nn.Module
    signal: ImageSignal
    field_cfg: FieldConfig
    train_cfg: TrainConfig
    lr: float
    device: str
    metrics: dict
    history: list[dict]
    maps: dict[str, np.ndarray] = dc_field(default_factory=dict)

    @property
    def arch(self) -> str:
        return self.field_cfg.arch

    def meta(self) -> dict:
        """The checkpoint's JSON body (besides the architecture, which ``checkpoint.save`` adds)."""
        return {
            "arch": self.arch,
            "signal": self.signal.meta(),
            "coords": {"convention": "cell centres, x_i = -1 + (2i+1)/N", "order": ["x", "y"],
                       "bounds": [[-1.0, 1.0], [-1.0, 1.0]], "y_axis": "down (image rows)"},
            "value_range": list(ImageSignal.VALUE_RANGE),
            "pixels_from_values": "pixels = (values + 1) / 2, clipped to [0, 1]",
            "training": {"field": asdict(self.field_cfg), "train": asdict(self.train_cfg), "lr": self.lr,
                         "device": self.device, "torch_version": torch.__version__,
                         "seconds": self.metrics["seconds"], "final_psnr": self.metrics["psnr"],
                         **({"holdout": self.metrics["holdout"], "final_psnr_heldout": self.metrics["psnr_heldout"]}
                            if self.metrics.get("psnr_heldout") is not None else {}),
                         "history": self.history},
        }


class ImageEvaluation(Callback):
    """Callback: PSNR/SSIM every ``every`` steps (and the first and last), into ``history``.

    ``psnr`` is measured on the training pixels (every pixel without a hold-out), ``psnr_heldout``
    on the ``heldout`` rows (raster indices, :func:`inrkit.signals.image.holdout_split`) when
    there are any, SSIM on the whole image. Publishes both for the progress display. Evaluation
    time is not training time: the loop does not count callbacks in ``state.train_seconds``.
    """

    def __init__(self, field: nn.Module, signal: ImageSignal, every: int, heldout: torch.Tensor | None = None):
        self.field, self.signal, self.every = field, signal, max(1, every)
        self.targets = signal.targets()
        self.heldout = heldout if heldout is not None and len(heldout) else None
        self.history: list[dict] = []

    def after_step(self, state: FitState) -> None:
        if state.step % self.every == 0 or state.step == 1 or state.last_step:
            pred = evaluate(self.field, self.signal.coords(), "value", out_device="cpu")  # (H, W, C), eager field
            p, p_held = split_psnr(pred, self.targets, self.heldout)
            s = ssim(values_to_pixels(pred), self.signal.pixels)
            state.log["psnr"] = p
            if p_held is not None:
                state.log["held-out"] = p_held
            self.history.append({"step": state.step, "loss": state.loss_terms["loss"], "psnr": p,
                                 **({"psnr_heldout": p_held} if p_held is not None else {}), "ssim": s,
                                 "seconds": state.train_seconds})

    def state_dict(self) -> dict:
        return {"history": [dict(h) for h in self.history]}

    def load_state_dict(self, d: dict) -> None:
        self.history = [dict(h) for h in d["history"]]


MEMORISATION_RULE = (
    "a fit is called memorising when its held-out PSNR is below that of a classical interpolation of the same "
    "training samples at the held-out positions (computed in the same run) while its training PSNR is above it: it "
    "reproduces the samples it saw more accurately than the interpolation predicts the unseen ones, yet predicts "
    "the unseen ones worse than the interpolation does. Below the interpolation on both: under-fitted (train longer "
    "or use a larger field), not memorising. At or above it on the held-out samples: it interpolates at least as "
    "well as the classical method, whatever the gap between its training and held-out PSNR")
"""The memorisation verdict, as said in the reports, the docs and ``--help`` (:func:`verdict`). A fixed gap
between training and held-out PSNR (the rule before) flags the CPU default SIREN fit of the camera (37.5 vs 32.6 dB)
although it predicts the unseen pixels better than interpolation does; the baseline asks the useful question:
does the field know more about the image between the samples than connecting the samples does?"""

GRIDDATA_MAX_SAMPLES = 1 << 22
"""Above this many training samples a 2-D signal is interpolated by normalised convolution instead of a
Delaunay triangulation (which takes tens of seconds and gigabytes there)."""


def interpolate_heldout(values: np.ndarray, held: np.ndarray) -> tuple[np.ndarray, str]:
    """A classical interpolation of the training samples at the held-out ones: ``values (*shape, C)`` on a
    regular grid, ``held`` a boolean mask (raster order, ``prod(shape)`` long, or ``shape``). Returns the
    predictions ``(n_held, C)`` (float64) and the method in words.

    - 1-D (audio): piecewise-linear interpolation between the nearest training samples (``numpy.interp``);
    - 2-D (images): linear interpolation on the Delaunay triangulation of the training pixels
      (``scipy.interpolate.griddata``, barycentric within each triangle), the nearest training pixel for the few
      held-out pixels outside their convex hull (at the border);
    - 3-D and more (volumes, video), and 2-D above :data:`GRIDDATA_MAX_SAMPLES`: normalised convolution
      (Knutsson & Westin 1993, "Normalized and differential convolution", CVPR): the training samples among each
      held-out sample's neighbours, weighted by a multilinear tent of radius 1 (radius 2 where none is within 1),
      the nearest training sample where none is within 2.
    """
    shape = values.shape[:-1]
    c = values.shape[-1]
    n = int(np.prod(shape))
    held = np.asarray(held, dtype=bool).reshape(-1)
    flat = values.reshape(n, c).astype(np.float64)
    train = ~held
    if not held.any():
        return np.zeros((0, c)), "none"
    if not train.any():
        raise InrkitError("no training samples to interpolate from")
    if len(shape) == 1:
        x = np.arange(n, dtype=np.float64)
        pred = np.stack([np.interp(x[held], x[train], flat[train, k]) for k in range(c)], -1)
        return pred, "linear interpolation between the nearest training samples"
    if len(shape) == 2 and int(train.sum()) <= GRIDDATA_MAX_SAMPLES and int(train.sum()) >= 3:
        from scipy.interpolate import griddata

        idx = np.stack(np.unravel_index(np.arange(n), shape), -1).astype(np.float64)
        try:
            pred = griddata(idx[train], flat[train], idx[held], method="linear")
            if pred.ndim == 1:
                pred = pred[:, None]
            bad = ~np.isfinite(pred).all(-1)
            if bad.any():
                pred[bad] = griddata(idx[train], flat[train], idx[held][bad], method="nearest").reshape(-1, c)
            return pred, ("linear interpolation on the Delaunay triangulation of the training pixels "
                          "(scipy griddata; the nearest training pixel outside their hull)")
        except Exception:  # degenerate point sets (a single row or column): the general method below
            pass
    return _normalised_convolution(flat.reshape(*shape, c), train.reshape(shape))[held.reshape(shape)], (
        "normalised convolution: each held-out sample from its trained neighbours, weighted by a multilinear tent "
        "(Knutsson & Westin 1993)")


def _normalised_convolution(values: np.ndarray, train: np.ndarray) -> np.ndarray:
    """``(*shape, C)`` estimates of every sample from the training ones (``train`` mask of ``shape``)."""
    from scipy import ndimage

    d = train.ndim
    est = np.full(values.shape, np.nan)
    todo = np.ones(train.shape, dtype=bool)
    w = train.astype(np.float64)
    for radius in (1, 2):
        tent1 = 1.0 - np.abs(np.arange(-radius, radius + 1)) / (radius + 1)
        kernel = tent1
        for _ in range(d - 1):
            kernel = np.multiply.outer(kernel, tent1)
        weight = ndimage.correlate(w, kernel, mode="constant")
        ok = todo & (weight > 0)
        for k in range(values.shape[-1]):
            num = ndimage.correlate(values[..., k] * w, kernel, mode="constant")
            est[..., k][ok] = num[ok] / weight[ok]
        todo &= ~ok
        if not todo.any():
            return est
    _, nearest = ndimage.distance_transform_edt(~train, return_indices=True)
    est[todo] = values[tuple(i[todo] for i in nearest)]
    return est


def verdict(psnr_train: float, psnr_heldout: float, psnr_interpolation: float) -> str:
    """``"interpolates"``, ``"memorising"`` or ``"under-fitted"`` by :data:`MEMORISATION_RULE`."""
    if not psnr_heldout < psnr_interpolation:
        return "interpolates"
    return "memorising" if psnr_train > psnr_interpolation else "under-fitted"


def heldout_metrics(p_train: float, p_held: float, interpolated_psnr: float, method: str) -> dict:
    """The held-out figures of a fit as metrics.json stores them (every signal kind)."""
    v = verdict(p_train, p_held, interpolated_psnr)
    return {"psnr_heldout": p_held, "generalisation_gap_db": p_train - p_held,
            "psnr_heldout_interpolation": interpolated_psnr, "interpolation": method, "verdict": v,
            "memorising": v == "memorising", "memorisation_rule": MEMORISATION_RULE}


def split_psnr(pred: torch.Tensor, targets: torch.Tensor, heldout: torch.Tensor | None) -> tuple[float, float | None]:
    """(PSNR on the training pixels, PSNR on the ``heldout`` raster rows or None) of ``(H, W, C)`` values.

    Without held-out rows the first figure is the whole image's, exactly as :func:`psnr` gives it.
    """
    if heldout is None or not len(heldout):
        return psnr(pred, targets), None
    c = targets.shape[-1]
    p, t = pred.reshape(-1, c), targets.reshape(-1, c)  # (H*W, C), raster order
    train = torch.ones(len(t), dtype=torch.bool)
    train[heldout] = False
    return psnr(p[train], t[train]), psnr(p[heldout], t[heldout])


def holdout_record(fraction: float, heldout: torch.Tensor, pixels: int, seed: int) -> dict:
    """The hold-out protocol as stored in metrics.json and said in the reports."""
    if not len(heldout):
        return {"fraction": 0.0, "pixels": 0, "protocol": "none: trained and scored on every pixel"}
    return {"fraction": fraction, "pixels": int(len(heldout)), "of": pixels, "seed": seed + HOLDOUT_SEED_OFFSET,
            "protocol": f"a random {fraction:.0%} of pixels ({len(heldout):,} of {pixels:,}), drawn with seed "
                        f"{seed} + {HOLDOUT_SEED_OFFSET} and never trained on (Tancik et al. 2020)"}


def fit_signal(signal: ImageSignal, field_cfg: FieldConfig = FieldConfig(), train_cfg: TrainConfig = TrainConfig(),
               device: str = "auto", progress: bool = False, derivative_maps: bool = True,
               state_dir: Path | None = None, snapshot_seconds: float = 300.0, resume: bool = False,
               holdout: float = 0.0, extra_callbacks: tuple = ()) -> ImageFit:
    """Fit ``field_cfg``'s architecture to ``signal`` with the one loop; measure it.

    ``extra_callbacks`` run after the evaluation and progress callbacks (``inrkit fit --view``
    passes :class:`inrkit.view.LiveView`, which serves the field as it trains).

    ``holdout`` is the fraction of pixels kept out of training (:func:`inrkit.signals.image.holdout_split`,
    seeded from ``train_cfg.seed``): the metrics then give PSNR on the training pixels (``psnr``)
    and on the held-out ones (``psnr_heldout``), SSIM on the whole image, the held-out PSNR of a classical
    interpolation of the training pixels (``psnr_heldout_interpolation``, :func:`interpolate_heldout`) and the
    verdict (``verdict``, ``memorising``: :data:`MEMORISATION_RULE`). ``holdout=0`` trains on every
    pixel, byte-identical to a fit without the argument.

    With ``state_dir``, the whole training state is written there every ``snapshot_seconds``
    (:mod:`inrkit.train.resume`); ``resume=True`` continues from the state found there, which must
    come from the same signal and settings. On the CPU a resumed run ends byte-identical to an
    uninterrupted one.
    """
    check_arch(field_cfg.arch)
    if train_cfg.steps < 1:
        raise InrkitError(f"steps must be at least 1, not {train_cfg.steps}")
    if train_cfg.batch_size < 0:
        raise InrkitError(f"batch size must be 0 (whole image) or positive, not {train_cfg.batch_size}")
    dev = resolve_device(device)
    h, w = signal.shape
    train_rows, held_rows = holdout_split(h * w, holdout, train_cfg.seed)
    init_gen = torch.Generator().manual_seed(train_cfg.seed)
    field = build_field(field_cfg, 2, signal.channels, max(h, w), generator=init_gen).to(dev)
    values = signal.targets()
    scale, _ = set_output_range(field, float(values.min()), float(values.max()))  # [-1, 1]: left as it is
    lr = learning_rate(field_cfg, train_cfg)
    opt = make_optimizer(field, field_cfg.arch, lr)
    tracker = ImageEvaluation(field, signal, train_cfg.log_every, held_rows)
    train_field = CompiledOrEager(field) if train_cfg.compile else field
    callbacks: list = [tracker, Progress(ARCH_LABELS[field_cfg.arch], progress), *extra_callbacks]
    snap = None
    if state_dir is not None:
        run_id = {"task": "fit", "signal": signal.meta(), "field": asdict(field_cfg), "train": asdict(train_cfg),
                  **({"holdout": holdout} if len(held_rows) else {})}
        snap = _resume_state(state_dir, run_id) if resume else None
        callbacks.append(resume_lib.Snapshots(state_dir, snapshot_seconds, json.loads(json.dumps(run_id, default=str))))
    sampler = signal.sampler(train_cfg.batch_size, dev, train_rows if len(held_rows) else None)
    result = fit(train_field, sampler, normalised(Reconstruction(), scale),
                 steps=train_cfg.steps, optimizer=opt, scheduler=schedules.make(train_cfg.schedule, opt, train_cfg.steps),
                 callbacks=callbacks, generator=torch.Generator().manual_seed(train_cfg.seed + 1), amp=train_cfg.amp,
                 resume=snap)
    field.eval()
    pred = evaluate(field, signal.coords(), "value")  # (H, W, C)
    pred_pixels = values_to_pixels(pred)
    n_params = num_parameters(field)
    model_bytes = sum(t.numel() * t.element_size() for t in field.state_dict().values())
    image_bytes = h * w * signal.channels * (2 if signal.info.get("bit_depth", 8) > 8 else 1)
    metrics = {
        "arch": field_cfg.arch, **_psnr_metrics(pred, signal.targets(), held_rows),
        "holdout": holdout_record(holdout, held_rows, h * w, train_cfg.seed), "ssim": ssim(pred_pixels, signal.pixels),
        "parameters": n_params, "model_bytes": model_bytes, "image_bytes": image_bytes,
        "model_to_image_ratio": model_bytes / image_bytes, "seconds": result.seconds,
        "steps": train_cfg.steps, "steps_done": result.steps, "image_shape": [h, w, signal.channels],
        "status": result.status, **({"message": result.message} if not result.finished else {}),
    }
    fit_ = ImageFit(field, signal, field_cfg, train_cfg, lr, str(dev), metrics, tracker.history)
    fit_.maps["reconstruction"] = pred_pixels
    if derivative_maps:
        fit_.maps.update(derivative_maps_of(field, signal))
    return fit_


def _psnr_metrics(pred: torch.Tensor, targets: torch.Tensor, heldout: torch.Tensor) -> dict:
    """``psnr`` (training pixels), ``psnr_heldout`` (None without a hold-out), the classical interpolation's
    held-out PSNR and the verdict (:data:`MEMORISATION_RULE`)."""
    p, p_held = split_psnr(pred, targets, heldout)
    if p_held is None:
        return {"psnr": p, "psnr_heldout": None}
    h, w, c = targets.shape
    held = np.zeros(h * w, dtype=bool)
    held[heldout.numpy()] = True
    est, method = interpolate_heldout(targets.numpy(), held)
    p_interp = psnr(est, targets.reshape(-1, c)[heldout].double())
    return {"psnr": p, **heldout_metrics(p, p_held, p_interp, method)}


def memorisation_note(metrics: dict) -> str:
    """Sentences for the report: the hold-out protocol, the interpolation baseline and the verdict."""
    hold = metrics.get("holdout") or {}
    if metrics.get("psnr_heldout") is None:
        return ("No pixels were held out (--holdout 0): the PSNR is measured on the pixels the field was trained "
                "on, so it says how well the image was memorised, not how well the field interpolates.")
    text = (f"Training PSNR is measured on the pixels the field was trained on; held-out PSNR on {hold['protocol']}. "
            f"SSIM is computed on the whole image.")
    return text + " " + verdict_note(metrics, "pixels")


def verdict_note(m: dict, what: str = "samples") -> str:
    """The baseline and the verdict in words (HTML), for every kind's report."""
    if m.get("psnr_heldout_interpolation") is None:
        return ""
    base = (f"A classical interpolation of the same training {what} ({html.escape(m['interpolation'])}) scores "
            f"{m['psnr_heldout_interpolation']:.2f} dB on the held-out {what}; the field {m['psnr_heldout']:.2f} dB.")
    v = m.get("verdict")
    if v == "memorising":
        return (base + f" <b>Memorising:</b> the field reproduces the {what} it saw ({m['psnr']:.2f} dB) better than "
                f"the interpolation predicts the unseen ones, yet predicts the unseen ones worse than the "
                f"interpolation does: it has learnt the samples rather than the signal between them, so quote the "
                f"held-out figure (fewer features, a lower Fourier scale or fewer steps usually help).")
    if v == "under-fitted":
        return (base + f" <b>Under-fitted:</b> below the interpolation on the held-out {what} and on the trained "
                f"ones ({m['psnr']:.2f} dB) too: train longer or use a larger field.")
    return base + (f" The field interpolates at least as well as the classical method (the "
                   f"{m['generalisation_gap_db']:.1f} dB between its training and held-out PSNR is not memorisation "
                   f"by this rule).")


def _same_run(saved, now) -> bool:
    """Whether a saved run identity equals the current one, a setting absent from the saved one counting
    as ``None``: settings added in a later version default to ``None`` (the earlier behaviour, such as
    the hash grid's ``time_cells``), so an interrupted run still resumes after an upgrade."""
    if isinstance(saved, dict) and isinstance(now, dict):
        return all(_same_run(saved.get(k), now.get(k)) for k in saved.keys() | now.keys())
    return saved == now


def _resume_state(folder: Path, run_id: dict) -> dict:
    snap, meta = resume_lib.load(folder)
    if not _same_run(meta, json.loads(json.dumps(run_id, default=str))):
        raise InrkitError(f"the training state in {folder} belongs to another run (image or settings differ); "
                          f"start afresh without resuming")
    return snap


def state_folder(out: str | Path) -> Path:
    """Where a run writing ``out`` keeps its resumable training state: ``.NAME.resume`` beside it."""
    out = Path(out)
    return out.parent / f".{out.name}.resume"


def derivative_maps_of(field: nn.Module, signal: ImageSignal) -> dict[str, np.ndarray]:
    """Autodiff gradient/Laplacian of the field, finite differences of the target (same units)."""
    grid = signal.coords()
    step = C.pixel_step(signal.shape)
    scalar_target = signal.targets().mean(-1).double().numpy()  # (H, W), channel mean
    return {
        "gradient": evaluate(field, grid, "gradient").numpy(),  # (H, W, 2)
        "laplacian": evaluate(field, grid, "laplacian").numpy()[..., 0],  # (H, W)
        "target_gradient": _target_gradient(scalar_target, step),
        "target_laplacian": finite.laplacian_5point(scalar_target, step),
    }


def _target_gradient(u: np.ndarray, step: tuple[float, float]) -> np.ndarray:
    """``finite.central_gradient``, for any aspect ratio: along an axis of one pixel no
    difference can be taken, and that component is 0 (a one-pixel-high image is a 1D signal)."""
    h, w = u.shape
    if h >= 2 and w >= 2:
        return finite.central_gradient(u, step)
    gx = np.gradient(u, step[0], axis=1) if w >= 2 else np.zeros_like(u)
    gy = np.gradient(u, step[1], axis=0) if h >= 2 else np.zeros_like(u)
    return np.stack([gx, gy], axis=-1)


# ---- run folders -------------------------------------------------------------------------

def _fit_files(fit_: ImageFit, folder: Path, prefix: str = "") -> dict[str, np.ndarray]:
    """Write a fit's checkpoint and PNGs into ``folder``; return the images written."""
    checkpoint.save(folder / f"{prefix}model", fit_.field, fit_.meta())
    scales = _fit_scales(fit_)
    imgs = {
        "target": to_uint8(fit_.signal.pixels),
        "reconstruction": to_uint8(fit_.maps["reconstruction"]),
        "error": scales["error"].apply(np.abs(fit_.maps["reconstruction"] - fit_.signal.pixels).mean(-1)),
    }
    if "gradient" in fit_.maps:
        imgs["gradient"] = plots.gradient_image(fit_.maps["gradient"])
        imgs["laplacian"] = plots.laplacian_image(fit_.maps["laplacian"])
        imgs["target_gradient"] = plots.gradient_image(fit_.maps["target_gradient"])
        imgs["target_laplacian"] = plots.laplacian_image(fit_.maps["target_laplacian"])
    for name, img in imgs.items():
        write_png(folder / f"{prefix}{name}.png", img)
    return imgs


def _fit_scales(fit_: ImageFit) -> dict[str, "plots.Scale"]:
    """The colour scale of each map :func:`_fit_files` writes (for the reports' colour bars)."""
    scales = {"error": plots.Scale("magma", 0.0, 0.1, "|error| in pixel values (0 to 1)")}
    for k in ("gradient", "target_gradient"):
        if k in fit_.maps:
            scales[k] = replace(plots.gradient_scale(fit_.maps[k]), label="|grad| per coordinate unit")
    for k in ("laplacian", "target_laplacian"):
        if k in fit_.maps:
            scales[k] = replace(plots.laplacian_scale(fit_.maps[k]), label="Laplacian per coordinate unit^2")
    return scales


def laplacian_note(fit_: ImageFit) -> str | None:
    """A sentence for a Laplacian panel that shows (almost) nothing, or None when it shows something."""
    if "laplacian" not in fit_.maps:
        return None
    if fit_.arch == "hash":
        return ("A hash grid interpolates its features piecewise-linearly and its MLP is ReLU, so the fitted "
                "function's second derivatives vanish almost everywhere: this Laplacian is zero except on cell "
                "boundaries, where it is undefined.")
    if plots.is_flat(fit_.maps["laplacian"]):
        return ("This Laplacian is zero almost everywhere: the network is piecewise linear (ReLU), so its second "
                "derivatives vanish except on the kinks.")
    return None


def field_settings(cfg: FieldConfig) -> dict:
    """The settings that shape ``cfg.arch``'s field (its MLP and its own encoding, not the others')."""
    out = {"architecture": ARCH_LABELS.get(cfg.arch, cfg.arch), "width": cfg.width, "hidden layers": cfg.hidden_layers}
    if cfg.arch == "siren":
        out["w0 (first-layer frequency)"] = cfg.w0
    enc = {"pe": cfg.pe, "ffn": cfg.ffn, "hash": cfg.hash}.get(cfg.arch)
    if enc is not None:
        out.update({f"{cfg.arch}.{k}": ("auto" if v is None else v) for k, v in asdict(enc).items()})
    return out


def train_settings(tcfg: TrainConfig, lr: float, device: str) -> dict:
    """The training settings a reader needs: steps, learning rate and schedule, batch, seed, device."""
    return {"steps": tcfg.steps, "learning rate": f"{lr:g}", "schedule": tcfg.schedule,
            "batch": "whole image" if tcfg.batch_size == 0 else f"{tcfg.batch_size:,} points",
            "seed": tcfg.seed, "device": device,
            **({"compiled": True} if tcfg.compile else {}), **({"bfloat16 autocast": True} if tcfg.amp else {})}


def _fmt_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def write_fit_run(fit_: ImageFit, out: Path, command: str = "", overwrite: bool = False) -> Path:
    """Write the run folder of one fit atomically; return its path."""
    with RunDir(out, overwrite) as tmp:
        imgs = _fit_files(fit_, tmp)
        curves = _training_curves([fit_])
        (tmp / "training.png").write_bytes(curves)
        m = dict(fit_.metrics, command=command, inrkit_version=__version__, device=fit_.device,
                 history=fit_.history)
        write_json(tmp / "metrics.json", m)
        (tmp / "report.html").write_text(_fit_report(fit_, imgs, curves, command))
    return out


def _fit_report(fit_: ImageFit, imgs: dict, curves: bytes, command: str) -> str:
    m = fit_.metrics
    h, w, c = m["image_shape"]
    scales = _fit_scales(fit_)
    held = m.get("psnr_heldout")
    psnr_cards = ([("held-out PSNR", f"{held:.2f} dB"), ("training PSNR", f"{m['psnr']:.2f} dB")]
                  if held is not None else [("PSNR", f"{m['psnr']:.2f} dB")])
    summary = H.cards(psnr_cards + [("SSIM", f"{m['ssim']:.4f}"),
                       ("parameters", f"{m['parameters']:,}"),
                       ("model / image", f"{_fmt_bytes(m['model_bytes'])} / {_fmt_bytes(m['image_bytes'])}"),
                       ("training time", f"{m['seconds']:.1f} s"), ("steps", str(m["steps_done"]))]
                      + ([("status", m["status"].upper())] if m["status"] != "ok" else []))
    if m["status"] != "ok":
        summary += f"<p class='note'>{html.escape(m['message'])}</p>"
    summary += f"<p class='note'>{memorisation_note(m)}</p>"
    pics = "".join(H.figure(imgs[k], cap, scale=scales.get(k)) for k, cap in
                   [("target", "target"), ("reconstruction", "f(x), the fitted field"),
                    ("error", "|error|, channel mean")])
    deriv = ""
    if "gradient" in imgs:
        deriv = ("<p class='note'>Left: the fitted function's derivatives by automatic differentiation. "
                 "Right: finite differences of the target pixels (central differences; 5-point Laplacian), "
                 "in the same coordinate units (the domain is [-1, 1] on each axis). Each map is scaled by its "
                 "own 99th percentile; the bar under it gives the values.</p>" +
                 "".join(H.figure(imgs[k], cap, scale=scales.get(k),
                                  note=laplacian_note(fit_) if k == "laplacian" else None) for k, cap in
                         [("gradient", "|grad f| (autodiff)"), ("target_gradient", "|grad| of target (finite diff.)"),
                          ("laplacian", "Laplacian of f (autodiff)"),
                          ("target_laplacian", "Laplacian of target (finite diff.)")]))
    settings = {**field_settings(fit_.field_cfg), **train_settings(fit_.train_cfg, fit_.lr, fit_.device)}
    cfg = H.table(["setting", "value"], [[k, v] for k, v in settings.items()])
    src = H.table(["", ""], [["source", fit_.signal.info.get("source", fit_.signal.name)],
                             ["shape fitted", f"{w} x {h} x {c}"],
                             ["original shape", fit_.signal.info.get("original_shape", "")],
                             ["bit depth", fit_.signal.info.get("bit_depth", "")],
                             ["alpha", fit_.signal.info.get("alpha", "")]])
    sections = [("Summary", summary + pics), ("Derivatives", deriv),
                ("Training", H.figure(curves, _curves_caption([fit_]))),
                ("Image", src), ("Configuration", cfg), ("Command", H.command(command))]
    return H.page(f"inrkit fit: {fit_.signal.name} with {ARCH_LABELS[fit_.arch]}",
                  f"inrkit {__version__}, torch {torch.__version__}, {time.strftime('%Y-%m-%d %H:%M')}", sections)


# ---- loading at a preset's size, estimating the time ----------------------------------------

def signal_from_array(array: np.ndarray, size: int | None = None, max_size: int | None = None,
                      max_pixels: int = DEFAULT_MAX_PIXELS, alpha: str = "keep", resample: str = "gaussian",
                      name: str = "array") -> ImageSignal:
    """An :class:`ImageSignal` from a NumPy image, ``(H, W)`` or ``(H, W, C)`` with C = 1 to 4: unsigned
    integers map to [0, 1] by their full range (uint8 / 255, uint16 / 65535), booleans to 0 and 1, floats
    must already be in [0, 1]. A last channel of 2 or 4 is alpha (``alpha="drop"`` discards it). ``size`` /
    ``max_size`` resize the longer side as for files. Audio (1D) and volume (3D) arrays are refused in one
    line: they are not image signals."""
    from ..signals.io import resize_longer_side

    a = np.asarray(array)
    if a.ndim == 1 or (a.ndim == 3 and a.shape[2] > 4) or a.ndim > 3:
        raise InrkitError(f"an array of shape {a.shape} is not an image (H x W or H x W x C with C = 1 to 4); "
                          "audio and volume arrays are not fitted by inrkit.fit yet")
    if a.ndim == 0 or a.size == 0:
        raise InrkitError(f"an array of shape {a.shape} has no pixels")
    if a.shape[0] * a.shape[1] > max_pixels:
        raise InrkitError(f"the array has {a.shape[0] * a.shape[1]:,} pixels, above the limit of {max_pixels:,}")
    if a.dtype == bool:
        pixels = a.astype(np.float32)
    elif np.issubdtype(a.dtype, np.unsignedinteger):
        pixels = a.astype(np.float64) / float(np.iinfo(a.dtype).max)
    elif np.issubdtype(a.dtype, np.floating):
        if not np.isfinite(a).all():
            raise InrkitError("the array holds NaN or infinite values")
        if a.min() < 0 or a.max() > 1:
            raise InrkitError(f"a float image must be in [0, 1]; this one spans [{a.min():.4g}, {a.max():.4g}] "
                              "(divide by its maximum, or pass an integer array)")
        pixels = a.astype(np.float32)
    else:
        raise InrkitError(f"an image array must be unsigned integers, booleans or floats in [0, 1], not {a.dtype}")
    if pixels.ndim == 3 and pixels.shape[2] in (2, 4) and alpha == "drop":
        pixels = pixels[..., :-1]
    target = size if size is not None else (max_size if max_size is not None and max(a.shape[:2]) > max_size
                                            else None)
    if target is not None:
        pixels = resize_longer_side(pixels, target, max_pixels, resample)
    info = {"source": f"a NumPy array of shape {tuple(a.shape)} and dtype {a.dtype}", "original_shape": list(a.shape),
            "bit_depth": 16 if a.dtype == np.uint16 else 8, "resample": resample if target is not None else None,
            "alpha": "none" if not (a.ndim == 3 and a.shape[2] in (2, 4)) else
            ("kept as a channel" if alpha == "keep" else "dropped")}
    return ImageSignal(np.asarray(pixels, dtype=np.float32), name=name, info=info)


def load_sized(source, size: int | None = None, max_size: int | None = None,
               max_pixels: int = DEFAULT_MAX_PIXELS, alpha: str = "keep", resample: str = "gaussian") -> ImageSignal:
    """:func:`~inrkit.signals.load_image` of a path or built-in name, or :func:`signal_from_array` of a NumPy
    array; with ``size=None`` and ``max_size``, an image whose longer side is above ``max_size`` is
    resized to it (smaller images keep their size)."""
    if isinstance(source, ImageSignal):
        return source
    if isinstance(source, np.ndarray):
        return signal_from_array(source, size, max_size, max_pixels, alpha, resample)
    signal = load_image(source, size, max_pixels, alpha, resample)
    if size is None and max_size is not None and max(signal.shape) > max_size:
        signal = load_image(source, max_size, max_pixels, alpha, resample)
    return signal


PROBE_STEPS = 3
"""Steps timed by :func:`estimate_fit` after one warm-up step."""


def estimate_fit(signal: ImageSignal, field_cfg: FieldConfig, train_cfg: TrainConfig, archs: tuple[str, ...],
                 device: str = "auto", holdout: float = 0.0) -> tuple[float, str]:
    """``(seconds, how)``: the time ``fit``/``compare`` would take, from a measured probe: per
    architecture, one warm-up step and :data:`PROBE_STEPS` timed steps of the real fit (eager, nothing
    written), times the steps asked for, plus the evaluations every ``log_every`` steps at their
    measured cost. The derivative maps and the report at the end are not counted."""
    total, parts = 0.0, []
    probe = replace(train_cfg, steps=PROBE_STEPS + 1, log_every=10**9)
    probe = dataclasses_replace(probe, compile=False)
    for arch in archs:
        t0 = time.perf_counter()
        f = fit_signal(signal, replace(field_cfg, arch=arch), probe, device, False, derivative_maps=False,
                       holdout=holdout)
        wall = time.perf_counter() - t0
        per_step = (f.history[-1]["seconds"] - f.history[0]["seconds"]) / PROBE_STEPS
        per_eval = max(0.0, wall - f.metrics["seconds"]) / 3  # the evaluations at the first and last step, the final one
        evals = train_cfg.steps // max(1, train_cfg.log_every) + 2
        total += per_step * train_cfg.steps + per_eval * evals
        parts.append(f"{arch} {per_step:.3g} s/step")
    how = (f"measured: a probe of {PROBE_STEPS} steps on {f.device} ({', '.join(parts)}) x {train_cfg.steps} steps, "
           f"plus {train_cfg.steps // max(1, train_cfg.log_every) + 2} evaluations per architecture; the final "
           f"derivative maps and report are not counted")
    return total, how


# ---- public API --------------------------------------------------------------------------

def fit_image(source: "str | np.ndarray | ImageSignal", arch: str = "siren", *, size: int | None = None,
              field_cfg: FieldConfig | None = None, train_cfg: TrainConfig | None = None,
              steps: int | None = None, lr: float | None = None, seed: int | None = None,
              device: str = "auto", out: str | Path | None = None, overwrite: bool = False,
              max_pixels: int = DEFAULT_MAX_PIXELS, alpha: str = "keep", progress: bool = False,
              command: str = "", resample: str = "gaussian", resume: bool = False,
              snapshot_minutes: float | None = 5.0, holdout: float = 0.0, max_size: int | None = None,
              log: str | tuple[str, ...] = (), extra_callbacks: tuple = ()) -> ImageFit:
    """Fit an image (path, built-in name, NumPy array or :class:`ImageSignal`); write a run folder if ``out`` is given.

    ``max_size`` (with ``size=None``): resize an image whose longer side is above it (a preset's cap,
    ``--preset cpu``); smaller images keep their size.

    ``holdout``: the fraction of pixels kept out of training and scored separately (see
    :func:`fit_signal`; the command line's ``--holdout`` defaults to 0.1, the library to 0).

    With ``out``, the training state is saved every ``snapshot_minutes`` (None: never) beside it
    (:func:`state_folder`) until the run folder is written; ``resume=True`` continues a killed
    run of the same command from there.

    ``log``: ``"csv"``, ``"tensorboard"`` or both (``--log``): every step's scalars written into ``out``
    (:func:`inrkit.train.progress.recording`).
    """
    with _recording(log):
        return _fit_image(source, arch, size, field_cfg, train_cfg, steps, lr, seed, device, out, overwrite,
                          max_pixels, alpha, progress, command, resample, resume, snapshot_minutes, holdout, max_size,
                          extra_callbacks)


def _recording(log):
    """``recording(log)``, unless the command line already records (its ``--log``)."""
    import contextlib

    from ..train.progress import active_recorder, recording

    if not log or active_recorder() is not None:
        return contextlib.nullcontext()
    return recording(log if isinstance(log, str) else ",".join(log))


def _fit_image(source, arch, size, field_cfg, train_cfg, steps, lr, seed, device, out, overwrite, max_pixels, alpha,
               progress, command, resample, resume, snapshot_minutes, holdout, max_size, extra_callbacks) -> ImageFit:
    check_arch(arch)
    signal = load_sized(source, size, max_size, max_pixels, alpha, resample)
    fcfg = replace(field_cfg or FieldConfig(), arch=check_arch(arch))
    tcfg = replace(train_cfg or TrainConfig(), steps=steps, lr=lr, seed=seed)
    if resume and out is None:
        raise InrkitError("resuming needs the output folder of the interrupted run")
    sdir = state_folder(out) if out is not None and (snapshot_minutes is not None or resume) else None
    fit_ = fit_signal(signal, fcfg, tcfg, device, progress, state_dir=sdir,
                      snapshot_seconds=60.0 * (snapshot_minutes if snapshot_minutes is not None else 1e9),
                      resume=resume, holdout=holdout, extra_callbacks=tuple(extra_callbacks))
    if out is not None:
        write_fit_run(fit_, Path(out), command, overwrite)
        interrupted = fit_.metrics["status"] == "interrupted"
        if sdir is not None and not interrupted:
            shutil.rmtree(sdir, ignore_errors=True)
        raise_if_unfinished([fit_], out, resumable=sdir is not None and interrupted)
    return fit_


def raise_if_unfinished(fits: list["ImageFit"], out, resumable: bool = False) -> None:
    """After a run folder is written: :class:`DivergedError` (exit 3) when a fit diverged,
    :class:`RunInterrupted` (exit 130) when one was stopped by Ctrl-C."""
    for status, error, what in (("diverged", DivergedError, "the last finite weights"),
                                ("interrupted", RunInterrupted, "what was learnt so far")):
        bad = [f for f in fits if f.metrics.get("status") == status]
        if bad:
            message = (f"{', '.join(f.arch for f in bad)}: {bad[0].metrics['message']}; {out} holds {what}, "
                       f"marked {status}")
            if error is RunInterrupted:
                raise RunInterrupted(message, resumable=resumable)
            raise error(message)


def compare_images(source: str | ImageSignal, archs: tuple[str, ...] = ARCHS, *, size: int | None = None,
                   field_cfg: FieldConfig | None = None, train_cfg: TrainConfig | None = None,
                   device: str = "auto", out: str | Path | None = None, overwrite: bool = False,
                   max_pixels: int = DEFAULT_MAX_PIXELS, alpha: str = "keep", progress: bool = False,
                   command: str = "", resample: str = "gaussian", holdout: float = 0.0,
                   max_size: int | None = None, log: str | tuple[str, ...] = ()) -> list[ImageFit]:
    """Fit every architecture in ``archs`` with the same steps, seed and held-out pixels (``holdout``,
    as in :func:`fit_signal`); write one comparison run. ``max_size`` and ``log`` as in :func:`fit_image`
    (one series per architecture)."""
    with _recording(log):
        return _compare_images(source, archs, size, field_cfg, train_cfg, device, out, overwrite, max_pixels, alpha,
                               progress, command, resample, holdout, max_size)


def _compare_images(source, archs, size, field_cfg, train_cfg, device, out, overwrite, max_pixels, alpha, progress,
                    command, resample, holdout, max_size) -> list[ImageFit]:
    for a in archs:
        check_arch(a)
    signal = load_sized(source, size, max_size, max_pixels, alpha, resample)
    base = field_cfg or FieldConfig()
    fits = []
    for a in archs:
        fits.append(fit_signal(signal, replace(base, arch=a), train_cfg or TrainConfig(), device, progress,
                               holdout=holdout))
        if fits[-1].metrics["status"] == "interrupted":  # Ctrl-C: write what is done, skip the rest
            break
    if out is not None:
        write_compare_run(fits, Path(out), command, overwrite)
        raise_if_unfinished(fits, out)
    return fits


def _has_heldout(fits: list[ImageFit]) -> bool:
    return any(f.metrics.get("psnr_heldout") is not None for f in fits)


def _training_curves(fits: list[ImageFit]) -> bytes:
    """PSNR on the training pixels, on the held-out pixels (when there are any) and SSIM, against step."""
    hist = {ARCH_LABELS[f.arch]: f.history for f in fits}
    if not _has_heldout(fits):
        return plots.training_curves(hist)
    return plots.training_curves(hist, keys=("psnr", "psnr_heldout", "ssim"),
                                 titles={"psnr": "training PSNR", "psnr_heldout": "held-out PSNR"})


def _curves_caption(fits: list[ImageFit]) -> str:
    if not _has_heldout(fits):
        return "PSNR and SSIM on the whole image against training step"
    return ("PSNR on the training pixels, PSNR on the held-out pixels (never trained on) and SSIM on the whole "
            "image, against training step")


def ranked(fits: list[ImageFit]) -> list[ImageFit]:
    """Best first by held-out PSNR (fits without held-out pixels keep their order, after the others)."""
    if not _has_heldout(fits):
        return list(fits)
    return sorted(fits, key=lambda f: -f.metrics["psnr_heldout"] if f.metrics.get("psnr_heldout") is not None
                  and np.isfinite(f.metrics["psnr_heldout"]) else float("inf"))


def compare_table(fits: list[ImageFit]) -> tuple[list[str], list[list[str]]]:
    """The compare table: header and rows, ranked by held-out PSNR when pixels were held out."""
    if not _has_heldout(fits):
        header = ["architecture", "PSNR (dB)", "SSIM", "parameters", "model bytes", "seconds", "lr", "status"]
        return header, [[ARCH_LABELS[f.arch], f"{f.metrics['psnr']:.2f}", f"{f.metrics['ssim']:.4f}",
                         f"{f.metrics['parameters']:,}", f"{f.metrics['model_bytes']:,}", f"{f.metrics['seconds']:.1f}",
                         f"{f.lr:g}", f.metrics["status"]] for f in fits]
    header = ["architecture", "held-out PSNR (dB)", "training PSNR (dB)", "gap (dB)", "verdict", "SSIM",
              "parameters", "model bytes", "seconds", "lr", "status"]
    rows = []
    for f in ranked(fits):
        m = f.metrics
        rows.append([ARCH_LABELS[f.arch], f"{m['psnr_heldout']:.2f}", f"{m['psnr']:.2f}",
                     f"{m['generalisation_gap_db']:.2f}", m.get("verdict", ""), f"{m['ssim']:.4f}",
                     f"{m['parameters']:,}", f"{m['model_bytes']:,}", f"{m['seconds']:.1f}", f"{f.lr:g}",
                     m["status"]])
    base = baseline_psnr(fits)
    if base is not None:  # the classical interpolation, ranked among the fields by its held-out PSNR
        at = sum(1 for r in rows if float(r[1]) > base)
        rows.insert(at, [BASELINE_LABEL, f"{base:.2f}", "exact", "", "baseline", "", "0", "", "", "", ""])
    return header, rows


BASELINE_LABEL = "interpolation (baseline)"


def baseline_psnr(fits) -> float | None:
    """The held-out PSNR of the classical interpolation (the same pixels for every fit of a compare)."""
    for f in fits:
        v = f.metrics.get("psnr_heldout_interpolation")
        if v is not None:
            return float(v)
    return None


def _compare_note(fits: list[ImageFit]) -> str:
    """The protocol under the compare table, the baseline and which fits memorise."""
    if not _has_heldout(fits):
        return f"<p class='note'>{memorisation_note(fits[0].metrics)}</p>"
    text = (f"<p class='note'>Ranked by held-out PSNR: {html.escape(fits[0].metrics['holdout']['protocol'])}, the same "
            f"pixels for every architecture. Training PSNR is measured on the other pixels, the ones fitted; "
            f"SSIM on the whole image.")
    m0 = next((f.metrics for f in fits if f.metrics.get("interpolation")), None)
    if m0 is not None:
        text += (f" The row {BASELINE_LABEL} is a classical {html.escape(m0['interpolation'])} from the same "
                 f"training pixels (it passes through them exactly). Verdict: {html.escape(MEMORISATION_RULE)}.")
    text += "</p>"
    bad = [f for f in fits if f.metrics.get("memorising")]
    if bad:
        text += (f"<p class='note'><b>Memorising:</b> {', '.join(ARCH_LABELS[f.arch] for f in bad)} "
                 f"predict{'s' if len(bad) == 1 else ''} the held-out pixels worse than the interpolation while "
                 "reproducing the training pixels better: the samples were learnt rather than the image between "
                 "them, so the training PSNR overstates the quality.</p>")
    return text


def write_compare_run(fits: list[ImageFit], out: Path, command: str = "", overwrite: bool = False) -> Path:
    signal = fits[0].signal
    with RunDir(out, overwrite) as tmp:
        per_arch = {}
        for f in fits:
            (tmp / f.arch).mkdir()
            per_arch[f.arch] = _fit_files(f, tmp / f.arch)
        gt = per_arch[fits[0].arch]
        cols = ["ground truth"] + [ARCH_LABELS[f.arch] for f in fits]
        rows = [[gt["target"]] + [per_arch[f.arch]["reconstruction"] for f in fits],
                [gt["target_gradient"]] + [per_arch[f.arch]["gradient"] for f in fits],
                [gt["target_laplacian"]] + [per_arch[f.arch]["laplacian"] for f in fits]]
        sc = {f.arch: _fit_scales(f) for f in fits}
        g0 = sc[fits[0].arch]
        scales = [[None] * len(cols),
                  [g0.get("target_gradient")] + [sc[f.arch].get("gradient") for f in fits],
                  [g0.get("target_laplacian")] + [sc[f.arch].get("laplacian") for f in fits]]
        flat = [f for f in fits if laplacian_note(f)]
        notes = [[None] * len(cols), [None] * len(cols),
                 [None] + ["zero almost everywhere" if f in flat else None for f in fits]]
        grid_png = plots.image_grid(rows, ["image", "gradient", "Laplacian"], cols, scales, notes)
        (tmp / "comparison.png").write_bytes(grid_png)
        target_scalar = signal.pixels.mean(-1)
        spectra = {ARCH_LABELS[f.arch]: plots.band_snr(f.maps["reconstruction"].mean(-1), target_scalar) for f in fits}
        spectral_png = plots.spectral_plot(spectra)
        (tmp / "spectral_bias.png").write_bytes(spectral_png)
        curves = _training_curves(fits)
        (tmp / "training.png").write_bytes(curves)
        header, rows_t = compare_table(fits)
        table_md = "| " + " | ".join(header) + " |\n|" + "---|" * len(header) + "\n" + \
            "".join("| " + " | ".join(r) + " |\n" for r in rows_t)
        (tmp / "table.md").write_text(table_md)
        write_json(tmp / "metrics.json", {
            "command": command, "inrkit_version": __version__, "device": fits[0].device,
            "image_shape": fits[0].metrics["image_shape"], "steps": fits[0].train_cfg.steps,
            "seed": fits[0].train_cfg.seed, "holdout": fits[0].metrics.get("holdout"),
            "ranking": [f.arch for f in ranked(fits)],
            "architectures": {f.arch: dict(f.metrics, history=f.history) for f in fits},
            "spectral_snr_db": {k: {"frequency": v[0].tolist(), "snr_db": v[1].tolist()} for k, v in spectra.items()},
        })
        sections = [
            ("Results", H.table(header, rows_t) +
             "<p class='note'>Same steps, seed and width/depth for every architecture; each uses its paper's "
             "learning rate (SIREN 1e-4, the ReLU/tanh networks 1e-3) unless --lr is given. "
             "Seconds exclude evaluation.</p>" + _compare_note(fits)),
            ("Images and derivatives (after SIREN, Figure 1)",
             H.figure(grid_png, "rows: image, |gradient|, Laplacian; derivatives of each field by autodiff, "
                                "of the ground truth by finite differences; each map has its own colour scale "
                                "(99th percentile), given by its bar") +
             "".join(f"<p class='note'>{html.escape(ARCH_LABELS[f.arch])}: {html.escape(laplacian_note(f))}</p>"
                     for f in flat)),
            ("Spectral bias", H.figure(spectral_png, "signal-to-error ratio per radial frequency band") +
             "<p class='note'>Plain ReLU and tanh MLPs fit low frequencies first and miss the high ones "
             "(Rahaman et al. 2019; Tancik et al. 2020): their curves fall towards Nyquist. Fourier features, "
             "positional encoding and SIREN lift the high bands.</p>"),
            ("Training", H.figure(curves, _curves_caption(fits))),
            ("Command", H.command(command)),
        ]
        (tmp / "report.html").write_text(H.page(f"inrkit compare: {signal.name}",
                                                f"{len(fits)} architectures, {fits[0].train_cfg.steps} steps, "
                                                f"seed {fits[0].train_cfg.seed}, device {fits[0].device}", sections))
    return out


def render(field: nn.Module, meta: dict, size: tuple[int, int] | None = None,
           region: tuple[float, float, float, float] | None = None, what: str = "image", chunk: int | None = None,
           method: str = "auto", *, shape: tuple[int, int] | None = None, progress: bool = False,
           rate: int | None = None, slice: str | None = None, fps: float | None = None) -> np.ndarray:
    """Evaluate a fitted image field on a grid of ``shape = (H, W)`` pixels as a uint8 image.

    Sizes in the Python API are ``(H, W)``, NumPy's order (the returned array's shape, ``coords.grid``).
    ``size = (W, H)`` is the older spelling, kept so existing code works: give one of the two. (The command
    line's ``--size W H`` keeps the width-first order of image tools.)

    ``region = (x0, y0, x1, y1)`` picks a rectangle of the domain (default the whole
    [-1, 1]^2). ``what`` is ``image``, ``gradient`` (magnitude) or ``laplacian``. The grid
    is evaluated in blocks of rows holding about ``chunk`` points, so the network's
    memory stays bounded whatever the size; the output array is H x W (x C).
    ``chunk=None`` uses 65,536 points for images, 32,768 for derivatives of MLP fields
    (forward-mode, ``inrkit.ops.jet``) and 8,192 for derivatives by autograd (other fields, or
    ``method="autograd"``). ``progress=True`` shows the one progress line (rows rendered) on stderr.
    For the numbers themselves (gradients, Laplacians as floats) use :func:`inrkit.evaluate`.

    A CT or MRI run's field (kind ``ct`` or ``mri``) renders as a grey image: its output map and the region its
    operator assumed the object in are re-applied (:func:`inrkit.apps.inverse.reconstruction_field`).
    A field of another kind (``meta["signal"]["kind"]``: audio, volume, video) is rendered by its kind
    (:func:`inrkit.apps.grid.render_kind`) and the numbers are returned: audio ``(N, C)`` samples at
    ``rate`` per second, a volume's ``slice="z=0.1"`` as ``(H, W)`` values (``shape=(H, W)``).
    """
    sig = meta.get("signal") if isinstance(meta, dict) else None
    from ..signals.kinds import RECONSTRUCTIONS

    if isinstance(sig, dict) and sig.get("kind") in RECONSTRUCTIONS:  # an image on [-1, 1]^2
        from .inverse import Reconstruction, reconstruction_field

        if not isinstance(field, Reconstruction):
            field = reconstruction_field(field, meta)
        sig = None
    if isinstance(sig, dict) and sig.get("kind", "image") != "image":
        from ..signals.kinds import RenderRequest
        from .grid import render_kind

        wh = size if size is not None else (shape[1], shape[0]) if shape is not None else None
        return render_kind(field, meta, RenderRequest(size=wh, what=what, rate=rate, fps=fps, slice=slice,
                                                      chunk=chunk)).data
    if (size is None) == (shape is None):
        raise InrkitError("give the render size once: shape=(H, W) (or the older size=(W, H))")
    if shape is not None:
        h, w = shape
    else:
        w, h = size
    if w < 1 or h < 1:
        raise InrkitError(f"render size must be positive, got {w}x{h} (W x H)")
    if what not in ("image", "gradient", "laplacian"):
        raise InrkitError(f"what must be image, gradient or laplacian, not {what!r}")
    x0, y0, x1, y1 = region if region is not None else (-1.0, -1.0, 1.0, 1.0)
    if not (x1 > x0 and y1 > y0):
        raise InrkitError(f"region must have x1 > x0 and y1 > y0, got {region}")
    if chunk is None:
        chunk = default_chunk(field, what, method)
    rows_per_block = max(1, chunk // w)
    step_y = (y1 - y0) / h
    quantity = {"image": "value", "gradient": "gradient", "laplacian": "laplacian"}[what]
    channels = field.out_dim if what == "image" else (1 if what == "laplacian" else 2)
    out = np.empty((h, w, channels), dtype=np.uint8 if what == "image" else np.float32)
    from ..train.progress import Counter

    counter = Counter(f"render {what} {w}x{h}", h, progress and h > rows_per_block)
    for r0 in range(0, h, rows_per_block):
        r1 = min(h, r0 + rows_per_block)
        block = C.grid((r1 - r0, w), ((x0, x1), (y0 + r0 * step_y, y0 + r1 * step_y)))  # (rows, W, 2)
        vals = evaluate(field, block, quantity, chunk=chunk, method=method).numpy()
        out[r0:r1] = to_uint8(values_to_pixels(vals)).reshape(r1 - r0, w, -1) if what == "image" else vals
        counter(r1)
    counter.close()
    if what == "image":
        return out[..., 0] if channels == 1 else out
    if what == "gradient":
        return plots.gradient_image(out)
    return plots.laplacian_image(out[..., 0])


# ---- the short API: inrkit.fit, inrkit.evaluate ----------------------------------------------

def fit_any(source, *args, preset: str = "auto", arch: str | None = None, size: int | None = None,
        steps: int | None = None, lr: float | None = None, seed: int | None = None, device: str = "auto",
        out: str | Path | None = None, overwrite: bool = False, holdout: float = 0.1, progress: bool = False,
        **kwargs) -> ImageFit:
    """Fit a field to an image with a named recipe: ``inrkit.fit("camera")``, ``inrkit.fit("photo.png",
    preset="fast")``, ``inrkit.fit(array)`` for a NumPy ``(H, W)`` or ``(H, W, C)`` image
    (:func:`signal_from_array`).

    ``preset`` is one of :data:`inrkit.config.PRESETS` or ``auto`` (``reference`` on a CUDA GPU, ``cpu``
    elsewhere, whose image is capped at 128 px unless ``size`` is given), exactly as ``inrkit fit
    --preset``; ``arch``, ``steps``, ``lr``, ``seed`` override it. Sizes are pixels of the longer side.
    ``holdout`` keeps that fraction of pixels out of training and scores it (``metrics["psnr_heldout"]``),
    as the command line does. Returns the :class:`ImageFit` (``.field``, ``.metrics``, ``.maps``); with
    ``out``, also writes the run folder.

    Given a field (an ``nn.Module``) first, this is the one training loop :func:`inrkit.train.fit`
    (what ``inrkit.fit`` named before), called with the same arguments.
    """
    if isinstance(source, nn.Module):
        from ..train import fit as loop

        return loop(source, *args, **kwargs)
    kind = kwargs.pop("kind", None)
    if isinstance(source, (str, Path)) and not args:  # audio, volume, video files: their own workflow
        from ..signals.kinds import kind_of

        k = kind_of(source, kind)
        if k.name != "image":
            from .grid import fit_file

            if size is not None or kwargs:
                raise TypeError(f"inrkit.fit of {k.name} takes preset, arch, steps, lr, seed, device, out, "
                                f"overwrite, holdout, progress, kind; unknown: {', '.join(kwargs) or 'size'}")
            return fit_file(source, k.name, preset=preset, arch=arch, steps=steps, lr=lr, seed=seed, device=device,
                            out=out, overwrite=overwrite, holdout=holdout, progress=progress)
    if args or kwargs:
        raise TypeError(f"inrkit.fit of an image takes keyword options only; unknown: "
                        f"{', '.join([*map(repr, args), *kwargs])}")
    from ..config import PRESET_MAX_SIZE, preset as preset_configs, resolve_preset

    name, _ = resolve_preset(preset, device)
    fcfg, tcfg = preset_configs(name)
    return fit_image(source, arch or fcfg.arch, size=size, field_cfg=fcfg, train_cfg=tcfg, steps=steps, lr=lr,
                     seed=seed, device=device, out=out, overwrite=overwrite, holdout=holdout, progress=progress,
                     max_size=PRESET_MAX_SIZE.get(name), snapshot_minutes=None)


def evaluate_field(field: nn.Module, coords, what: str = "value", chunk: int | None = None) -> np.ndarray:
    """The numbers of a field at any points: ``what`` is ``value`` ``(..., C)``, ``gradient`` ``(..., 2)`` (of
    the channel mean, per coordinate unit), ``laplacian`` ``(..., 1)``, or ``hessian`` / ``jacobian``
    (:func:`inrkit.ops.evaluate`, whose chunking bounds memory).

    ``coords`` is an array ``(..., 2)`` of points in [-1, 1]^2, (x, y) order, x right, y down; or a shape
    ``(H, W)``, which means the pixel-centre grid of an H x W image (:func:`inrkit.coords.grid`), so the result
    is ``(H, W, ...)``. Returns a float32 NumPy array (numbers, not a colour map: see :func:`render` for images).
    """
    if what not in ("value", "gradient", "laplacian", "hessian", "jacobian"):
        raise InrkitError(f"what must be value, gradient, laplacian, hessian or jacobian, not {what!r}")
    if isinstance(coords, tuple) and all(isinstance(n, int) and not isinstance(n, bool) for n in coords):
        if len(coords) != 2 or min(coords) < 1:
            raise InrkitError(f"a grid shape is (H, W) with positive sizes, not {coords}")
        x = C.grid(coords)
    else:
        x = torch.as_tensor(np.asarray(coords.detach().cpu() if isinstance(coords, torch.Tensor) else coords),
                            dtype=torch.float32)
        if x.ndim < 1 or x.shape[-1] != 2:
            raise InrkitError(f"coords must have 2 numbers (x, y) on their last axis, not shape {tuple(x.shape)}")
    dev = next((p.device for p in field.parameters()), torch.device("cpu"))
    out = evaluate(field, x.to(dev), what, chunk=chunk)
    return out.detach().cpu().numpy().astype(np.float32)
