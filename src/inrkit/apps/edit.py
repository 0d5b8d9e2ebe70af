"""Workflows behind ``inrkit poisson``, ``inrkit blend`` and ``inrkit integrate``."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from .. import __version__, coords as C
from ..config import ARCH_LABELS, FieldConfig, TrainConfig, check_arch, learning_rate
from ..edit import discrete
from ..edit.gradient_domain import (check_operator, fit_gradient_field, fit_laplacian_field, image_gradients,
                                    poisson_problem, remove_constant)
from ..errors import DivergedError, InrkitError, RunInterrupted
from ..metrics import psnr
from ..report import html as H
from ..atomic import write_bytes_atomic, write_json
from ..report.rundir import RunDir
from ..device import resolve_device
from ..pixels import to_uint8, values_to_uint8
from ..signals import DEFAULT_MAX_PIXELS, ImageSignal, load_image, write_png
from ..train import Progress, checkpoint


_pix = values_to_uint8


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
        cbs = [Progress(f"{ARCH_LABELS[arch]} ({supervision})")] if progress else []
        if supervision == "gradient":
            field, pred, res = fit_gradient_field(target, fcfg, tcfg, dev, callbacks=cbs, max_seconds=budget,
                                                  operator=operator)
        else:
            field, pred, res = fit_laplacian_field(target, fcfg, tcfg, dev, callbacks=cbs, max_seconds=budget,
                                                   operator=operator)
        pred = remove_constant(pred, gt)
        preds[arch] = (field, pred)
        results["architectures"][arch] = {
            "psnr": psnr(pred, gt), "psnr_vs_classical": psnr(pred, classical), "seconds": res.seconds,
            "steps_done": res.steps, "schedule": tcfg.schedule, "status": res.status,
            **({"message": res.message} if not res.finished else {}),
            "final_loss": res.final_terms.get("loss"), "lr": learning_rate(fcfg, tcfg)}
        if res.status == "interrupted":  # Ctrl-C: write what is done, skip the other architectures
            break
    if out is not None:
        with RunDir(out, overwrite) as tmp:
            write_png(tmp / "target.png", _pix(gt))
            write_png(tmp / "classical.png", _pix(classical))
            figs = [H.figure(_pix(gt), "ground truth"), H.figure(_pix(classical), "discrete Poisson solve")]
            for arch, (field, pred) in preds.items():
                write_png(tmp / f"{arch}.png", _pix(pred))
                checkpoint.save(tmp / f"{arch}_model", field, {"arch": arch, "task": f"poisson-{supervision}",
                                                               "signal": {"kind": "image", "shape": [h, w]}})
                figs.append(H.figure(_pix(pred), f"{ARCH_LABELS[arch]}: "
                                                 f"{results['architectures'][arch]['psnr']:.2f} dB"))
            results.update(command=command, inrkit_version=__version__)
            write_json(tmp / "metrics.json", results)
            rows = [[ARCH_LABELS[a], f"{r['psnr']:.2f}", f"{r['psnr_vs_classical']:.2f}", r["steps_done"],
                     f"{r['seconds']:.1f}"] for a, r in results["architectures"].items()]
            rows.append(["discrete Poisson solve (DCT)", f"{results['classical_psnr']:.2f}", "-", "-", "-"])
            table = H.table(["method", "PSNR vs image (dB)", "PSNR vs discrete solve (dB)", "steps", "seconds"], rows)
            (tmp / "report.html").write_text(H.page(
                f"inrkit poisson: from the {supervision}", f"{sig.name}, {w}x{h}, {tcfg.steps} steps, device {dev}"
                + "".join(f", {a} {r['status'].upper()}" for a, r in results["architectures"].items()
                          if r["status"] != "ok"),
                [("Results", table + "<p class='note'>PSNR after removing the unknown constant (Sitzmann et al. "
                  "2020, sec. 4.1).</p>"), ("Images", "".join(figs)), ("Command", f"<pre>{command}</pre>")]))
        _raise_if_unfinished({a: r for a, r in results["architectures"].items()}, out)
    return results


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
            arr = np.asarray(ImageOps.exif_transpose(im).convert("L"))
    except InrkitError:
        raise
    except Exception:
        raise InrkitError(f"{path} is not an image file that can be read") from None
    if arr.shape != tuple(shape):
        (mh, mw), (h, w) = arr.shape, shape
        scale = max(h, w) / max(mh, mw)  # as resize_longer_side maps the images
        if (max(1, round(mh * scale)), max(1, round(mw * scale))) != (h, w):
            raise InrkitError(f"mask is {mw}x{mh}, images are {w}x{h}: the aspect ratios differ")
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
          command: str = "", max_pixels: int = DEFAULT_MAX_PIXELS, resample: str = "gaussian") -> dict:
    """Gradient-domain blending of two same-size images with an INR.

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
    cbs = [Progress("blend")] if progress else []
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
              "arch": fcfg.arch, "device": str(dev)}
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
            caps = {"a": "A", "b": "B", "mask": "mask", "naive": "naive paste" if mask is not None else "naive average",
                    "inr_blend": "INR blend", "discrete_blend": "discrete Poisson blend"}
            figs = "".join(H.figure(imgs[k], caps[k]) for k in caps if k in imgs)
            table = H.table(["comparison", "PSNR (dB)"], [["INR blend vs discrete Poisson", f"{meta['psnr_inr_vs_discrete']:.2f}"],
                                                         ["naive vs discrete Poisson", f"{meta['psnr_naive_vs_discrete']:.2f}"]])
            status = "" if res.finished else f", {res.status.upper()} after {res.steps} steps"
            (tmp / "report.html").write_text(H.page(f"inrkit blend: {mode}",
                                                    f"{w}x{h}, {fcfg.arch}, {tcfg.steps} steps{status}",
                                                    [("Images", figs), ("Agreement", table), ("Command", f"<pre>{command}</pre>")]))
        _raise_if_unfinished({fcfg.arch: result}, out)
    return result


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
            except (ValueError, SyntaxError, TypeError, EOFError):
                raise InrkitError(f"{p} is not a readable .npy array of numbers") from None
            if dtype.hasobject or dtype.fields is not None:
                raise InrkitError(f"{p} is not a readable .npy array of numbers: it holds Python objects or records "
                                  f"({dtype}), and pickled data is never loaded")
            if dtype.kind not in "fiu":
                what = "complex numbers" if dtype.kind == "c" else f"values of type {dtype}"
                raise InrkitError(f"{p} holds {what}; gradients must be real numbers")
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
    except ValueError:
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


def integrate(paths: list[str], field_cfg: FieldConfig | None = None, train_cfg: TrainConfig | None = None,
              device: str = "auto", out: str | Path | None = None, overwrite: bool = False, progress: bool = False,
              command: str = "") -> dict:
    """Integrate a gradient field (per-pixel units) into a scalar field, by an INR and by DCT.

    The result has zero mean (the constant is unknown). Written as ``scalar.npy`` (float64,
    the same units as the gradients times pixels) and ``scalar.png`` (min-max scaled).
    """
    g_pix = load_gradient_field(paths)
    h, w, _ = g_pix.shape
    step = C.pixel_step((h, w))
    g = g_pix / np.array(step)  # per pixel -> per coordinate unit
    fcfg = field_cfg or FieldConfig()
    tcfg = train_cfg or TrainConfig(steps=1000)
    dev = resolve_device(device)
    cbs = [Progress("integrate")] if progress else []
    field, pred, res = fit_gradient_field(g[:, :, None, :], fcfg, tcfg, dev, callbacks=cbs)
    u = pred[..., 0] - pred.mean()
    classical = discrete.integrate_gradient(g, step)
    rng = float(classical.max() - classical.min()) or 1.0
    result = {"shape": [h, w], "seconds": res.seconds, "steps": tcfg.steps, "arch": fcfg.arch,
              "status": res.status, **({"message": res.message} if not res.finished else {}),
              "psnr_inr_vs_discrete": psnr(u, classical, data_range=rng), "scalar": u}
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
        _raise_if_unfinished({fcfg.arch: result}, out)
    return result
