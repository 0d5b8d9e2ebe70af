"""Workflows behind ``inrkit poisson``, ``inrkit blend`` and ``inrkit integrate``."""

from __future__ import annotations

import dataclasses
import html
from pathlib import Path

import numpy as np

from .. import __version__, coords as C
from ..config import ARCH_LABELS, FieldConfig, TrainConfig, check_arch, learning_rate
from ..edit import discrete
from ..edit.gradient_domain import (check_operator, fit_gradient_field, fit_laplacian_field, image_gradients,
                                    poisson_problem, remove_constant)
from ..errors import DivergedError, InrkitError, RunInterrupted
from ..metrics import psnr
from ..report import html as H, plots
from ..atomic import write_bytes_atomic, write_json
from ..report.rundir import RunDir
from ..device import resolve_device
from ..pixels import to_uint8, values_to_uint8
from ..signals import DEFAULT_MAX_PIXELS, ImageSignal, load_image, write_png
from ..train import Callback, FitState, Progress, checkpoint


_pix = values_to_uint8


class LossHistory(Callback):
    """Callback: the training loss every ``every`` steps (and at the first and last), into ``history``.

    Each row is ``{step, seconds, loss}`` (seconds of training, evaluation excluded); the reports
    draw it as the training curve.
    """

    def __init__(self, every: int = 10):
        self.every = max(1, int(every))
        self.history: list[dict] = []

    @classmethod
    def for_steps(cls, steps: int, points: int = 200) -> "LossHistory":
        """About ``points`` rows over a run of ``steps``."""
        return cls(max(1, steps // points))

    def after_step(self, state: FitState) -> None:
        if state.step % self.every == 0 or state.step == 1 or state.last_step:
            self.history.append({"step": state.step, "seconds": state.train_seconds,
                                 "loss": state.loss_terms["loss"]})


def _error_pixels(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Channel-mean |a - b| of two value maps in [-1, 1], in pixel units (0 to 1)."""
    d = np.abs(a - b) / 2.0
    return d.mean(-1) if d.ndim == 3 else d


def _loss_figure(histories: dict[str, list[dict]], what: str) -> tuple[bytes, str]:
    png = plots.training_curves(histories, keys=("loss",), titles={"loss": f"training loss ({what})"})
    return png, H.figure(png, f"training loss against step ({what}; the objective divided by the "
                              "field's output scale squared, so runs of any units compare)")


def _settings_table(rows: dict) -> str:
    return H.table(["setting", "value"], [[k, v] for k, v in rows.items()])


_POISSON_OPERATORS = {
    ("gradient", "analytic"): "A(f) = grad f, the field's gradient by automatic differentiation at each pixel "
                              "centre, matched to the Sobel gradient of the image (Sitzmann et al. 2020, sec. 4.1): "
                              "loss = mean over pixels of |grad f(x) - Sobel(I)(x)|^2.",
    ("gradient", "stencil"): "A(f) = Sobel(f): the Sobel filter applied to the field's values on the pixel grid "
                             "(mirrored borders), matched to the Sobel gradient of the image; the exact model of "
                             "how the targets were made.",
    ("laplacian", "analytic"): "A(f) = Laplacian f = d2f/dx2 + d2f/dy2 by automatic differentiation at each pixel "
                               "centre, matched to the 5-point Laplacian of the image (Sitzmann et al. 2020, "
                               "sec. 4.1): loss = mean over pixels of (Laplacian f(x) - L5(I)(x))^2.",
    ("laplacian", "stencil"): "A(f) = L5(f): the 5-point Laplacian stencil applied to the field's values on the "
                              "pixel grid (mirrored borders), matched to the 5-point Laplacian of the image.",
    ("laplacian", "stencil-sobolev"): "A(f) = L5(f), the 5-point stencil on the field's grid values, with the "
                                      "residual measured in the H^-1 norm (solved through the DCT Poisson "
                                      "solver), which weights low frequencies as the image does.",
}
_POISSON_CLASSICAL = {"gradient": "least-squares integration of the same Sobel gradients by DCT, Neumann borders",
                      "laplacian": "the 5-point Poisson equation with the same right-hand side by DCT, Neumann borders"}


# ---- Poisson reconstruction (Sitzmann et al. 2020, sec. 4.1, Table 1) ------------------------

def poisson_reconstruction(source: str | ImageSignal, supervision: str = "gradient",
                           archs: tuple[str, ...] = ("tanh", "pe", "siren"), size: int | None = 256,
                           field_cfg: FieldConfig | None = None, train_cfg: TrainConfig | None = None,
                           device: str = "auto", out: str | Path | None = None, overwrite: bool = False,
                           progress: bool = False, command: str = "", max_pixels: int = DEFAULT_MAX_PIXELS,
                           minutes: float | None = None, resample: str = "triangle",
                           operator: str = "analytic") -> dict:
    """Fit each architecture to an image's Sobel gradient or 5-point Laplacian only.

    ``minutes`` caps each architecture's training time (the steps done are recorded).
    ``resample`` is the down-sampling filter of ``size`` (default ``triangle``: PIL's bilinear,
    which the paper's data loader applies; see :data:`inrkit.signals.io.RESAMPLE_FILTERS`).
    ``operator`` is ``analytic`` (the paper's: the network's own derivatives against the
    filtered targets), ``stencil`` (the Sobel / 5-point stencil applied to the network's grid
    values, the exact model of how the targets were made; see :class:`inrkit.objectives.StencilMatch`)
    or ``stencil-sobolev`` (Laplacian only: the stencil with the residual in the H^-1 norm).

    The image is made grayscale (channel mean). PSNR is computed after removing the
    unknown constant, as the paper does; the same targets are also solved by the classical
    discrete Poisson solver (DCT, Neumann borders) and the INR is compared with it.
    """
    if supervision not in ("gradient", "laplacian"):
        raise InrkitError(f"supervision must be gradient or laplacian, not {supervision!r}")
    if minutes is not None and not minutes > 0:
        raise InrkitError(f"minutes must be positive, not {minutes}")
    budget = None if minutes is None else 60.0 * minutes
    tcfg = train_cfg or TrainConfig(steps=10_000)
    check_operator(operator, tcfg.batch_size)
    if operator == "stencil-sobolev" and supervision != "laplacian":
        raise InrkitError("operator stencil-sobolev applies to the laplacian supervision; use stencil for gradients")
    for a in archs:
        check_arch(a)
    sig = source if isinstance(source, ImageSignal) else load_image(source, size, max_pixels, alpha="drop",
                                                                              resample=resample)
    gt = sig.targets().mean(-1, keepdim=True).numpy().astype(np.float64)  # (H, W, 1) in [-1, 1]
    h, w = sig.shape
    dev = resolve_device(device)
    target, classical = poisson_problem(gt, supervision)
    results = {"supervision": supervision, "shape": [h, w], "steps": tcfg.steps, "device": str(dev),
               "resample": sig.info.get("resample"), "operator": operator,
               "classical_psnr": psnr(classical, gt), "architectures": {}}
    preds = {}
    for arch in archs:
        fcfg = dataclasses.replace(field_cfg or FieldConfig(), arch=arch)
        losses = LossHistory.for_steps(tcfg.steps)
        cbs = [losses, Progress(f"{ARCH_LABELS[arch]} ({supervision})", progress)]  # always: --log records through it
        if supervision == "gradient":
            field, pred, res = fit_gradient_field(target, fcfg, tcfg, dev, callbacks=cbs, max_seconds=budget,
                                                  operator=operator)
        else:
            field, pred, res = fit_laplacian_field(target, fcfg, tcfg, dev, callbacks=cbs, max_seconds=budget,
                                                   operator=operator)
        pred = remove_constant(pred, gt)
        preds[arch] = (field, pred, losses.history, fcfg)
        results["architectures"][arch] = {
            "psnr": psnr(pred, gt), "psnr_vs_classical": psnr(pred, classical), "seconds": res.seconds,
            "steps_done": res.steps, "schedule": tcfg.schedule, "status": res.status,
            **({"message": res.message} if not res.finished else {}),
            "final_loss": res.final_terms.get("loss"), "lr": learning_rate(fcfg, tcfg),
            "history": losses.history}
        if res.status == "interrupted":  # Ctrl-C: write what is done, skip the other architectures
            break
    if out is not None:
        with RunDir(out, overwrite) as tmp:
            write_png(tmp / "target.png", _pix(gt))
            write_png(tmp / "classical.png", _pix(classical))
            for arch, (field, pred, _, _) in preds.items():
                write_png(tmp / f"{arch}.png", _pix(pred))
                checkpoint.save(tmp / f"{arch}_model", field, {"arch": arch, "task": f"poisson-{supervision}",
                                                               "signal": {"kind": "image", "shape": [h, w]}})
            results.update(command=command, inrkit_version=__version__)
            write_json(tmp / "metrics.json", results)
            curves, curves_fig = _loss_figure({ARCH_LABELS[a]: p[2] for a, p in preds.items()},
                                              f"{supervision}, {operator} operator")
            (tmp / "training.png").write_bytes(curves)
            (tmp / "report.html").write_text(_poisson_report(results, sig, gt, target, classical, preds, tcfg,
                                                             curves_fig, command, minutes))
        _raise_if_unfinished({a: r for a, r in results["architectures"].items()}, out)
    return results


def _poisson_report(results: dict, sig: ImageSignal, gt: np.ndarray, target: np.ndarray, classical: np.ndarray,
                    preds: dict, tcfg: TrainConfig, curves_fig: str, command: str, minutes: float | None) -> str:
    from .image import field_settings

    supervision, operator = results["supervision"], results["operator"]
    h, w = results["shape"]
    archs = results["architectures"]
    rows = [[ARCH_LABELS[a], H.decibels(r["psnr"]), H.decibels(r["psnr_vs_classical"]), r["steps_done"],
             f"{r['seconds']:.1f}", r["status"]] for a, r in archs.items()]
    rows.append(["discrete Poisson solve (DCT)", H.decibels(results["classical_psnr"]), "-", "-", "-", "-"])
    table = H.table(["method", "PSNR vs image", "PSNR vs discrete solve", "steps", "seconds", "status"], rows)
    cp = results["classical_psnr"]
    if cp > H.EXACT_DB:
        agree = (f"The classical solution of the same targets, {_POISSON_CLASSICAL[supervision]}, reproduces the "
                 f"image exactly to rounding (> {H.EXACT_DB:g} dB): the targets determine the image up to its "
                 "constant, so every dB an INR falls short is the network's, not the data's.")
    else:
        agree = (f"The classical solution of the same targets, {_POISSON_CLASSICAL[supervision]}, reaches "
                 f"{H.decibels(cp)} against the image: that much is lost in the targets themselves, and bounds "
                 "what any method recovers from them.")
    op = (f"<p><b>Operator.</b> {html.escape(_POISSON_OPERATORS[(supervision, operator)])} The field is fitted "
          "to the derivatives only: it never sees a pixel value, so it is known up to a constant, removed "
          "before every comparison (the mean difference to the image).</p>")
    target_map = (plots.gradient_scale(target[:, :, 0]) if supervision == "gradient"
                  else plots.laplacian_scale(target))
    target_img = target_map.apply(np.linalg.norm(target[:, :, 0], axis=-1) if supervision == "gradient" else target)
    target_label = "|Sobel gradient| per coordinate unit" if supervision == "gradient" else \
        "5-point Laplacian per coordinate unit^2"
    figs = [H.figure(_pix(gt), "ground truth"),
            H.figure(target_img, f"the targets: {supervision} of the image",
                     scale=dataclasses.replace(target_map, label=target_label)),
            H.figure(_pix(classical), f"discrete Poisson solve (DCT), {H.decibels(cp)}")]
    figs += [H.figure(_pix(p[1]), f"{ARCH_LABELS[a]}: {H.decibels(archs[a]['psnr'])}") for a, p in preds.items()]
    errs = {a: _error_pixels(p[1], gt) for a, p in preds.items()}
    escale = plots.error_scale(list(errs.values()), "|f - image| in pixel values (0 to 1)") if errs else None
    err_figs = "".join(H.figure(escale.apply(e), f"{ARCH_LABELS[a]}: |f - image|", scale=escale)
                       for a, e in errs.items())
    if err_figs:
        err_figs = ("<p class='note'>Absolute error of each reconstruction against the image (after removing the "
                    "constant), channel mean, on one shared colour scale (up to the largest 99th percentile).</p>"
                    + err_figs)
    settings = {"supervision": supervision, "operator": operator, "image": f"{sig.name}, {w} x {h} (grayscale)",
                "resampling filter": results.get("resample") or "none", "steps": tcfg.steps,
                **({"time budget per architecture": f"{minutes:g} min"} if minutes is not None else {}),
                "schedule": tcfg.schedule, "batch": "every pixel" if tcfg.batch_size == 0 else f"{tcfg.batch_size:,}",
                "seed": tcfg.seed, "device": results["device"]}
    per_arch = H.table(["architecture", "network", "learning rate"],
                       [[ARCH_LABELS[a], ", ".join(f"{k} {v}" for k, v in list(field_settings(p[3]).items())[1:]),
                         f"{archs[a]['lr']:g}"] for a, p in preds.items()])
    return H.page(
        f"inrkit poisson: from the {supervision}", f"{sig.name}, {w}x{h}, {tcfg.steps} steps, device {results['device']}"
        + "".join(f", {a} {r['status'].upper()}" for a, r in archs.items() if r["status"] != "ok"),
        [("Problem", op + f"<p>{html.escape(agree)}</p>"),
         ("Results", table + "<p class='note'>PSNR after removing the unknown constant (Sitzmann et al. 2020, "
          "sec. 4.1).</p>"),
         ("Images", "".join(figs)), ("Errors", err_figs), ("Training", curves_fig),
         ("Configuration", _settings_table(settings) + per_arch), ("Command", H.command(command))])


def _raise_if_unfinished(records: dict[str, dict], out) -> None:
    """After a run folder is written: :class:`DivergedError` (exit 3) when a fit diverged,
    :class:`RunInterrupted` (exit 130) when Ctrl-C stopped one."""
    for status, error, what in (("diverged", DivergedError, "the last finite weights"),
                                ("interrupted", RunInterrupted, "what was learnt so far")):
        bad = {k: r for k, r in records.items() if r.get("status") == status}
        if bad:
            first = next(iter(bad.values()))
            raise error(f"{', '.join(bad)}: {first['message']}; {out} holds {what}, marked {status}")


# ---- blending ----------------------------------------------------------------------------

def _load_pair(a: str, b: str, size: int | None, max_pixels: int,
               resample: str = "gaussian") -> tuple[ImageSignal, ImageSignal]:
    A = load_image(a, size, max_pixels, alpha="drop", resample=resample)
    B = load_image(b, size, max_pixels, alpha="drop", resample=resample)
    if A.shape != B.shape:
        raise InrkitError(f"images differ in size ({A.shape[1]}x{A.shape[0]} and {B.shape[1]}x{B.shape[0]}); "
                          f"inrkit does not resize them to match: crop or resize one first")
    if A.channels != B.channels:  # gray with colour: promote gray
        c = max(A.channels, B.channels)
        A = ImageSignal(np.repeat(A.pixels, c // A.channels, axis=2)[..., :c], A.name, A.info)
        B = ImageSignal(np.repeat(B.pixels, c // B.channels, axis=2)[..., :c], B.name, B.info)
    return A, B


def _check_mask_aspect(mask_shape: tuple[int, int], shape: tuple[int, int]) -> None:
    (mh, mw), (h, w) = mask_shape, shape
    scale = max(h, w) / max(mh, mw)  # as resize_longer_side maps the images
    if (max(1, round(mh * scale)), max(1, round(mw * scale))) != (h, w):
        raise InrkitError(f"mask is {mw}x{mh}, images are {w}x{h}: the aspect ratios differ")


def load_mask(path: str, shape: tuple[int, int], max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """A binary mask image for images of ``shape`` (after any resizing): values must be only 0
    and one other level. A mask of another size with the same aspect ratio (the images were
    resized, the mask was drawn on the originals) is resized to ``shape`` with nearest-neighbour
    sampling, which keeps it binary; a different aspect ratio is refused."""
    from PIL import Image, ImageOps

    p = Path(path)
    if not p.is_file():
        raise InrkitError(f"no such mask file: {path}")
    try:
        with Image.open(p) as im:
            if im.width * im.height > max_pixels:
                raise InrkitError(f"mask {path} has {im.width}x{im.height} pixels, above the limit of {max_pixels}")
            if im.getexif().get(0x0112, 1) not in (5, 6, 7, 8):  # the aspect ratio from the header, before decoding
                _check_mask_aspect((im.height, im.width), shape)
            arr = np.asarray(ImageOps.exif_transpose(im).convert("L"))
    except InrkitError:
        raise
    except Exception:
        raise InrkitError(f"{path} is not an image file that can be read") from None
    if arr.shape != tuple(shape):
        _check_mask_aspect(arr.shape, shape)
        (h, w) = shape
        arr = np.asarray(Image.fromarray(arr).resize((w, h), Image.Resampling.NEAREST))
    levels = np.unique(arr)
    if len(levels) > 2 or (len(levels) == 2 and levels[0] != 0):
        raise InrkitError(f"mask must be binary (0 and one other value); found {len(levels)} levels")
    mask = arr > 0
    if not mask.any():
        raise InrkitError("mask is empty: nothing to paste")
    return mask


def blend(a: str | ImageSignal, b: str | ImageSignal, alpha: float = 0.5, mask: np.ndarray | str | None = None,
          size: int | None = None, field_cfg: FieldConfig | None = None, train_cfg: TrainConfig | None = None,
          device: str = "auto", out: str | Path | None = None, overwrite: bool = False, progress: bool = False,
          command: str = "", max_pixels: int = DEFAULT_MAX_PIXELS, resample: str = "gaussian",
          max_size: int | None = None) -> dict:
    """Gradient-domain blending of two same-size images with an INR.

    ``max_size`` (with ``size=None``): images whose longer side is above it are resized to it
    (a preset's cap, ``--preset cpu``); smaller ones keep their size.

    Without a mask (mixing): fit Phi with grad Phi ~ alpha grad A + (1 - alpha) grad B; the
    free constant is set so each channel's mean is alpha mean A + (1 - alpha) mean B.
    With a mask (seamless cloning, Perez et al. 2003): the guidance is B's gradient inside
    the mask and A's outside, and Phi is anchored to A's values outside the mask.
    Both are compared with the discrete Poisson solution of the same problem.
    """
    if isinstance(a, ImageSignal) and isinstance(b, ImageSignal):
        A, B = a, b
        if A.shape != B.shape or A.channels != B.channels:
            raise InrkitError("images differ in size or channels")
    else:
        A, B = _load_pair(str(a), str(b), size, max_pixels, resample)
        if size is None and max_size is not None and max(A.shape) > max_size:
            A, B = _load_pair(str(a), str(b), max_size, max_pixels, resample)
    if not 0.0 <= alpha <= 1.0:
        raise InrkitError(f"alpha must be in [0, 1], not {alpha}")
    if isinstance(mask, str):
        mask = load_mask(mask, A.shape, max_pixels)
    va = A.targets().numpy().astype(np.float64)  # (H, W, C) in [-1, 1]
    vb = B.targets().numpy().astype(np.float64)
    h, w, c = va.shape
    step = C.pixel_step((h, w))
    ga, gb = image_gradients(va), image_gradients(vb)  # (H, W, C, 2)
    fcfg = field_cfg or FieldConfig()
    tcfg = train_cfg or TrainConfig(steps=1000)
    dev = resolve_device(device)
    losses = LossHistory.for_steps(tcfg.steps)
    cbs = [losses, Progress("blend", progress)]  # always: --log records through it
    if mask is None:
        guide = alpha * ga + (1 - alpha) * gb
        field, pred, res = fit_gradient_field(guide, fcfg, tcfg, dev, callbacks=cbs)
        want_mean = alpha * va.mean((0, 1)) + (1 - alpha) * vb.mean((0, 1))
        pred = pred - pred.mean((0, 1)) + want_mean
        naive = alpha * va + (1 - alpha) * vb
        classical = np.stack([discrete.integrate_gradient(guide[:, :, k], step) for k in range(c)], -1)
        classical = classical - classical.mean((0, 1)) + want_mean
        mode = f"mixing, alpha = {alpha:g}"
    else:
        m = mask.astype(bool)
        guide = np.where(m[..., None, None], gb, ga)
        field, pred, res = fit_gradient_field(guide, fcfg, tcfg, dev, values=va, anchor=(~m).astype(np.float64),
                                              callbacks=cbs)
        naive = np.where(m[..., None], vb, va)
        classical = np.stack([discrete.poisson_blend(va[..., k], discrete.forward_gradient(vb[..., k], step), m, step)
                              for k in range(c)], -1)
        mode = "seamless cloning"
    pred = np.clip(pred, -1, 1)
    classical = np.clip(classical, -1, 1)
    result = {"mode": mode, "shape": [h, w, c], "psnr_inr_vs_discrete": psnr(pred, classical),
              "status": res.status, **({"message": res.message} if not res.finished else {}),
              "psnr_naive_vs_discrete": psnr(naive, classical), "seconds": res.seconds, "steps": tcfg.steps,
              "arch": fcfg.arch, "device": str(dev), "history": losses.history}
    result["images"] = {"inr": pred, "discrete": classical, "naive": naive}
    if out is not None:
        with RunDir(out, overwrite) as tmp:
            imgs = {"a": _pix(va), "b": _pix(vb), "naive": _pix(naive), "inr_blend": _pix(pred),
                    "discrete_blend": _pix(classical)}
            if mask is not None:
                imgs["mask"] = (mask.astype(np.uint8) * 255)
            for k, v in imgs.items():
                write_png(tmp / f"{k}.png", v)
            checkpoint.save(tmp / "model", field, {"arch": fcfg.arch, "task": "blend", "mode": mode,
                                                   "signal": {"kind": "image", "shape": [h, w], "channels": c},
                                                   "value_range": [-1.0, 1.0]})
            meta = {k: v for k, v in result.items() if k != "images"}
            meta.update(command=command, inrkit_version=__version__)
            write_json(tmp / "metrics.json", meta)
            curves, curves_fig = _loss_figure({ARCH_LABELS[fcfg.arch]: losses.history}, mode)
            (tmp / "training.png").write_bytes(curves)
            (tmp / "report.html").write_text(_blend_report(meta, imgs, pred, naive, classical, mask, alpha, fcfg,
                                                           tcfg, res, curves_fig, command))
        _raise_if_unfinished({fcfg.arch: result}, out)
    return result


def _blend_report(meta: dict, imgs: dict, pred: np.ndarray, naive: np.ndarray, classical: np.ndarray,
                  mask: np.ndarray | None, alpha: float, fcfg: FieldConfig, tcfg: TrainConfig, res, curves_fig: str,
                  command: str) -> str:
    from .image import field_settings, train_settings

    h, w, c = meta["shape"]
    if mask is None:
        op = ("<p><b>Operator.</b> A(Phi) = grad Phi, by automatic differentiation, matched to the mixed guidance "
              f"alpha grad A + (1 - alpha) grad B with alpha = {alpha:g} (central differences of each channel). "
              "Gradients fix Phi up to a constant per channel, set so that each channel's mean is "
              "alpha mean A + (1 - alpha) mean B.</p>"
              "<p><b>Classical solution.</b> Least-squares integration of the same guidance (DCT, Neumann borders), "
              "with the same constant.</p>")
    else:
        op = ("<p><b>Operator.</b> A(Phi) = grad Phi, matched to B's gradient inside the mask and A's outside, "
              "with Phi's values anchored to A outside the mask (weight 1/h^2, h the pixel size): seamless cloning "
              "(Perez et al. 2003).</p>"
              "<p><b>Classical solution.</b> The discrete Poisson equation inside the mask, L u = div(grad B), "
              "with A's values as the boundary condition outside (Perez et al. 2003).</p>")
    agreement = H.table(["comparison", "PSNR"], [
        ["INR blend vs discrete Poisson blend", H.decibels(meta["psnr_inr_vs_discrete"])],
        ["naive " + ("paste" if mask is not None else "average") + " vs discrete Poisson blend",
         H.decibels(meta["psnr_naive_vs_discrete"])]])
    agreement += ("<p class='note'>The discrete Poisson blend is the reference: the INR solves the same problem, "
                  "so its PSNR against it says how well the fit converged; the naive result shows how far from the "
                  "blend plain pasting or averaging is.</p>")
    caps = {"a": "A", "b": "B", "mask": "mask", "naive": "naive paste" if mask is not None else "naive average",
            "inr_blend": "INR blend", "discrete_blend": "discrete Poisson blend"}
    figs = "".join(H.figure(imgs[k], caps[k]) for k in caps if k in imgs)
    errs = {"INR blend": _error_pixels(pred, classical), caps["naive"]: _error_pixels(naive, classical)}
    escale = plots.error_scale(list(errs.values()), "|difference| in pixel values (0 to 1)")
    err_figs = ("<p class='note'>Absolute difference to the discrete Poisson blend, channel mean, on one shared "
                "colour scale.</p>" + "".join(H.figure(escale.apply(e), f"|{k} - discrete Poisson blend|",
                                                       scale=escale) for k, e in errs.items()))
    settings = {"mode": meta["mode"], **({"alpha": f"{alpha:g}"} if mask is None else
                                         {"mask": f"{int(mask.sum()):,} of {h * w:,} pixels"}),
                "images": f"{w} x {h}, {c} channel{'s' if c > 1 else ''}",
                **field_settings(fcfg), **train_settings(tcfg, learning_rate(fcfg, tcfg), meta["device"])}
    status = "" if res.finished else f", {res.status.upper()} after {res.steps} steps"
    return H.page(f"inrkit blend: {meta['mode']}", f"{w}x{h}, {ARCH_LABELS[fcfg.arch]}, {tcfg.steps} steps, "
                  f"{meta['seconds']:.1f} s{status}",
                  [("Problem", op), ("Images", figs), ("Agreement", agreement), ("Errors", err_figs),
                   ("Training", curves_fig), ("Configuration", _settings_table(settings)),
                   ("Command", H.command(command))])


# ---- integrating a gradient field --------------------------------------------------------

def _read_npy(p: str) -> np.ndarray:
    """A ``.npy`` file of real numbers, its header checked before the data is read: archives
    (``.npz``), object (pickled), complex, structured and empty arrays are refused, and so is a
    header whose shape is above :data:`~inrkit.config.MAX_ARRAY_PIXELS` or the file's length."""
    import math

    from numpy.lib import format as npy

    from ..config import MAX_ARRAY_PIXELS

    try:
        with open(p, "rb") as f:
            head = f.read(6)
            if head[:2] == b"PK":
                raise InrkitError(f"{p} is an .npz archive; save each array with numpy.save (.npy)")
            f.seek(0)
            try:
                version = npy.read_magic(f)
                if version == (1, 0):
                    shape, fortran, dtype = npy.read_array_header_1_0(f)
                elif version in ((2, 0), (3, 0)):
                    shape, fortran, dtype = npy.read_array_header_2_0(f)
                else:
                    raise ValueError(f"version {version}")
            except Exception:  # ValueError, SyntaxError, tokenize.TokenError, RecursionError, ... from the header
                raise InrkitError(f"{p} is not a readable .npy array of numbers") from None
            if dtype.hasobject or dtype.fields is not None:
                raise InrkitError(f"{p} is not a readable .npy array of numbers: it holds Python objects or records "
                                  f"({dtype}), and pickled data is never loaded")
            if dtype.kind not in "fiu":
                what = "complex numbers" if dtype.kind == "c" else f"values of type {dtype}"
                raise InrkitError(f"{p} holds {what}; gradients must be real numbers")
            if any(isinstance(s, bool) or s < 0 for s in shape):
                raise InrkitError(f"{p} has an invalid shape {shape} in its header")
            n = math.prod(shape)
            if n == 0 and len(shape) < 2:  # an empty (H, W[, 2]) is reported with its size, below
                raise InrkitError(f"{p} is empty (shape {shape})")
            if len(shape) >= 2:
                MAX_ARRAY_PIXELS.check(shape[0] * shape[1], f"{p} (shape {shape})")
            if n * dtype.itemsize > Path(p).stat().st_size:
                raise InrkitError(f"{p} is truncated: its header says {shape} of {dtype}")
            if len(shape) not in (2, 3):
                raise InrkitError(f"{p} has shape {shape}; expected (H, W, 2) or (H, W)")
            f.seek(0)
            return npy.read_array(f, allow_pickle=False)
    except OSError as exc:
        raise InrkitError(f"cannot read {p}: {exc.strerror or exc}") from None
    except (ValueError, TypeError):
        raise InrkitError(f"{p} is not a readable .npy array of numbers") from None


def load_gradient_field(paths: list[str]) -> np.ndarray:
    """One ``(H, W, 2)`` .npy file, or two ``(H, W)`` files (d/dx then d/dy), per-pixel units."""
    arrays = []
    for p in paths:
        if not Path(p).is_file():
            raise InrkitError(f"no such file: {p}")
        arrays.append(_read_npy(p))
    if len(arrays) == 1:
        g = arrays[0]
        if g.ndim != 3 or g.shape[2] != 2:
            raise InrkitError(f"{paths[0]} has shape {g.shape}; expected (H, W, 2) with d/dx, d/dy last")
    elif len(arrays) == 2:
        if arrays[0].ndim != 2 or arrays[0].shape != arrays[1].shape:
            raise InrkitError(f"the two files must be (H, W) arrays of the same shape, got {arrays[0].shape} "
                              f"and {arrays[1].shape}")
        g = np.stack(arrays, -1)
    else:
        raise InrkitError("give one (H, W, 2) file or two (H, W) files")
    if not np.issubdtype(g.dtype, np.number):
        raise InrkitError(f"gradient array has non-numeric type {g.dtype}")
    if g.shape[0] < 2 or g.shape[1] < 2:
        raise InrkitError(f"gradient field {g.shape[1]}x{g.shape[0]} is too small: integrating needs at least 2 "
                          "pixels along each axis")
    if not np.isfinite(g).all():
        raise InrkitError("gradient field contains NaN or infinite values")
    return g.astype(np.float64)


def _integrate_report(meta: dict, paths: list[str], g_pix: np.ndarray, u: np.ndarray, classical: np.ndarray,
                      fcfg: FieldConfig, tcfg: TrainConfig, curves_fig: str, command: str) -> str:
    from .image import field_settings, train_settings

    h, w = meta["shape"]
    op = ("<p><b>Operator.</b> A(f) = grad f by automatic differentiation at each pixel centre, matched to the "
          "given gradient field (converted from per-pixel to per-coordinate units: one pixel is 2/W in x, 2/H in y). "
          "Gradients fix f up to a constant: both results have zero mean.</p>"
          "<p><b>Classical solution.</b> Least-squares integration of the same gradients (DCT, Neumann "
          "borders).</p>")
    lo = float(min(u.min(), classical.min()))
    hi = float(max(u.max(), classical.max()))
    vscale = plots.Scale("gray", lo, hi if hi > lo else lo + 1.0, "value (gradient units x pixels)")
    gmag = np.linalg.norm(g_pix, axis=-1)
    gscale = plots.Scale("gray", 0.0, plots.robust_scale(gmag), "|gradient| per pixel")
    diff = np.abs(u - classical)
    dscale = plots.Scale("magma", 0.0, plots.robust_scale(diff), "|INR - discrete| (value units)")
    figs = "".join([H.figure(gscale.apply(gmag), "input: |gradient|", scale=gscale),
                    H.figure(vscale.apply(u), "INR integral f (zero mean)", scale=vscale),
                    H.figure(vscale.apply(classical), "discrete integral (DCT, zero mean)", scale=vscale),
                    H.figure(dscale.apply(diff), "|INR - discrete|", scale=dscale)])
    rng = hi - lo
    agreement = H.table(["comparison", "value"], [
        ["PSNR of the INR against the discrete integral (peak = its range)", H.decibels(meta["psnr_inr_vs_discrete"])],
        ["largest |INR - discrete|, relative to the range", f"{float(diff.max()) / rng:.2%}" if rng > 0 else "n/a"]])
    settings = {"input": ", ".join(paths), "field": f"{w} x {h} x 2",
                **field_settings(fcfg), **train_settings(tcfg, learning_rate(fcfg, tcfg), meta["device"])}
    status = "" if meta["status"] == "ok" else f", {meta['status'].upper()}"
    return H.page("inrkit integrate: a gradient field into a scalar field",
                  f"{w}x{h}, {ARCH_LABELS[fcfg.arch]}, {tcfg.steps} steps, {meta['seconds']:.1f} s{status}",
                  [("Problem", op), ("Images", figs), ("Agreement", agreement), ("Training", curves_fig),
                   ("Configuration", _settings_table(settings)), ("Command", H.command(command))])


def integrate(paths: list[str], field_cfg: FieldConfig | None = None, train_cfg: TrainConfig | None = None,
              device: str = "auto", out: str | Path | None = None, overwrite: bool = False, progress: bool = False,
              command: str = "") -> dict:
    """Integrate a gradient field (per-pixel units) into a scalar field, by an INR and by DCT.

    The result has zero mean (the constant is unknown). Written as ``scalar.npy`` (float64,
    the same units as the gradients times pixels), ``scalar.png`` (min-max scaled), ``training.png`` and
    ``report.html`` (the operator, both integrals, their difference and the training curve).
    """
    g_pix = load_gradient_field(paths)
    h, w, _ = g_pix.shape
    step = C.pixel_step((h, w))
    g = g_pix / np.array(step)  # per pixel -> per coordinate unit
    fcfg = field_cfg or FieldConfig()
    tcfg = train_cfg or TrainConfig(steps=1000)
    dev = resolve_device(device)
    losses = LossHistory.for_steps(tcfg.steps)
    cbs = [losses, Progress("integrate", progress)]  # always: --log records through it
    field, pred, res = fit_gradient_field(g[:, :, None, :], fcfg, tcfg, dev, callbacks=cbs)
    u = pred[..., 0] - pred.mean()
    classical = discrete.integrate_gradient(g, step)
    rng = float(classical.max() - classical.min()) or 1.0
    result = {"shape": [h, w], "seconds": res.seconds, "steps": tcfg.steps, "arch": fcfg.arch,
              "status": res.status, **({"message": res.message} if not res.finished else {}),
              "psnr_inr_vs_discrete": psnr(u, classical, data_range=rng), "scalar": u,
              "device": str(dev), "history": losses.history}
    if out is not None:
        import io

        with RunDir(out, overwrite) as tmp:
            buf = io.BytesIO()
            np.save(buf, u)
            write_bytes_atomic(tmp / "scalar.npy", buf.getvalue())
            lo, hi = u.min(), u.max()
            write_png(tmp / "scalar.png", to_uint8((u - lo) / (hi - lo if hi > lo else 1.0)))
            checkpoint.save(tmp / "model", field, {"arch": fcfg.arch, "task": "integrate",
                                                   "signal": {"kind": "scalar", "shape": [h, w]}})
            meta = {k: v for k, v in result.items() if k != "scalar"}
            meta.update(command=command, inrkit_version=__version__,
                        note="psnr_inr_vs_discrete uses the discrete solution's range as peak")
            write_json(tmp / "metrics.json", meta)
            curves, curves_fig = _loss_figure({ARCH_LABELS[fcfg.arch]: losses.history}, "gradient match")
            (tmp / "training.png").write_bytes(curves)
            (tmp / "report.html").write_text(_integrate_report(meta, paths, g_pix, u, classical, fcfg, tcfg,
                                                               curves_fig, command))
        _raise_if_unfinished({fcfg.arch: result}, out)
    return result
