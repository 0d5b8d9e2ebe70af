"""``inrkit compress | decompress | compress-bench``: images to ``.inrk`` files and back.

Why three top-level commands rather than ``inrkit compress IMAGE`` beside ``inrkit compress
bench``: a named group makes argparse read the word after ``compress`` as a subcommand, so
``inrkit compress photo.png`` would be refused (and an image named ``bench`` would be
ambiguous). ``compress-bench`` keeps both spellings unambiguous.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path
from typing import Literal

from ..errors import InrkitError
from ..signals import DEFAULT_MAX_PIXELS
from .options import Command, Group, Invocation, opt, options
from .shared import IMAGE_HELP, DryRun, Log, dry_run_by_probe

PRESET_NAMES = ("fast", "quality", "tiny")
MIN_FILE_BYTES = 48
"""No ``.inrk`` file of an image is smaller than this (header, grids, weights): a target below it is impossible."""


@options
class CompressArgs(DryRun, Log):
    image: str = opt(help=IMAGE_HELP, positional=True)
    out: Path | None = opt(None, "output .inrk file", aliases=("-o",), unset="IMAGE's name with .inrk, here")
    codec: Literal["coolchic", "coin"] = opt("coolchic", "coolchic: latent grids + tiny MLP (Ladune et al. 2023); "
                                             "coin: a quantised SIREN (Dupont et al. 2021), the didactic mode")
    lmbda: float | None = opt(None, "rate-distortion trade-off: loss = MSE + LMBDA * bpp (larger: smaller file)",
                              above=0, unset="from --quality")
    quality: int | None = opt(None, "1..100 mapped log-linearly to lambda (100: best quality)", at_least=1,
                              at_most=100, unset="50 when neither --lmbda nor --target-bpp is given")
    target_bpp: float | None = opt(None, "search lambda (a few encodes) for this rate; the achieved bpp is reported",
                                   above=0)
    preset: Literal["fast", "quality", "tiny"] = opt("fast", "fast: about 4 CPU minutes per 512x512 image; quality: "
                                                     "30 minutes and a wider MLP; tiny: seconds, for tests")
    seconds: float | None = opt(None, "training time budget (coolchic)", above=0, unset="the preset's")
    steps: int | None = opt(None, "training steps (coolchic: the step budget; coin: the SIREN fit)", at_least=1,
                            unset="the preset's")
    size: int | None = opt(None, "resize so the longer side has SIZE pixels first", at_least=1,
                           unset="the image's own size")
    max_pixels: int = opt(DEFAULT_MAX_PIXELS, "refuse images above this many pixels before decoding", at_least=1)
    seed: int = opt(0, "random seed", at_least=0, at_most=2**62)
    overwrite: bool = opt(False, "replace --out if it exists")
    quiet: bool = opt(False, "no progress bar")

    def check(self) -> None:
        given = [n for n in ("lmbda", "quality", "target_bpp") if getattr(self, n) is not None]
        if len(given) > 1:
            raise InrkitError("give one of --lmbda, --quality and --target-bpp")


def _settings(a: CompressArgs):
    import dataclasses

    if a.codec == "coin":
        from ..codec.coin import CoinSettings

        return CoinSettings(seed=a.seed, **({"steps": a.steps} if a.steps else {}))
    from ..codec.coolchic import PRESETS

    s = dataclasses.replace(PRESETS[a.preset], seed=a.seed)
    if a.steps is not None:
        s = dataclasses.replace(s, steps=a.steps, seconds=None if a.seconds is None else a.seconds)
    if a.seconds is not None:
        s = dataclasses.replace(s, seconds=a.seconds)
    return s


def _check_out_file(out: Path, overwrite: bool) -> Path:
    """Refuse an output file that cannot be written, before any work: it exists (without
    ``--overwrite``) or is a folder, or its folder is missing, not a folder or not writable
    (a probe file is created there and removed)."""
    import tempfile

    if out.is_dir():
        raise InrkitError(f"{out} is a folder")
    if out.exists() and not overwrite:
        raise InrkitError(f"{out} already exists (pass --overwrite or another --out)")
    parent = out.parent
    if not parent.exists():
        raise InrkitError(f"output folder {parent} does not exist")
    if not parent.is_dir():
        raise InrkitError(f"cannot write {out}: {parent} is not a folder")
    try:
        with tempfile.NamedTemporaryFile(dir=parent, prefix=f".{out.name}.probe-"):
            pass
    except OSError as exc:
        raise InrkitError(f"cannot write {out}: {exc.strerror or exc}") from None
    return out


def log_folder(out: Path) -> Path:
    """Where ``compress --log`` writes the scalars of ``out``'s encode: ``NAME.inrk-log/`` beside it."""
    return out.with_name(out.name + "-log")


def _out_path(a: CompressArgs) -> Path:
    return _check_out_file(a.out or Path(f"{Path(a.image).stem or 'image'}.inrk"), a.overwrite)


def run_compress(a: CompressArgs, run: Invocation) -> None:
    from ..atomic import write_bytes_atomic
    from ..codec import compress, decompress, quality_to_lambda
    from ..signals import load_image

    out = _out_path(a)
    logs = log_folder(out) if a.log != "none" else None
    if logs is not None and not a.dry_run:
        from .image import preflight

        preflight(logs, a.overwrite)
    signal = load_image(a.image, size=a.size, max_pixels=a.max_pixels, alpha="drop")
    h, w = signal.shape
    settings = _settings(a)
    if a.dry_run:
        lmbda = a.lmbda if a.lmbda is not None else quality_to_lambda(a.quality or 50)
        budget = {"steps": settings.steps, "max_seconds": getattr(settings, "seconds", None)}
        return dry_run_by_probe(
            a, run, out, lambda: compress(signal, lmbda, a.codec, a.preset, progress=False, settings=settings),
            overrides={"out": (out, "flag" if a.out else "default: the image's name with .inrk, here")},
            notes=(f"image {w} x {h} x {signal.channels}",
                   *(("--target-bpp runs up to 4 encodes: up to 4 times this",) if a.target_bpp is not None else ())),
            **budget)
    if a.target_bpp is not None:
        if a.target_bpp * h * w / 8.0 < MIN_FILE_BYTES or a.target_bpp >= 8.0 * signal.channels:
            raise InrkitError(f"--target-bpp {a.target_bpp:g} is impossible for a {w}x{h} image (a file takes at "
                              f"least {MIN_FILE_BYTES} bytes = {8 * MIN_FILE_BYTES / (h * w):.4f} bpp, and "
                              f"{8 * signal.channels} bpp is the raw image)")
        result = _search_target(signal, a, settings)
    else:
        lmbda = a.lmbda if a.lmbda is not None else quality_to_lambda(a.quality or 50)
        t0 = time.perf_counter()
        result = compress(signal, lmbda, a.codec, a.preset, progress=not a.quiet, settings=settings)
        result.info["encode_seconds"] = time.perf_counter() - t0
    decoded = decompress(result.data)
    if (decoded != result.image).any():  # pragma: no cover - the round trip is exact by construction
        raise InrkitError("internal error: the file does not decode to the encoder's reconstruction")
    write_bytes_atomic(out, result.data)
    if logs is not None:  # --log: a file has no run folder; the scalars go in a folder beside it
        from ..report.rundir import RunDir

        with RunDir(logs, a.overwrite, kind="log"):
            pass  # RunDir writes the recorded scalars into the folder it completes
    import numpy as np

    target = np.round(signal.pixels * 255.0)
    mse = float(np.mean((decoded.astype(np.float64) - target) ** 2))
    psnr = 10 * math.log10(255.0**2 / mse) if mse else float("inf")
    goal = f" (target {a.target_bpp:g})" if a.target_bpp is not None else ""
    print(f"wrote {out}: {len(result.data):,} bytes, {result.bpp:.4f} bpp{goal}, PSNR {psnr:.2f} dB decoded from "
          f"the file, {a.codec}, lambda {result.info['lmbda']:.3g}")


def _search_target(signal, a: CompressArgs, settings):
    """Up to 4 encodes, moving lambda by the measured slope of log bpp against log lambda; the
    closest result at or below the target (else the smallest)."""
    from ..codec import compress, quality_to_lambda

    lam, tried = quality_to_lambda(50), []
    for _ in range(4):
        r = compress(signal, lam, a.codec, a.preset, progress=not a.quiet, settings=settings)
        tried.append((lam, r))
        if abs(r.bpp - a.target_bpp) <= 0.03 * a.target_bpp:
            break
        if len(tried) >= 2:
            (l0, r0), (l1, r1) = tried[-2], tried[-1]
            den = math.log(r1.bpp) - math.log(r0.bpp)
            slope = (math.log(l1) - math.log(l0)) / den if abs(den) > 1e-6 else -2.0
            slope = min(-0.3, max(-6.0, slope))
        else:
            slope = -2.0
        lam = lam * math.exp(slope * (math.log(a.target_bpp) - math.log(r.bpp)))
        lam = min(1.0, max(1e-6, lam))
    under = [t for t in tried if t[1].bpp <= a.target_bpp]
    pick = max(under, key=lambda t: t[1].bpp) if under else min(tried, key=lambda t: t[1].bpp)
    return pick[1]


@options
class DecompressArgs:
    file: Path = opt(help=".inrk file", positional=True)
    out: Path = opt(help="output PNG", aliases=("-o",))
    size: tuple[int, int] | None = opt(None, "render at this size (the decoded function is continuous)",
                                       metavar=("W", "H"), at_least=1, unset="the stored size")
    max_pixels: int = opt(DEFAULT_MAX_PIXELS, "refuse larger renders", at_least=1)
    overwrite: bool = opt(False, "replace --out if it exists")


def run_decompress(a: DecompressArgs, run: Invocation) -> None:
    from ..codec import decode_container
    from ..codec.format import read
    from ..signals.io import write_png

    _check_out_file(a.out, a.overwrite)
    c = read(a.file)
    w, h = a.size if a.size is not None else (c.width, c.height)
    if w * h > a.max_pixels:
        raise InrkitError(f"render size {w}x{h} is above the limit of {a.max_pixels} pixels (--max-pixels)")
    t0 = time.perf_counter()
    img = decode_container(c, (w, h))
    dt = time.perf_counter() - t0
    write_png(a.out, img[..., 0] if img.shape[-1] == 1 else img)
    print(f"wrote {a.out} ({w}x{h}, {c.codec}, decoded in {dt:.2f} s)")


@options
class BenchArgs(DryRun, Log):
    images: tuple[str, ...] = opt(("camera", "astronaut", "coffee", "chelsea", "rocket"), "built-in names or files")
    preset: Literal["fast", "quality", "tiny"] = opt("fast", "cool-chic preset")
    lambdas: tuple[float, ...] = opt((0.02, 0.008, 0.004, 0.002, 0.001), "cool-chic lambdas, one file each",
                                     above=0)
    seconds: float | None = opt(None, "training budget per encode", above=0, unset="the preset's")
    size: int | None = opt(None, "resize each image so its longer side has SIZE pixels (a reduced run)", at_least=8,
                           unset="full size")
    out: Path = opt(Path("runs/compress-bench"), "output folder (bench.json, report.html, the .inrk files)")
    overwrite: bool = opt(False, "replace --out if it exists")
    quiet: bool = opt(False, "no progress bar and no line per encode; only the summary at the end")


def run_bench(a: BenchArgs, run: Invocation) -> None:
    import dataclasses

    from ..codec.bench import run_bench as bench
    from ..codec.coolchic import PRESETS
    from .shared import refuse_existing

    refuse_existing(a.out, a.overwrite)
    if not a.dry_run:
        from ..train.progress import stream_beside

        stream_beside(a.out)
    settings = PRESETS[a.preset]
    if a.seconds is not None:
        settings = dataclasses.replace(settings, seconds=a.seconds)
    if a.dry_run:
        from ..codec.bench import estimate_bench
        from .shared import print_dry_run, sources

        seconds, how, notes = estimate_bench(a.images, a.lambdas, settings, a.preset, a.size, a.out)
        overrides = {} if a.seconds is not None else {
            "seconds": (getattr(settings, "seconds", None), f"default: preset {a.preset}")}
        return print_dry_run(run.command, sources(a, run.given, overrides=overrides), (seconds, how), a.out, notes)
    result = bench(a.images, a.lambdas, settings, a.preset, a.size, a.out, a.overwrite, progress=not a.quiet,
                   command=run.command, log=None if a.quiet else sys.stderr)
    print(result["summary_text"])
    print(f"-> {a.out}/report.html")


GROUP = Group((
    Command("compress", "compress an image to a .inrk file (an INR codec; rate from the file's bytes)", CompressArgs,
            run_compress),
    Command("decompress", "decode a .inrk file to a PNG, at its size or any other", DecompressArgs, run_decompress),
    Command("compress-bench", "rate-distortion benchmark of the INR codec against Pillow JPEG and WebP", BenchArgs,
            run_bench),
))
