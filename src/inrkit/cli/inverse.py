"""``inrkit ct | mri``: fields fitted through a forward operator (sparse-view CT, undersampled MRI).

Top-level commands, as ``inrkit fit``: each names its measurement (``ct``, ``mri``), which is how
people look for them, and each run reports the classical reconstructions of the same data.
"""

from __future__ import annotations

from pathlib import Path

from ..config import ALL_ARCHS
from ..errors import InrkitError
from ..train.schedules import SCHEDULES
from .options import Command, Group, Invocation, opt, options
from .shared import Device, DryRun, Log, Out, Overwrite, Quiet, Seed, dry_run_by_probe

@options(group="model")
class InverseModel:
    arch: str = opt("ffn", f"field architecture: {', '.join(ALL_ARCHS)} (ffn: Gaussian Fourier features + ReLU "
                    "MLP, Tancik et al. 2020 sec. 6)", choices=ALL_ARCHS)
    width: int = opt(128, "hidden width", at_least=1, at_most=4096)
    depth: int = opt(2, "hidden layers", at_least=1, at_most=32)
    features: int = opt(128, "Fourier features m (ffn)", at_least=1, at_most=8192)
    sigma: float = opt(2.0, "Fourier feature scale in [-1, 1] units (ffn)", above=0)
    w0: float = opt(30.0, "SIREN omega_0 (siren)", above=0)


@options(group="training")
class InverseTraining:
    steps: int = opt(1000, "Adam steps", at_least=1)
    lr: float = opt(3e-3, "learning rate", above=0)
    schedule: str = opt("constant", "learning-rate schedule: constant, or cosine decay to 1 % of lr over --steps",
                        choices=SCHEDULES)
    tv: float = opt(0.0, "weight of the field's total variation added to the data term (0: the pure INR of "
                    "Tancik et al. 2020; a prior for few views or strong undersampling)", at_least=0.0, at_most=1000.0)
    minutes: float | None = opt(None, "cap on the training time", unset="no cap", above=0)
    nonneg: str = opt("none", "map the network's output onto [0, inf) before the forward operator: none, softplus, "
                      "relu or abs (attenuation and magnitude images are >= 0)", choices=("none", "softplus", "relu",
                                                                                          "abs"))


def _config(a):
    from ..apps.inverse import InverseConfig

    return InverseConfig(arch=a.arch, width=a.width, depth=a.depth, features=a.features, sigma=a.sigma, w0=a.w0,
                         steps=a.steps, lr=a.lr, schedule=a.schedule, tv=a.tv, seed=a.seed, minutes=a.minutes,
                         nonneg=a.nonneg)


def _preflight(out: Path, overwrite: bool) -> None:
    from .image import preflight

    preflight(out, overwrite)


@options
class CTArgs(InverseModel, InverseTraining, Seed, Device, Out, Overwrite, Quiet, DryRun, Log):
    source: str = opt(help="shepp-logan (built-in phantom), a grey image, or a sinogram: .npz with sinogram "
                      "(detectors x views) and theta (degrees), or .npy with --angles", positional=True)
    views: int | None = opt(None, "projection angles, evenly over 180 degrees", unset="20 for a phantom or "
                            "image; a sinogram's own", at_least=1, at_most=4096, group="input")
    size: int | None = opt(None, "image side in pixels (phantom or image)", unset="256 for the phantom, the "
                           "image's shorter side", at_least=8, at_most=4096, group="input")
    angles: Path | None = opt(None, ".npy of the sinogram's angles in degrees", unset="theta in the .npz, or "
                              "evenly spaced", group="input")
    noise: float = opt(0.0, "Gaussian noise on the simulated sinogram, std relative to its largest value",
                       at_least=0.0, group="input")
    operator: str = opt("pixels", "how A is computed from the field each step: pixels = the field on the n x n "
                        "pixel grid, projected with scikit-image's radon (bilinear, fixed points; the full-image "
                        "projection of Tancik et al. 2020); rays = line integrals of the field itself at random "
                        "points along random rays (--rays, --samples)", choices=("pixels", "rays"), group="training")
    rays: int | None = opt(None, "rays per step, drawn at random (0: every ray of the sinogram)",
                           unset="0 with --operator pixels, 512 with rays", at_least=0, at_most=1 << 22,
                           group="training")
    samples: int = opt(64, "--operator rays: samples along each ray, stratified (jittered, so their sum is an "
                       "unbiased estimate of the integral); 0: one per pixel of path", at_least=0, at_most=8192,
                       group="training")
    sart_iterations: int = opt(3, "SART iterations of the baseline", at_least=1, at_most=100, group="training")
    sigma: float = opt(1.5, "Fourier feature scale in [-1, 1] units (ffn)", above=0, group="model")
    lr: float = opt(1e-2, "learning rate", above=0, group="training")


def run_ct(a: CTArgs, run: Invocation) -> None:
    from ..apps.inverse import run_ct as go
    from ..report.rundir import default_run_dir
    from ..signals.tomography import make_problem

    problem = make_problem(a.source, a.views, a.size, angles=a.angles, noise=a.noise, seed=a.seed)
    _check_step_size(problem, a)
    out = a.out or default_run_dir("ct", problem.name, f"{problem.views}views")
    _preflight(out, a.overwrite)

    def work(progress: bool):
        return go(problem, _config(a), rays=_rays(a), samples=a.samples or None, sart_iterations=a.sart_iterations,
                  device=a.device, out=out, overwrite=a.overwrite, progress=progress, command=run.command,
                  pixels=a.operator == "pixels")

    if a.dry_run:
        return dry_run_by_probe(a, run, out, lambda: work(False), notes=(_problem_note(problem),))
    r = work(not a.quiet)
    _print(r, out)


MAX_FIELD_POINTS_PER_STEP = 1 << 22
"""The most points one CT training step may evaluate the field at (the n x n pixels with the pixel operator,
rays x samples per ray with the ray operator): above it the activations and their gradients alone need tens of
GB, so the run is refused before any work."""

MAX_LOOKUPS_PER_STEP = 1 << 27
"""The pixel operator's bilinear look-ups into the pixel image per step (rays x n): cheap each, bounded all the same."""


def _rays(a: CTArgs) -> int:
    """``--rays``, or its default for the operator: every ray for pixels, 512 random rays for rays."""
    return a.rays if a.rays is not None else (0 if a.operator == "pixels" else 512)


def _check_step_size(problem, a: CTArgs) -> None:
    n, all_rays = problem.n, problem.n * problem.views
    rays = min(_rays(a), all_rays) if _rays(a) else all_rays
    if a.operator == "pixels":
        if n * n > MAX_FIELD_POINTS_PER_STEP:
            raise InrkitError(f"the pixel operator evaluates the field at {n} x {n} = {n * n:,} pixels per step, above "
                              f"{MAX_FIELD_POINTS_PER_STEP:,}; use --operator rays, or a smaller --size")
        if rays * n > MAX_LOOKUPS_PER_STEP:
            raise InrkitError(f"{rays:,} rays x {n:,} look-ups = {rays * n:,} per step, above "
                              f"{MAX_LOOKUPS_PER_STEP:,}; use fewer --rays")
        return
    per_ray = a.samples or n
    if rays * per_ray > MAX_FIELD_POINTS_PER_STEP:
        raise InrkitError(f"{rays:,} rays x {per_ray:,} samples = {rays * per_ray:,} field samples per step, above "
                          f"{MAX_FIELD_POINTS_PER_STEP:,}; use fewer --rays or --samples")


def _problem_note(problem) -> str:
    return (f"problem {problem.name}: the estimate times the field's training; the classical baselines and the "
            f"report are counted only where they run before it")


def _print(r: dict, out: Path) -> None:
    width = max(22, *(len(k) for k in r["methods"]))
    for k, m in r["methods"].items():
        score = f"PSNR {m['psnr']:6.2f} dB  SSIM {m['ssim']:.4f}" if "psnr" in m else "(no ground truth)"
        print(f"{k:<{width}} {score}  {m['seconds']:7.1f} s")
    print(f"-> {out}/report.html")


@options
class MRIArgs(InverseModel, InverseTraining, Seed, Device, Out, Overwrite, Quiet, DryRun, Log):
    source: str = opt(help="shepp-logan, brain (a slice of nibabel's test EPI volume), a NIfTI file (its middle "
                      "slice) or a grey image", positional=True)
    mask: str = opt("radial", "radial (golden-angle spokes), random (variable density) or a .npy of 0/1 of the "
                    "image's shape, k-space centred", group="input")
    acceleration: float = opt(4.0, "undersampling factor of a generated mask", at_least=1.0, at_most=1000.0,
                              group="input")
    size: int | None = opt(None, "resize the longer side (pixels)", unset="128 for the phantom; the image's own",
                           at_least=8, at_most=2048, group="input")
    noise: float = opt(0.0, "complex Gaussian noise std per k-space sample (image values in [0, 1])",
                       at_least=0.0, group="input")
    tv_iterations: int = opt(1000, "Chambolle-Pock iterations of the TV baseline (small weights need many)",
                             at_least=1, at_most=100_000, group="training")
    support: str = opt("none", "where the image may be non-zero: none (everywhere), auto (estimated from the "
                       "zero-filled image: smoothed 1.5 px, half of Otsu's threshold, small islands dropped, widened "
                       "3 px; for images on a dark background) or a .npy of 0/1 of the image's shape; used by the INR "
                       "and by TV", group="input")
    sigma: float = opt(1.0, "Fourier feature scale in [-1, 1] units (ffn)", above=0, group="model")


def run_mri(a: MRIArgs, run: Invocation) -> None:
    from ..apps.inverse import run_mri as go
    from ..report.rundir import default_run_dir
    from ..signals.kspace import MASKS, MRIProblem, load_mask, load_mri_image, make_mask

    size = a.size if a.size is not None or a.source != "shepp-logan" else 128
    image, name = load_mri_image(a.source, size)
    if a.mask in MASKS:
        mask = make_mask(a.mask, image.shape, a.acceleration, a.seed)
        what = f"{a.mask}{a.acceleration:g}x"
    else:
        mask, what = load_mask(a.mask, image.shape), Path(a.mask).stem
    problem = MRIProblem.simulate(image, mask, name, a.noise, a.seed, {"mask": what})
    if a.support == "auto":
        problem = problem.with_support("auto")
    elif a.support != "none":
        problem = problem.with_support(load_mask(a.support, image.shape, "support"))
    out = a.out or default_run_dir("mri", name, what)
    _preflight(out, a.overwrite)

    def work(progress: bool):
        return go(problem, _config(a), tv_iterations=a.tv_iterations, device=a.device, out=out, overwrite=a.overwrite,
                  progress=progress, command=run.command)

    if a.dry_run:
        return dry_run_by_probe(a, run, out, lambda: work(False), notes=(_problem_note(problem),))
    r = work(not a.quiet)
    _print(r, out)


GROUP = Group((
    Command("ct", "sparse-view CT: fit mu(x, y) to a parallel-beam sinogram; FBP and SART from the same data",
            CTArgs, run_ct),
    Command("mri", "undersampled MRI: fit the image to masked k-space; zero-filled and TV from the same data",
            MRIArgs, run_mri),
))
