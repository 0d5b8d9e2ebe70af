"""``inrkit fit | compare | render``: fit image fields and evaluate them at any resolution."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Literal

from ..config import ALL_ARCHS, ARCHS
from ..errors import InrkitError
from ..ops.chunked import DEFAULT_CHUNK, DERIVATIVE_CHUNK, JET_CHUNK
from ..signals import DEFAULT_MAX_PIXELS
from .options import Command, Group, Invocation, opt, options
from .shared import (Acceleration, Device, DryRun, Holdout, Log, ImageFile, ImageLoading, LogEvery, Model, Optimisation,
                     Preset, Quiet, RunOptions, arch_option, configs, image_name, max_size, parse_archs, print_dry_run,
                     recipe, sources)


@options(group="input")
class AlphaChannel:
    alpha: Literal["keep", "drop"] = opt("keep", "alpha channel: fit it as a fourth channel (keep) or discard it "
                                         "(drop)")


KIND_CHOICES = ("auto", "image", "audio", "volume", "video")


@options(group="input")
class SignalKind:
    kind: str = opt("auto", "what the file holds: auto (from its suffix: .wav/.flac/.ogg audio, .nii/.nii.gz/.npy "
                    "and multi-page .tif volumes, .mp4/... video, anything else an image) or a kind; the presets "
                    "and report are the kind's own", choices=KIND_CHOICES)


@options(group="input")
class VideoLoading:
    frames: int | None = opt(None, "video: fit at most this many frames", unset="every frame", at_least=1,
                             group="input")
    stride: int = opt(1, "video: keep every STRIDE-th frame", at_least=1, group="input")
    start: int = opt(0, "video: the first frame kept", at_least=0, group="input")


@options
class _ImageFit(ImageFile, SignalKind, VideoLoading, AlphaChannel, ImageLoading, Model, Preset, Optimisation, Holdout, Acceleration,
                LogEvery, RunOptions, DryRun, Log):
    """Options of fit and compare."""

    image: str = opt(help="the file to fit: an image (PNG, JPEG, TIFF, ... or a built-in name such as camera), "
                     "audio (WAV; FLAC/OGG with soundfile), a volume (NIfTI, .npy, TIFF stack) or a video",
                     positional=True)


def _signal_kind(a):
    """The kind of ``a.image`` (:func:`inrkit.signals.kinds.kind_of`)."""
    from ..signals.kinds import kind_of

    return kind_of(a.image, a.kind)


@options
class FitArgs(_ImageFit):
    arch: str = arch_option()
    snapshot_minutes: float = opt(5.0, "save the whole training state beside --out (.NAME.resume) this often, "
                                  "so a killed run can continue with --resume; 0: never", at_least=0.0)
    resume: bool = opt(False, "continue the killed run that was writing --out from its last saved state "
                       "(same image and options; on a CPU the result is byte-identical to an uninterrupted run)")
    view: bool = opt(False, "serve the field in a local web viewer while it trains (inrkit view; the URL is printed "
                     "on stderr; after training it keeps serving until Ctrl-C); images only", group="output")


@options
class CompareArgs(_ImageFit):
    archs: str = opt(",".join(ARCHS), f"comma-separated list from {','.join(ALL_ARCHS)}", group="model")


def preflight(out: Path, overwrite: bool) -> None:
    """Before any work, refuse an output folder that cannot be written or replaced (every command
    writing a run folder calls it, so a bad ``--out`` costs a second, not a training); show on
    stderr what the repair of runs killed earlier did. Under ``--log tensorboard`` the scalars stream
    live beside ``out`` from here on (:func:`inrkit.train.progress.stream_beside`)."""
    from ..report.rundir import check_output
    from ..train.progress import stream_beside
    from .shared import refuse_existing

    refuse_existing(out, overwrite)
    for note in check_output(out, overwrite):
        print(f"inrkit: {note}", file=sys.stderr)
    stream_beside(out)


def dry_run_images(a, run: Invocation, archs: tuple[str, ...], out: Path) -> None:
    """``fit``/``compare --dry-run``: load the image (nothing is written), resolve every value, time a probe."""
    from ..apps.image import estimate_fit, load_sized

    fcfg, tcfg = configs(a, run.given)
    cap = max_size(a, run.given)
    signal = load_sized(a.image, a.size, cap, a.max_pixels, a.alpha, a.resample)
    h, w = signal.shape
    if "size" in run.given:
        size = (a.size, "flag")
    elif cap is not None:
        size = (max(h, w), f"preset {recipe(a)[0]}: the longer side at most {cap} px"
                + ("" if max(signal.info["original_shape"][:2]) > cap else ", the image is smaller"))
    else:
        size = (max(h, w), "default: the image's own size")
    rows = sources(a, run.given, fcfg=fcfg, tcfg=tcfg, overrides={"size": size, "out": (out, "flag" if a.out else "default: a new folder under runs/")})
    if len(archs) > 1:
        rows = [r if r[0] != "lr" or "lr" in run.given else ("lr", None, "default: each architecture's paper value")
                for r in rows]
    est = estimate_fit(signal, fcfg, tcfg, archs, a.device, a.holdout)
    print_dry_run(run.command, rows, est, out, (f"image {signal.name}: {w} x {h} x {signal.channels} fitted "
                                                f"(W x H x C), from {signal.info['original_shape']}",))


def run_fit(a: FitArgs, run: Invocation) -> None:
    from ..apps.image import fit_image
    from ..report.rundir import default_run_dir

    kind = _signal_kind(a)
    if kind.name != "image":  # audio, volume, video: one generic workflow (inrkit.apps.grid)
        from .grid import run_fit_kind

        return run_fit_kind(a, run, kind)
    from .grid import check_image_options

    check_image_options(run)

    fcfg, tcfg = configs(a, run.given)
    if a.resume and a.out is None:
        raise InrkitError("--resume needs the --out of the interrupted run")
    out = a.out or default_run_dir(image_name(a.image), fcfg.arch)
    if a.dry_run:
        return dry_run_images(a, run, (fcfg.arch,), out)
    preflight(out, a.overwrite)
    if not a.quiet:
        say_recipe(a, run)
    live = None
    if a.view:
        from ..view import LiveView

        live = LiveView(name=image_name(a.image))  # shape and field from the fit's own evaluation callback
    try:
        fit_ = fit_image(source=a.image, arch=fcfg.arch, size=a.size, field_cfg=fcfg, train_cfg=tcfg,
                         device=a.device, out=out, overwrite=a.overwrite, max_pixels=a.max_pixels, alpha=a.alpha,
                         progress=not a.quiet, command=run.command, resample=a.resample, resume=a.resume,
                         snapshot_minutes=a.snapshot_minutes or None, holdout=a.holdout,
                         max_size=max_size(a, run.given),
                         extra_callbacks=(live,) if live is not None else ())
        m = fit_.metrics
        h, w, _ = m["image_shape"]
        print(f"{fcfg.arch} on {w}x{h}: {_psnr_summary(m)}, SSIM {m['ssim']:.4f}, {m['parameters']:,} parameters, "
              f"{m['seconds']:.1f} s -> {out}/report.html")
        if live is not None and live.url:
            live.wait(f"inrkit: still serving {live.url}; Ctrl-C stops")
    finally:
        if live is not None:
            live.close()


def say_recipe(a, run: Invocation, archs: tuple[str, ...] | None = None) -> None:
    """One line on stderr before a long job: the recipe the preset resolved to, and why. With
    ``--preset reference`` (the paper's recipe, long on a CPU) also the measured time estimate of
    ``--dry-run``, before training starts."""
    name, why = recipe(a)
    cap = max_size(a, run.given)
    extra = f", image capped at {cap} px (--size to change)" if cap else ""
    print(f"inrkit: recipe {name} ({why}{extra}); --dry-run shows every value and a time estimate", file=sys.stderr)
    if name == "reference" and "preset" in run.given:
        from ..apps.image import estimate_fit, load_sized
        from .shared import format_seconds

        fcfg, tcfg = configs(a, run.given)
        signal = load_sized(a.image, a.size, cap, a.max_pixels, a.alpha, a.resample)
        seconds, how = estimate_fit(signal, fcfg, tcfg, archs or (fcfg.arch,), a.device, a.holdout)
        print(f"inrkit: the reference recipe on {signal.shape[1]}x{signal.shape[0]} will take about "
              f"{format_seconds(seconds)} ({how}); Ctrl-C stops it", file=sys.stderr)


def _psnr_summary(m: dict) -> str:
    if m.get("psnr_heldout") is None:
        return f"PSNR {m['psnr']:.2f} dB (every pixel trained on)"
    base = m.get("psnr_heldout_interpolation")
    versus = f" vs {base:.2f} dB by interpolation: {m['verdict']}" if base is not None else ""
    return (f"held-out PSNR {m['psnr_heldout']:.2f} dB ({m['holdout']['fraction']:.0%} of pixels{versus}), "
            f"training PSNR {m['psnr']:.2f} dB")


def run_compare(a: CompareArgs, run: Invocation) -> None:
    from ..apps.image import compare_images
    from ..report.rundir import default_run_dir

    kind = _signal_kind(a)
    if kind.name != "image":
        from .grid import run_compare_kind

        return run_compare_kind(a, run, kind)
    from .grid import check_image_options

    check_image_options(run)

    archs = parse_archs(a.archs)
    fcfg, tcfg = configs(a, run.given)
    out = a.out or default_run_dir("compare", image_name(a.image))
    if a.dry_run:
        return dry_run_images(a, run, archs, out)
    preflight(out, a.overwrite)
    if not a.quiet:
        say_recipe(a, run, archs)
    fits = compare_images(source=a.image, archs=archs, size=a.size, field_cfg=fcfg, train_cfg=tcfg,
                          device=a.device, out=out, overwrite=a.overwrite, max_pixels=a.max_pixels, alpha=a.alpha,
                          progress=not a.quiet, command=run.command, resample=a.resample, holdout=a.holdout,
                          max_size=max_size(a, run.given))
    if any(f.metrics.get("psnr_heldout") is not None for f in fits):  # ranked by held-out PSNR, as in the report
        from ..apps.image import baseline_psnr, ranked

        print(f"{'architecture':<13} {'held-out':>8} {'train':>8} {'SSIM':>7} {'params':>9} {'seconds':>8}  verdict  "
              f"(PSNR in dB; {fits[0].metrics['holdout']['fraction']:.0%} of pixels held out)")
        base = baseline_psnr(fits)
        for f in ranked(fits):
            m = f.metrics
            if base is not None and m["psnr_heldout"] < base:
                print(f"{'interpolation':<13} {base:8.2f} {'exact':>8} {'':>7} {0:9,d} {'':>8}  baseline")
                base = None
            print(f"{f.arch:<13} {m['psnr_heldout']:8.2f} {m['psnr']:8.2f} {m['ssim']:7.4f} {m['parameters']:9,d} "
                  f"{m['seconds']:8.1f}  {m.get('verdict', '')}")
        if base is not None:
            print(f"{'interpolation':<13} {base:8.2f} {'exact':>8} {'':>7} {0:9,d} {'':>8}  baseline")
    else:
        print(f"{'architecture':<10} {'PSNR':>8} {'SSIM':>7} {'params':>9} {'seconds':>8}")
        for f in fits:
            m = f.metrics
            print(f"{f.arch:<10} {m['psnr']:8.2f} {m['ssim']:7.4f} {m['parameters']:9,d} {m['seconds']:8.1f}")
    print(f"-> {out}/report.html")


@options
class RenderArgs(Device, Quiet):
    checkpoint: str = opt(help="run folder, or model.safetensors / model.json", positional=True)
    size: tuple[int, int] | None = opt(None, "output size, width then height (the command line's W H order; the "
                                       "Python API's size is (H, W))", metavar=("W", "H"),
                                       unset="the training size x --scale", at_least=1, group="output")
    scale: int = opt(1, "multiple of the training size when --size is not given", at_least=1, group="output")
    region: tuple[float, float, float, float] | None = opt(
        None, "rectangle of the domain [-1,1]^2 to render (x right, y down)", metavar=("X0", "Y0", "X1", "Y1"),
        unset="the whole domain", group="output")
    what: Literal["image", "gradient", "laplacian"] = opt("image", "what to render", group="output")
    chunk: int | None = opt(None, "points per evaluation block, bounds memory", at_least=1,
                            unset=f"{DEFAULT_CHUNK:,} for images; for derivatives {JET_CHUNK:,} (MLP fields, forward "
                                  f"mode) or {DERIVATIVE_CHUNK:,} (other fields, autograd)")
    max_pixels: int = opt(DEFAULT_MAX_PIXELS * 4, "refuse larger renders", at_least=1, group="output")
    rate: int | None = opt(None, "audio: samples per second of the WAV written", unset="the clip's own rate",
                           at_least=1, group="output")
    fps: float | None = opt(None, "video: frames per second of the video written", unset="the clip's own rate",
                            above=0, group="output")
    slice: str | None = opt(None, "volume: the plane AXIS=VALUE to render, e.g. z=0.1, in the field's coordinates "
                            "(the longest side spans [-1, 1])", unset="z=0, the middle plane", group="output")
    out: Path | None = opt(None, "output file (PNG for images and volume slices, WAV for audio, MP4 for video)",
                           unset="RUN/renders/NAME inside the run folder")


def run_render(a: RenderArgs, run: Invocation) -> None:
    import time

    from ..apps.image import render
    from ..device import resolve_device
    from ..report.rundir import honour_umask
    from ..signals.io import write_png
    from ..train import checkpoint
    from .shared import check_checkpoint, format_seconds, run_folder_of

    check_checkpoint(a.checkpoint)
    field, meta = checkpoint.load(a.checkpoint, device=resolve_device(a.device), expect="field")
    signal = meta.get("signal")
    if not isinstance(signal, dict) or not isinstance(signal.get("kind"), str):
        raise InrkitError(f"{a.checkpoint} is not a field of a signal (no signal kind in its JSON)")
    from .grid import check_render_options, run_render_kind

    from ..signals.kinds import RECONSTRUCTIONS

    if signal["kind"] != "image" and signal["kind"] not in RECONSTRUCTIONS:  # audio, volume, video render themselves
        return run_render_kind(a, run, field, meta, signal["kind"])
    check_render_options(run, signal["kind"], a.checkpoint)  # a CT or MRI reconstruction renders as an image
    if a.size is None:
        shape = signal.get("shape")
        if (not isinstance(shape, list) or len(shape) != 2
                or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in shape)):
            raise InrkitError(f"{a.checkpoint}: its image shape {shape!r:.40} is not two positive integers")
        h, w = shape
        size = (w * a.scale, h * a.scale)
    else:
        size = a.size
    if size[0] * size[1] > a.max_pixels:
        raise InrkitError(f"render size {size[0]}x{size[1]} is above the limit of {a.max_pixels} pixels (--max-pixels)")
    out = a.out or run_folder_of(a.checkpoint) / "renders" / f"{a.what}-{size[0]}x{size[1]}.png"
    if a.out is None:
        out.parent.mkdir(exist_ok=True)
    elif out.parent and not out.parent.exists():
        raise InrkitError(f"output folder {out.parent} does not exist")
    t0 = time.perf_counter()
    img = render(field=field, meta=meta, size=size, region=a.region, what=a.what, chunk=a.chunk,
                 progress=not a.quiet)
    write_png(out, img)
    honour_umask(out)
    print(f"wrote {out} ({size[0]}x{size[1]}, {a.what}, {format_seconds(time.perf_counter() - t0)})")


GROUP = Group((
    Command("fit", "fit one architecture to an image, audio clip, volume or video and write a run folder with a "
            "report", FitArgs, run_fit),
    Command("compare", "fit every architecture with the same steps and seed; one figure and table", CompareArgs,
            run_compare),
    Command("render", "evaluate a fitted field at any resolution: an image, a CT or MRI reconstruction, a volume "
            "slice (--slice), audio at any rate (--rate)", RenderArgs, run_render),
))
