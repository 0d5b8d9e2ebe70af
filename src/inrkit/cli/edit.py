"""``inrkit poisson | blend | integrate``: fields fitted to gradients or Laplacians (SIREN sec. 4.1).

These commands have no ``--compile``, ``--amp`` or ``--log-every``: their fits use none of them.
Their step counts belong to the command (a ``--preset`` does not change them).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from ..config import ALL_ARCHS
from ..errors import InrkitError
from ..signals.io import RESAMPLE_FILTERS
from .image import preflight
from .options import Command, Group, Invocation, opt, options
from .shared import (RESAMPLE_HELP, SIZE_HELP, ImageFile, ImageLoading, Model, Optimisation, Preset, RunOptions,
                     arch_option, configs, image_name, parse_archs, preset_option)


@options
class PoissonArgs(ImageFile, ImageLoading, Model, Preset, Optimisation, RunOptions):
    supervision: Literal["gradient", "laplacian"] = opt("gradient", "what the field is fitted to")
    archs: str = opt("tanh,pe,siren", f"comma-separated list from {','.join(ALL_ARCHS)}")
    minutes: float | None = opt(None, "training-time cap per architecture (steps done are reported)", above=0,
                                unset="no cap")
    operator: Literal["analytic", "stencil", "stencil-sobolev"] = opt(
        "analytic", "what is matched to the targets: the network's own derivatives (analytic, the paper's), the "
        "Sobel / 5-point stencil applied to its values on the pixel grid (stencil), or, for the Laplacian, that "
        "stencil with the residual in the H^-1 norm (stencil-sobolev)")
    size: int = opt(256, SIZE_HELP, at_least=1)
    resample: str = opt("triangle", RESAMPLE_HELP, choices=RESAMPLE_FILTERS)
    preset: str = preset_option(but="--steps")
    steps: int = opt(10_000, "optimisation steps", at_least=1)


def _check_operator(a: PoissonArgs) -> None:
    if a.operator == "stencil-sobolev" and a.supervision != "laplacian":
        raise InrkitError("--operator stencil-sobolev applies to --supervision laplacian; use stencil for gradients")
    if a.operator != "analytic" and a.batch_size:
        raise InrkitError(f"--operator {a.operator} uses every pixel each step; --batch-size {a.batch_size} cannot "
                          "be honoured (leave it at 0)")


def run_poisson(a: PoissonArgs, run: Invocation) -> None:
    from ..apps.edit import poisson_reconstruction
    from ..report.rundir import default_run_dir

    archs = parse_archs(a.archs)
    _check_operator(a)
    fcfg, tcfg = configs(a, run.given, always=("steps",))
    out = a.out or default_run_dir("poisson", a.supervision, image_name(a.image))
    preflight(out, a.overwrite)
    r = poisson_reconstruction(source=a.image, supervision=a.supervision, archs=archs, size=a.size, field_cfg=fcfg,
                               train_cfg=tcfg, device=a.device, out=out, overwrite=a.overwrite,
                               progress=not a.quiet, command=run.command, max_pixels=a.max_pixels,
                               minutes=a.minutes, resample=a.resample, operator=a.operator)
    print(f"from the {a.supervision}, {r['steps']} steps (PSNR after removing the constant):")
    for arch, m in r["architectures"].items():
        print(f"  {arch:<8} {m['psnr']:6.2f} dB   vs discrete solve {m['psnr_vs_classical']:6.2f} dB   "
              f"{m['steps_done']} steps in {m['seconds']:.1f} s")
    from ..report.html import decibels

    print(f"  discrete Poisson solve (DCT) {decibels(r['classical_psnr'])}\n-> {out}/report.html")


@options
class BlendArgs(ImageLoading, Model, Preset, Optimisation, RunOptions):
    a: str = opt(help="image A (the background for --mask)", positional=True)
    b: str = opt(help="image B (pasted inside --mask)", positional=True)
    mix: float = opt(0.5, "mixing weight: grad = alpha grad A + (1 - alpha) grad B", aliases=("--alpha",),
                     at_least=0, at_most=1)
    mask: str | None = opt(None, "binary mask image: paste B's gradients inside it, keep A outside (seamless "
                           "cloning)", unset="none, mix the gradients everywhere")
    arch: str = arch_option()
    preset: str = preset_option(but="--steps")
    steps: int = opt(1000, "optimisation steps", at_least=1)


def run_blend(a: BlendArgs, run: Invocation) -> None:
    from ..apps.edit import blend
    from ..report.rundir import default_run_dir

    fcfg, tcfg = configs(a, run.given, always=("steps",))
    out = a.out or default_run_dir("blend", image_name(a.a), image_name(a.b))
    preflight(out, a.overwrite)
    r = blend(a=a.a, b=a.b, alpha=a.mix, mask=a.mask, size=a.size, field_cfg=fcfg, train_cfg=tcfg, device=a.device,
              out=out, overwrite=a.overwrite, progress=not a.quiet, command=run.command, max_pixels=a.max_pixels,
              resample=a.resample)
    print(f"{r['mode']}: INR blend vs discrete Poisson blend {r['psnr_inr_vs_discrete']:.2f} dB "
          f"(naive {r['psnr_naive_vs_discrete']:.2f} dB) -> {out}/report.html")


@options
class IntegrateArgs(Model, Preset, Optimisation, RunOptions):  # reads .npy arrays: no image loading options
    fields: list[str] = opt(help="one (H, W, 2) .npy file, or two (H, W) files: d/dx then d/dy, per pixel",
                            positional=True)
    arch: str = arch_option()
    preset: str = preset_option(but="--steps")
    steps: int = opt(1000, "optimisation steps", at_least=1)


def run_integrate(a: IntegrateArgs, run: Invocation) -> None:
    from ..apps.edit import integrate
    from ..report.rundir import default_run_dir

    fcfg, tcfg = configs(a, run.given, always=("steps",))
    out = a.out or default_run_dir("integrate", Path(a.fields[0]).stem)
    preflight(out, a.overwrite)
    r = integrate(paths=a.fields, field_cfg=fcfg, train_cfg=tcfg, device=a.device, out=out, overwrite=a.overwrite,
                  progress=not a.quiet, command=run.command)
    print(f"integrated {r['shape'][1]}x{r['shape'][0]}: INR vs discrete solve {r['psnr_inr_vs_discrete']:.2f} dB "
          f"-> {out}/scalar.npy, scalar.png, report.html")


GROUP = Group((
    Command("poisson", "reconstruct an image from its gradient or Laplacian only (SIREN sec. 4.1)", PoissonArgs,
            run_poisson),
    Command("blend", "blend two same-size images in the gradient domain (mixing or seamless cloning)", BlendArgs,
            run_blend),
    Command("integrate", "integrate an H x W x 2 gradient field (.npy) into a scalar field", IntegrateArgs,
            run_integrate),
))
