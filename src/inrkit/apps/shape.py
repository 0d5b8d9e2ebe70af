"""3-D shape workflows: signed distance from oriented points, occupancy from a watertight shape.

- ``sdf`` (Sitzmann et al. 2020, sec. 4.2): :class:`inrkit.objectives.shape.SignedDistance` on
  :class:`inrkit.signals.shape.SDFSampler` batches; the mesh is the zero level set.
- ``occupancy`` (Tancik et al. 2020, sec. 6, "3D shape regression"): binary cross-entropy on
  :class:`inrkit.signals.shape.OccupancySampler` batches; the mesh is the logit-0 level set
  (probability 1/2); volumetric IoU on held-out uniform points. Several architectures can be fitted
  with the same steps and seed, the paper's comparison.

Each run writes ``mesh-ARCH.ply`` (or ``.obj``), the checkpoint, ``metrics.json`` and ``report.html``:
renders of the extracted mesh from three views (from the sampled volume, :mod:`inrkit.shapes.render`),
a slice z = 0 of the field with its zero level set, and the metrics table (Chamfer-L1 and F-score at
1 % of the diagonal, normal consistency; :mod:`inrkit.shapes.metrics`).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

from .. import __version__
from ..atomic import write_json
from ..config import ARCH_LABELS, FieldConfig, FourierConfig, build_field, check_arch
from ..device import resolve_device
from ..errors import InrkitError
from ..objectives.shape import Occupancy, SignedDistance
from ..report import html as H
from ..report.rundir import RunDir
from ..shapes.mesh import check_resolution, evaluate_grid, extract_mesh, mesh_bytes
from ..shapes.metrics import compare_meshes, compare_samples
from ..shapes.render import VIEWS, sdf_slice, shade
from ..signals.io import write_png
from ..signals.shape import OccupancySampler, SDFSampler, ShapeSource, volumetric_iou
from ..train import checkpoint, fit
from ..train.progress import Progress
from .edit import LossHistory, _loss_figure

TASKS = ("sdf", "occupancy")
DEFAULT_LR = {"siren": 1e-4, "hash": 1e-2}
"""Adam learning rates: SIREN 1e-4 (Sitzmann 2020), hash grid 1e-2 (Mueller 2022), others 1e-3 below."""


@dataclass(frozen=True)
class ShapeConfig:
    """The field and its training: ``arch`` with a ``width`` x ``depth`` MLP (SIREN's ``w0``, Fourier
    features' ``features`` / ``sigma``), ``steps`` Adam steps at ``lr`` (None: the architecture's
    default) of ``batch`` points (SDF: half on the surface, half in the box), ``minutes`` a cap."""

    arch: str = "siren"
    width: int = 128
    depth: int = 3
    w0: float = 30.0
    features: int = 128
    sigma: float = 3.0
    steps: int = 1000
    lr: float | None = None
    batch: int = 4096
    seed: int = 0
    minutes: float | None = None

    def field_config(self) -> FieldConfig:
        check_arch(self.arch)
        return FieldConfig(arch=self.arch, width=self.width, hidden_layers=self.depth, w0=self.w0,
                           ffn=FourierConfig(features=self.features, sigma=self.sigma))

    def learning_rate(self) -> float:
        return self.lr if self.lr is not None else DEFAULT_LR.get(self.arch, 1e-3)


def fit_shape(task: str, source: ShapeSource, cfg: ShapeConfig = ShapeConfig(), device: str = "auto",
              progress: bool = False):
    """Fit one field: ``(field, FitResult, loss history)``."""
    if task not in TASKS:
        raise InrkitError(f"task must be one of {', '.join(TASKS)}, not {task!r}")
    if cfg.batch < 2:
        raise InrkitError(f"the batch must hold at least 2 points, not {cfg.batch}")
    dev = resolve_device(device)
    gen = torch.Generator().manual_seed(cfg.seed)
    if task == "sdf":
        sampler, objective = SDFSampler(source, cfg.batch // 2, cfg.batch - cfg.batch // 2, dev), SignedDistance()
    else:
        sampler, objective = OccupancySampler(source, cfg.batch, seed=cfg.seed, device=dev), Occupancy()
    field = build_field(cfg.field_config(), 3, 1, samples_per_axis=128, generator=gen).to(dev)
    losses = LossHistory.for_steps(cfg.steps)
    cbs = [losses, Progress(f"{task} {cfg.arch}", progress)]  # always: --log records through it
    res = fit(field, sampler, objective, steps=cfg.steps, lr=cfg.learning_rate(), generator=gen, callbacks=cbs,
              max_seconds=None if cfg.minutes is None else 60.0 * cfg.minutes)
    return field.eval(), res, losses.history


def evaluate_shape(task: str, field, source: ShapeSource, resolution: int = 128, samples: int = 100_000,
                   device: str = "auto", iou_points: int = 100_000) -> tuple[dict, object, np.ndarray]:
    """Extract the mesh and score it: ``(metrics, mesh, volume)``. Metrics against the input mesh (or its
    points for a cloud); volumetric IoU when inside / outside is known (analytic or watertight)."""
    check_resolution(resolution)
    dev = resolve_device(device)
    fn = (lambda x: field(x.to(dev)).cpu())
    vol = evaluate_grid(fn, resolution)
    inside = "below" if task == "sdf" else "above"
    mesh = extract_mesh(None, resolution, 0.0, volume=vol, inside=inside)
    if source.mesh is not None:
        m = compare_meshes(mesh, source.mesh, samples)
    else:
        g = torch.Generator().manual_seed(0)
        p, pn = (t.double().numpy() for t in mesh.sample(samples, g))
        pts = source.points.double().numpy()
        m = compare_samples(p, pn, pts, source.normals.double().numpy(),
                            float(np.linalg.norm(pts.max(0) - pts.min(0))))
    m.update(vertices=int(len(mesh.vertices)), faces=int(len(mesh.faces)), area=mesh.area(), resolution=resolution)
    if source.watertight:
        sign = (lambda x: (fn(x) < 0).float()) if task == "sdf" else (lambda x: (fn(x) > 0).float())
        m["iou"] = volumetric_iou(sign, source, iou_points)
    if task == "sdf":
        g = torch.Generator().manual_seed(3)
        i = torch.randint(0, source.points.shape[0], (4096,), generator=g)
        from ..objectives.shape import value_and_gradient

        x = source.points[i].to(dev)
        f, grad = value_and_gradient(field, x)
        free = (torch.rand(4096, 3, generator=g) * 2 - 1).to(dev)
        _, gfree = value_and_gradient(field, free)
        f, grad, gfree = f.detach(), grad.detach(), gfree.detach()
        m["surface_abs_mean"] = float(f.abs().mean())  # |f| on the input points
        m["surface_eikonal_abs_mean"] = float((grad.norm(dim=-1) - 1).abs().mean())  # ||grad f| - 1| there
        m["eikonal_abs_mean"] = float((gfree.norm(dim=-1) - 1).abs().mean())  # ... at uniform points of the box
        m["normal_cosine_mean"] = float(torch.nn.functional.cosine_similarity(
            grad, source.normals[i].to(dev), dim=-1).mean())
    return m, mesh, vol


def run_shape(task: str, source: ShapeSource, archs: tuple[str, ...] = ("siren",), cfg: ShapeConfig = ShapeConfig(),
              *, resolution: int = 128, mesh_format: str = "ply", device: str = "auto", out: str | Path | None = None,
              overwrite: bool = False, progress: bool = False, command: str = "") -> dict:
    """Fit each architecture with the same steps and seed; extract, score and report."""
    check_resolution(resolution)
    if mesh_format not in ("ply", "obj"):
        raise InrkitError(f"mesh format must be ply or obj, not {mesh_format!r}")
    if task == "occupancy" and not source.watertight:
        source.inside(torch.zeros(1, 3))  # the message: a watertight mesh is needed
    for a in archs:
        check_arch(a)
    results = {"task": task, "shape": source.meta(), "config": asdict(cfg), "archs": {}}
    fitted = {}
    for arch in archs:
        c = replace(cfg, arch=arch)
        t0 = time.perf_counter()
        field, res, hist = fit_shape(task, source, c, device, progress)
        seconds = time.perf_counter() - t0
        m, mesh, vol = evaluate_shape(task, field, source, resolution, device=device)
        results["archs"][arch] = {"seconds": seconds, "steps_done": res.steps, "status": res.status,
                                  "lr": c.learning_rate(), "final_terms": res.final_terms, **m, "history": hist}
        fitted[arch] = (field, mesh, vol, hist)
    if out is not None:
        with RunDir(out, overwrite) as tmp:
            for arch, (field, mesh, vol, _) in fitted.items():
                (tmp / f"mesh-{arch}.{mesh_format}").write_bytes(mesh_bytes(mesh, mesh_format))
                checkpoint.save(tmp / f"model-{arch}", field, {"task": f"shape-{task}", "signal": source.meta(),
                                                               "config": asdict(replace(cfg, arch=arch))})
                for view, axis in VIEWS.items():
                    write_png(tmp / f"render-{arch}-{view.split()[0]}.png",
                              shade(vol, axis, 0.0, "below" if task == "sdf" else "above"))
            results.update(command=command, inrkit_version=__version__)
            write_json(tmp / "metrics.json", results)
            (tmp / "report.html").write_text(_report(task, source, results, fitted, command))
    return results


def _report(task: str, source: ShapeSource, results: dict, fitted: dict, command: str) -> str:
    rows = []
    for arch, r in results["archs"].items():
        surface = f"{100 * r['chamfer_l1_surface']:.3f} %" if "chamfer_l1_surface" in r else "n/a"
        rows.append([ARCH_LABELS.get(arch, arch), f"{100 * r['chamfer_l1']:.3f} %", surface,
                     f"{r['normal_consistency']:.4f}",
                     f"{r['fscore']:.4f}", f"{r['iou']:.4f}" if "iou" in r else "n/a", r["steps_done"],
                     f"{r['seconds']:.1f}", r["status"]])
    table = H.table(["architecture", "Chamfer-L1 (of diagonal)", "Chamfer-L1 to the surface", "normal consistency", "F-score @1%", "IoU",
                     "steps", "seconds", "status"], rows)
    parts = []
    for arch, (field, mesh, vol, _) in fitted.items():
        r = vol.shape[0]
        renders = "".join(H.figure(shade(vol, axis, 0.0, "below" if task == "sdf" else "above"), f"{arch}: {view}")
                          for view, axis in VIEWS.items())
        sl = vol[:, :, r // 2].T  # z = 0 (rows: y, columns: x)
        cap = ("slice z = 0 of the SDF: blue inside, red outside, black the zero level set" if task == "sdf" else
               "slice z = 0 of the occupancy logit: blue inside, red outside, black the level p = 1/2")
        parts.append(f"<h3>{ARCH_LABELS.get(arch, arch)}</h3><div class='views'>{renders}"
                     f"{H.figure(sdf_slice(sl), cap)}</div>")
    curves = _loss_figure({ARCH_LABELS.get(a, a): f[3] for a, f in fitted.items()}, task)[1]
    what = ("Sitzmann et al. 2020 sec. 4.2: |f| = 0 and grad f = n on the points, |grad f| = 1 everywhere, "
            "exp(-100 |f|) off the surface; weights 3e3, 1e2, 5e1, 1e2 (the authors' released script)"
            if task == "sdf" else "binary cross-entropy of the logit against inside / outside labels, half the "
            "points uniform in the box and half near the surface (Tancik et al. 2020 sec. 6)")
    settings = H.table(["setting", "value"], [[k, v] for k, v in results["config"].items() if k != "arch"])
    return H.page(f"inrkit shape {task}: {source.name}", f"{source.info.get('source', source.name)}; {what}",
                  [("Results", table + "<p class='note'>Chamfer-L1 and F-score at 1 % of the reference bounding-box "
                    "diagonal, on 100,000 area-weighted samples of each surface; IoU on 100,000 held-out uniform "
                    "points of the box. Chamfer-L1 to the surface measures each sample's exact distance to the other "
                    "mesh (not to its nearest sample; n/a when the input is a point cloud).</p>"), ("Meshes", "".join(parts)), ("Training", curves),
                   ("Configuration", settings), ("Command", H.command(command))])


__all__ = ["ShapeConfig", "fit_shape", "evaluate_shape", "run_shape", "TASKS"]
