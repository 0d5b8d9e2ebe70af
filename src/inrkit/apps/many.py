"""Many independent fields of one architecture, fitted as one batched computation.

A dataset turned into INRs (one field per image: INSP classification, compression sweeps,
functasets without meta-learning) is N independent problems "find f_i with f_i(x) ~ y_i".
:class:`StackedFields` holds the N fields' parameters stacked along a leading axis
(:func:`torch.func.stack_module_state`) and evaluates all of them in one call of
:func:`torch.func.vmap` over :func:`torch.func.functional_call`: each layer becomes one batched
matrix product over the N fields, whatever the architecture (SIREN, ReLU, Fourier features).
vmap was chosen over hand-written batched layers because it is exact for every field inrkit
builds (the same module code runs, batched), where batched layers would be a second
implementation of each network to keep equal.

Exactness. The loss is the SUM over fields of each field's mean squared error. Field i's
loss depends on its own parameters only, so the gradient of the sum with respect to field i's
parameters is exactly its solo gradient, and it does not shrink with N (a mean would divide it
by N). Adam is elementwise, so one Adam over the stacked tensors makes, for every slice, the
update a solo Adam makes. Each field's initialisation comes from a generator seeded by
:func:`field_seed` (the run's seed and the sample's id, never its position in a batch), so a
field is the same whichever shard, batch or process fits it. Batched and one-at-a-time fits
therefore agree to float rounding (the batched matrix products sum in another order); a test
checks it.

One caveat: the loop's divergence check (:func:`inrkit.train.fit`) is over the whole stack, so
a field that diverges stops its shard (the stack keeps the weights from before that step).

Sharding (:func:`fit_many_run`): items are cut into fixed shards of ``shard_size`` ids; under
``torchrun`` rank r fits shards r, r + W, ... (:func:`inrkit.distributed.my_shards`); each shard
is written atomically with its SHA-256 in a receipt beside it, so a rerun skips finished
shards and a killed rank's shard is fitted again from scratch, to the same bytes.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from dataclasses import dataclass
from glob import escape as glob_escape
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from .. import __version__, coords as C
from ..atomic import write_bytes_atomic, write_json
from ..batch import Batch
from ..distributed import barrier, is_distributed, my_shards, rank_world
from ..errors import DivergedError, InrkitError
from ..metrics import psnr_from_mse
from ..signals.collections import ImageCollection, load_collection
from ..train.fit import fit
from ..train.progress import Progress

FORMAT = "inrkit-fields"
FORMAT_VERSION = 1
MAX_JSON_BYTES = 4 << 20
"""Largest manifest, receipt or ``run.json`` read (4 MiB): refused before parsing."""


def field_seed(seed: int, sample_id: int) -> int:
    """The initialisation seed of sample ``sample_id``'s field: 63 bits of SHA-256 of both numbers.

    Derived from the id, never from a position in a batch or shard, so a field's initial
    weights do not depend on how the dataset is cut or how many processes fit it."""
    digest = hashlib.sha256(f"inrkit-fit-many:{int(seed)}:{int(sample_id)}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


class StackedFields(nn.Module):
    """N fields of one architecture as one module: ``forward(coords (P, d)) -> (N, P, C)``.

    Parameters and buffers are stacked along a new first axis (``stack_module_state``); the
    fields' own module (a copy on the ``meta`` device, holding no data) is evaluated on each
    slice by ``vmap(functional_call)``. ``names`` lists the state-dict keys in order;
    :meth:`field` rebuilds field ``i`` as an ordinary module.
    """

    def __init__(self, fields: list[nn.Module]):
        super().__init__()
        if not fields:
            raise ValueError("StackedFields needs at least one field")
        params, buffers = torch.func.stack_module_state(fields)
        self.names = list(params)
        self.buffer_names = list(buffers)
        self.stacked = nn.ParameterList([nn.Parameter(params[k].detach().clone()) for k in self.names])
        for i, k in enumerate(self.buffer_names):
            self.register_buffer(f"buffer{i}", buffers[k].detach().clone())
        self.template = [copy.deepcopy(fields[0]).to("meta")]  # a list: not a sub-module (no state)
        self.spec_ = fields[0].spec() if hasattr(fields[0], "spec") else None

    def __len__(self) -> int:
        return self.stacked[0].shape[0]

    def _state(self) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        params = dict(zip(self.names, self.stacked))
        buffers = {k: getattr(self, f"buffer{i}") for i, k in enumerate(self.buffer_names)}
        return params, buffers

    def forward(self, coords: Tensor) -> Tensor:
        base = self.template[0]

        def one(p, b, x):
            return torch.func.functional_call(base, (p, b), (x,))

        params, buffers = self._state()
        return torch.func.vmap(one, in_dims=(0, 0, None))(params, buffers, coords)  # (N, P, C)

    def state_of(self, i: int) -> dict[str, Tensor]:
        """Field ``i``'s state dict (its parameters and buffers), detached copies."""
        params, buffers = self._state()
        return {k: v[i].detach().clone() for k, v in {**params, **buffers}.items()}

    def field(self, i: int) -> nn.Module:
        """Field ``i`` as an ordinary module (a copy)."""
        from ..fields.registry import build_field_from_spec

        f = build_field_from_spec(self.spec_, max_parameters=None)
        f.load_state_dict(self.state_of(i))
        return f


def per_field_mse(pred: Tensor, targets: Tensor) -> Tensor:
    """Mean squared error of each field: ``(N, P, C)`` -> ``(N,)``."""
    return ((pred - targets) ** 2).mean(dim=(1, 2))


class ManyReconstruction:
    """``loss`` = SUM over fields of each field's MSE, so each field's gradient is its solo gradient.

    Reads ``batch.coords (P, d)`` (shared) and ``batch.targets (N, P, C)``. Also returns ``mse``
    (mean over fields) and ``psnr`` (mean over fields of each field's PSNR, values in [-1, 1])."""

    def __call__(self, model: StackedFields, batch: Batch) -> dict[str, Tensor]:
        mse = per_field_mse(model(batch.coords), batch.targets)  # (N,)
        return {"loss": mse.sum(), "mse": mse.detach().mean(), "psnr": psnr_from_mse(mse.detach()).mean()}


def solo_reconstruction(field: nn.Module, batch: Batch) -> dict[str, Tensor]:
    """The one-field objective that :class:`ManyReconstruction` sums: MSE of ``field(coords)`` to
    ``targets (P, C)`` (the reference a test compares the batched fit with)."""
    mse = ((field(batch.coords) - batch.targets) ** 2).mean()
    return {"loss": mse, "psnr": psnr_from_mse(mse.detach())}


@dataclass(frozen=True)
class ManySettings:
    """One architecture and one optimisation for every field (``arch`` as in ``inrkit fit``)."""

    arch: str = "siren"
    width: int = 32
    hidden_layers: int = 3
    w0: float = 30.0
    steps: int = 300
    lr: float | None = None
    seed: int = 0

    def learning_rate(self) -> float:
        from ..config import DEFAULT_LR

        return self.lr if self.lr is not None else DEFAULT_LR[self.arch]


def build_one(s: ManySettings, out_dim: int, samples_per_axis: int, sample_id: int) -> nn.Module:
    """Sample ``sample_id``'s field, initialised from :func:`field_seed`."""
    from ..config import FieldConfig, build_field

    cfg = FieldConfig(arch=s.arch, width=s.width, hidden_layers=s.hidden_layers, w0=s.w0)
    g = torch.Generator().manual_seed(field_seed(s.seed, sample_id))
    return build_field(cfg, 2, out_dim, samples_per_axis=samples_per_axis, generator=g)


def _targets(images: np.ndarray, device) -> Tensor:
    """``(M, H, W, C)`` in [0, 1] -> ``(M, H*W, C)`` in [-1, 1] (inrkit's value range)."""
    m, h, w, c = images.shape
    return torch.as_tensor(images * 2 - 1, dtype=torch.float32, device=device).reshape(m, h * w, c)


def fit_stack(images: np.ndarray, ids: list[int], settings: ManySettings, device="cpu",
              progress: bool = False, label: str = "") -> tuple[StackedFields, Tensor, dict]:
    """Fit one field per image of ``images (N, H, W, C)`` in [0, 1] (sample ids ``ids``) at once.

    Every step sees every pixel of every image (the SIREN image recipe, Sitzmann et al. 2020,
    sec. 4). Returns the stacked fields, each field's final PSNR ``(N,)`` in dB on its whole
    image, and the loop's record (steps, seconds, status)."""
    n, h, w, c = images.shape
    if len(ids) != n:
        raise ValueError(f"{len(ids)} ids for {n} images")
    dev = torch.device(device)
    fields = [build_one(settings, c, max(h, w), i) for i in ids]
    model = StackedFields(fields).to(dev)
    xy = C.grid((h, w), device=dev).reshape(-1, 2)  # (P, 2)
    T = _targets(images, dev)  # (N, P, C)
    batch = Batch(coords=xy, targets=T)
    result = fit(model, lambda g: batch, ManyReconstruction(), steps=settings.steps,
                 optimizer=torch.optim.Adam(model.parameters(), lr=settings.learning_rate()),
                 callbacks=[Progress(label or f"fit {n} fields", progress)])
    with torch.no_grad():
        psnr = psnr_from_mse(per_field_mse(model(xy), T)).cpu()
    return model, psnr, {"steps": result.steps, "seconds": result.seconds, "status": result.status,
                         "message": result.message}


def fit_many(images: np.ndarray | str, ids: list[int] | None = None, settings: ManySettings = ManySettings(),
             device: str = "auto", progress: bool = False) -> tuple[StackedFields, Tensor]:
    """In memory: one field per image of ``images (N, H, W[, C])`` in [0, 1] (or a dataset name such as
    ``"digits"``, all of whose items are fitted), sample ids ``ids`` (default ``0..N-1``: they seed
    the initialisations). Returns the stacked fields (``.field(i)`` is an ordinary module) and each
    field's PSNR ``(N,)``. For a sharded, resumable run folder use :func:`fit_many_run`."""
    from ..device import resolve_device

    if isinstance(images, str):
        images = load_collection(images).images
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or len(images) == 0:
        raise InrkitError(f"fit_many takes images (N, H, W[, C]), not an array of shape {images.shape}")
    ids = list(range(len(images))) if ids is None else [int(i) for i in ids]
    model, psnr, _ = fit_stack(images, ids, settings, resolve_device(device), progress)
    return model, psnr


def fit_one(image: np.ndarray, sample_id: int, settings: ManySettings, device="cpu") -> tuple[nn.Module, float]:
    """One field fitted alone, as :func:`fit_stack` fits each of its fields: the reference."""
    h, w, c = image.shape
    dev = torch.device(device)
    field = build_one(settings, c, max(h, w), sample_id).to(dev)
    xy = C.grid((h, w), device=dev).reshape(-1, 2)
    batch = Batch(coords=xy, targets=_targets(image[None], dev)[0])
    fit(field, lambda g: batch, solo_reconstruction, steps=settings.steps,
        optimizer=torch.optim.Adam(field.parameters(), lr=settings.learning_rate()))
    with torch.no_grad():
        mse = ((field(xy) - batch.targets) ** 2).mean()
    return field, float(psnr_from_mse(mse))


# ---- a sharded, resumable run folder -------------------------------------------------------

def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read_json(path: Path, what: str) -> dict:
    if path.is_symlink() or not path.is_file():
        raise InrkitError(f"{path} is not a regular file ({what})")
    size = path.stat().st_size
    if size > MAX_JSON_BYTES:
        raise InrkitError(f"{path} is {size:,} bytes, above the limit of {MAX_JSON_BYTES:,} for {what}")
    try:
        doc = json.loads(path.read_bytes())
    except (ValueError, RecursionError, OSError) as exc:
        raise InrkitError(f"{path} is not readable JSON ({type(exc).__name__}): {what}") from None
    if not isinstance(doc, dict):
        raise InrkitError(f"{path} is not a JSON object ({what})")
    return doc


def run_identity(coll: ImageCollection, ids: list[int], s: ManySettings, shard_size: int) -> dict:
    """Everything that decides a run's shards: dataset, items, architecture, optimisation, seed, shard size."""
    return {"format": FORMAT, "dataset": coll.name, "image_shape": list(coll.shape), "items": len(ids),
            "first_id": ids[0], "last_id": ids[-1], "arch": s.arch, "width": s.width,
            "hidden_layers": s.hidden_layers, "w0": s.w0, "steps": s.steps, "lr": s.learning_rate(), "seed": s.seed,
            "shard_size": shard_size}


def _run_key(ident: dict) -> str:
    return _sha256(json.dumps(ident, sort_keys=True).encode())[:16]


def _shard_name(k: int) -> str:
    return f"shard_{k:05d}"


def _receipt_ok(folder: Path, k: int, key: str) -> bool:
    """Whether shard ``k`` is finished: its receipt names this run and the file's bytes match it.

    A receipt of another run is refused (one line): the folder holds another run's shards."""
    rpath = folder / f"{_shard_name(k)}.json"
    if not os.path.lexists(rpath):
        return False
    r = _read_json(rpath, "a shard receipt")
    if r.get("run") != key:
        raise InrkitError(f"{folder} holds shards of another run ({rpath.name} names run {str(r.get('run'))[:16]!r}, "
                          f"this run is {key}): use a new --out")
    spath = folder / f"{_shard_name(k)}.safetensors"
    if spath.is_symlink() or not spath.is_file():
        return False
    return _sha256(spath.read_bytes()) == r.get("sha256")


def _remove_partial(folder: Path, names: list[str]) -> None:
    """Temporary files of killed atomic writes (``.NAME.XXXXXXXX``) of this rank's shards only."""
    for name in names:
        for tmp in folder.glob(f".{glob_escape(name)}.*"):
            if tmp.is_file() and not tmp.is_symlink() and len(tmp.name) == len(name) + 10:
                tmp.unlink(missing_ok=True)


def fit_many_run(dataset: str | ImageCollection, out: str | Path, settings: ManySettings = ManySettings(),
                 items: int | None = None, start: int = 0, shard_size: int = 256, device: str = "auto",
                 progress: bool = False, stop_after_shards: int | None = None, command: str = "") -> dict | None:
    """Fit one field per image of ``dataset`` (ids ``start .. start + items - 1``) into the folder ``out``.

    Written in place, resumable: ``run.json`` (the run's identity), per shard
    ``shard_KKKKK.safetensors`` (every parameter stacked ``(n, ...)``, plus ``ids`` and ``psnr``)
    and its receipt ``shard_KKKKK.json`` (run key and SHA-256), written atomically in that order;
    then, once every shard is done, ``manifest.json`` and ``metrics.json`` (per-signal PSNR).
    Under ``torchrun`` each rank fits its rank-strided shards; the last rank to finish (rank 0
    after a barrier when a process group runs) merges. Returns the metrics when this process
    merged, else None. ``stop_after_shards`` stops this process after that many shards (tests).
    """
    from ..device import resolve_device

    coll = dataset if isinstance(dataset, ImageCollection) else load_collection(dataset)
    m = len(coll.labels)
    if start < 0 or start >= m:
        raise InrkitError(f"--start {start} is outside the dataset's {m} items")
    stop = m if items is None else min(m, start + items)
    if stop <= start or shard_size < 1 or settings.steps < 1:
        raise InrkitError("items, shard size and steps must be at least 1")
    ids = list(range(start, stop))
    rank, world = rank_world()
    dev = resolve_device(device)
    if dev.type == "cuda" and "LOCAL_RANK" in os.environ:
        dev = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    ident = run_identity(coll, ids, settings, shard_size)
    key = _run_key(ident)
    doc = {**ident, "run": key}
    if os.path.lexists(out / "run.json"):
        found = _read_json(out / "run.json", "a fit-many run description")
        if found.get("run") != key:
            raise InrkitError(f"{out} holds another fit-many run (dataset, items or settings differ): use a new --out")
    elif any(out.glob("shard_*.json")) or os.path.lexists(out / "manifest.json"):
        raise InrkitError(f"{out} holds shards or a manifest without run.json: not this run's folder; use a new --out")
    elif any(not p.name.startswith((".run.json.", ".shard_")) for p in out.iterdir()):  # our own temporaries only
        raise InrkitError(f"{out} already holds files that no fit-many run wrote (no run.json); use a new or "
                          "empty --out")
    else:
        write_json(out / "run.json", doc)  # every rank writes the same bytes
    if os.path.lexists(out / "manifest.json"):
        man = _read_json(out / "manifest.json", "a fit-many manifest")
        if man.get("run") != key:
            raise InrkitError(f"{out / 'manifest.json'} belongs to another run: use a new --out")
    shards = [(k, ids[i:i + shard_size]) for k, i in enumerate(range(0, len(ids), shard_size))]
    mine = my_shards(len(shards), rank, world)
    _remove_partial(out, [f"{_shard_name(k)}.{ext}" for k in mine for ext in ("safetensors", "json")])
    todo = [k for k in mine if not _receipt_ok(out, k, key)]
    if stop_after_shards is not None:
        todo = todo[:stop_after_shards]
    from safetensors.torch import save as st_save

    for k in todo:
        sid = shards[k][1]
        model, psnr, rec = fit_stack(coll.images[sid[0]:sid[-1] + 1], sid, settings, dev, progress,
                                     label=f"shard {k + 1}/{len(shards)} ({len(sid)} fields)")
        tensors = {f"field.{n}": t.detach().cpu().contiguous() for n, t in zip(model.names, model.stacked)}
        tensors.update({f"buffer.{n}": getattr(model, f"buffer{i}").cpu().contiguous()
                        for i, n in enumerate(model.buffer_names)})
        tensors["ids"] = torch.as_tensor(sid, dtype=torch.int64)
        tensors["psnr"] = psnr.float().contiguous()
        # one metadata key: safetensors writes several in a random order, and the shards must be byte-identical
        data = st_save(tensors, metadata={"inrkit": f"{FORMAT} run {key}"})
        write_bytes_atomic(out / f"{_shard_name(k)}.safetensors", data)
        write_json(out / f"{_shard_name(k)}.json", {"run": key, "shard": k, "ids": [sid[0], sid[-1] + 1],
                                                     "sha256": _sha256(data), "steps": rec["steps"],
                                                     "status": rec["status"], "seconds": rec["seconds"],
                                                     "rank": rank, "world_size": world})
    if stop_after_shards is not None:
        return None
    if is_distributed():
        barrier()
        if rank != 0:
            return None
    if not all(_receipt_ok(out, k, key) for k, _ in shards):
        return None  # another rank is still fitting: it merges when it finishes
    return _merge(out, coll, shards, ident, key, settings, command)


def _merge(out: Path, coll: ImageCollection, shards, ident: dict, key: str, s: ManySettings, command: str) -> dict:
    """``manifest.json`` and ``metrics.json`` from the finished shards (the same bytes whoever merges)."""
    from safetensors import safe_open

    h, w, c = coll.shape
    arch = build_one(s, c, max(h, w), 0).spec()
    psnr, entries, seconds, statuses = [], [], 0.0, {}
    for k, sid in shards:
        r = _read_json(out / f"{_shard_name(k)}.json", "a shard receipt")
        with safe_open(str(out / f"{_shard_name(k)}.safetensors"), framework="pt") as f:
            psnr += [float(v) for v in f.get_tensor("psnr")]
        entries.append({"file": f"{_shard_name(k)}.safetensors", "start": sid[0], "stop": sid[-1] + 1,
                        "sha256": r["sha256"]})
        seconds += float(r.get("seconds", 0.0))
        statuses[str(r.get("status"))] = statuses.get(str(r.get("status")), 0) + 1
    ids = [i for _, sid in shards for i in sid]
    manifest = {**ident, "run": key, "format_version": FORMAT_VERSION, "inrkit_version": __version__,
                "architecture": arch, "signal": {"kind": "image", "shape": [h, w], "channels": c},
                "value_range": [-1.0, 1.0], "shards": entries}
    metrics = {"command": command, "inrkit_version": __version__, "dataset": coll.name, "items": len(ids),
               "psnr_mean": float(np.mean(psnr)), "psnr_min": float(np.min(psnr)), "psnr_max": float(np.max(psnr)),
               "train_seconds": seconds, "signals_per_process_second": len(ids) / seconds if seconds > 0 else None,
               "shard_status": statuses, "ids": ids, "psnr": psnr,
               "labels": [int(coll.labels[i]) for i in ids]}
    write_json(out / "manifest.json", manifest)
    write_json(out / "metrics.json", metrics)
    bad = {k: n for k, n in statuses.items() if k != "ok"}
    if bad:  # a shard whose loss went non-finite kept its last finite weights: the run is not a success
        raise DivergedError(f"{sum(bad.values())} of {len(shards)} shards did not finish ({', '.join(bad)}); "
                            f"their fields keep the last finite weights; see {out / 'metrics.json'}")
    return metrics


def load_field(folder: str | Path, sample_id: int) -> tuple[nn.Module, dict]:
    """Field ``sample_id`` of a finished fit-many folder, with checkpoint metadata (for
    :func:`inrkit.train.checkpoint.save`): the shard's checksum is checked first."""
    from safetensors import safe_open

    from ..fields.registry import build_field_from_spec, check_field_spec

    folder = Path(folder)
    if not os.path.lexists(folder / "manifest.json"):
        raise InrkitError(f"{folder} has no manifest.json: not a finished fit-many folder")
    man = _read_json(folder / "manifest.json", "a fit-many manifest")
    if man.get("format") != FORMAT or not isinstance(man.get("shards"), list):
        raise InrkitError(f"{folder / 'manifest.json'} is not a fit-many manifest")
    entry = next((e for e in man["shards"] if isinstance(e, dict) and isinstance(e.get("start"), int)
                  and isinstance(e.get("stop"), int) and e["start"] <= sample_id < e["stop"]), None)
    if entry is None:
        raise InrkitError(f"item {sample_id} is not in {folder} (it holds ids {man.get('first_id')} to "
                          f"{man.get('last_id')})")
    name = entry.get("file")
    if not isinstance(name, str) or Path(name).name != name or not name.endswith(".safetensors"):
        raise InrkitError(f"{folder / 'manifest.json'} names a shard outside the folder")
    path = folder / name
    if path.is_symlink() or not path.is_file():
        raise InrkitError(f"shard {name} is missing from {folder}")
    if _sha256(path.read_bytes()) != entry.get("sha256"):
        raise InrkitError(f"shard {name} does not match its SHA-256 in the manifest (changed or corrupt)")
    check_field_spec(man.get("architecture"))
    field = build_field_from_spec(man["architecture"])
    row = sample_id - entry["start"]
    with safe_open(str(path), framework="pt") as f:
        keys = set(f.keys())
        state = {}
        for k in field.state_dict():
            src = f"field.{k}" if f"field.{k}" in keys else f"buffer.{k}"
            if src not in keys:
                raise InrkitError(f"shard {name} has no tensor for {k}")
            state[k] = f.get_slice(src)[row:row + 1][0].clone()
    field.load_state_dict(state)
    with safe_open(str(path), framework="pt") as f:
        psnr = float(f.get_slice("psnr")[row:row + 1][0])
    try:
        meta = {"task": "fit-many", "arch": str(man["arch"]),
                "signal": {**man["signal"], "name": f"{man['dataset']}[{sample_id}]"},
                "coords": {"convention": "cell centres, x_i = -1 + (2i+1)/N", "order": ["x", "y"],
                           "bounds": [[-1.0, 1.0], [-1.0, 1.0]], "y_axis": "down (image rows)"},
                "value_range": [-1.0, 1.0],
                "training": {"steps": man["steps"], "lr": man["lr"], "seed": man["seed"], "sample_id": sample_id,
                             "psnr": psnr, "fit_many_run": man["run"]}}
    except (KeyError, TypeError):
        raise InrkitError(f"{folder / 'manifest.json'} is not a complete fit-many manifest") from None
    return field.eval(), meta
