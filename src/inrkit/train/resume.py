"""Resumable training: the whole state of a :func:`~inrkit.train.fit` run as safetensors + JSON.

A snapshot holds the model's and the optimiser's state, the learning-rate schedule, the
generator that draws the batches, the step, the training seconds and every callback's own
state (its ``state_dict()``, when it has one). :class:`Snapshots` writes one periodically
(atomically: a killed process leaves the previous one whole); ``fit(..., resume=load(...))``
continues from it, and on the CPU the resumed run ends with the same bytes as a run that was
never interrupted.

Files are ``state.safetensors`` (every tensor) beside ``state.json`` (the structure, with
tensors replaced by their names). Nothing is ever unpickled.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ..atomic import write_bytes_atomic
from ..errors import InrkitError
from .fit import Callback, FitState

FORMAT = "inrkit-training-state"
MAX_JSON_BYTES = 64 << 20


def _flatten(obj: Any, tensors: dict[str, Tensor]) -> Any:
    """Replace tensors by references, dicts by key-value lists (optimiser states have int keys)."""
    if isinstance(obj, Tensor):
        name = f"t{len(tensors)}"
        tensors[name] = obj.detach().cpu().contiguous()
        return {"__tensor__": name}
    if isinstance(obj, dict):
        return {"__dict__": [[k, _flatten(v, tensors)] for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        return {"__list__" if isinstance(obj, list) else "__tuple__": [_flatten(v, tensors) for v in obj]}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot store {type(obj).__name__} in a training state")


def _unflatten(obj: Any, tensors: dict[str, Tensor]) -> Any:
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            return tensors[obj["__tensor__"]]
        if "__dict__" in obj:
            return {(tuple(k) if isinstance(k, list) else k): _unflatten(v, tensors) for k, v in obj["__dict__"]}
        if "__list__" in obj:
            return [_unflatten(v, tensors) for v in obj["__list__"]]
        if "__tuple__" in obj:
            return tuple(_unflatten(v, tensors) for v in obj["__tuple__"])
        raise ValueError("unknown node")
    return obj


def snapshot(state: FitState) -> dict:
    """Everything ``fit(..., resume=)`` needs to continue ``state``'s run exactly."""
    snap = {"step": state.step, "train_seconds": state.train_seconds, "log": dict(state.log),
            "model": state.model.state_dict(), "optimizer": state.optimizer.state_dict(),
            "scheduler": state.scheduler.state_dict() if hasattr(state.scheduler, "state_dict") else None,
            "generator": state.generator.get_state() if state.generator is not None else None,
            "callbacks": [cb.state_dict() if hasattr(cb, "state_dict") else None for cb in state.callbacks],
            # what --log recorded so far: a resumed run's scalars.csv and TensorBoard events start at step 1
            "recorded": [cb.recorded(state) for cb in state.callbacks if hasattr(cb, "recorded")]}
    return snap


def save(folder: str | Path, snap: dict, meta: dict | None = None) -> None:
    """Write ``snap`` (and ``meta``, e.g. the command's settings) into ``folder`` atomically."""
    from safetensors.torch import save as st_save

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, Tensor] = {}
    skeleton = _flatten(snap, tensors)
    doc = {"format": FORMAT, "state": skeleton, "meta": meta or {}, "written": time.time()}
    # tensors first, then the JSON that names them: a kill in between leaves the old JSON, which
    # names tensors of the old file; so the pair is written under one temporary name and renamed
    tmp = folder / f".pair-{time.time_ns()}"
    tmp.mkdir()
    try:
        write_bytes_atomic(tmp / "state.safetensors", st_save(tensors))
        write_bytes_atomic(tmp / "state.json", json.dumps(doc).encode())
        old = folder / "current"
        if old.exists():
            retired = folder / f".retired-{time.time_ns()}"
            old.rename(retired)
            tmp.rename(old)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            tmp.rename(old)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def load(folder: str | Path) -> tuple[dict, dict]:
    """``(snapshot, meta)`` from ``folder``; one-line :class:`InrkitError` when missing or damaged."""
    from safetensors import SafetensorError
    from safetensors.torch import load as st_load

    folder = Path(folder)
    cur = folder / "current"
    if not cur.is_dir():  # a kill during the swap: the pair is whole under its retired name
        pairs = sorted(folder.glob(".retired-*")) if folder.is_dir() else []
        if not pairs:
            raise InrkitError(f"no training state to resume in {folder}")
        cur = pairs[-1]
    try:
        raw = (cur / "state.json").read_bytes()
        if len(raw) > MAX_JSON_BYTES:
            raise ValueError("state.json is too large")
        doc = json.loads(raw)
        if doc.get("format") != FORMAT:
            raise ValueError("not an inrkit training state")
        tensors = st_load((cur / "state.safetensors").read_bytes())
        return _unflatten(doc["state"], tensors), doc.get("meta", {})
    except (OSError, ValueError, KeyError, TypeError, SafetensorError) as exc:
        raise InrkitError(f"the training state in {folder} cannot be read ({str(exc).splitlines()[0]})") from None


def restore(state: FitState, snap: dict) -> None:
    """Put ``snap`` back into a freshly built run (called by ``fit`` before the first step)."""
    state.model.load_state_dict(snap["model"])
    state.optimizer.load_state_dict(snap["optimizer"])
    if snap.get("scheduler") is not None and hasattr(state.scheduler, "load_state_dict"):
        state.scheduler.load_state_dict(snap["scheduler"])
    if snap.get("generator") is not None and state.generator is not None:
        state.generator.set_state(snap["generator"])
    state.step, state.train_seconds = int(snap["step"]), float(snap["train_seconds"])
    state.log.update(snap.get("log", {}))
    # Stateful callbacks (evaluation histories, scalar logs) are matched in order; stateless ones
    # (progress display, a live viewer) may differ between the run and its resumption.
    saved = [cs for cs in snap.get("callbacks", []) if cs is not None]
    stateful = [cb for cb in state.callbacks if hasattr(cb, "state_dict")]
    if len(saved) != len(stateful) or any(not hasattr(cb, "load_state_dict") for cb in stateful):
        raise InrkitError("the training state was written by a run with other callbacks; it cannot be resumed here")
    for cb, cs in zip(stateful, saved):
        cb.load_state_dict(cs)
    recorded = snap.get("recorded") or []
    if not isinstance(recorded, list) or not all(rows is None or _whole_record(rows) for rows in recorded):
        raise InrkitError("the training state's --log record is damaged; it cannot be resumed")
    for cb, rows in zip([cb for cb in state.callbacks if hasattr(cb, "resume_recorded")], recorded):
        cb.resume_recorded(rows)


def _whole_record(rows) -> bool:
    """Whether ``rows`` is a record as ``Progress.recorded`` stores it: n x c values and presence, n wall times."""
    try:
        n, c = rows["values"].shape
        return (isinstance(rows["columns"], list) and len(rows["columns"]) == c
                and all(isinstance(k, str) for k in rows["columns"]) and rows["present"].shape == (n, c)
                and rows["present"].dtype == torch.bool and rows["wall"].shape == (n,)
                and isinstance(rows.get("seen", {}), dict))
    except (KeyError, TypeError, ValueError, AttributeError):
        return False


class Snapshots(Callback):
    """Write a snapshot into ``folder`` every ``every_seconds`` of wall time (and never at step 0).

    ``meta`` is stored beside it (the command's settings, so a resume can check it continues
    the same run). The folder is left in place at the end: the caller removes it once the
    run's results are safely written.
    """

    def __init__(self, folder: str | Path, every_seconds: float, meta: dict | None = None):
        self.folder, self.every, self.meta = Path(folder), float(every_seconds), meta or {}
        self._last = 0.0
        self.written = 0

    def on_start(self, state: FitState) -> None:
        self._last = time.perf_counter()

    def after_step(self, state: FitState) -> None:
        if time.perf_counter() - self._last >= self.every and not state.last_step:
            self._save(state)

    def on_end(self, state: FitState) -> None:
        if state.interrupted and state.step > 0:  # Ctrl-C: continue from exactly here with a resume
            self._save(state)

    def _save(self, state: FitState) -> None:
        save(self.folder, snapshot(state), self.meta)
        self.written += 1
        self._last = time.perf_counter()
