"""Functa workflows: meta-train, encode a dataset into a functaset, classify modulations.

Dupont, Kim et al. 2022, "From data to functa". Each image becomes a latent vector (and
its modulations) of one shared, meta-learned, latent-modulated SIREN.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import time
from glob import escape as glob_escape
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

from .. import __version__, coords as C
from .. import distributed as D
from ..atomic import write_bytes_atomic, write_json
from ..device import resolve_device
from ..errors import DivergedError, InrkitError, RunInterrupted
from ..fields.modulated import LatentModulatedField
from ..meta import functa as M
from ..meta.classifier import mlp_accuracy
from ..objectives.meta import MetaReconstruction
from ..pixels import to_uint8, values_to_uint8
from ..report import html as H, plots
from ..report.rundir import RunDir
from ..signals.collections import ImageCollection, load_collection
from ..signals.paths import confined, exists_in
from ..train import checkpoint, resume as resume_lib
from ..train.fit import FitState, fit
from ..train.progress import Progress


def _targets(images: np.ndarray, device) -> torch.Tensor:
    """``(M, H, W, C)`` in [0, 1] -> ``(M, H*W, C)`` in [-1, 1]."""
    m, h, w, c = images.shape
    return torch.as_tensor(images * 2 - 1, dtype=torch.float32, device=device).reshape(m, h * w, c)


def balanced_subset(labels: np.ndarray, items: int, seed: int = 0) -> np.ndarray:
    """Indices of a class-balanced evaluation subset of ``items`` rows of ``labels (M,)``.

    Every class gets ``items // K`` rows (K classes; the remainder goes one each to classes chosen
    at random), drawn at random within the class; a class with fewer rows gives them all and the
    shortfall is drawn from the rest. ``items >= M`` takes the whole split. Unknown labels (-1)
    count as one class. The order is round-robin over the classes (ascending label), so any prefix
    of the subset (the report's examples) shows several classes. A test split sorted by class makes
    its first ``items`` rows a few classes only, which is why a prefix is never used.
    """
    labels = np.asarray(labels)
    m = len(labels)
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    pools = [rng.permutation(np.nonzero(labels == c)[0]) for c in classes]
    take = min(items, m)
    quota = np.full(len(classes), take // len(classes))
    quota[rng.permutation(len(classes))[: take % len(classes)]] += 1
    quota = np.minimum(quota, [len(p) for p in pools])
    chosen = [list(p[:q]) for p, q in zip(pools, quota)]
    short = take - int(quota.sum())
    if short > 0:  # small classes: fill from the rows not yet chosen, still at random
        rest = rng.permutation(np.concatenate([p[q:] for p, q in zip(pools, quota)]))[:short]
        for i in rest:
            chosen[int(np.searchsorted(classes, labels[i]))].append(int(i))
    order = [int(c[k]) for k in range(max(map(len, chosen), default=0)) for c in chosen if k < len(c)]
    return np.asarray(order, dtype=np.int64)


def _per_class_text(per_class: dict[str, int]) -> str:
    counts = set(per_class.values())
    if len(counts) == 1:
        return f"{counts.pop()} from each of {len(per_class)} classes"
    return ", ".join(f"{n} of class {k}" for k, n in per_class.items())


def train_functa(dataset: str | ImageCollection, latent_dim: int = 64, steps: int = 1000, batch_size: int = 32,
                 width: int = 128, hidden_layers: int = 3, w0: float = 30.0, inner_steps: int = 3, lr: float = 3e-4,
                 first_order: bool = False, seed: int = 0, device: str = "auto", eval_items: int = 500,
                 progress: bool = False, minutes: float | None = None, state_dir: str | Path | None = None,
                 snapshot_minutes: float = 5.0, resume: bool = False, nproc: int = 1) -> dict:
    """Meta-learn one latent-modulated SIREN on the training split; evaluate on the test split.

    Data parallel: called in every process of a ``torch.distributed`` group of ``nproc`` processes
    (``torchrun``, or ``inrkit functa train --nproc``), each rank takes its contiguous share of
    every global batch of ``batch_size`` (which ``nproc`` must divide) and the gradients of the
    shared weights and Meta-SGD rates are averaged before every Adam step
    (:class:`inrkit.distributed.AllReduceGrads`), so the weights equal one process's on the same
    global batches, to float rounding; every rank holds them; rank 0 alone writes snapshots,
    evaluates and returns the full record (the others return the field and the training status).

    With ``state_dir`` the whole training state is saved there every ``snapshot_minutes``
    (:mod:`inrkit.train.resume`); ``resume=True`` continues from it (same dataset and settings).
    On the CPU a resumed run that ends on its step budget has the same weights, byte for byte, as
    one never interrupted. :func:`train_functa_sizes` does this for several latent sizes.

    Training stops after ``steps`` outer steps or, with ``minutes``, once that much training
    time has passed (the steps done are recorded as ``steps_done``).

    Returns the field, the training record, and held-out PSNR after 1, 3 and 10 inner
    steps, beside the PSNR of PCA with ``latent_dim`` components (fitted on the training
    split) on the same test images.
    """
    coll = dataset if isinstance(dataset, ImageCollection) else load_collection(dataset)
    rank, world = D.rank_world() if D.is_distributed() else (0, 1)
    if nproc != world:
        raise InrkitError(f"{nproc} processes were asked for, the process group has {world}: launch with "
                          f"torchrun --nproc-per-node {nproc} (or inrkit functa train --nproc {nproc})")
    dev = D.local_device(resolve_device(device))
    h, w, c = coll.shape
    tr, _ = coll.split("train")
    te, te_labels = coll.split("test")
    if len(tr) == 0 or len(te) == 0:
        raise InrkitError(f"dataset {coll.name} needs images in both the training and the test split")
    if latent_dim < 1 or steps < 1 or batch_size < 1 or inner_steps < 1 or eval_items < 1:
        raise InrkitError("latent size, steps, batch size, inner steps and eval items must all be at least 1")
    if minutes is not None and not minutes > 0:
        raise InrkitError(f"the time budget must be positive, not {minutes} minutes")
    xy = C.grid((h, w), device=dev).reshape(-1, 2)
    chosen = balanced_subset(te_labels, eval_items, seed)
    T, E = _targets(tr, dev), _targets(te[chosen], dev)
    gen = torch.Generator().manual_seed(seed)
    field = LatentModulatedField(2, c, latent_dim, width, hidden_layers, w0, generator=gen).to(dev)
    record = M.TermHistory(every=10)
    sampler = M.SignalBatches(xy, T, batch_size)
    optimizer = torch.optim.Adam(field.parameters(), lr=lr)
    if world > 1:  # data parallel: each rank its share of every global batch; gradients averaged before each step
        D.split_batch(sampler.batch_size, world)  # one line unless the processes divide the batch
        sampler, optimizer = D.RankSlice(sampler, rank, world), D.AllReduceGrads(optimizer)
    callbacks: list = [D.SyncRanks(), M.ClampMetaLRs(), record,
                       Progress(f"functa z={latent_dim}", progress and rank == 0)]
    snap = None
    if state_dir is not None:
        run_id = _functa_run_id(coll, latent_dim=latent_dim, steps=steps, minutes=minutes, batch_size=batch_size,
                                width=width, hidden_layers=hidden_layers, w0=w0, inner_steps=inner_steps, lr=lr,
                                first_order=first_order, seed=seed)
        if resume:  # every rank reads rank 0's snapshot (the ranks' states are identical), then all go on
            snap, meta = resume_lib.load(state_dir)
            if meta != run_id:
                raise InrkitError(f"the training state in {state_dir} belongs to another run (dataset or settings "
                                  "differ); start afresh without resuming")
            D.barrier()
        # only rank 0 writes snapshots; the others hold a placeholder so the callback lists match
        callbacks.append(resume_lib.Snapshots(state_dir, 60.0 * snapshot_minutes, run_id) if rank == 0
                         else D.Placeholder())
    result = fit(field, sampler, MetaReconstruction(inner_steps, first_order),
                 steps=steps, max_seconds=None if minutes is None else 60.0 * minutes,
                 optimizer=optimizer, generator=gen, callbacks=callbacks, resume=snap)
    history, step, seconds = record.history, result.steps, result.seconds
    if rank != 0:  # the weights are rank 0's (identical); only rank 0 evaluates and writes
        return {"field": field, "collection": coll, "latent_dim": latent_dim, "rank": rank, "status": result.status,
                "steps_done": step, "seconds": seconds}
    heldout = {}
    for k in (1, 3, 10):
        z = M.encode(field, xy, E, k)
        heldout[k] = float(M.psnr_per_signal(field, xy, E, z).mean())
    pca = M.pca_psnr(T.reshape(len(T), -1).cpu(), E.reshape(len(E), -1).cpu(), min(latent_dim, len(T)))
    return {"field": field, "collection": coll, "latent_dim": latent_dim, "history": history, "seconds": seconds,
            "heldout_psnr": heldout, "pca_psnr": pca, "inner_steps": inner_steps, "eval_items": len(E),
            "eval_subset": {"protocol": "class-balanced random subset of the test split" if len(E) < len(te)
                            else "the whole test split", "seed": seed, "indices": chosen.tolist(),
                            "per_class": {str(int(c)): int(n) for c, n in
                                          zip(*np.unique(te_labels[chosen], return_counts=True))}},
            "steps_done": step, "seconds_per_step": seconds / max(step, 1), "status": result.status,
            **({"message": result.message} if not result.finished else {}),
            "config": {"steps": steps, "minutes": minutes, "batch_size": batch_size, "width": width, "hidden_layers": hidden_layers,
                       "w0": w0, "inner_steps": inner_steps, "lr": lr, "first_order": first_order, "seed": seed,
                       "device": str(dev), "nproc": nproc}}


def _functa_run_id(coll: ImageCollection, **settings) -> dict:
    """What a training state must match to be resumed: the dataset (name, image shape, items) and
    every setting that changes the weights or the recorded results."""
    return json.loads(json.dumps({"task": "functa", "dataset": coll.name, "shape": list(coll.shape),
                                  "items": int(len(coll.labels)), **settings}, default=str))


def _has_state(folder: Path) -> bool:
    """Whether ``folder`` holds a snapshot (:func:`inrkit.train.resume.load` reads it)."""
    return folder.is_dir() and ((folder / "current").is_dir() or any(folder.glob(".retired-*")))


def _jsonable(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return str(x)


def _keep_finished(state_dir: Path, r: dict) -> None:
    """Keep a finished latent size in the state folder as ``zD.done/``: its checkpoint
    (``model.safetensors`` / ``model.json``) and its record (``record.json``, no pickles), written
    under a temporary name and renamed; then its snapshots (``zD/``) are removed."""
    d = r["latent_dim"]
    tmp = state_dir / f".z{d}.done.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    checkpoint.save(tmp / "model", r["field"], {"task": "functa"})
    record = {k: v for k, v in r.items() if k not in ("field", "collection")}
    write_bytes_atomic(tmp / "record.json", json.dumps(record, default=_jsonable).encode())
    shutil.rmtree(state_dir / f"z{d}.done", ignore_errors=True)
    tmp.rename(state_dir / f"z{d}.done")
    shutil.rmtree(state_dir / f"z{d}", ignore_errors=True)


def _load_finished(folder: Path, coll: ImageCollection, device) -> dict | None:
    """A finished latent size kept by :func:`_keep_finished`, or None when it cannot be read."""
    try:
        field, _ = checkpoint.load(folder / "model", resolve_device(device), expect="functa")
        raw = (folder / "record.json").read_bytes()
        if len(raw) > checkpoint.MAX_JSON_BYTES:
            return None
        record = json.loads(raw)
        record["heldout_psnr"] = {int(k): float(v) for k, v in record["heldout_psnr"].items()}
    except (InrkitError, OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    if not isinstance(field, LatentModulatedField):
        return None
    return {"field": field, "collection": coll, **record}


def train_functa_sizes(dataset: str | ImageCollection, latent_dims: list[int], *, state_dir: str | Path | None = None,
                       snapshot_minutes: float = 5.0, resume: bool = False, **settings) -> list[dict]:
    """:func:`train_functa` for each latent size in turn (``settings``: its other arguments).

    With ``state_dir`` (``.NAME.resume`` beside the run folder), each finished size is kept there
    (``zD.done/``: checkpoint and record as JSON) and the running size's snapshots in ``zD/``;
    ``resume=True`` takes the finished sizes from there and continues the running one, so on the
    CPU the weights are byte-identical to a run never interrupted. A fresh start (``resume=False``)
    clears what an earlier run left there. A Ctrl-C ends the loop after the size it interrupted
    (its state is saved). :func:`finish_functa_run` removes ``state_dir`` once the run folder is written.
    """
    coll = dataset if isinstance(dataset, ImageCollection) else load_collection(dataset)
    dims = [int(d) for d in latent_dims]
    sdir = None if state_dir is None else Path(state_dir)
    if resume and sdir is None:
        raise InrkitError("resuming needs the folder of the interrupted run's training state")
    if sdir is not None:
        keys = ("steps", "minutes", "batch_size", "width", "hidden_layers", "w0", "inner_steps", "lr", "first_order",
                "seed", "eval_items")
        run_id = _functa_run_id(coll, latent_dims=dims, **{k: settings[k] for k in keys if k in settings})
        ident = sdir / "run.json"
        rank0 = not D.is_distributed() or D.rank_world()[0] == 0
        if resume:
            try:
                found = json.loads(ident.read_bytes()) if ident.is_file() and ident.stat().st_size < (1 << 20) else None
            except (OSError, ValueError):
                found = None
            if found is None:
                raise InrkitError(f"no training state to resume in {sdir}")
            if found != run_id:
                raise InrkitError(f"the training state in {sdir} belongs to another run (dataset, latent sizes or "
                                  "settings differ); start afresh without resuming")
        elif rank0:
            shutil.rmtree(sdir, ignore_errors=True)
            sdir.mkdir(parents=True)
            write_json(ident, run_id)
        D.barrier()  # the other ranks start once rank 0 has cleared or checked the state folder
    runs = []
    for d in dims:
        if resume and (sdir / f"z{d}.done").is_dir():
            kept = _load_finished(sdir / f"z{d}.done", coll, settings.get("device", "auto"))
            if kept is not None:
                runs.append(kept)
                continue
            shutil.rmtree(sdir / f"z{d}.done", ignore_errors=True)  # damaged: train this size again
        zdir = None if sdir is None else sdir / f"z{d}"
        r = train_functa(dataset=coll, latent_dim=d, **settings, state_dir=zdir, snapshot_minutes=snapshot_minutes,
                         resume=D.broadcast_flag(resume and _has_state(zdir)))  # rank 0 decides for all
        runs.append(r)
        if r["status"] == "interrupted":  # Ctrl-C: its snapshot is saved; the other sizes are skipped
            break
        if sdir is not None and r.get("rank", 0) == 0:
            _keep_finished(sdir, r)
        D.barrier()
    return runs


def finish_functa_run(runs: list[dict], out: Path, command: str = "", overwrite: bool = False,
                      state_dir: str | Path | None = None) -> Path:
    """:func:`write_functa_run`, then remove ``state_dir`` unless a size was interrupted (kept for
    a resume; the error then says how). The state is kept too when the run folder was not written."""
    interrupted = any(r.get("status") == "interrupted" for r in runs)
    try:
        written = write_functa_run(runs, out, command, overwrite)
    except (DivergedError, RunInterrupted) as exc:  # the run folder is written; only its status differs
        if state_dir is not None and not interrupted:
            shutil.rmtree(state_dir, ignore_errors=True)
        if state_dir is not None and isinstance(exc, RunInterrupted):
            raise RunInterrupted(str(exc), resumable=True) from None
        raise
    if state_dir is not None:
        shutil.rmtree(state_dir, ignore_errors=True)
    return written


def write_functa_run(runs: list[dict], out: Path, command: str = "", overwrite: bool = False) -> Path:
    coll = runs[0]["collection"]
    h, w, c = coll.shape
    with RunDir(out, overwrite) as tmp:
        rows, figs = [], []
        for r in runs:
            d = r["latent_dim"]
            checkpoint.save(tmp / f"model_z{d}", r["field"], {
                "task": "functa", "dataset": coll.name, "signal": {"kind": "image", "shape": [h, w], "channels": c},
                "value_range": [-1.0, 1.0], "training": {**r["config"], "steps_done": r["steps_done"], "seconds": r["seconds"],
                             "history": r["history"]}})
            hp = r["heldout_psnr"]
            rows.append([d, f"{hp[1]:.2f}", f"{hp[3]:.2f}", f"{hp[10]:.2f}", f"{r['pca_psnr']:.2f}",
                         r["steps_done"], f"{r['seconds']:.0f}", r.get("status", "ok")])
            field = r["field"]
            dev = next(field.parameters()).device
            te, _ = coll.split("test")
            xy = C.grid((h, w), device=dev).reshape(-1, 2)
            shown = te[np.asarray(r["eval_subset"]["indices"][:8], dtype=np.int64)]  # several classes (round-robin)
            z = M.encode(field, xy, _targets(shown, dev), r["inner_steps"])
            grid_png = plots.image_grid([[to_uint8(x) for x in shown], list(_decode(field, z, (h, w, c)))],
                                        ["original", f"functa z={d}"], [""] * 8)
            (tmp / f"reconstructions_z{d}.png").write_bytes(grid_png)
            figs.append(H.figure(grid_png, f"held-out images and their {r['inner_steps']}-step reconstructions, latent {d}"))
        curves = plots.training_curves({f"z={r['latent_dim']}": r["history"] for r in runs}, keys=("psnr", "loss"),
                                       titles={"psnr": "outer-loop PSNR (training batches)"})  # functa has no SSIM
        (tmp / "training.png").write_bytes(curves)
        header = ["latent size", "PSNR 1 step", "PSNR 3 steps", "PSNR 10 steps", "PCA same size", "outer steps",
                  "train s", "status"]
        write_json(tmp / "metrics.json", {"command": command, "inrkit_version": __version__, "dataset": coll.name,
                                          "runs": [{k: v for k, v in r.items() if k not in ("field", "collection")}
                                                   for r in runs]})
        sub = runs[0]["eval_subset"]
        note = (f"<p class='note'>Held-out PSNR on {runs[0]['eval_items']} test images ({sub['protocol']}: "
                f"{_per_class_text(sub['per_class'])}; seed {sub['seed']}) "
                "after 1, 3 and 10 inner steps from a zero "
                "latent, against PCA with as many components as the latent has dimensions, fitted on the training "
                "split and scored on the same test images (the classical baseline).</p>")
        (tmp / "report.html").write_text(H.page(f"inrkit functa: {coll.name}", f"{len(coll.labels)} images of {w}x{h}",
                                                [("Reconstruction", H.table(header, rows) + note), ("Examples", "".join(figs)),
                                                 ("Training", H.figure(curves, "outer-loop PSNR and loss on the "
                                                                       "training batches against step")),
                                                 ("Command", H.command(command))]))
    for status, error, what in (("diverged", DivergedError, "the last finite weights"),
                                ("interrupted", RunInterrupted, "what was learnt so far")):
        bad = [r for r in runs if r.get("status") == status]
        if bad:
            raise error(f"latent {', '.join(str(r['latent_dim']) for r in bad)}: {bad[0]['message']}; {out} holds "
                        f"{what}, marked {status}")
    return out


def load_functa(path: str | Path, device="cpu") -> tuple[LatentModulatedField, dict]:
    field, meta = checkpoint.load(path, device)
    if meta.get("task") != "functa" or not isinstance(field, LatentModulatedField):
        raise InrkitError(f"{path} is not a functa checkpoint")
    return field, meta


MAX_MANIFEST_BYTES = 2 << 20
"""Largest ``manifest.json`` read (2 MiB; one of a million items in shards of 1,000 is about 150 kB). Parsing
costs about 14 times the file's size in memory: at 8 MiB a fuzzed manifest took 110 MiB to refuse
(benchmarks/fuzz_loaders.py)."""


def _is_int(x, low: int = 0) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x >= low


def _manifest_problem(m) -> str | None:
    """What is wrong with a parsed manifest's structure, or None."""
    if not isinstance(m, dict):
        return f"a JSON {type(m).__name__}, not an object"
    if m.get("format", "inrkit-functaset") != "inrkit-functaset":
        return f"format {m.get('format')!r}"
    for key, low in (("items", 1), ("latent_dim", 1), ("modulation_dim", 1), ("inner_steps", 1), ("shard_size", 1)):
        if key not in m:
            return f"no {key!r}"
        if not _is_int(m[key], low):
            return f"{key} must be an integer of at least {low}, not {m[key]!r}"
    for key in ("dataset", "checkpoint"):
        if not isinstance(m.get(key), str):
            return f"{key} must be a string"
    shape = m.get("image_shape")
    if not (isinstance(shape, list) and len(shape) == 3 and all(_is_int(v, 1) for v in shape)):
        return "image_shape must be three positive integers"
    shards = m.get("shards")
    if not isinstance(shards, list):
        return "shards must be a list"
    if len(shards) > m["items"] + 1:
        return f"{len(shards)} shards for {m['items']} items"
    at = 0
    for i, sh in enumerate(shards):
        if not isinstance(sh, dict):
            return f"shard {i} is not an object"
        if not isinstance(sh.get("file"), str) or not isinstance(sh.get("done"), bool):
            return f"shard {i} needs a file name (string) and done (true or false)"
        if not (_is_int(sh.get("start")) and _is_int(sh.get("stop")) and sh["start"] == at and sh["stop"] > at):
            return f"shard {i} must start at item {at} and stop after it"
        digest = sh.get("sha256")
        if digest is not None and not (isinstance(digest, str) and len(digest) == 64
                                       and all(ch in "0123456789abcdef" for ch in digest)):
            return f"shard {i} has a malformed sha256"
        at = sh["stop"]
    if at != m["items"]:
        return f"the shards hold {at} items, the manifest says {m['items']}"
    return None


def _read_manifest(folder: Path) -> dict:
    """``folder/manifest.json`` parsed and checked: a regular file inside ``folder`` (no link out),
    of bounded size, with every entry of the right type and shards that tile the items. Shard
    files are checked separately (:func:`_shard_file`). One-line :class:`InrkitError` otherwise."""
    mpath = folder / "manifest.json"
    real = confined(folder, "manifest.json", f"{mpath}")
    size = real.stat().st_size
    if size > MAX_MANIFEST_BYTES:
        raise InrkitError(f"{mpath} is {size:,} bytes, above the limit of {MAX_MANIFEST_BYTES:,}")
    try:
        m = json.loads(real.read_bytes())
    except (ValueError, RecursionError, OSError) as exc:
        raise InrkitError(f"{mpath} is not a valid functaset manifest (not readable JSON: "
                          f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None
    problem = _manifest_problem(m)
    if problem:
        raise InrkitError(f"{mpath} is not a valid functaset manifest ({problem})")
    return m


def _shard_file(folder: Path, sh: dict, i: int) -> Path:
    """Where shard ``i``'s file is, checked to stay inside ``folder``: an existing entry (or a link)
    must resolve to a regular file inside it (:func:`inrkit.signals.paths.confined`); a missing one
    must be a plain relative name whose folder is inside. Nothing is read or written otherwise."""
    name, what = sh["file"], f"shard {i} of {folder / 'manifest.json'}"
    if exists_in(folder, name):
        return confined(folder, name, what)
    if "\x00" in name or os.path.isabs(name) or name.startswith(("/", "\\")) or not name.strip():
        raise InrkitError(f"{what}: the path {name!r} is not a file name inside {folder}")
    root = folder.resolve()
    target = (root / name).parent.resolve() / Path(name).name
    if Path(name).name in ("", ".", "..") or not target.parent.is_relative_to(root):
        raise InrkitError(f"{what}: {name} is outside the folder {folder}; refusing to use it")
    if len(name) > 255 or len(str(target)) > 4000:
        raise InrkitError(f"{what}: the file name is too long ({len(name)} characters)")
    return target


def _remove_partial_writes(folder: Path, names: list[str]) -> None:
    """Delete the temporary files a killed run's atomic writes left in ``folder``
    (``.NAME.XXXXXXXX`` beside each file ``NAME`` of the functaset; regular files only)."""
    for name in names:
        for tmp in folder.glob(f".{glob_escape(Path(name).name)}.*"):
            if tmp.parent == folder and tmp.is_file() and not tmp.is_symlink() and len(tmp.name) == len(name) + 10:
                tmp.unlink(missing_ok=True)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _shard_intact(folder: Path, sh: dict, i: int) -> bool:
    """Whether shard ``i`` is done and its file's bytes match its recorded SHA-256 (a shard of a
    manifest written before checksums were kept counts as not intact: it is encoded again)."""
    path = _shard_file(folder, sh, i)
    if not (sh["done"] and sh.get("sha256") and os.path.isfile(path)):  # isfile: False for a name too long
        return False
    return _sha256(path.read_bytes()) == sh["sha256"]


def _receipt_intact(folder: Path, sh: dict, path: Path, key: str) -> bool:
    """Whether a rank's receipt ``shard_KKKKK.json`` says this shard is done for this run, and the
    shard's bytes match the SHA-256 it records. A receipt of another run is refused (one line)."""
    rpath = path.with_suffix(".json")
    if not os.path.lexists(rpath):
        return False
    if rpath.is_symlink() or not rpath.is_file() or rpath.stat().st_size > 4096:
        raise InrkitError(f"{rpath} is not a shard receipt of inrkit functa encode")
    try:
        r = json.loads(rpath.read_bytes())
    except (ValueError, OSError):
        return False  # unreadable: the shard is encoded again
    if not isinstance(r, dict) or r.get("run") != key:
        raise InrkitError(f"{rpath.parent} holds shards of another run ({rpath.name} names another checkpoint, "
                          "dataset or setting): use a new folder")
    return os.path.isfile(path) and not path.is_symlink() and _sha256(path.read_bytes()) == r.get("sha256")


def _encode_plan(ckpt, dataset: str, out: str | Path, inner_steps: int | None, shard_size: int, batch_size: int,
                 device: str) -> SimpleNamespace:
    """What :func:`encode_functaset` would do, found without writing anything: the checkpoint and dataset read
    and checked against each other, the functaset's identity and shard layout, and the manifest (the one in
    ``out``, checked to be of the same run, or the one a new run writes) with which shards are already intact
    (by the manifest's checksums or, where it does not say done, a rank's receipt)."""
    if shard_size < 1 or batch_size < 1 or (inner_steps is not None and inner_steps < 1):
        raise InrkitError("shard size, batch size and inner steps must be at least 1")
    dev = D.local_device(resolve_device(device))
    field, meta = load_functa(ckpt, dev)
    steps = inner_steps if inner_steps is not None else int(meta.get("training", {}).get("inner_steps", 3))
    coll = load_collection(dataset)
    h, w, c = coll.shape
    if [h, w] != meta["signal"]["shape"] or c != meta["signal"]["channels"]:
        raise InrkitError(f"dataset images are {w}x{h}x{c}, the checkpoint was trained on "
                          f"{meta['signal']['shape'][1]}x{meta['signal']['shape'][0]}x{meta['signal']['channels']}")
    out = Path(out)
    n = len(coll.labels)
    ident = {"checkpoint": str(Path(ckpt).resolve()), "dataset": dataset, "items": n, "latent_dim": field.latent_dim,
             "modulation_dim": field.modulation_dim, "inner_steps": steps, "shard_size": shard_size,
             "image_shape": [h, w, c]}
    key = _sha256(json.dumps(ident, sort_keys=True).encode())[:16]
    layout = [{"file": f"shard_{i:05d}.safetensors", "start": s, "stop": min(n, s + shard_size)}
              for i, s in enumerate(range(0, n, shard_size))]
    new = not exists_in(out, "manifest.json")
    if not new:
        manifest = _read_manifest(out)  # one line for a malformed one; a link out of the folder is refused
        files = [_shard_file(out, sh, i) for i, sh in enumerate(manifest["shards"])]  # never outside out
        if ({k: manifest.get(k) for k in ident} != ident
                or [{k: sh[k] for k in ("file", "start", "stop")} for sh in manifest["shards"]] != layout):
            raise InrkitError(f"{out} holds a functaset of another checkpoint, dataset or setting; use a new folder")
        intact = [_shard_intact(out, sh, i) for i, sh in enumerate(manifest["shards"])]
    else:
        manifest = {**ident, "format": "inrkit-functaset", "inrkit_version": __version__,
                    "classes": coll.classes, "shards": [{**sh, "done": False} for sh in layout]}
        files = [_shard_file(out, sh, i) for i, sh in enumerate(manifest["shards"])]
        intact = [False] * len(files)
    # a rank's receipt counts where the manifest does not yet say done (a manifest entry that is done
    # without a checksum, from before checksums were kept, is encoded again whatever a receipt says)
    intact = [ok or (not sh["done"] and _receipt_intact(out, sh, p, key))
              for ok, sh, p in zip(intact, manifest["shards"], files)]
    return SimpleNamespace(field=field, meta=meta, steps=steps, coll=coll, device=dev, key=key, manifest=manifest,
                           files=files, intact=intact, new=new)


def estimate_encode(ckpt: str | Path, dataset: str, out: str | Path, inner_steps: int | None = None,
                    shard_size: int = 1000, batch_size: int = 256, device: str = "auto"
                    ) -> tuple[float, str, tuple[str, ...], int]:
    """``(seconds, how, notes, inner steps)`` of :func:`encode_functaset` for ``--dry-run``: the same checks (nothing is
    written), the items still to encode (shards already intact in ``out`` are kept by a run), and the time of
    encoding one batch of the dataset's first items, measured after a warm-up of one item."""
    t0 = time.perf_counter()
    plan = _encode_plan(ckpt, dataset, out, inner_steps, shard_size, batch_size, device)
    load = time.perf_counter() - t0
    field, coll, dev = plan.field, plan.coll, plan.device
    h, w, _ = coll.shape
    n = len(coll.labels)
    todo = sum(sh["stop"] - sh["start"] for sh, ok in zip(plan.manifest["shards"], plan.intact) if not ok)
    xy = C.grid((h, w), device=dev).reshape(-1, 2)
    b = min(batch_size, n)

    def one_batch(items: int) -> float:
        t = time.perf_counter()
        z = M.encode(field, xy, _targets(coll.images[:items], dev), plan.steps, batch_size)
        with torch.no_grad():
            field.modulations(z).cpu()  # waits for the device
        return time.perf_counter() - t

    one_batch(1)
    per_item = one_batch(b) / b
    how = (f"measured: a probe of one batch of {b} items after a warm-up of one item on {dev} ({per_item:.3g} s per "
           f"item x {todo:,} items to encode, {plan.steps} inner steps each, plus {load:.1f} s of loading the "
           "checkpoint and the dataset); writing the shards is not counted")
    shards = len(plan.intact)
    kept = shards - sum(1 for ok in plan.intact if not ok)
    notes = (f"dataset {dataset}: {n:,} items of {w} x {h} in {shards} shard{'s' if shards != 1 else ''} of "
             f"{shard_size}" + (f"; {kept} of them already encoded in {out} (kept)" if kept else ""),)
    return load + per_item * todo, how, notes, plan.steps


def encode_functaset(ckpt: str | Path, dataset: str, out: str | Path, inner_steps: int | None = None,
                     shard_size: int = 1000, batch_size: int = 256, device: str = "auto", progress: bool = False,
                     stop_after_shards: int | None = None) -> dict:
    """Write a functaset: latents, modulations, labels and split flags, in safetensors shards.

    ``manifest.json`` records the checkpoint, dataset, sizes and which shards are done; each
    shard is written atomically, then its receipt (``shard_KKKKK.json``: the run and the shard's
    SHA-256), so an interrupted run resumes where it stopped. Each batch of signals is encoded
    as one tensor computation. ``progress`` shows the progress display, one step per shard.

    Under ``torchrun`` (or with ``RANK`` / ``WORLD_SIZE`` set) rank r of W encodes shards
    r, r + W, ... only (rank-strided); the shards are cut the same way whatever W, and encoding
    is deterministic (latents start at zero), so their bytes do not depend on W. In one process
    the manifest is updated after every shard; with several, the rank that finds every shard
    done writes it (the same bytes whoever does). A restarted rank skips its finished shards.
    """
    from safetensors.torch import save as st_save

    rank, world = D.rank_world()
    plan = _encode_plan(ckpt, dataset, out, inner_steps, shard_size, batch_size, device)
    field, steps, coll, key, dev = plan.field, plan.steps, plan.coll, plan.key, plan.device
    manifest, files, intact = plan.manifest, plan.files, plan.intact
    h, w, c = coll.shape
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    mpath = out / "manifest.json"
    mine = set(D.my_shards(len(files), rank, world))
    if plan.new and (world == 1 or rank == 0):
        write_bytes_atomic(mpath, json.dumps(manifest, indent=2).encode())
    ours = [sh["file"] for i, sh in enumerate(manifest["shards"]) if i in mine]
    _remove_partial_writes(out, ([] if world > 1 else ["manifest.json"]) + ours
                           + [str(Path(f).with_suffix(".json")) for f in ours])
    xy = C.grid((h, w), device=dev).reshape(-1, 2)
    written, encoded, seconds = 0, 0, 0.0
    todo = [i for i, ok in enumerate(intact) if not ok and i in mine]
    if stop_after_shards is not None:
        todo = todo[:stop_after_shards]
    bar = Progress("encode" if world == 1 else f"encode rank {rank}/{world}", progress)
    state = FitState(model=field, optimizer=None, steps=len(todo), max_seconds=None, generator=None)
    bar.on_start(state)
    for i in todo:
        shard, path = manifest["shards"][i], files[i]
        s, e = shard["start"], shard["stop"]
        T = _targets(coll.images[s:e], dev)
        t0 = time.perf_counter()
        z = M.encode(field, xy, T, steps, batch_size)
        with torch.no_grad():
            mods = field.modulations(z)
        z, mods = z.cpu().contiguous(), mods.cpu().contiguous()  # waits for the device
        seconds += time.perf_counter() - t0
        encoded += e - s
        tensors = {"latents": z, "modulations": mods,
                   "labels": torch.as_tensor(coll.labels[s:e]), "train": torch.as_tensor(coll.train[s:e])}
        data = st_save(tensors)
        write_bytes_atomic(path, data)
        write_bytes_atomic(path.with_suffix(".json"), json.dumps({"run": key, "sha256": _sha256(data)}).encode())
        intact[i] = True
        if world == 1:
            shard["done"], shard["sha256"] = True, _sha256(data)
            write_bytes_atomic(mpath, json.dumps(manifest, indent=2).encode())
        written += 1
        state.step, state.train_seconds, state.log["items"] = written, seconds, e
        bar.after_step(state)
    bar.on_end(state)
    if world > 1:  # the other ranks' shards, looked at again now: the last rank to finish sees every one done
        intact = [ok or (not sh["done"] and _receipt_intact(out, sh, p, key))
                  for ok, sh, p in zip(intact, manifest["shards"], files)]
    if all(intact):  # every shard done, here or by another rank: the manifest says so (same bytes whoever writes)
        changed = False
        for sh, p in zip(manifest["shards"], files):
            if not sh["done"]:
                sh["done"], sh["sha256"], changed = True, _sha256(p.read_bytes()), True
        if changed or not os.path.exists(mpath):
            write_bytes_atomic(mpath, json.dumps(manifest, indent=2).encode())
    return {**manifest, "encoded_this_run": encoded, "encode_seconds": seconds}


def load_functaset(folder: str | Path) -> tuple[dict, dict[str, torch.Tensor]]:
    """Read and check a functaset: every shard present, done, and of the manifest's sizes."""
    from safetensors import SafetensorError
    from safetensors.torch import load as st_load

    folder = Path(folder)
    if not exists_in(folder, "manifest.json"):
        raise InrkitError(f"{folder} has no manifest.json: not a functaset")
    manifest = _read_manifest(folder)
    shards = manifest["shards"]
    files = [_shard_file(folder, sh, i) for i, sh in enumerate(shards)]  # each inside the folder, or one line
    parts: dict[str, list] = {"latents": [], "modulations": [], "labels": [], "train": []}
    for i, (sh, p) in enumerate(zip(shards, files)):
        if not sh["done"] or not os.path.isfile(p):
            raise InrkitError(f"shard {sh['file']} is not done: resume with inrkit functa encode")
        try:
            raw = p.read_bytes()
            if sh.get("sha256") is not None and _sha256(raw) != sh["sha256"]:
                raise InrkitError(f"shard {sh['file']} does not match its SHA-256 in the manifest (changed or "
                                  "corrupt); encode it again with inrkit functa encode")
            t = st_load(raw)
        except (SafetensorError, ValueError, OSError):
            raise InrkitError(f"{p} is corrupt or truncated") from None
        rows = sh["stop"] - sh["start"]
        ok = (set(t) == set(parts) and all(t[k].dim() >= 1 and t[k].shape[0] == rows for k in t)
              and t["latents"].shape[1:] == (manifest["latent_dim"],)
              and t["modulations"].shape[1:] == (manifest["modulation_dim"],))
        if not ok:
            raise InrkitError(f"{p.name} does not match the manifest (rows or sizes differ)")
        for k in parts:
            parts[k].append(t[k])
    data = {k: torch.cat(v) for k, v in parts.items()}
    if data["labels"].shape[0] != manifest["items"]:
        raise InrkitError("functaset shards do not add up to the manifest's item count")
    return manifest, data


def classify(functaset: str | Path, epochs: int = 100, seed: int = 0, progress: bool = False) -> dict:
    """Test accuracy of the same MLP (:func:`inrkit.meta.classifier.mlp_accuracy`) on modulations,
    on latents and on raw pixels."""
    if epochs < 1:
        raise InrkitError(f"epochs must be at least 1, not {epochs}")
    manifest, data = load_functaset(functaset)
    labels, train = data["labels"].long(), data["train"].bool()
    if (labels < 0).any():
        raise InrkitError("this functaset has no labels (its images were not in class sub-folders)")
    coll = load_collection(manifest["dataset"])
    if len(coll.labels) != len(labels) or not np.array_equal(coll.labels, labels.numpy()):
        raise InrkitError("the dataset named in the manifest no longer matches the functaset")
    pixels = torch.as_tensor(coll.images.reshape(len(labels), -1))
    res = {}
    for name, x in (("modulations", data["modulations"].float()), ("latents", data["latents"].float()),
                    ("pixels", pixels.float())):
        res[name] = mlp_accuracy(x[train], labels[train], x[~train], labels[~train], epochs=epochs, seed=seed,
                                 progress=progress, label=f"classify {name}")
    res.update(train_items=int(train.sum()), test_items=int((~train).sum()), dataset=manifest["dataset"],
               modulation_dim=manifest["modulation_dim"], latent_dim=manifest["latent_dim"], epochs=epochs,
               pixel_dim=int(pixels.shape[1]))
    return res


def _decode(field: LatentModulatedField, z: torch.Tensor, shape: tuple[int, int, int]) -> np.ndarray:
    """Latents ``(B, latent_dim)`` -> uint8 images ``(B, H, W)`` or ``(B, H, W, C)``."""
    h, w, c = shape
    dev = next(field.parameters()).device
    xy = C.grid((h, w), device=dev).reshape(-1, 2)
    with torch.no_grad():
        values = field(xy, z.to(dev)).reshape(-1, h, w, c)  # (B, H*W, C) -> (B, H, W, C)
    img = values_to_uint8(values).reshape(-1, h, w, c)
    return img[..., 0] if c == 1 else img


class _Gaussian:
    """The full-covariance Gaussian of the training latents (with a 1e-4 ridge), as a sampler."""

    def __init__(self, z: torch.Tensor):
        d = z.shape[1]
        self.mu = z.mean(0)
        self.chol = torch.linalg.cholesky(torch.cov(z.T).reshape(d, d) + 1e-4 * torch.eye(d))

    def sample(self, n: int, temperature: float, generator: torch.Generator) -> torch.Tensor:
        return self.mu + temperature * torch.randn(n, len(self.mu), generator=generator) @ self.chol.T


def _fit_densities(ztr: torch.Tensor, zte: torch.Tensor, couplings: int, hidden: int, epochs: int,
                   diffusion_steps: int, seed: int, progress: bool) -> dict:
    """Every density model of the training latents, with the flow's held-out log-likelihood
    beside the Gaussian's (nats per latent dimension)."""
    from ..meta import diffusion as DF, flow as FL

    d = ztr.shape[1]
    t0 = time.perf_counter()
    flw, history = FL.train_flow(ztr, zte, couplings, hidden, epochs, seed=seed, progress=progress)
    seconds = time.perf_counter() - t0
    with torch.no_grad():
        ll_flow = float(flw.log_prob(zte).mean()) / d
    models = {"flow": flw, "history": history, "seconds": seconds, "gaussian": _Gaussian(ztr),
              "best_epoch": max((h_["epoch"] for h_ in history if h_.get("best")), default=epochs),
              "ll_flow": ll_flow, "ll_gauss": float(FL.gaussian_log_prob(ztr, zte).mean()) / d,
              "ddpm": None, "ddpm_history": [], "ddpm_seconds": 0.0}
    if diffusion_steps:
        t1 = time.perf_counter()
        models["ddpm"], models["ddpm_history"] = DF.train_ddpm(ztr, diffusion_steps, seed=seed, progress=progress)
        models["ddpm_seconds"] = time.perf_counter() - t1
    return models


def _draw_latents(models: dict, ztr: torch.Tensor, zte: torch.Tensor, samples: int, temperature: float,
                  seed: int, n_fd: int = 1000) -> tuple[dict[str, torch.Tensor], dict[str, float]]:
    """``samples`` latents of each model at ``temperature``, and each model's Frechet distance
    to the held-out latents from ``n_fd`` samples at temperature 1 (the training latents' own
    distance first: the floor). One generator, drawn in a fixed order."""
    from ..meta.diffusion import frechet_distance

    g = torch.Generator().manual_seed(seed)
    flw, gauss, ddpm = models["flow"], models["gaussian"], models["ddpm"]
    drawn = {"flow": flw.sample(samples, temperature, g), "gaussian": gauss.sample(samples, temperature, g)}
    fd = {"train latents (floor)": frechet_distance(ztr, zte),
          "RealNVP flow": frechet_distance(flw.sample(n_fd, 1.0, g), zte),
          "full-covariance Gaussian": frechet_distance(gauss.sample(n_fd, 1.0, g), zte)}
    if ddpm is not None:
        fd["DDPM diffusion"] = frechet_distance(ddpm.sample(n_fd, g), zte)
        drawn["diffusion"] = ddpm.sample(samples, g, temperature)
    return drawn, fd


def _samples_figure(images: dict[str, np.ndarray], samples: int, train_images: np.ndarray | None
                    ) -> tuple[bytes, torch.Tensor | None]:
    """Rows of decoded flow samples (up to 32), the nearest training image (pixels) of each of
    the first ones, a row of diffusion and of Gaussian samples. Returns the PNG and each first
    sample's RMS pixel distance to its nearest training image (samples should not be copies)."""
    flow_imgs = images["flow"]
    ncols = min(samples, 8)
    nn_row, nn_dist = None, None
    if train_images is not None:
        tr_px = torch.as_tensor(train_images.reshape(len(train_images), -1), dtype=torch.float32)
        q = torch.as_tensor(flow_imgs[:ncols].reshape(ncols, -1) / 255.0, dtype=torch.float32)
        dist = torch.cdist(q, tr_px)
        nn_dist = dist.min(1).values / math.sqrt(tr_px.shape[1])
        nn_row = [to_uint8(train_images[int(i)]) for i in dist.argmin(1)]
    rows, labels = [], []
    for r0 in range(0, min(samples, 32), ncols):
        rows.append(list(flow_imgs[r0:r0 + ncols]))
        labels.append("flow sample")
        if r0 == 0 and nn_row is not None:
            rows.append(nn_row)
            labels.append("nearest train")
    if "diffusion" in images:
        rows.append(list(images["diffusion"][:ncols]))
        labels.append("diffusion sample")
    rows.append(list(images["gaussian"][:ncols]))
    labels.append("Gaussian sample")
    png = plots.image_grid([r + [np.zeros_like(rows[0][0])] * (ncols - len(r)) for r in rows], labels, [""] * ncols)
    return png, nn_dist


def _interpolation_pairs(labels: torch.Tensor, train: torch.Tensor, pairs: int) -> list[tuple[int, int]]:
    """Up to ``pairs`` pairs of test items (training items without a test split), taken in
    order, the two of a pair of different classes when labels are known; no item twice."""
    candidates = torch.nonzero(~train).flatten() if (~train).any() else torch.nonzero(train).flatten()
    chosen, used = [], set()
    for i in candidates.tolist():
        if len(chosen) == 2 * pairs:
            break
        if len(chosen) % 2 == 1 and int(labels[i]) >= 0 and int(labels[i]) == int(labels[chosen[-1]]):
            continue
        if i not in used:
            chosen.append(i)
            used.add(i)
    return list(zip(chosen[0::2], chosen[1::2]))


def _interpolation_figure(field: LatentModulatedField, shape: tuple[int, int, int], z: torch.Tensor,
                          pairs: list[tuple[int, int]], steps: int, images: np.ndarray | None) -> bytes | None:
    """Linear paths in latent space between each pair, decoded, each above a pixel cross-fade."""
    ts = torch.linspace(0, 1, steps)
    rows, labels = [], []
    for a, b in pairs:
        path = (1 - ts)[:, None] * z[a] + ts[:, None] * z[b]  # (steps, latent_dim)
        rows.append(list(_decode(field, path, shape)))
        labels.append(f"functa {a}->{b}")
        if images is not None:
            pa, pb = images[a], images[b]
            rows.append([to_uint8((1 - t) * pa + t * pb) for t in ts.tolist()])
            labels.append("pixel cross-fade")
    return plots.image_grid(rows, labels, [f"t={t:.2f}" for t in ts.tolist()]) if rows else None


def _write_model(folder: Path, name: str, fmt: str, model: torch.nn.Module, functaset: str | Path, d: int) -> None:
    from safetensors.torch import save as st_save

    write_bytes_atomic(folder / f"{name}.safetensors",
                       st_save({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}))
    write_json(folder / f"{name}.json", {"format": fmt, "architecture": model.spec(),
                                         "functaset": str(Path(functaset).resolve()), "latent_dim": d,
                                         "inrkit_version": __version__})


def _sample_report(metrics: dict, samples_png: bytes, interp_png: bytes | None, couplings: int, hidden: int) -> str:
    m = metrics
    tbl = H.table(["density model", "held-out log-likelihood (nats / latent dim)"],
                  [["RealNVP flow", f"{m['test_ll_per_dim_flow']:.3f}"],
                   ["full-covariance Gaussian", f"{m['test_ll_per_dim_gaussian']:.3f}"]])
    secs = [("Density", tbl + f"<p class='note'>Flow: {couplings} affine couplings, hidden {hidden}, {m['epochs']} "
             f"epochs on {m['train_items']} training latents ({m['seconds']:.0f} s), keeping epoch {m['best_epoch']}, "
             "the best on a 10% validation split of the training latents. Higher is better.</p>"
             + H.table(["samples of", "Frechet distance to the held-out latents"],
                       [[k, f"{v:.4g}"] for k, v in m["frechet_distance_to_test"].items()])
             + "<p class='note'>1,000 samples at temperature 1 per model; lower is closer. The training "
               "latents' own distance is the floor that finite samples allow.</p>"),
            ("Samples", H.figure(samples_png, f"decoded samples at temperature {m['temperature']}; the row under the "
                                 "first samples holds each one's nearest training image (pixels)")),
            ("Command", f"<pre>{m['command']}</pre>")]
    if interp_png:
        secs.insert(2, ("Interpolation", H.figure(interp_png, "linear paths between two test latents, decoded, "
                                                  "beside a cross-fade of the same two images' pixels")))
    return H.page("inrkit functa sample", f"latent {m['latent_dim']}", secs)


def sample_functa(functaset: str | Path, out: str | Path, checkpoint_path: str | Path | None = None,
                  samples: int = 32, temperature: float = 0.8, couplings: int = 8, hidden: int = 128,
                  epochs: int = 100, pairs: int = 4, steps: int = 8, seed: int = 0, command: str = "",
                  overwrite: bool = False, progress: bool = False, diffusion_steps: int = 0) -> dict:
    """Train a RealNVP flow on a functaset's training latents, decode samples and interpolations.

    With ``diffusion_steps > 0`` a DDPM (``meta.diffusion``) is trained on the same latents for
    that many steps as a second generative model, saved as ``diffusion.safetensors`` / ``.json``,
    with a row of decoded samples. Every model (flow, diffusion, Gaussian) is also scored by the
    Frechet distance between 1,000 of its samples (temperature 1) and the held-out latents, beside
    the distance of the training latents themselves (the floor).

    The flow models the latent z rather than the modulations W z + b: the modulations are
    an affine image of z, so they lie on a ``latent_dim``-dimensional plane of their space,
    where no density exists; the latent carries the same information without the
    degeneracy. Linear paths in z are linear paths in modulation space.

    Writes ``flow.safetensors`` / ``flow.json``, ``samples.png``, ``interpolation.png``,
    ``metrics.json`` and ``report.html``. Held-out log-likelihood is reported beside a
    full-covariance Gaussian fitted to the same training latents.
    """
    if samples < 1 or pairs < 1 or steps < 2 or epochs < 1 or couplings < 1 or hidden < 1:
        raise InrkitError("samples, pairs, epochs, couplings and hidden must be at least 1, and interpolation "
                          "steps at least 2")
    if diffusion_steps < 0:
        raise InrkitError(f"diffusion steps must be 0 (no diffusion model) or positive, not {diffusion_steps}")
    if not temperature > 0:
        raise InrkitError("temperature must be positive")
    manifest, data = load_functaset(functaset)
    field, _ = load_functa(checkpoint_path or manifest["checkpoint"])
    if field.latent_dim != manifest["latent_dim"]:
        raise InrkitError(f"checkpoint latent size {field.latent_dim} does not match the functaset's "
                          f"{manifest['latent_dim']}")
    shape = tuple(manifest["image_shape"])
    z, train = data["latents"].float(), data["train"].bool()
    ztr, zte = z[train], z[~train]
    if len(ztr) < 2:
        raise InrkitError("the functaset needs at least two training items to fit a density")
    if len(zte) == 0:
        zte = ztr  # no test split: score on the training latents (said in the report)

    models = _fit_densities(ztr, zte, couplings, hidden, epochs, diffusion_steps, seed, progress)
    drawn, fd = _draw_latents(models, ztr, zte, samples, temperature, seed)
    images = {name: _decode(field, zs, shape) for name, zs in drawn.items()}
    coll = load_collection(manifest["dataset"]) if manifest["dataset"] else None
    same_items = coll is not None and len(coll.labels) == len(data["labels"])
    samples_png, nn_dist = _samples_figure(images, samples, coll.images[train.numpy()] if same_items else None)
    chosen = _interpolation_pairs(data["labels"].long(), train, pairs)
    interp_png = _interpolation_figure(field, shape, z, chosen, steps, None if coll is None else coll.images)

    ddpm = models["ddpm"]
    metrics = {"command": command, "inrkit_version": __version__, "functaset": str(functaset),
               "latent_dim": z.shape[1], "train_items": len(ztr), "test_items": int((~train).sum()),
               "flow": models["flow"].spec(), "epochs": epochs, "best_epoch": models["best_epoch"],
               "seconds": models["seconds"], "temperature": temperature,
               "test_ll_per_dim_flow": models["ll_flow"], "test_ll_per_dim_gaussian": models["ll_gauss"],
               "history": models["history"], "frechet_distance_to_test": fd, "diffusion": None if ddpm is None else {
                   **ddpm.spec(), "train_steps": diffusion_steps, "seconds": models["ddpm_seconds"],
                   "history": models["ddpm_history"]},
               "nearest_train_rms": None if nn_dist is None else [float(x) for x in nn_dist],
               "interpolation_pairs": [[a, b] for a, b in chosen]}
    with RunDir(Path(out), overwrite) as tmp:
        _write_model(tmp, "flow", "inrkit-flow", models["flow"], functaset, z.shape[1])
        if ddpm is not None:
            _write_model(tmp, "diffusion", "inrkit-ddpm", ddpm, functaset, z.shape[1])
        (tmp / "samples.png").write_bytes(samples_png)
        if interp_png:
            (tmp / "interpolation.png").write_bytes(interp_png)
        write_json(tmp / "metrics.json", metrics)
        (tmp / "report.html").write_text(_sample_report(metrics, samples_png, interp_png, couplings, hidden))
    return metrics
