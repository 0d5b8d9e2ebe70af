"""``inrkit shape sdf | occupancy``: 3-D shapes as fields, meshes out.

One group rather than two top-level commands: both read the same inputs (a built-in shape, a mesh,
an oriented point cloud), write the same outputs (meshes, renders, metrics) and share every option
but the objective, so ``inrkit shape --help`` is where a person finds 3-D work; the top level keeps
one name for it beside ``ct`` and ``mri``, which are single commands.
"""

from __future__ import annotations

from typing import Literal

from ..config import ALL_ARCHS
from ..errors import InrkitError
from .options import Command, Group, Invocation, opt, options
from .shared import Device, DryRun, Log, Out, Overwrite, Quiet, Seed, dry_run_by_probe


@options
class ShapeArgs(Seed, Device, Out, Overwrite, Quiet, DryRun, Log):
    source: str = opt(help="sphere, torus, csg (built-in), a mesh (.ply .obj .stl .off) or, for sdf, an oriented "
                      "point cloud (.ply with nx ny nz, .xyz with 6 columns)", positional=True)
    archs: str = opt("siren", f"comma-separated architectures fitted with the same steps and seed, from "
                     f"{','.join(ALL_ARCHS)}", group="model")
    width: int = opt(128, "hidden width", at_least=1, at_most=4096, group="model")
    depth: int = opt(3, "hidden layers", at_least=1, at_most=32, group="model")
    w0: float = opt(30.0, "SIREN omega_0", above=0, group="model")
    features: int = opt(128, "Fourier features m (ffn)", at_least=1, at_most=8192, group="model")
    sigma: float = opt(3.0, "Fourier feature scale in [-1, 1] units (ffn)", above=0, group="model")
    steps: int = opt(1000, "Adam steps", at_least=1, group="training")
    lr: float | None = opt(None, "learning rate", unset="1e-4 for siren, 1e-2 for hash, else 1e-3", above=0,
                           group="training")
    batch: int = opt(4096, "points per step (sdf: half on the surface, half in the box)", at_least=2,
                     at_most=1 << 22, group="training")
    minutes: float | None = opt(None, "cap on each architecture's training time", unset="no cap", above=0,
                                group="training")
    resolution: int = opt(128, "marching-cubes grid per axis (8 to 1024)", at_least=1, group="output")
    format: Literal["ply", "obj"] = opt("ply", "mesh file format", group="output")


def _archs(text: str) -> tuple[str, ...]:
    names = tuple(a.strip() for a in text.split(",") if a.strip())
    bad = [a for a in names if a not in ALL_ARCHS]
    if not names or bad:
        raise InrkitError(f"--archs must name architectures from {', '.join(ALL_ARCHS)}, not {text!r}")
    if len(set(names)) != len(names):
        raise InrkitError("--archs names an architecture twice")
    return names


def _run(task: str, a: ShapeArgs, run: Invocation) -> None:
    from ..apps.shape import ShapeConfig, run_shape
    from ..report.rundir import default_run_dir
    from ..shapes.mesh import check_resolution
    from ..signals.shape import load_shape
    from .image import preflight

    archs = _archs(a.archs)
    check_resolution(a.resolution)
    source = load_shape(a.source, seed=a.seed)
    if task == "occupancy" and not source.watertight:
        source.inside(source.points[:1])  # one line: a watertight mesh is needed
    out = a.out or default_run_dir("shape", task, source.name)
    preflight(out, a.overwrite)
    cfg = ShapeConfig(width=a.width, depth=a.depth, w0=a.w0, features=a.features, sigma=a.sigma, steps=a.steps,
                      lr=a.lr, batch=a.batch, seed=a.seed, minutes=a.minutes)
    if a.dry_run:
        return dry_run_by_probe(a, run, out, lambda: run_shape(
            task, source, archs, cfg, resolution=a.resolution, mesh_format=a.format, device=a.device, out=out,
            overwrite=a.overwrite, progress=False, command=run.command),
            notes=(f"the estimate is the first architecture ({archs[0]}); marching cubes, metrics and renders are "
                   f"not counted",) + ((f"{len(archs)} architectures are fitted one after the other",)
                                       if len(archs) > 1 else ()))
    r = run_shape(task, source, archs, cfg, resolution=a.resolution, mesh_format=a.format, device=a.device,
                  out=out, overwrite=a.overwrite, progress=not a.quiet, command=run.command)
    for arch, m in r["archs"].items():
        iou = f"  IoU {m['iou']:.4f}" if "iou" in m else ""
        print(f"{arch:<6} Chamfer-L1 {100 * m['chamfer_l1']:.3f} % of diagonal  normal consistency "
              f"{m['normal_consistency']:.4f}  F-score {m['fscore']:.4f}{iou}  {m['seconds']:.1f} s")
    print(f"-> {out}/report.html")


def run_sdf(a: ShapeArgs, run: Invocation) -> None:
    _run("sdf", a, run)


def run_occupancy(a: ShapeArgs, run: Invocation) -> None:
    _run("occupancy", a, run)


GROUP = Group((
    Command("sdf", "fit a signed distance to oriented points (SIREN sec. 4.2); mesh, renders, Chamfer, F-score",
            ShapeArgs, run_sdf),
    Command("occupancy", "fit inside/outside of a watertight shape (binary cross-entropy); mesh, IoU, Chamfer",
            ShapeArgs, run_occupancy),
), name="shape", help="3-D shapes: signed distance and occupancy fields, meshes out")
