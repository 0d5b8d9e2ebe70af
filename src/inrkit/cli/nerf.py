"""``inrkit nerf scene | train | eval | render | mesh``: radiance fields from posed images."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from ..config import MAX_RAYS, MAX_VIEWS
from ..errors import InrkitError
from .image import preflight
from .options import Command, Group, Invocation, opt, options
from .shared import (Device, DryRun, Log, Out, Overwrite, Quiet, RunOptions, check_checkpoint, print_dry_run,
                     run_folder_of, sources)

NERF_PRESETS = ("fast", "vanilla", "fast-tiny", "vanilla-small")

CPU_MINUTES, GPU_MINUTES = 3.0, 10.0
"""Default training-time budget of ``nerf train``: 3 minutes on a CPU (the fast recipe reaches about 30 dB on the
built-in scene in that time on 2 cores), 10 on a CUDA GPU."""


@options
class SceneArgs(Overwrite, Quiet):
    out: Path = opt(help="dataset folder to write")
    size: int = opt(100, "image width and height in pixels", at_least=8, at_most=2048)
    train: int = opt(100, "training views", at_least=1, at_most=MAX_VIEWS)
    val: int = opt(10, "validation views", at_least=1, at_most=MAX_VIEWS)
    test: int = opt(20, "test views", at_least=1, at_most=MAX_VIEWS)

    def check(self) -> None:
        MAX_VIEWS.check(self.train + self.val + self.test, "the scene (--train + --val + --test)")


def run_scene(a: SceneArgs, run: Invocation) -> None:
    from ..signals.scene import write_scene

    preflight(a.out, a.overwrite)
    write_scene(out=a.out, size=a.size, train=a.train, val=a.val, test=a.test, overwrite=a.overwrite)
    print(f"built-in scene: {a.train}/{a.val}/{a.test} views of {a.size}x{a.size} (Blender layout) -> {a.out}")


@options
class TrainArgs(RunOptions, DryRun, Log):
    dataset: str = opt(help="dataset folder, or builtin (rendered once into ~/.cache/inrkit)", positional=True)
    preset: str = opt("fast", "fast (hash grid + occupancy), vanilla (the 2020 paper's), fast-tiny, vanilla-small",
                      choices=NERF_PRESETS)
    steps: int = opt(20_000, "at most this many steps", at_least=1)
    minutes: float | None = opt(None, "at most this much training time", above=0,
                                unset=f"{CPU_MINUTES:g} on a CPU, {GPU_MINUTES:g} on a CUDA GPU")
    batch_rays: int | None = opt(None, "rays per step", unset="the preset's", at_least=1, at_most=MAX_RAYS)
    eval_every: float = opt(30.0, "seconds of training between validation renders", above=0)
    eval_views: int = opt(3, "validation views rendered each time", at_least=1)
    background: Literal["white", "black"] = opt("white", "background of transparent frames")
    downscale: int = opt(1, "divide the image resolution by this integer", at_least=1)
    snapshot_minutes: float = opt(5.0, "save the whole training state beside --out (.NAME.resume) this often, "
                                  "so a killed run can continue with --resume; 0: never", at_least=0.0)
    resume: bool = opt(False, "continue the killed run that was writing --out from its last saved state")


def run_train(a: TrainArgs, run: Invocation) -> None:
    from ..apps.nerf import train_nerf, write_nerf_run
    from ..report.rundir import default_run_dir

    from ..apps.image import state_folder

    if a.resume and a.out is None:
        raise InrkitError("--resume needs the --out of the interrupted run")
    out = a.out or default_run_dir("nerf", Path(a.dataset).name)
    minutes = a.minutes if a.minutes is not None else _default_minutes(a.device)
    if a.dry_run:
        return _dry_run_train(a, run, out, minutes)
    preflight(out, a.overwrite)
    keep_state = a.snapshot_minutes > 0 or a.resume
    r = train_nerf(dataset=a.dataset, preset=a.preset, steps=a.steps, minutes=minutes, eval_every=a.eval_every,
                   eval_views=a.eval_views, background=a.background, downscale=a.downscale, seed=a.seed,
                   device=a.device, progress=not a.quiet, batch_rays=a.batch_rays,
                   state_dir=state_folder(out) if keep_state else None,
                   snapshot_minutes=a.snapshot_minutes if a.snapshot_minutes > 0 else 1e9, resume=a.resume)
    write_nerf_run(r=r, out=out, command=run.command, overwrite=a.overwrite)
    last = r["history"][-1]
    print(f"{r['steps']} steps in {r['seconds']:.0f} s: validation PSNR {last['val_psnr']:.2f} dB, "
          f"SSIM {last['val_ssim']:.4f} -> {out}/report.html")


def _default_minutes(device: str) -> float:
    from ..device import resolve_device

    return GPU_MINUTES if resolve_device(device).type == "cuda" else CPU_MINUTES


def _dry_run_train(a: TrainArgs, run: Invocation, out: Path, minutes: float) -> None:
    """``nerf train --dry-run``: time a probe of a few steps on the dataset (nothing is written; the built-in
    scene is probed only when it is already in the cache, since rendering it writes there)."""
    from ..apps.nerf import BUILTIN, cache_dir, train_nerf
    from ..device import resolve_device

    over = {"minutes": (minutes, "flag" if "minutes" in run.given else
                        f"default: {minutes:g} on {resolve_device(a.device).type}"),
            "out": (out, "flag" if a.out else "default: a new folder under runs/")}
    rows = sources(a, run.given, overrides=over)
    cached = (cache_dir() / "scenes" / "builtin-v1-100px" / "transforms_test.json").is_file()
    if a.dataset == BUILTIN and not cached:
        est = (60 * minutes, f"the --minutes budget (the built-in scene is not rendered yet, so no probe ran; "
                             f"rendering it takes about a minute more); validation renders every "
                             f"{a.eval_every:g} s are not counted")
    else:
        probe = 4
        r = train_nerf(dataset=a.dataset, preset=a.preset, steps=probe, minutes=None, eval_every=1e9, eval_views=1,
                       background=a.background, downscale=a.downscale, seed=a.seed, device=a.device,
                       batch_rays=a.batch_rays)
        per = r["seconds"] / max(1, r["steps"])
        train_s = min(per * a.steps, 60 * minutes)
        ends = "the --minutes budget ends it" if per * a.steps > 60 * minutes else "the --steps budget ends it"
        est = (train_s, f"measured: a probe of {probe} steps on {resolve_device(a.device)} at {per:.3g} s/step; "
                        f"min({a.steps:,} steps, {minutes:g} min): {ends}; validation renders every "
                        f"{a.eval_every:g} s of training are not counted")
    print_dry_run(run.command, rows, est, out)


@options
class EvalArgs(Device, Out, Overwrite, Quiet):
    checkpoint: str = opt(help="a run folder or model.json from nerf train", positional=True)
    dataset: str = opt(help="dataset folder, or builtin", positional=True)
    split: str = opt("test", "which views", choices=("train", "val", "test"))
    limit: int | None = opt(None, "first views only", unset="every view of the split", at_least=1)
    out: Path | None = opt(None, "output folder", unset="eval-SPLIT/ inside the run folder")


def run_eval(a: EvalArgs, run: Invocation) -> None:
    from ..apps.nerf import eval_nerf

    check_checkpoint(a.checkpoint, "NeRF run folder or checkpoint")
    out = a.out or run_folder_of(a.checkpoint) / f"eval-{a.split}"
    preflight(out, a.overwrite)
    r = eval_nerf(ckpt=a.checkpoint, dataset=a.dataset, out=out, split=a.split, limit=a.limit, device=a.device,
                  command=run.command, overwrite=a.overwrite, progress=not a.quiet)
    print(f"{r['split']}: {r['views']} views, PSNR {r['psnr']:.2f} dB, SSIM {r['ssim']:.4f} -> {out}/report.html")


@options
class RenderArgs(Device, Overwrite, Quiet):
    checkpoint: str = opt(help="a run folder or model.json from nerf train", positional=True)
    orbit: bool = opt(False, "circle the scene at the training cameras' mean elevation (required: the only path "
                      "it renders)")
    frames: int = opt(60, "frames of the orbit", at_least=1, at_most=MAX_VIEWS)
    size: int | None = opt(None, "width in pixels", unset="the training images'", at_least=1, at_most=4096)
    elevation: float | None = opt(None, "degrees", unset="the training cameras' mean", at_least=-90, at_most=90)
    radius: float | None = opt(None, "distance to the orbit's centre", unset="the training cameras' mean", above=0,
                               at_most=1e6)
    format: Literal["gif", "mp4"] = opt("gif", "animation format (MP4 needs PyAV)")
    out: Path | None = opt(None, "output folder", unset="orbit/ inside the run folder")


def run_render(a: RenderArgs, run: Invocation) -> None:
    from ..apps.nerf import render_orbit

    if not a.orbit:
        raise InrkitError("nerf render needs --orbit (the only path it renders)")
    check_checkpoint(a.checkpoint, "NeRF run folder or checkpoint")
    out = a.out or run_folder_of(a.checkpoint) / "orbit"
    preflight(out, a.overwrite)
    r = render_orbit(ckpt=a.checkpoint, out=out, frames=a.frames, size=a.size, elevation=a.elevation,
                     radius=a.radius, fmt=a.format, device=a.device, overwrite=a.overwrite, progress=not a.quiet)
    print(f"{r['frames']} frames of {r['size'][0]}x{r['size'][1]} -> {out}/orbit.{a.format}, orbit_depth.{a.format}")


@options
class MeshArgs(Device, Quiet):
    checkpoint: str = opt(help="a run folder or model.json from nerf train", positional=True)
    out: Path = opt(help="output mesh file: .ply (binary, with vertex colours) or .obj")
    resolution: int = opt(128, "marching-cubes grid points per axis (evaluated slab by slab)", at_least=8,
                          at_most=1024)
    level: float = opt(25.0, "density iso-value")


def run_mesh(a: MeshArgs, run: Invocation) -> None:
    from ..apps.nerf import export_mesh

    if a.out.suffix.lower() not in (".ply", ".obj"):
        raise InrkitError("--out must end in .ply or .obj")
    check_checkpoint(a.checkpoint, "NeRF run folder or checkpoint")
    r = export_mesh(ckpt=a.checkpoint, out=a.out, resolution=a.resolution, level=a.level, device=a.device)
    print(f"{r['vertices']} vertices, {r['faces']} faces -> {a.out}")


GROUP = Group((
    Command("scene", "write the built-in ray-traced scene in the Blender layout", SceneArgs, run_scene),
    Command("train", "train a NeRF on a folder (Blender layout or transforms.json) or 'builtin'", TrainArgs,
            run_train),
    Command("eval", "PSNR and SSIM on held-out views, images side by side", EvalArgs, run_eval),
    Command("render", "render an orbit video (GIF or MP4) with its depth", RenderArgs, run_render),
    Command("mesh", "marching cubes on the density field, written as a coloured PLY", MeshArgs, run_mesh),
), name="nerf", help="NeRF: train on posed images, evaluate, render orbits, export meshes")
