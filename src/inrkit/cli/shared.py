"""Options declared once and composed by the commands that use them.

Run options (every command that has them): ``Seed``, ``Device``, ``Out``, ``Overwrite``,
``Quiet``; ``Log`` (``--log csv|tensorboard``) and ``DryRun`` on the training commands (:func:`print_dry_run` says each resolved value and
where it came from). Fitting options (the image and gradient-domain commands): ``ImageFile``,
``ImageLoading``, ``Model``, ``Preset``, ``Optimisation``, ``Acceleration``, ``LogEvery``,
and ``configs`` that turns them into ``FieldConfig`` / ``TrainConfig``.

The defaults of the model and training options are read from ``FieldConfig()`` and
``TrainConfig()``, the reference preset, so they are written in one place; ``--help`` prints each
preset's value of the options a preset sets (``by_preset``). ``--preset auto`` (the default) is
``reference`` on a CUDA GPU and ``cpu`` elsewhere (:func:`inrkit.config.resolve_preset`).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from ..config import (ALL_ARCHS, AUTO_PRESET, DEFAULT_LR, MAX_BATCH, PRESET_MAX_SIZE, PRESETS, FieldConfig,
                      TrainConfig, check_arch, check_field_size, learning_rate, preset, resolve_preset)
from ..errors import InrkitError
from ..signals import DEFAULT_MAX_PIXELS
from ..signals.io import RESAMPLE_FILTERS
from .options import opt, options

_F, _T = FieldConfig(), TrainConfig()  # the reference preset (a test checks)


# ---- run options ---------------------------------------------------------------------------

SEED_MAX = 2**63 - 1
"""Seeds go to ``torch.Generator.manual_seed`` (64 bits), some plus a small offset."""


@options(group="run")
class Seed:
    seed: int = opt(_T.seed, "random seed", at_least=0, at_most=SEED_MAX)


@options(group="run")
class Device:
    device: str = opt("auto", "auto (CUDA if available), cpu, cuda or cuda:N", metavar="{auto,cpu,cuda,cuda:N}")


@options(group="output")
class Out:
    out: Path | None = opt(None, "run folder", unset="a new folder under runs/ named after the inputs and the time")


@options(group="output")
class Overwrite:
    overwrite: bool = opt(False, "replace --out if it exists")


@options(group="run")
class Quiet:
    quiet: bool = opt(False, "no progress display; only the summary line at the end, naming where the results are")


@options(group="output")
class DryRun:
    dry_run: bool = opt(False, "print the resolved configuration (every value and where it came from: default, "
                        "preset or flag) and an estimate of the time, then exit without writing anything")


LOG_HELP = ("also write every training step's scalars (loss terms, training seconds, PSNR and the like where "
            "measured) into the run folder: csv = scalars.csv; tensorboard = tensorboard/RUN/ event files, also "
            "streamed live to OUT.live/ while it trains (needs the log extra: pip install 'inrkit[log]'); "
            "csv,tensorboard = both; one series per fit (architecture, stage)")


@options(group="output")
class Log:
    """``--log csv|tensorboard|csv,tensorboard``. A command whose options include it records: its handler
    runs inside :func:`inrkit.train.progress.recording` (:class:`inrkit.cli.options.Command` wraps it),
    every training loop's progress callback feeds the record, and the run folder the command writes
    receives ``scalars.csv`` / ``tensorboard/`` (:class:`inrkit.report.rundir.RunDir`)."""

    log: str = opt("none", LOG_HELP, metavar="none|csv|tensorboard|csv,tensorboard")

    def check(self) -> None:
        from ..train.progress import parse_log

        parse_log(self.log)  # unknown names, and tensorboard not installed: one line, before any work


@options
class RunOptions(Seed, Device, Out, Overwrite, Quiet):
    """The five run options together."""


# ---- fitting a field -----------------------------------------------------------------------

IMAGE_HELP = "image file (PNG, JPEG, TIFF, ...) or a built-in name such as camera, astronaut, coffee"


@options(group="input")
class ImageFile:
    image: str = opt(help=IMAGE_HELP, positional=True)


SIZE_HELP = "resize so the longer side has SIZE pixels before fitting"
RESAMPLE_HELP = ("down-sampling filter of --size: gaussian (scikit-image anti-aliasing), triangle (PIL bilinear, the "
                 "SIREN paper's), box, lanczos")


@options(group="input")
class ImageLoading:
    size: int | None = opt(None, SIZE_HELP, at_least=1, unset="the image's own size; with --preset cpu (auto on a "
                           "CPU) at most " + ", ".join(f"{v} px" for v in PRESET_MAX_SIZE.values()))
    resample: str = opt("gaussian", RESAMPLE_HELP, choices=RESAMPLE_FILTERS)
    max_pixels: int = opt(DEFAULT_MAX_PIXELS, "refuse images above this many pixels before decoding", at_least=1)


# Options named as FieldConfig / TrainConfig fields; nested names go to one encoding's config.
_FIELD = {"arch": ("arch",), "width": ("width",), "depth": ("hidden_layers",), "w0": ("w0",),
          "pe_frequencies": ("pe", "frequencies"), "ffn_features": ("ffn", "features"),
          "ffn_sigma": ("ffn", "sigma"), "hash_levels": ("hash", "levels"),
          "hash_log2_table": ("hash", "log2_table"), "hash_max_res": ("hash", "max_res")}
_TRAIN = ("steps", "lr", "batch_size", "log_every", "seed", "schedule", "compile", "amp")


def _config_value(fcfg: FieldConfig, tcfg: TrainConfig, name: str) -> Any:
    if name in _FIELD:
        v: Any = fcfg
        for part in _FIELD[name]:
            v = getattr(v, part)
        return v
    return getattr(tcfg, name)


def _by_preset(name: str) -> dict[str, Any] | None:
    """{preset: its value of option ``name``}, or None where every preset gives the same value."""
    values = {p: _config_value(f, t, name) for p, (f, t) in PRESETS.items()}
    return values if len(set(map(repr, values.values()))) > 1 else None


def preset_opt(name: str, help_: str, **kw) -> Any:
    """An option a ``--preset`` sets: its default is the reference recipe's, ``--help`` prints every preset's."""
    return opt(_config_value(_F, _T, name), help_, by_preset=_by_preset(name), **kw)


@options(group="model")
class Model:
    width: int = preset_opt("width", "hidden width", at_least=1)
    depth: int = preset_opt("depth", "hidden layers of width x width (SIREN's convention)", at_least=1)
    w0: float = preset_opt("w0", "SIREN frequency omega_0", above=0)
    pe_frequencies: int | None = preset_opt("pe_frequencies", "NeRF PE octaves", unset="the Nyquist rule of the image",
                                            at_least=1)
    ffn_features: int = preset_opt("ffn_features", "Fourier features m", at_least=1)
    ffn_sigma: float = preset_opt("ffn_sigma", "Fourier feature scale in [-1,1] units (5 is Tancik's 10 on [0,1])",
                                  above=0)
    hash_levels: int = preset_opt("hash_levels", "hash grid levels L", at_least=1, at_most=64)
    hash_log2_table: int = preset_opt("hash_log2_table", "hash grid log2 of entries per level T", at_least=1,
                                      at_most=26)
    hash_max_res: int | None = preset_opt("hash_max_res", "hash grid finest resolution N_max",
                                          unset="twice the longer side", at_least=1)


PRESET_HELP = ("starting recipe; options not given take its values: auto = reference on a CUDA GPU, cpu otherwise; "
               "reference = the published SIREN image recipe (Sitzmann 2020); cpu = the same SIREN, 300 steps, the "
               "image capped at 128 px; fast = hash grid + small MLP (Mueller 2022); tiny = fast's small form")


def preset_option(but: str = "") -> Any:
    """``--preset``; ``but`` names options whose defaults the command keeps whatever the preset."""
    return opt(AUTO_PRESET, PRESET_HELP + (f"; {but} keeps this command's default whatever the preset" if but else ""),
               choices=(AUTO_PRESET, *PRESETS))


@options(group="model")
class Preset:
    preset: str = preset_option()


@options(group="training")
class Optimisation:
    steps: int = preset_opt("steps", "optimisation steps", at_least=1)
    lr: float | None = preset_opt("lr", "Adam learning rate", above=0, unset="the architecture's paper value: " +
                                  ", ".join(f"{a} {DEFAULT_LR[a]:g}" for a in ALL_ARCHS))
    batch_size: int = preset_opt("batch_size", "random pixels per step; 0 = the whole image", at_least=0,
                                 at_most=MAX_BATCH)
    schedule: str = preset_opt("schedule", "learning-rate schedule: constant, or cosine decay to 1 % of lr",
                               choices=("constant", "cosine"))


@options(group="training")
class Acceleration:
    compile: bool = opt(False, "torch.compile the training step")
    amp: bool = opt(False, "bfloat16 autocast on CUDA")


DEFAULT_HOLDOUT = 0.1
"""Fit and compare score a seeded random 10 % of pixels that training never sees (Tancik et al. 2020)."""


@options(group="training")
class Holdout:
    holdout: float = opt(DEFAULT_HOLDOUT, "fraction of pixels held out of training (a seeded random draw) and "
                         "scored separately as held-out PSNR; 0 = train and score on every pixel", at_least=0.0,
                         at_most=0.9)


@options(group="training")
class LogEvery:
    log_every: int = preset_opt("log_every", "evaluate PSNR/SSIM every N steps", at_least=1)


def arch_option(help_: str = "architecture") -> Any:
    return opt(_F.arch, help_, choices=ALL_ARCHS, by_preset=_by_preset("arch"), group="model")


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


def recipe(a) -> tuple[str, str]:
    """``(preset name, why)`` of options ``a``: ``--preset auto`` resolved by ``--device``."""
    return resolve_preset(getattr(a, "preset", "reference"), getattr(a, "device", "auto"))


def max_size(a, given: frozenset[str]) -> int | None:
    """The cap on the image's longer side that the preset sets when ``--size`` is not given."""
    if "size" in given or getattr(a, "size", None) is not None:
        return None
    return PRESET_MAX_SIZE.get(recipe(a)[0])


def configs(a, given: frozenset[str], always: tuple[str, ...] = ()) -> tuple[FieldConfig, TrainConfig]:
    """The ``--preset`` recipe (``auto`` resolved by the device) with the options given on the command
    line (and those in ``always``, whose defaults belong to the command rather than the preset) put over it."""
    base_f, base_t = preset(recipe(a)[0])
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
    """A run folder's name from its input: the file name without its suffixes (``head.nii.gz`` -> ``head``)."""
    name = Path(src).name
    for double in (".nii.gz", ".tar.gz"):
        if name.lower().endswith(double):
            return name[: -len(double)] or "image"
    return Path(src).stem or "image"


def refuse_existing(out: Path, overwrite: bool) -> None:
    if out.exists() and not overwrite:
        raise InrkitError(f"output folder {out} already exists (pass --overwrite or another --out)")


# ---- --dry-run ------------------------------------------------------------------------------

def sources(a, given: frozenset[str], always: tuple[str, ...] = (), fcfg: FieldConfig | None = None,
            tcfg: TrainConfig | None = None, overrides: dict[str, tuple[Any, str]] | None = None,
            skip: tuple[str, ...] = ("dry_run", "quiet", "overwrite", "resume")) -> list[tuple[str, Any, str]]:
    """``[(option, resolved value, where it came from)]`` for every option of ``a``: ``argument``
    (a positional), ``flag`` (given), ``preset NAME`` (set by the recipe), ``default`` (the command's);
    ``overrides`` gives a value and source worked out by the command (an image size, a learning rate)."""
    from .options import arguments

    overrides = overrides or {}
    name_, why = recipe(a) if hasattr(a, "preset") else (None, "")
    rows = []
    for arg in arguments(type(a)):
        n = arg.name
        if n in skip:
            continue
        if n in overrides:
            v, src = overrides[n]
        elif arg.positional:
            v, src = getattr(a, n), "argument"
        elif n == "preset":
            v, src = name_, "flag" if n in given and a.preset != AUTO_PRESET else why
        elif fcfg is not None and (n in _FIELD or n in _TRAIN):
            v = _config_value(fcfg, tcfg, n)
            src = "flag" if n in given else "default" if n in always else f"preset {name_}"
            if n == "lr" and v is None:
                v, src = learning_rate(fcfg, tcfg), f"default (the {fcfg.arch} paper value)"
        elif n == "device":
            from ..device import resolve_device

            v, src = str(resolve_device(a.device)), f"{'flag' if n in given else 'default'}: {a.device}"
        else:
            v, src = getattr(a, n), "flag" if n in given else "default"
        if fcfg is not None and n in _FIELD and _FIELD[n][0] in ("pe", "ffn", "hash") and _FIELD[n][0] != fcfg.arch:
            if not hasattr(a, "archs"):
                src += f"; unused by {fcfg.arch}"
        rows.append((n, v, src))
    return rows


def show(v: Any) -> str:
    """A resolved value as ``--dry-run`` prints it (what a flag would take: ``256``, ``0.0001``, ``64 48``)."""
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, tuple | list):
        return " ".join(show(x) for x in v)
    if v is None:
        return "none"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def format_seconds(s: float) -> str:
    if s < 60:
        return f"{s:.0f} s" if s >= 10 else f"{s:.1f} s"
    if s < 3600:
        return f"{int(s // 60)} min {int(s % 60):02d} s"
    return f"{int(s // 3600)} h {int(s % 3600 // 60):02d} min"


def print_dry_run(command: str, rows: list[tuple[str, Any, str]], estimate: tuple[float | None, str],
                  out: Path | None, notes: tuple[str, ...] = ()) -> None:
    """The ``--dry-run`` page: one line per option ``  name = value  (source)``, the time estimate
    (seconds or None, and how it was made) and where the run would write."""
    print(f"{command}: dry run, nothing is written")
    width = max(len(n) for n, _, _ in rows) if rows else 0
    for n, v, src in rows:
        print(f"  {n:<{width}} = {show(v)}  ({src})")
    for note in notes:
        print(f"note: {note}")
    seconds, how = estimate
    print(f"estimate: {'about ' + format_seconds(seconds) if seconds is not None else 'unknown'} ({how})")
    if out is not None:
        print(f"would write: {out}")


def dry_run_by_probe(a, run, out: Path | None, work, notes: tuple[str, ...] = (),
                     overrides: dict[str, tuple[Any, str]] | None = None, steps: int | None = None,
                     max_seconds: float | None = None) -> None:
    """``--dry-run`` of a command without a recipe of its own: every option with its source
    (:func:`sources`), then an estimate measured by running the command's own ``work()`` (loading,
    set-up, then the first steps of its first training loop, :func:`inrkit.train.progress.probing`),
    stopped before anything is written. ``steps`` / ``max_seconds``: the whole command's budget when its
    first loop is one stage of several (compress's three phases)."""
    from ..train.progress import probing

    overrides = dict(overrides or {})
    if out is not None and hasattr(a, "out"):
        overrides.setdefault("out", (out, "flag" if "out" in run.given else "default: a new folder under runs/"))
    rows = sources(a, run.given, overrides=overrides)
    probe = probing(work)
    print_dry_run(run.command, rows, probe.estimate(steps, max_seconds), out, notes)


# ---- run folders given as input -----------------------------------------------------------------

OUTPUT_RULE = ("a command that reads a run folder writes what it makes inside that folder (render: renders/, "
               "nerf render: orbit/, nerf eval: eval-SPLIT/) unless --out names another place")
"""The one rule for where ``render``, ``nerf render`` and ``nerf eval`` write (README, docs/first-hour.md)."""


def run_folder_of(checkpoint: str | os.PathLike) -> Path:
    """The run folder a checkpoint argument names: the folder itself, or the folder holding the file."""
    p = Path(checkpoint)
    return p if p.is_dir() else p.parent


def _listing(folder: Path, most: int = 8) -> str:
    try:
        names = sorted(os.listdir(folder))
    except OSError as exc:
        return f"(unreadable: {exc.strerror or exc})"
    if not names:
        return "nothing (it is empty)"
    shown = [n + ("/" if (folder / n).is_dir() else "") for n in names[:most]]
    return ", ".join(shown) + (f" and {len(names) - most} more" if len(names) > most else "")


def check_checkpoint(path: str | os.PathLike, what: str = "run folder or checkpoint", stem: str = "model") -> None:
    """Refuse, in words about the folder, a checkpoint argument that names no checkpoint: a missing
    path, or a folder without ``STEM.json``, listing what the folder holds (the checkpoints it does
    hold, such as functa's ``model_z32`` and ``model_z64``, or a compare run's one folder per
    architecture)."""
    p = Path(path)
    if p.is_dir():
        if (p / f"{stem}.json").is_file():
            return
        try:
            names = sorted(os.listdir(p))
        except OSError as exc:
            raise InrkitError(f"cannot read the folder {p}: {exc.strerror or exc}") from None
        models = [n[:-5] for n in names if n.endswith(".json") and (p / f"{n[:-5]}.safetensors").is_file()]
        if models:
            raise InrkitError(f"the folder {p} holds no {stem}.json; its checkpoints are {', '.join(models)}: name "
                              f"one, e.g. {p / models[0]}")
        runs = [n for n in names if (p / n / f"{stem}.json").is_file()]
        if runs:
            raise InrkitError(f"the folder {p} holds one run per architecture ({', '.join(n + '/' for n in runs)}): "
                              f"name one, e.g. {p / runs[0]}")
        if (p / f"{stem}.safetensors").exists():
            raise InrkitError(f"the folder {p} holds {stem}.safetensors but its {stem}.json is missing (a checkpoint "
                              f"is the pair); it holds {_listing(p)}")
        raise InrkitError(f"the folder {p} is not a {what}: no {stem}.json; it holds {_listing(p)}")
    if p.suffix in (".json", ".safetensors"):
        base = p.with_suffix("")
    else:
        base = p
    if not (base.with_suffix(".json").exists() or base.with_suffix(".safetensors").exists() or p.exists()):
        parent = base.parent if str(base.parent) not in ("", ".") else Path(".")
        if parent.is_dir() and parent != Path("."):
            raise InrkitError(f"no {what} named {p}: the folder {parent} holds {_listing(parent)}")
        raise InrkitError(f"no {what} named {p}")
