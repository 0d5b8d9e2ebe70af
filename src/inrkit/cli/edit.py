"""``inrkit poisson | blend | integrate``: fields fitted to gradients or Laplacians (SIREN sec. 4.1).

These commands have no ``--compile``, ``--amp`` or ``--log-every``: their fits use none of them.
Their step counts belong to the command (a ``--preset`` does not change them), except that
``--preset cpu`` (what ``auto`` picks without a CUDA GPU) sizes them for a CPU (:data:`CPU_SIZING`).
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Literal

from ..config import ALL_ARCHS
from ..errors import InrkitError
from ..signals.io import RESAMPLE_FILTERS
from .image import preflight
from .options import Command, Group, Invocation, opt, options
from .shared import (RESAMPLE_HELP, SIZE_HELP, DryRun, Log, ImageFile, ImageLoading, Model, Optimisation, Preset,
                     RunOptions, arch_option, configs, image_name, parse_archs, preset_option,
                     print_dry_run, recipe, sources)

CPU_SIZING = {"poisson": {"size": 64, "steps": 300, "width": 128}, "blend": {"size": 64, "steps": 300, "width": 128},
              "integrate": {"steps": 300, "width": 128}}
"""What ``--preset cpu`` (``auto`` on a CPU) changes in these commands when the option is not given: each step
differentiates through the network two or three times (per channel for blend), so the paper's 256 px, 256-wide
networks and 10,000 steps take hours on a 2-core CPU. ``size`` caps the longer side (smaller images keep theirs);
``width`` 128 has a quarter of the hidden layers' multiply-adds and still far more parameters than a 64 px
image has pixels."""

PAPER_SIZING = {"poisson": {"size": 256, "steps": 10_000}, "blend": {"steps": 1000}, "integrate": {"steps": 1000}}
"""The commands' own defaults with every other preset (poisson: SIREN sec. 4.1's 256 px, 10,000 steps)."""


def _sized_help(command: str, key: str, what: str) -> str:
    paper = PAPER_SIZING[command].get(key)
    cpu = CPU_SIZING[command].get(key)
    base = f"{paper:,}" if paper is not None else what
    return f"{base}; {cpu:,} with --preset cpu (auto on a CPU)" if cpu is not None else base


def _sizing(command: str, a, run: Invocation):
    """``(options with size and steps resolved, {name: (value, source)})`` for ``--dry-run``."""
    name = recipe(a)[0]
    table = CPU_SIZING[command] if name == "cpu" else PAPER_SIZING[command]
    changes, said = {}, {}
    for key in ("size", "steps", "width"):
        if not hasattr(a, key):
            continue
        if key in run.given:
            said[key] = (getattr(a, key), "flag")
        elif key in table:
            src = f"preset {name}" if table is CPU_SIZING[command] else "default: this command's"
            if key == "size":
                said[key] = (table[key], src + ": the longer side at most this")
            else:
                changes[key] = table[key]
                said[key] = (table[key], src)
    return dataclasses.replace(a, **changes), said


def _always(a, said: dict) -> tuple[str, ...]:
    """Options whose value belongs to the command (or its CPU sizing) rather than the preset."""
    return ("steps",) + (("width",) if "width" in said and said["width"][1] != "flag" else ())


def _size_cap(command: str, a, run: Invocation) -> int | None:
    if "size" in run.given:
        return None
    return (CPU_SIZING if recipe(a)[0] == "cpu" else PAPER_SIZING)[command].get("size")


def _width_option() -> object:
    return opt(None, "hidden width", at_least=1, group="model",
               unset="the preset's (reference 256, fast and tiny 64); 128 with --preset cpu (auto on a CPU)")


def _say(a, run: Invocation, estimate=None) -> None:
    if getattr(a, "quiet", False):
        return
    name, why = recipe(a)
    print(f"inrkit: recipe {name} ({why}); --dry-run shows every value and a time estimate", file=sys.stderr)


@options
class PoissonArgs(ImageFile, ImageLoading, Model, Preset, Optimisation, RunOptions, DryRun, Log):
    supervision: Literal["gradient", "laplacian"] = opt("gradient", "what the field is fitted to")
    archs: str = opt("tanh,pe,siren", f"comma-separated list from {','.join(ALL_ARCHS)}")
    minutes: float | None = opt(None, "training-time cap per architecture (steps done are reported)", above=0,
                                unset="no cap")
    operator: Literal["analytic", "stencil", "stencil-sobolev"] = opt(
        "analytic", "what is matched to the targets: the network's own derivatives (analytic, the paper's), the "
        "Sobel / 5-point stencil applied to its values on the pixel grid (stencil), or, for the Laplacian, that "
        "stencil with the residual in the H^-1 norm (stencil-sobolev)")
    size: int | None = opt(None, SIZE_HELP, at_least=1, unset=_sized_help("poisson", "size", ""))
    resample: str = opt("triangle", RESAMPLE_HELP, choices=RESAMPLE_FILTERS)
    preset: str = preset_option(but="--steps")
    steps: int | None = opt(None, "optimisation steps", at_least=1, unset=_sized_help("poisson", "steps", ""))
    width: int | None = _width_option()


def _check_operator(a: PoissonArgs) -> None:
    if a.operator == "stencil-sobolev" and a.supervision != "laplacian":
        raise InrkitError("--operator stencil-sobolev applies to --supervision laplacian; use stencil for gradients")
    if a.operator != "analytic" and a.batch_size:
        raise InrkitError(f"--operator {a.operator} uses every pixel each step; --batch-size {a.batch_size} cannot "
                          "be honoured (leave it at 0)")


PROBE_STEPS = 3
"""Steps timed by a ``--dry-run`` probe, after one warm-up step."""


def _per_step(history: list[dict], seconds: float) -> float:
    """Seconds per step from a probe's loss history (first to last row: the warm-up step excluded)."""
    if len(history) >= 2 and history[-1]["step"] > history[0]["step"]:
        return (history[-1]["seconds"] - history[0]["seconds"]) / (history[-1]["step"] - history[0]["step"])
    return seconds / (PROBE_STEPS + 1)


def _probe(per_arch: dict[str, float], steps: int, minutes: float | None, device: str) -> tuple[float, str]:
    total = sum(min(s * steps, 60 * minutes) if minutes else s * steps for s in per_arch.values())
    parts = ", ".join(f"{k} {v:.3g} s/step" for k, v in per_arch.items())
    cap = f", each capped at --minutes {minutes:g}" if minutes else ""
    return total, (f"measured: a probe of {PROBE_STEPS} steps after a warm-up step on {device} ({parts}) x {steps:,} steps{cap}; "
                   f"the classical solve and the report are not counted")


def run_poisson(a: PoissonArgs, run: Invocation) -> None:
    from ..apps.edit import poisson_reconstruction
    from ..report.rundir import default_run_dir

    archs = parse_archs(a.archs)
    _check_operator(a)
    a, said = _sizing("poisson", a, run)
    size = a.size if a.size is not None else _size_cap("poisson", a, run)
    fcfg, tcfg = configs(a, run.given, always=_always(a, said))
    out = a.out or default_run_dir("poisson", a.supervision, image_name(a.image))
    if a.dry_run:
        from ..device import resolve_device
        from ..signals import load_image

        sig = load_image(a.image, size, a.max_pixels, alpha="drop", resample=a.resample)
        r = poisson_reconstruction(source=sig, supervision=a.supervision, archs=archs, field_cfg=fcfg,
                                   train_cfg=dataclasses.replace(tcfg, steps=PROBE_STEPS + 1), device=a.device,
                                   operator=a.operator)
        per = {k: _per_step(m["history"], m["seconds"]) for k, m in r["architectures"].items()}
        h, w = sig.shape
        said["size"] = (max(h, w), said.get("size", (None, "default"))[1])
        if len(archs) > 1 and "lr" not in run.given:
            said["lr"] = (None, "default: each architecture's paper value")
        rows = sources(a, run.given, always=_always(a, said), fcfg=fcfg, tcfg=tcfg,
                       overrides={**said, "out": (out, "flag" if a.out else "default: a new folder under runs/")})
        return print_dry_run(run.command, rows, _probe(per, tcfg.steps, a.minutes, str(resolve_device(a.device))),
                             out, (f"image {sig.name}: {w} x {h} fitted (W x H), grayscale",))
    preflight(out, a.overwrite)
    _say(a, run)
    r = poisson_reconstruction(source=a.image, supervision=a.supervision, archs=archs, size=size, field_cfg=fcfg,
                               train_cfg=tcfg, device=a.device, out=out, overwrite=a.overwrite,
                               progress=not a.quiet, command=run.command, max_pixels=a.max_pixels,
                               minutes=a.minutes, resample=a.resample, operator=a.operator)
    h, w = r["shape"]
    print(f"from the {a.supervision} of a {w}x{h} image, {r['steps']} steps (PSNR after removing the constant):")
    for arch, m in r["architectures"].items():
        print(f"  {arch:<8} {m['psnr']:6.2f} dB   vs discrete solve {m['psnr_vs_classical']:6.2f} dB   "
              f"{m['steps_done']} steps in {m['seconds']:.1f} s")
    from ..report.html import decibels

    print(f"  discrete Poisson solve (DCT) {decibels(r['classical_psnr'])}\n-> {out}/report.html")


@options
class BlendArgs(ImageLoading, Model, Preset, Optimisation, RunOptions, DryRun, Log):
    a: str = opt(help="image A (the background for --mask)", positional=True)
    b: str = opt(help="image B (pasted inside --mask)", positional=True)
    mix: float = opt(0.5, "mixing weight: grad = mix grad A + (1 - mix) grad B (--alpha, its old name, still works "
                     "with a warning: fit's --alpha means the alpha channel)", deprecated=("--alpha",),
                     at_least=0, at_most=1, group="training")
    mask: str | None = opt(None, "binary mask image: paste B's gradients inside it, keep A outside (seamless "
                           "cloning)", unset="none, mix the gradients everywhere", group="input")
    size: int | None = opt(None, SIZE_HELP, at_least=1, unset="the images' own size; at most "
                           f"{CPU_SIZING['blend']['size']} px with --preset cpu (auto on a CPU)")
    arch: str = arch_option()
    preset: str = preset_option(but="--steps")
    steps: int | None = opt(None, "optimisation steps", at_least=1, unset=_sized_help("blend", "steps", ""))
    width: int | None = _width_option()


def run_blend(a: BlendArgs, run: Invocation) -> None:
    from ..apps.edit import blend
    from ..report.rundir import default_run_dir

    from .options import deprecated_used

    for warning in deprecated_used(BlendArgs, run.command):
        print(warning, file=sys.stderr)
    a, said = _sizing("blend", a, run)
    fcfg, tcfg = configs(a, run.given, always=_always(a, said))
    cap = _size_cap("blend", a, run)
    out = a.out or default_run_dir("blend", image_name(a.a), image_name(a.b))
    if a.dry_run:
        from ..apps.edit import _load_pair
        from ..device import resolve_device

        A, B = _load_pair(a.a, a.b, a.size, a.max_pixels, a.resample)
        if a.size is None and cap is not None and max(A.shape) > cap:
            A, B = _load_pair(a.a, a.b, cap, a.max_pixels, a.resample)
        r = blend(a=A, b=B, alpha=a.mix, mask=a.mask, field_cfg=fcfg,
                  train_cfg=dataclasses.replace(tcfg, steps=PROBE_STEPS + 1), device=a.device, max_pixels=a.max_pixels)
        h, w = A.shape
        said["size"] = (max(h, w), said.get("size", (None, "default: the images' own size"))[1])
        rows = sources(a, run.given, always=_always(a, said), fcfg=fcfg, tcfg=tcfg,
                       overrides={**said, "out": (out, "flag" if a.out else "default: a new folder under runs/")})
        return print_dry_run(run.command, rows, _probe({fcfg.arch: _per_step(r["history"], r["seconds"])}, tcfg.steps, None,
                                                       str(resolve_device(a.device))), out,
                             (f"images: {w} x {h} (W x H)",))
    preflight(out, a.overwrite)
    _say(a, run)
    r = blend(a=a.a, b=a.b, alpha=a.mix, mask=a.mask, size=a.size, field_cfg=fcfg, train_cfg=tcfg, device=a.device,
              out=out, overwrite=a.overwrite, progress=not a.quiet, command=run.command, max_pixels=a.max_pixels,
              resample=a.resample, max_size=cap)
    h, w, _ = r["shape"]
    print(f"{r['mode']} of {w}x{h}: INR blend vs discrete Poisson blend {r['psnr_inr_vs_discrete']:.2f} dB "
          f"(naive {r['psnr_naive_vs_discrete']:.2f} dB), {r['seconds']:.1f} s -> {out}/report.html")


@options
class IntegrateArgs(Model, Preset, Optimisation, RunOptions, DryRun, Log):  # reads .npy arrays: no image loading options
    fields: list[str] = opt(help="one (H, W, 2) .npy file, or two (H, W) files: d/dx then d/dy, per pixel",
                            positional=True)
    arch: str = arch_option()
    preset: str = preset_option(but="--steps")
    steps: int | None = opt(None, "optimisation steps", at_least=1, unset=_sized_help("integrate", "steps", ""))
    width: int | None = _width_option()


def run_integrate(a: IntegrateArgs, run: Invocation) -> None:
    from ..apps.edit import integrate
    from ..report.rundir import default_run_dir

    a, said = _sizing("integrate", a, run)
    fcfg, tcfg = configs(a, run.given, always=_always(a, said))
    out = a.out or default_run_dir("integrate", Path(a.fields[0]).stem)
    if a.dry_run:
        from ..device import resolve_device

        r = integrate(paths=a.fields, field_cfg=fcfg, train_cfg=dataclasses.replace(tcfg, steps=PROBE_STEPS + 1),
                      device=a.device)
        rows = sources(a, run.given, always=_always(a, said), fcfg=fcfg, tcfg=tcfg,
                       overrides={**said, "out": (out, "flag" if a.out else "default: a new folder under runs/")})
        h, w = r["shape"]
        return print_dry_run(run.command, rows, _probe({fcfg.arch: _per_step(r["history"], r["seconds"])}, tcfg.steps, None,
                                                       str(resolve_device(a.device))), out,
                             (f"gradient field: {w} x {h} (W x H)",))
    preflight(out, a.overwrite)
    _say(a, run)
    r = integrate(paths=a.fields, field_cfg=fcfg, train_cfg=tcfg, device=a.device, out=out, overwrite=a.overwrite,
                  progress=not a.quiet, command=run.command)
    print(f"integrated {r['shape'][1]}x{r['shape'][0]}: INR vs discrete solve {r['psnr_inr_vs_discrete']:.2f} dB, "
          f"{r['seconds']:.1f} s -> {out}/scalar.npy, scalar.png, report.html")


GROUP = Group((
    Command("poisson", "reconstruct an image from its gradient or Laplacian only (SIREN sec. 4.1)", PoissonArgs,
            run_poisson),
    Command("blend", "blend two same-size images in the gradient domain (mixing or seamless cloning)", BlendArgs,
            run_blend),
    Command("integrate", "integrate an H x W x 2 gradient field (.npy) into a scalar field", IntegrateArgs,
            run_integrate),
))
