"""``inrkit fit | compare | render`` for signal kinds other than images (audio, volume, video).

Not a command group: :mod:`inrkit.cli.image` owns the three commands and hands a file (or a
checkpoint) of another kind to the handlers here, which read the same options. Options that
only mean something for images (``--size``, ``--alpha``, ...) or for another kind (``--rate`` on a
volume) are refused in one line.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ..errors import InrkitError
from ..signals import kinds as K
from ..apps.image import raise_if_unfinished
from .options import Invocation
from .shared import _FIELD, _TRAIN, parse_archs, print_dry_run, recipe, sources

LOAD_OPTIONS = ("size", "resample", "max_pixels", "alpha", "frames", "stride", "start")
"""Fit/compare options that shape how a file is read; a kind serves those in its ``Kind.load_options``."""
IMAGE_ONLY_FIT = ("view",)
"""Fit options that only the image workflow has."""

RENDER_OPTION_KIND = {"rate": "audio", "fps": "video", "slice": "volume", "region": "image", "scale": None}
"""Render options that belong to one kind (``scale``: any kind with a grid to multiply)."""


def configs_for(a, given: frozenset[str], kind: K.Kind, arch: str | None = None):
    """The kind's preset with the options given on the command line put over it (as ``shared.configs`` for images)."""
    from ..apps.grid import kind_configs

    fc: dict = {}
    tc: dict = {}
    for n in given:
        if n in _FIELD and hasattr(a, n):
            path = _FIELD[n]
            if len(path) == 1:
                fc[path[0]] = getattr(a, n)
            else:
                fc.setdefault(path[0], {})[path[1]] = getattr(a, n)
        elif n in _TRAIN and hasattr(a, n):
            tc[n] = getattr(a, n)
    if arch is not None:
        fc["arch"] = arch
    return kind_configs(kind, getattr(a, "preset", "auto"), getattr(a, "device", "auto"), fc, tc)


def _refuse_image_options(run: Invocation, kind: K.Kind) -> None:
    for n in (*IMAGE_ONLY_FIT, *LOAD_OPTIONS):
        if n in run.given and n not in kind.load_options:
            raise InrkitError(f"--{n.replace('_', '-')} does not apply to {kind.name} files ({kind.describe})")


def check_image_options(run: Invocation) -> None:
    """The image workflow refuses the load options of other kinds (``--frames`` ...)."""
    for n in ("frames", "stride", "start"):
        if n in run.given:
            raise InrkitError(f"--{n} does not apply to image files (it is for video)")


def load_given(a, run: Invocation, kind: K.Kind):
    """``kind.load(path, **the load options given)``."""
    opts = {n: getattr(a, n) for n in kind.load_options if n in run.given and hasattr(a, n)}
    return kind.load(Path(a.image), **opts)


def run_fit_kind(a, run: Invocation, kind: K.Kind) -> None:
    import shutil

    from ..apps.grid import fit_grid, write_grid_run
    from ..apps.image import state_folder
    from ..report.rundir import default_run_dir
    from .image import preflight
    from .shared import image_name

    _refuse_image_options(run, kind)
    if a.resume and a.out is None:
        raise InrkitError("--resume needs the --out of the interrupted run")
    fcfg, tcfg, name = configs_for(a, run.given, kind)
    out = a.out or default_run_dir(image_name(a.image), fcfg.arch)
    signal = load_given(a, run, kind)  # bad input fails here, before any folder exists
    if a.dry_run:
        return _dry_run(a, run, kind, signal, fcfg, tcfg, out)
    preflight(out, a.overwrite)
    if not a.quiet:
        print(f"inrkit: {kind.name} {signal.name}: {' x '.join(map(str, signal.shape))} x {signal.channels}; "
              f"recipe {name} ({recipe(a)[1]})", file=sys.stderr)
    sdir = state_folder(out) if (a.snapshot_minutes or a.resume) else None
    fit_ = fit_grid(signal, fcfg, tcfg, a.device, progress=not a.quiet, holdout=a.holdout, state_dir=sdir,
                    snapshot_seconds=60.0 * (a.snapshot_minutes or 1e9), resume=a.resume)
    write_grid_run(fit_, out, run.command, a.overwrite)
    interrupted = fit_.metrics["status"] == "interrupted"
    if sdir is not None and not interrupted:
        shutil.rmtree(sdir, ignore_errors=True)
    # diverged: exit 3; Ctrl-C: 130 (the run folder is written either way)
    raise_if_unfinished([fit_], out, resumable=sdir is not None and interrupted)
    print(f"{fcfg.arch} on {kind.name} {signal.name}: {_psnr_line(fit_.metrics)}, {fit_.metrics['parameters']:,} "
          f"parameters, {fit_.metrics['seconds']:.1f} s -> {out}/report.html")


def _psnr_line(m: dict) -> str:
    extra = f", SNR {m['snr']:.2f} dB" if "snr" in m else ""
    if m.get("psnr_heldout") is None:
        return f"PSNR {m['psnr']:.2f} dB{extra}"
    return f"held-out PSNR {m['psnr_heldout']:.2f} dB, training PSNR {m['psnr']:.2f} dB{extra}"


def run_compare_kind(a, run: Invocation, kind: K.Kind) -> None:
    from ..apps.grid import fit_grid, write_compare_run
    from ..report.rundir import default_run_dir
    from .image import preflight
    from .shared import image_name

    _refuse_image_options(run, kind)
    archs = parse_archs(a.archs)
    out = a.out or default_run_dir("compare", image_name(a.image))
    signal = load_given(a, run, kind)
    if a.dry_run:
        fcfg, tcfg, _ = configs_for(a, run.given, kind, archs[0])
        return _dry_run(a, run, kind, signal, fcfg, tcfg, out)
    preflight(out, a.overwrite)
    fits = []
    for arch in archs:
        fcfg, tcfg, _ = configs_for(a, run.given, kind, arch)
        fits.append(fit_grid(signal, fcfg, tcfg, a.device, progress=not a.quiet, holdout=a.holdout))
    write_compare_run(fits, out, run.command, a.overwrite)
    raise_if_unfinished(fits, out)
    print(f"{'architecture':<10} {'PSNR':>8} {'held-out':>8} {'params':>9} {'seconds':>8}")
    for f in fits:
        m = f.metrics
        held = f"{m['psnr_heldout']:8.2f}" if m.get("psnr_heldout") is not None else f"{'':>8}"
        print(f"{f.arch:<10} {m['psnr']:8.2f} {held} {m['parameters']:9,d} {m['seconds']:8.1f}")
    print(f"-> {out}/report.html")


def _dry_run(a, run, kind, signal, fcfg, tcfg, out) -> None:
    rows = sources(a, run.given, fcfg=fcfg, tcfg=tcfg, skip=("dry_run", "quiet", "overwrite", "resume",
                                                               *IMAGE_ONLY_FIT, "snapshot_minutes",
                                                               *(n for n in LOAD_OPTIONS
                                                                 if n not in kind.load_options)))
    rows = [(n, v, src.replace("preset ", f"{kind.name} preset ")) for n, v, src in rows]
    from ..apps.grid import fit_grid
    from ..train.progress import probing

    probe = probing(lambda: fit_grid(signal, fcfg, tcfg, a.device, progress=False, holdout=a.holdout))
    seconds, how = probe.estimate()
    archs = len(parse_archs(a.archs)) if hasattr(a, "archs") else 1
    if seconds is not None and archs > 1:
        seconds, how = seconds * archs, how + f"; x {archs} architectures, timed on the first"
    print_dry_run(run.command, rows, (seconds, how), out,
                  (f"{kind.name} {signal.name}: {' x '.join(map(str, signal.shape))} x {signal.channels} "
                   f"(array order), coordinate bounds {[list(b) for b in signal.bounds]}",))


def run_render_kind(a, run: Invocation, field, meta: dict, kind_name: str) -> None:
    """``inrkit render`` of a checkpoint of ``kind_name`` (not an image)."""
    import time

    from ..apps.grid import render_kind
    from ..report.rundir import honour_umask
    from .shared import format_seconds, run_folder_of

    check_render_options(run, kind_name, a.checkpoint)
    if a.size is not None and a.size[0] * a.size[1] > a.max_pixels:
        raise InrkitError(f"render size {a.size[0]}x{a.size[1]} is above the limit of {a.max_pixels} pixels "
                          "(--max-pixels)")
    req = K.RenderRequest(size=a.size, scale=a.scale, what=a.what, rate=a.rate, fps=a.fps, slice=a.slice,
                          chunk=a.chunk, max_pixels=a.max_pixels, progress=not a.quiet)
    t0 = time.perf_counter()
    r = render_kind(field, meta, req)
    out = a.out or run_folder_of(a.checkpoint) / "renders" / f"{r.name}{r.suffix}"
    if a.out is None:
        out.parent.mkdir(exist_ok=True)
    elif out.parent and not out.parent.exists():
        raise InrkitError(f"output folder {out.parent} does not exist")
    r.write(out)
    honour_umask(out)
    print(f"wrote {out} ({r.summary}, {format_seconds(time.perf_counter() - t0)})")


def _a(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def check_render_options(run: Invocation, kind_name: str, checkpoint: str) -> None:
    """Refuse render options of another kind: ``--rate`` on a volume, ``--slice`` on audio, ``--region`` on
    anything but an image (one line naming what the checkpoint holds)."""
    as_kind = "image" if kind_name in K.RECONSTRUCTIONS else kind_name  # reconstructions render as images
    for opt_name, owner in RENDER_OPTION_KIND.items():
        if opt_name in run.given and owner is not None and owner != as_kind:
            raise InrkitError(f"--{opt_name} is for {owner} checkpoints; {checkpoint} holds {_a(kind_name)} {kind_name} field")
    if kind_name == "audio" and ("size" in run.given or "scale" in run.given):
        raise InrkitError(f"{checkpoint} holds an audio field: choose its sampling with --rate, not --size/--scale")
