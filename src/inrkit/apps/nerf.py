"""NeRF workflows: train from posed images, evaluate on held-out views, render orbits, export meshes."""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field as dc_field, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .. import __version__, metrics
from ..atomic import write_bytes_atomic, write_json
from ..batch import Batch
from ..device import resolve_device
from ..errors import DivergedError, InrkitError, RunInterrupted
from ..objectives.rendering import VolumeRendering
from ..pixels import to_uint8
from ..rendering.nerf import NeRFModel, render_image
from ..rendering.rays import camera_rays, orbit_poses
from ..report import html as H, plots
from ..report.rundir import RunDir
from ..signals.io import write_png
from ..signals.multiview import PosedImages, composite_on, load_posed_images
from ..train import resume as resume_lib
from ..train import checkpoint, schedules
from ..train.fit import Callback, FitState, fit
from ..train.progress import Counter as _Counter, Progress


@dataclass(frozen=True)
class NeRFRecipe:
    """Everything that defines a NeRF training run; presets below differ by a few fields."""

    recipe: str = "fast"
    samples: int = 256
    importance: int = 0
    field_args: dict = dc_field(default_factory=dict)
    occupancy_resolution: int = 64
    occupancy_every: int = 16
    batch_rays: int = 2048
    lr: float = 1e-2
    lr_final: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.99)
    eps: float = 1e-15


# Mueller et al. 2022 sec. 5.4, sized for a CPU: 8 levels x 4 features (the paper's 16 x 2 has the same
# width but twice the index work per sample), 2^17 entries per level, 16 to 512 cells.
FAST = NeRFRecipe(field_args={"levels": 8, "features": 4, "log2_table_size": 17, "min_resolution": 16,
                              "max_resolution": 512, "width": 64, "colour_layers": 2})
# Mildenhall et al. 2020 sec. 5.3 and appendix A: 8 x 256, 64 coarse + 128 fine samples, 4096 rays, Adam
# 5e-4 decaying to 5e-5, default betas and eps 1e-7.
VANILLA = NeRFRecipe(recipe="vanilla", samples=64, importance=128, field_args={"width": 256, "depth": 8},
                     occupancy_resolution=0, batch_rays=4096, lr=5e-4, lr_final=5e-5, betas=(0.9, 0.999), eps=1e-7)
PRESETS = {"fast": FAST, "vanilla": VANILLA,
           # the same recipes small enough for tests and a laptop demo
           "fast-tiny": replace(FAST, samples=128, batch_rays=1024, occupancy_resolution=32,
                                field_args={**FAST.field_args, "levels": 8, "log2_table_size": 15,
                                            "max_resolution": 128}),
           "vanilla-small": replace(VANILLA, samples=32, importance=64, batch_rays=1024,
                                    field_args={"width": 128, "depth": 8})}

BUILTIN = "builtin"


def cache_dir() -> Path:
    return Path(os.environ.get("INRKIT_CACHE", Path.home() / ".cache" / "inrkit"))


def resolve_dataset(name: str | Path, notify: Callable[[str], None] | None = None) -> Path:
    """``builtin`` -> the built-in scene (rendered once into the cache), else the folder itself.

    ``notify(message)`` is told before the scene is rendered (it takes about a minute)."""
    if str(name) != BUILTIN:
        return Path(name)
    from ..signals.scene import write_scene

    path = cache_dir() / "scenes" / "builtin-v1-100px"
    if not (path / "transforms_test.json").is_file():
        if notify is not None:
            notify(f"rendering the built-in scene into {path} (once, about a minute)")
        write_scene(path, overwrite=True)
    return path


def build_model(recipe: NeRFRecipe, aabb: np.ndarray, seed: int = 0) -> NeRFModel:
    g = torch.Generator().manual_seed(seed)
    return NeRFModel(recipe.recipe, torch.as_tensor(aabb), recipe.samples, recipe.importance,
                     field_args=recipe.field_args, occupancy_resolution=recipe.occupancy_resolution, generator=g)


def _background(name: str) -> torch.Tensor:
    named = {"white": (1.0, 1.0, 1.0), "black": (0.0, 0.0, 0.0)}
    if name in named:
        return torch.tensor(named[name])
    raise InrkitError(f"background must be white or black, not {name!r}")


def _views(data: PosedImages, idx: list[int]) -> list[tuple[torch.Tensor, torch.Tensor, np.ndarray]]:
    out = []
    for k in idx:
        fx, fy, cx, cy = data.intrinsics[k]
        o, d = camera_rays(data.height, data.width, float(fx), float(fy), float(cx), float(cy),
                           torch.as_tensor(data.poses[k]))
        out.append((o, d, data.images[k]))
    return out


def evaluate_views(model: NeRFModel, data: PosedImages, background: torch.Tensor, idx: list[int] | None = None,
                   chunk: int = 4096, on_view: Callable[[int, int], None] | None = None) -> dict:
    """PSNR and SSIM of rendered views against the frames composited on ``background``.

    ``on_view(done, total)`` is called after each view (for a progress display)."""
    dev = model.aabb.device
    idx = list(range(len(data.images))) if idx is None else idx
    rows = []
    for o, d, img in _views(data, idx):
        r = render_image(model, o.to(dev), d.to(dev), background.to(dev), chunk)
        pred = r["rgb"].clamp(0, 1).cpu().numpy()
        gt = composite_on(img, background.numpy())
        rows.append({"psnr": metrics.psnr(pred, gt, 1.0), "ssim": metrics.ssim(pred, gt, 1.0), "pred": pred, "gt": gt,
                     "depth": r["depth"].cpu().numpy(), "opacity": r["opacity"].cpu().numpy()})
        if on_view is not None:
            on_view(len(rows), len(idx))
    return {"psnr": float(np.mean([r["psnr"] for r in rows])), "ssim": float(np.mean([r["ssim"] for r in rows])),
            "views": rows}


class RaySampler:
    """Each call draws ``batch_rays`` random pixels of all training views as a :class:`Batch` of rays.

    ``origins, directions (P, 3)`` and ``pixels (P, 4)`` (RGBA in [0, 1]) are every training
    pixel, flattened. The batch holds ``targets (N, 3)``, the pixel colours, and the extras
    ``"origins"``, ``"directions"`` and ``"background"`` (N, 3). When any frame has
    transparency each ray gets a random background colour and its target is the pixel
    composited on it (the model must then learn the true opacity, not paint the background
    into space); otherwise the background is ``background`` for every ray.

    Draws from the generator, in this order: the ray indices, then (frames with alpha only)
    the background colours. Indices and colours are drawn on the CPU and moved, so a seed
    gives the same rays on every device.
    """

    def __init__(self, origins: torch.Tensor, directions: torch.Tensor, pixels: torch.Tensor, batch_rays: int,
                 background: torch.Tensor):
        self.origins, self.directions, self.pixels = origins, directions, pixels
        self.batch_rays = int(batch_rays)
        self.background = background.to(pixels.device)
        self.has_alpha = bool((pixels[:, 3] < 1).any())

    def __call__(self, generator: torch.Generator | None) -> Batch:
        dev = self.pixels.device
        idx = torch.randint(0, len(self.pixels), (self.batch_rays,), generator=generator).to(dev)
        target = self.pixels[idx]  # (N, 4)
        if self.has_alpha:
            bgr = torch.rand(len(idx), 3, generator=generator).to(dev)  # (N, 3)
            rgb = target[:, :3] * target[:, 3:] + (1 - target[:, 3:]) * bgr
        else:
            bgr = self.background.expand(len(idx), 3)
            rgb = target[:, :3]
        return Batch(targets=rgb, extras={"origins": self.origins[idx], "directions": self.directions[idx],
                                          "background": bgr})


class OccupancyUpdate(Callback):
    """Refresh the model's occupancy grid before every ``every``-th step (step 0 included).

    Draws the grid's random points from the run's generator, before the step samples its
    rays. The update is training work, so its time counts in ``state.train_seconds`` (and
    in a time budget). Publishes the occupied fraction as ``state.log["occupied"]``.
    """

    def __init__(self, every: int):
        self.every = int(every)

    def on_start(self, state: FitState) -> None:
        if state.model.occupancy is not None:
            state.log["occupied"] = 1.0

    def before_step(self, state: FitState) -> None:
        grid = state.model.occupancy
        if grid is None or state.step % self.every:
            return
        t0 = time.perf_counter()
        state.model.train()
        state.log["occupied"] = grid.update(state.model.coarse.density, state.generator)
        state.train_seconds += time.perf_counter() - t0


class ValidationViews(Callback):
    """Render the validation views every ``every_seconds`` of training and after the last step.

    Appends ``{step, seconds, loss, val_psnr, val_ssim, occupied, samples_per_ray}`` to
    ``history`` and publishes ``state.log["val_psnr"]``; ``last`` holds the latest renders
    (each view's ``pred``, ``gt``, ``depth``, ``opacity``, ``psnr``, ``ssim``) for the report.
    Rendering is not training: it runs with the clock stopped and leaves the model in training mode.
    """

    def __init__(self, data: PosedImages, background: torch.Tensor, every_seconds: float):
        self.data, self.background, self.every = data, background, float(every_seconds)
        self.history: list[dict] = []
        self.last: list[dict] = []
        self._next = self.every

    def after_step(self, state: FitState) -> None:
        if not (state.train_seconds >= self._next or state.last_step):
            return
        model = state.model
        model.eval()
        ev = evaluate_views(model, self.data, self.background)
        model.train()
        self.last = [dict(v, file=f) for v, f in zip(ev["views"], self.data.files)]
        terms = state.loss_terms
        self.history.append({"step": state.step, "seconds": state.train_seconds, "loss": terms["loss"],
                             "val_psnr": ev["psnr"], "val_ssim": ev["ssim"], "occupied": state.log.get("occupied", 1.0),
                             "samples_per_ray": terms["samples_per_ray"]})
        state.log["val_psnr"] = ev["psnr"]
        self._next = state.train_seconds + self.every

    def state_dict(self) -> dict:
        return {"history": [dict(h) for h in self.history], "next": self._next}

    def load_state_dict(self, d: dict) -> None:
        self.history, self._next = [dict(h) for h in d["history"]], float(d["next"])


def train_nerf(dataset: str | Path, preset: str | NeRFRecipe = "fast", steps: int = 20000, minutes: float | None = 10.0,
               eval_every: float = 30.0, eval_views: int = 3, background: str = "white", downscale: int = 1,
               seed: int = 0, device: str = "auto", progress: bool = False, limit_train: int | None = None,
               batch_rays: int | None = None, state_dir: str | Path | None = None, snapshot_minutes: float = 5.0,
               resume: bool = False) -> dict:
    """Train until ``steps`` or ``minutes`` of training (evaluation excluded), whichever comes first.

    One :func:`~inrkit.train.fit` run: a :class:`RaySampler` over all training pixels, the
    :class:`~inrkit.objectives.VolumeRendering` objective, Adam with an exponential decay
    from ``recipe.lr`` to ``recipe.lr_final`` over ``steps``, and the callbacks
    :class:`OccupancyUpdate` (fast recipe), :class:`ValidationViews` and the progress line.
    Frames with transparency are composited on a random colour per ray during training and
    on ``background`` for evaluation. Every ``eval_every`` training seconds (and at the end)
    the PSNR of the first ``eval_views`` validation views is recorded. One generator seeded
    with ``seed`` drives, each step: the occupancy update (when due), the ray indices, the
    random backgrounds, then the stratified perturbation.

    With ``state_dir`` the whole training state is saved there every ``snapshot_minutes``
    (:mod:`inrkit.train.resume`); ``resume=True`` continues from it (same dataset and settings).
    A resumed run that ends on its step budget has the same weights as an uninterrupted one on
    the CPU (a time budget ends where the clock says, so it may stop at another step).
    """
    if isinstance(preset, str) and preset not in PRESETS:
        raise InrkitError(f"unknown NeRF preset {preset!r}; choose from {', '.join(PRESETS)}")
    recipe = PRESETS[preset] if isinstance(preset, str) else preset
    if batch_rays is not None:
        recipe = replace(recipe, batch_rays=batch_rays)
    if steps < 1 or recipe.batch_rays < 1 or eval_views < 1 or (minutes is not None and minutes <= 0):
        raise InrkitError("steps, batch_rays, eval_views and minutes must be positive")
    bg = _background(background)
    dev = resolve_device(device)
    bar = Progress(f"nerf {recipe.recipe}", enabled=progress)
    folder = resolve_dataset(dataset, (lambda msg: bar.stream.write(msg + "\n")) if progress else None)
    train = load_posed_images(folder, "train", downscale, limit_train)
    try:
        val = load_posed_images(folder, "val", downscale, eval_views)
    except InrkitError:
        val = load_posed_images(folder, "test", downscale, eval_views)
    if (val.height, val.width) != (train.height, train.width):
        raise InrkitError("validation frames differ in size from the training frames")
    O, D, T = train.rays()
    sampler = RaySampler(O.reshape(-1, 3).to(dev), D.reshape(-1, 3).to(dev), T.reshape(-1, 4).to(dev),
                         recipe.batch_rays, bg)
    model = build_model(recipe, train.aabb, seed).to(dev)
    hull = 1.0
    if sampler.has_alpha and model.occupancy is not None:
        hull = model.occupancy.carve(torch.as_tensor(train.images[..., 3]).to(dev), torch.as_tensor(train.poses).to(dev),
                                     torch.as_tensor(train.intrinsics).to(dev))
    opt = torch.optim.Adam(list(model.parameters()), lr=recipe.lr, betas=recipe.betas, eps=recipe.eps)
    g = torch.Generator().manual_seed(seed)
    validation = ValidationViews(val, bg, eval_every)
    callbacks: list = [OccupancyUpdate(recipe.occupancy_every), validation, bar]
    snap = None
    if state_dir is not None:
        run_id = json.loads(json.dumps({"task": "nerf", "dataset": str(folder), "recipe": asdict(recipe), "steps": steps,
                                        "seed": seed, "downscale": downscale, "background": background,
                                        "eval_views": eval_views, "limit_train": limit_train}, default=str))
        if resume:
            snap, meta = resume_lib.load(state_dir)
            if meta != run_id:
                raise InrkitError(f"the training state in {state_dir} belongs to another run (dataset or settings "
                                  f"differ); start afresh without resuming")
        callbacks.append(resume_lib.Snapshots(state_dir, 60.0 * snapshot_minutes, run_id))
    res = fit(model, sampler, VolumeRendering(generator=g), steps=steps,
              max_seconds=None if minutes is None else 60.0 * minutes, optimizer=opt,
              scheduler=schedules.exponential(opt, steps, recipe.lr_final / recipe.lr), callbacks=callbacks,
              generator=g, resume=snap)
    model.eval()
    radius = float(np.linalg.norm(train.poses[:, :3, 3] - train.aabb.mean(0), axis=-1).mean())
    fwd = -train.poses[:, :3, 2]
    elevation = float(np.degrees(np.arcsin(np.clip(-fwd[:, 2], -1, 1))).mean())
    return {"model": model, "recipe": recipe, "history": validation.history, "seconds": res.seconds,
            "steps": res.steps, "dataset": str(folder), "background": background, "downscale": downscale,
            "image_size": [train.height, train.width], "intrinsics": train.intrinsics[0].tolist(),
            "orbit": {"radius": radius, "elevation_deg": elevation, "center": train.aabb.mean(0).tolist()},
            "train_views": len(train.images), "device": str(dev), "visual_hull": hull, "status": res.status,
            "message": res.message, "state_dir": None if state_dir is None else str(state_dir),
            "views": validation.last, "recipe_name": preset if isinstance(preset, str) else recipe.recipe,
            "eval_every": eval_every}


def _depth_scale(depth: np.ndarray, opacity: np.ndarray, lo: float | None = None,
                 hi: float | None = None) -> plots.Scale:
    """The turbo scale of a depth map over its opaque pixels (opacity > 0.5), in scene units."""
    m = opacity > 0.5
    lo = float(depth[m].min()) if lo is None and m.any() else (lo or 0.0)
    hi = float(depth[m].max()) if hi is None and m.any() else (hi or 1.0)
    return plots.Scale("turbo", lo, max(hi, lo + 1e-6), "depth (scene units; white: empty space)")


def _depth_u8(depth: np.ndarray, opacity: np.ndarray, lo: float | None = None, hi: float | None = None) -> np.ndarray:
    v = _depth_scale(depth, opacity, lo, hi).apply(depth)
    return np.where((opacity > 0.5)[..., None], v, 255).astype(np.uint8)


def _view_figures(v: dict, name: str) -> str:
    """Truth, render and depth of one view, side by side, the depth with its colour bar."""
    depth = _depth_u8(v["depth"], v["opacity"])
    return ("<div class='views'>" + H.figure(to_uint8(v["gt"]), f"{name}: truth")
            + H.figure(to_uint8(v["pred"]), f"render, {v['psnr']:.2f} dB, SSIM {v['ssim']:.3f}")
            + H.figure(depth, "expected depth", scale=_depth_scale(v["depth"], v["opacity"])) + "</div>")


def write_nerf_run(r: dict, out: str | Path, command: str = "", overwrite: bool = False) -> Path:
    model = r["model"]
    meta = {"task": "nerf", "recipe": asdict(r["recipe"]), "dataset": r["dataset"], "background": r["background"],
            "downscale": r["downscale"], "image_size": r["image_size"], "intrinsics": r["intrinsics"],
            "orbit": r["orbit"], "training": {"steps": r["steps"], "seconds": r["seconds"], "history": r["history"],
                                              "device": r["device"], "train_views": r["train_views"],
                                              "status": r.get("status", "ok")}}
    with RunDir(out, overwrite) as tmp:
        checkpoint.save(tmp / "model", model, meta)
        hist = r["history"]
        curve = plots.training_curves({model.recipe: [{"step": h["step"], "seconds": h["seconds"],
                                                       "psnr": h["val_psnr"], "ssim": h["val_ssim"],
                                                       "loss": h["loss"]} for h in hist]},
                                      x="seconds", titles={"psnr": "held-out PSNR", "ssim": "held-out SSIM"})
        write_bytes_atomic(tmp / "training.png", curve)
        write_json(tmp / "metrics.json", {"command": command, "inrkit_version": __version__,
                                          **{k: v for k, v in meta.items()}})
        last = hist[-1] if hist else {}
        cards = H.cards([("validation PSNR", f"{last.get('val_psnr', float('nan')):.2f} dB"),
                         (f"training, {r['steps']} steps", f"{r['seconds']:.0f} s"),
                         ("network samples per ray", f"{last.get('samples_per_ray', 0):.1f}")]
                        + ([("status", r["status"].upper())] if r.get("status", "ok") != "ok" else []))
        views = r.get("views") or []
        for k, v in enumerate(views):
            side = np.concatenate([to_uint8(v["gt"]), to_uint8(v["pred"]), _depth_u8(v["depth"], v["opacity"])], 1)
            write_png(tmp / f"val_{k:03d}.png", side)
        view_html = ("<p class='note'>Validation views the network never trained on, rendered at the end of "
                     "training: the frame, the render and its expected depth.</p>"
                     + "".join(_view_figures(v, Path(v.get("file", f"view {k}")).name) for k, v in enumerate(views))
                     if views else "<p class='note'>No validation views were rendered.</p>")
        rows = [[h["step"], f"{h['seconds']:.1f}", f"{h['val_psnr']:.2f}", f"{h['val_ssim']:.3f}",
                 f"{h['occupied']:.3f}", f"{h['samples_per_ray']:.1f}"] for h in hist]
        tbl = H.table(["step", "train s", "val PSNR", "val SSIM", "occupied", "samples/ray"], rows)
        rec = r["recipe"]
        settings = {"recipe": r.get("recipe_name", rec.recipe), "dataset": r["dataset"],
                    "training views": r["train_views"], "image size": f"{r['image_size'][1]} x {r['image_size'][0]}"
                    + (f" (downscaled {r['downscale']}x)" if r["downscale"] != 1 else ""),
                    "background": r["background"], "rays per step": f"{rec.batch_rays:,}",
                    "samples per ray": f"{rec.samples}" + (f" + {rec.importance} fine" if rec.importance else ""),
                    "field": ", ".join(f"{k} {v}" for k, v in rec.field_args.items()),
                    **({"occupancy grid": f"{rec.occupancy_resolution}^3, refreshed every {rec.occupancy_every} steps"}
                       if rec.occupancy_resolution else {}),
                    "learning rate": f"{rec.lr:g} decaying to {rec.lr_final:g}", "steps done": r["steps"],
                    "training time": f"{r['seconds']:.0f} s", "device": r["device"]}
        write_bytes_atomic(tmp / "report.html", H.page(f"inrkit nerf: {model.recipe}", r["dataset"], [
            ("Result", cards), ("Held-out views", view_html),
            ("Training", H.figure(curve, "held-out PSNR and SSIM against training time (seconds, evaluation "
                                         "excluded), on the validation views") + tbl),
            ("Configuration", H.table(["setting", "value"], [[k, v] for k, v in settings.items()])),
            ("Command", H.command(command))]).encode())
    if r.get("state_dir") and r.get("status") != "interrupted":
        shutil.rmtree(r["state_dir"], ignore_errors=True)  # the run is safely written: nothing to resume
    if r.get("status") == "diverged":
        raise DivergedError(f"{r['message']}; {out} holds the last finite weights, marked diverged")
    if r.get("status") == "interrupted":
        raise RunInterrupted(f"{r['message']}; {out} holds what was learnt so far, marked interrupted",
                             resumable=bool(r.get("state_dir")))
    return Path(out)


def load_nerf(path: str | Path, device="cpu") -> tuple[NeRFModel, dict]:
    model, meta = checkpoint.load(path, device)
    if meta.get("task") != "nerf" or not isinstance(model, NeRFModel):
        raise InrkitError(f"{path} is not a NeRF checkpoint")
    return model, meta


def eval_nerf(ckpt: str | Path, dataset: str | Path, out: str | Path, split: str = "test", limit: int | None = None,
              device: str = "auto", command: str = "", overwrite: bool = False, show: int = 4,
              progress: bool = False) -> dict:
    """PSNR and SSIM on every view of ``split``; images side by side (truth, render, depth) in a report.

    ``progress=True`` shows the progress line (views rendered) on stderr."""
    dev = resolve_device(device)
    model, meta = load_nerf(ckpt, dev)
    folder = resolve_dataset(dataset)
    data = load_posed_images(folder, split, int(meta.get("downscale", 1)), limit)
    bg = _background(meta.get("background", "white"))
    t0 = time.perf_counter()
    counter = _Counter("nerf eval", len(data.images), progress)
    ev = evaluate_views(model, data, bg, on_view=counter)
    counter.close()
    seconds = time.perf_counter() - t0
    per_view = [{"file": f, "psnr": v["psnr"], "ssim": v["ssim"]} for f, v in zip(data.files, ev["views"])]
    res = {"command": command, "checkpoint": str(ckpt), "dataset": str(folder), "split": split,
           "views": len(per_view), "psnr": ev["psnr"], "ssim": ev["ssim"], "render_seconds": seconds,
           "per_view": per_view}
    with RunDir(out, overwrite) as tmp:
        write_json(tmp / "metrics.json", res)
        figs = []
        for k, v in enumerate(ev["views"][:show]):
            side = np.concatenate([to_uint8(v["gt"]), to_uint8(v["pred"]), _depth_u8(v["depth"], v["opacity"])], 1)
            write_png(tmp / f"view_{k:03d}.png", side)
            figs.append(_view_figures(v, Path(data.files[k]).name))
        rows = [[p["file"], f"{p['psnr']:.2f}", f"{p['ssim']:.4f}"] for p in per_view]
        write_bytes_atomic(tmp / "report.html", H.page("inrkit nerf eval", f"{split} split of {folder}", [
            ("Mean", H.cards([("PSNR", f"{ev['psnr']:.2f} dB"), ("SSIM", f"{ev['ssim']:.4f}"),
                              ("views", str(len(per_view)))])),
            ("Views", "<p class='note'>Each view: the frame, the render and its expected depth.</p>" + "".join(figs)),
            ("Per view", H.table(["view", "PSNR", "SSIM"], rows)), ("Command", H.command(command))]).encode())
    return res


def render_orbit(ckpt: str | Path, out: str | Path, frames: int = 60, size: int | None = None,
                 elevation: float | None = None, radius: float | None = None, fmt: str = "gif",
                 device: str = "auto", overwrite: bool = False, progress: bool = False) -> dict:
    """An orbit around the scene: colour and depth animations (GIF, or MP4 when PyAV is installed).

    ``progress=True`` shows the progress line (frames rendered) on stderr."""
    if frames < 1:
        raise InrkitError("frames must be at least 1")
    if fmt not in ("gif", "mp4"):
        raise InrkitError(f"format must be gif or mp4, not {fmt!r}")
    dev = resolve_device(device)
    model, meta = load_nerf(ckpt, dev)
    h, w = meta["image_size"]
    fx, fy, cx, cy = meta["intrinsics"]
    if size is not None:
        if size < 1 or size > 4096:
            raise InrkitError("size must be between 1 and 4096")
        s = size / w
        h, w, fx, fy, cx, cy = round(h * s), size, fx * s, fy * s, cx * s, cy * s
    orb = meta["orbit"]
    poses = orbit_poses(frames, radius or orb["radius"], orb["elevation_deg"] if elevation is None else elevation,
                        tuple(orb["center"]))
    bg = _background(meta.get("background", "white"))
    rgbs, depths, opac = [], [], []
    counter = _Counter("nerf orbit", len(poses), progress)
    for c2w in poses:
        o, d = camera_rays(h, w, fx, fy, cx, cy, c2w)
        r = render_image(model, o.to(dev), d.to(dev), bg.to(dev))
        rgbs.append(to_uint8(r["rgb"].cpu().numpy()))
        depths.append(r["depth"].cpu().numpy())
        opac.append(r["opacity"].cpu().numpy())
        counter(len(rgbs))
    counter.close()
    m = np.concatenate([o_ > 0.5 for o_ in opac])
    alld = np.concatenate(depths)
    lo, hi = (float(alld[m].min()), float(alld[m].max())) if m.any() else (0.0, 1.0)
    dimgs = [_depth_u8(d_, o_, lo, hi) for d_, o_ in zip(depths, opac)]
    out = Path(out)
    with RunDir(out, overwrite) as tmp:
        for name, seq in (("orbit", rgbs), ("orbit_depth", dimgs)):
            _write_animation(tmp / f"{name}.{fmt}", seq, fmt)
        write_png(tmp / "frame_000.png", np.concatenate([rgbs[0], dimgs[0]], 1))
        write_json(tmp / "orbit.json", {"checkpoint": str(ckpt), "frames": frames, "size": [w, h],
                                        "depth_range": [lo, hi], "format": fmt})
    return {"frames": frames, "size": [w, h], "out": str(out)}


def _write_animation(path: Path, frames: list[np.ndarray], fmt: str, fps: int = 20) -> None:
    import io

    if fmt == "gif":
        from PIL import Image

        buf = io.BytesIO()
        ims = [Image.fromarray(f) for f in frames]
        ims[0].save(buf, format="GIF", save_all=True, append_images=ims[1:], duration=int(1000 / fps), loop=0)
        write_bytes_atomic(path, buf.getvalue())
        return
    try:
        import imageio.v3 as iio

        iio.imwrite(path, np.stack(frames), plugin="pyav", codec="libx264", fps=fps)
    except (ImportError, ModuleNotFoundError, OSError, ValueError, RuntimeError) as exc:
        raise InrkitError(f"MP4 needs PyAV (pip install av): {str(exc).splitlines()[0]}; use the GIF format") from None


@torch.no_grad()
def export_mesh(ckpt: str | Path, out: str | Path, resolution: int = 128, level: float = 25.0,
                device: str = "auto") -> dict:
    """Marching cubes on the density over the scene box (:func:`inrkit.shapes.extract_mesh`: the
    shared extractor, evaluated slab by slab so memory stays bounded at any resolution); vertex
    colours from the field seen along each vertex's inward normal. PLY (binary) or OBJ by ``out``'s
    suffix, written atomically.

    ``level`` is the density iso-value: at the default 25 (per scene unit) a slab 0.03 units
    thick absorbs half the light.
    """
    from ..shapes import extract_mesh, write_mesh

    out = Path(out)
    if out.suffix.lower() not in (".ply", ".obj"):
        raise InrkitError(f"{out.name}: a mesh is written as .ply or .obj")
    dev = resolve_device(device)
    model, _ = load_nerf(ckpt, dev)
    field = model.fine or model.coarse
    lo, hi = model.aabb[0].cpu(), model.aabb[1].cpu()
    bounds = tuple((float(lo[i]), float(hi[i])) for i in range(3))
    mesh = extract_mesh(lambda p: field.density(p)[:, None], resolution, level, bounds=bounds, inside="above",
                        device=dev)
    v = torch.as_tensor(mesh.vertices, dtype=torch.float32, device=dev)
    n = -torch.as_tensor(mesh.vertex_normals(), dtype=torch.float32, device=dev)  # inward: into the solid
    cols = []
    for i in range(0, len(v), 65536):
        _, c = field(v[i:i + 65536] - 0.01 * n[i:i + 65536], n[i:i + 65536])  # just outside, looking in
        cols.append(c)
    mesh.colours = to_uint8(torch.cat(cols).cpu().numpy())  # (V, 3)
    write_mesh(out, mesh)
    return {"vertices": len(mesh.vertices), "faces": len(mesh.faces), "out": str(out)}
