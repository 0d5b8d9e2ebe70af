"""Options declared once and composed by the commands that use them.

Run options (every command that has them): ``Seed``, ``Device``, ``Out``, ``Overwrite``,
``Quiet``. Fitting options (the image and gradient-domain commands): ``ImageFile``,
``ImageLoading``, ``Model``, ``Preset``, ``Optimisation``, ``Acceleration``, ``LogEvery``,
and ``configs`` that turns them into ``FieldConfig`` / ``TrainConfig``.

The defaults of the model and training options are read from ``FieldConfig()`` and
``TrainConfig()``, the reference preset, so they are written in one place.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from ..config import (ALL_ARCHS, DEFAULT_LR, MAX_BATCH, PRESETS, FieldConfig, TrainConfig, check_arch,
                      check_field_size, preset)
from ..errors import InrkitError
from ..signals import DEFAULT_MAX_PIXELS
from ..signals.io import RESAMPLE_FILTERS
from .options import opt, options

_F, _T = FieldConfig(), TrainConfig()  # the reference preset (a test checks)


# ---- run options ---------------------------------------------------------------------------

SEED_MAX = 2**63 - 1
"""Seeds go to ``torch.Generator.manual_seed`` (64 bits), some plus a small offset."""


@options
class Seed:
    seed: int = opt(_T.seed, "random seed", at_least=0, at_most=SEED_MAX)


@options
class Device:
    device: str = opt("auto", "auto (CUDA if available), cpu or cuda")


@options
class Out:
    out: Path | None = opt(None, "run folder", unset="a new folder under runs/ named after the inputs and the time")


@options
class Overwrite:
    overwrite: bool = opt(False, "replace --out if it exists")


@options
class Quiet:
    quiet: bool = opt(False, "no progress bar")


@options
class RunOptions(Seed, Device, Out, Overwrite, Quiet):
    """The five run options together."""


# ---- fitting a field -----------------------------------------------------------------------

IMAGE_HELP = "image file (PNG, JPEG, TIFF, ...) or a built-in name such as camera, astronaut, coffee"


@options
class ImageFile:
    image: str = opt(help=IMAGE_HELP, positional=True)


SIZE_HELP = "resize so the longer side has SIZE pixels before fitting"
RESAMPLE_HELP = ("down-sampling filter of --size: gaussian (scikit-image anti-aliasing), triangle (PIL bilinear, the "
                 "SIREN paper's), box, lanczos")


@options
class ImageLoading:
    size: int | None = opt(None, SIZE_HELP, unset="the image's own size", at_least=1)
    resample: str = opt("gaussian", RESAMPLE_HELP, choices=RESAMPLE_FILTERS)
    max_pixels: int = opt(DEFAULT_MAX_PIXELS, "refuse images above this many pixels before decoding", at_least=1)


@options
class Model:
    width: int = opt(_F.width, "hidden width", at_least=1)
    depth: int = opt(_F.hidden_layers, "hidden layers of width x width (SIREN's convention)", at_least=1)
    w0: float = opt(_F.w0, "SIREN frequency omega_0", above=0)
    pe_frequencies: int | None = opt(_F.pe.frequencies, "NeRF PE octaves", unset="the Nyquist rule of the image",
                                     at_least=1)
    ffn_features: int = opt(_F.ffn.features, "Fourier features m", at_least=1)
    ffn_sigma: float = opt(_F.ffn.sigma, "Fourier feature scale in [-1,1] units (5 is Tancik's 10 on [0,1])",
                           above=0)
    hash_levels: int = opt(_F.hash.levels, "hash grid levels L", at_least=1, at_most=64)
    hash_log2_table: int = opt(_F.hash.log2_table, "hash grid log2 of entries per level T", at_least=1, at_most=26)
    hash_max_res: int | None = opt(_F.hash.max_res, "hash grid finest resolution N_max",
                                   unset="twice the longer side", at_least=1)


def preset_option(but: str = "") -> Any:
    """``--preset``; ``but`` names options whose defaults the command keeps whatever the preset."""
    return opt("reference", "starting recipe; options not given take its values" + (f", except {but}" if but else "")
               + " (the defaults shown are the reference recipe's)", choices=tuple(PRESETS))


@options
class Preset:
    preset: str = preset_option()


@options
class Optimisation:
    steps: int = opt(_T.steps, "optimisation steps", at_least=1)
    lr: float | None = opt(_T.lr, "Adam learning rate", above=0, unset="the architecture's paper value: " +
                           ", ".join(f"{a} {DEFAULT_LR[a]:g}" for a in ALL_ARCHS))
    batch_size: int = opt(_T.batch_size, "random pixels per step; 0 = the whole image", at_least=0,
                          at_most=MAX_BATCH)
    schedule: str = opt(_T.schedule, "learning-rate schedule: constant, or cosine decay to 1 % of lr",
                        choices=("constant", "cosine"))


@options
class Acceleration:
    compile: bool = opt(False, "torch.compile the training step")
    amp: bool = opt(False, "bfloat16 autocast on CUDA")


DEFAULT_HOLDOUT = 0.1
"""Fit and compare score a seeded random 10 % of pixels that training never sees (Tancik et al. 2020)."""


@options
class Holdout:
    holdout: float = opt(DEFAULT_HOLDOUT, "fraction of pixels held out of training (a seeded random draw) and "
                         "scored separately as held-out PSNR; 0 = train and score on every pixel", at_least=0.0,
                         at_most=0.9)


@options
class LogEvery:
    log_every: int = opt(_T.log_every, "evaluate PSNR/SSIM every N steps", at_least=1)


def arch_option(help_: str = "architecture") -> Any:
    return opt(_F.arch, f"{help_}: {', '.join(ALL_ARCHS)}")


def parse_archs(text: str) -> tuple[str, ...]:
    """``"siren,pe"`` -> ``("siren", "pe")``, each checked; empty or repeated names are refused
    (an empty list never means "all")."""
    names = [a.strip() for a in text.split(",")]
    if not any(names):
        raise InrkitError(f"--archs must name at least one architecture from {','.join(ALL_ARCHS)}")
    seen: set[str] = set()
    for a in names:
        if not a:
            raise InrkitError(f"--archs has an empty name in {text!r}")
        check_arch(a)
        if a in seen:
            raise InrkitError(f"--archs names {a} twice")
        seen.add(a)
    return tuple(names)


# Options named as FieldConfig / TrainConfig fields; nested names go to one encoding's config.
_FIELD = {"arch": ("arch",), "width": ("width",), "depth": ("hidden_layers",), "w0": ("w0",),
          "pe_frequencies": ("pe", "frequencies"), "ffn_features": ("ffn", "features"),
          "ffn_sigma": ("ffn", "sigma"), "hash_levels": ("hash", "levels"),
          "hash_log2_table": ("hash", "log2_table"), "hash_max_res": ("hash", "max_res")}
_TRAIN = ("steps", "lr", "batch_size", "log_every", "seed", "schedule", "compile", "amp")


def configs(a, given: frozenset[str], always: tuple[str, ...] = ()) -> tuple[FieldConfig, TrainConfig]:
    """The ``--preset`` recipe with the options given on the command line (and those in
    ``always``, whose defaults belong to the command rather than the preset) put over it."""
    base_f, base_t = preset(a.preset)
    chosen = [n for n in (*given, *always) if hasattr(a, n)]
    top, nested = {}, {}
    for n in chosen:
        if n in _FIELD:
            path = _FIELD[n]
            if len(path) == 1:
                top[path[0]] = getattr(a, n)
            else:
                nested.setdefault(path[0], {})[path[1]] = getattr(a, n)
    for enc, changes in nested.items():
        top[enc] = dataclasses.replace(getattr(base_f, enc), **changes)
    fcfg = dataclasses.replace(base_f, **top)
    tcfg = dataclasses.replace(base_t, **{n: getattr(a, n) for n in chosen if n in _TRAIN})
    check_arch(fcfg.arch)
    _check_sizes(a, fcfg)
    return fcfg, tcfg


def _check_sizes(a, fcfg: FieldConfig) -> None:
    """Refuse a field too large to build, from the numbers, before any file is read: every
    architecture the command will fit, counted with one output channel and, where ``--size`` is
    not set, the smallest grid an image could give, so nothing a real image allows is refused
    here (``build_field`` checks again with the image's own size and channels)."""
    archs = parse_archs(a.archs) if hasattr(a, "archs") else (fcfg.arch,)
    samples = getattr(a, "size", None) or 1
    for arch in archs:
        check_field_size(dataclasses.replace(fcfg, arch=arch), 2, 1, samples)


def image_name(src: str) -> str:
    return Path(src).stem or "image"


def refuse_existing(out: Path, overwrite: bool) -> None:
    if out.exists() and not overwrite:
        raise InrkitError(f"output folder {out} already exists (pass --overwrite or another --out)")
