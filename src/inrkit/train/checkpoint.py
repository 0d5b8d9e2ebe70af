"""Checkpoints: ``NAME.safetensors`` (tensors) beside ``NAME.json`` (everything else).

Loading never unpickles: tensors come from safetensors, the architecture from JSON,
and both are checked against each other before any value is used. Each part rebuilds
itself from its JSON spec (``inrkit.fields.registry``), so this module depends on the
field layer only, never on the configuration at the edge.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from torch import nn

from .. import __version__
from ..atomic import write_bytes_atomic
from ..errors import InrkitError
from ..fields.registry import DEFAULT_MAX_PARAMETERS, build_field_from_spec, check_field_spec
from ..specs import show

FORMAT = "inrkit-checkpoint"
FORMAT_VERSION = 1


def _paths(path: str | Path) -> tuple[Path, Path]:
    """Accept ``NAME``, ``NAME.safetensors``, ``NAME.json`` or a run folder holding ``model.*``."""
    p = Path(path)
    if p.is_dir():
        p = p / "model"
    if p.suffix in (".safetensors", ".json"):
        p = p.with_suffix("")
    return p.with_suffix(".safetensors"), p.with_suffix(".json")


def save(path: str | Path, field: nn.Module, meta: dict) -> tuple[Path, Path]:
    """Write the field's state and ``meta`` (plus its architecture spec) atomically."""
    from safetensors.torch import save as st_save

    st_path, json_path = _paths(path)
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in field.state_dict().items()}
    doc = {"format": FORMAT, "format_version": FORMAT_VERSION, "inrkit_version": __version__,
           "architecture": field.spec(), **meta}
    write_bytes_atomic(st_path, st_save(tensors, metadata={"format": FORMAT}))
    write_bytes_atomic(json_path, (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode())
    return st_path, json_path


MAX_JSON_BYTES = 8 << 20
"""Largest ``NAME.json`` read (8 MiB; a long functa run's history is about 1.5 MB): refused before parsing."""
MAX_JSON_DEPTH = 64
"""Deepest nesting of objects and lists in ``NAME.json`` (inrkit writes about 5)."""

KINDS = {
    "field": ("a field", "inrkit render"),
    "functa": ("a functa", "inrkit functa"),
    "nerf": ("a NeRF", "inrkit nerf"),
    "insp": ("an INSP operator", "inrkit insp apply"),
}
"""Each kind of checkpoint: how a message names it and the command that reads it."""
_KIND_OF_ARCHITECTURE = {"latent_modulated": "functa", "nerf": "nerf", "insp_readout": "insp"}
_KIND_OF_TASK = {"functa": "functa", "nerf": "nerf"}
"""A new kind (INSP, codec, ...) is a line in ``KINDS`` and one in either table."""

_DTYPES = {torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
           torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8",
           torch.bool: "BOOL"}
"""torch dtypes as the safetensors header spells them."""


def kind(meta: dict) -> str:
    """The kind of a checkpoint (a key of :data:`KINDS`) from its JSON, without building anything.

    The architecture's type decides (shared weights with latents are functa, ``nerf`` is NeRF);
    the ``task`` a workflow wrote decides otherwise; anything else is a plain ``field``.
    """
    arch = meta.get("architecture")
    arch_type = arch.get("type") if isinstance(arch, dict) else None
    if isinstance(arch_type, str) and arch_type in _KIND_OF_ARCHITECTURE:
        return _KIND_OF_ARCHITECTURE[arch_type]
    task = meta.get("task")
    if isinstance(task, str) and task in _KIND_OF_TASK:
        return _KIND_OF_TASK[task]
    return "field"


def _depth(doc: object) -> int:
    """Nesting depth of a parsed JSON document, without recursion."""
    deepest, stack = 0, [(doc, 1)]
    while stack:
        node, d = stack.pop()
        if isinstance(node, (dict, list)):
            deepest = max(deepest, d)
            if deepest > MAX_JSON_DEPTH:
                return deepest
            stack.extend((v, d + 1) for v in (node.values() if isinstance(node, dict) else node))
    return deepest


def read_meta(path: str | Path) -> dict:
    """``NAME.json`` of a checkpoint, checked as a document: size, JSON, nesting, format.

    Raises :class:`InrkitError` (one line); the architecture itself is checked by
    :func:`inrkit.fields.registry.check_field_spec`.
    """
    _, json_path = _paths(path)
    if not json_path.is_file():
        raise InrkitError(f"checkpoint file missing: {json_path}")
    size = json_path.stat().st_size
    if size > MAX_JSON_BYTES:
        raise InrkitError(f"{json_path} is {size:,} bytes, above the limit of {MAX_JSON_BYTES:,} for a checkpoint "
                          "description")
    try:
        meta = json.loads(json_path.read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InrkitError(f"{json_path} is not valid JSON ({exc})") from None
    except (RecursionError, ValueError) as exc:  # nesting beyond the parser's stack; an integer of 4,300+ digits
        raise InrkitError(f"{json_path} is not valid JSON ({type(exc).__name__})") from None
    if _depth(meta) > MAX_JSON_DEPTH:
        raise InrkitError(f"{json_path} nests objects and lists deeper than {MAX_JSON_DEPTH} levels")
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or "architecture" not in meta:
        raise InrkitError(f"{json_path} is not an inrkit checkpoint description")
    return meta


def _header(st_path: Path) -> dict[str, tuple[str, tuple[int, ...]]]:
    """Names, dtypes and shapes from the safetensors header, without reading the tensors' data."""
    from safetensors import safe_open

    try:
        with safe_open(str(st_path), framework="pt") as f:
            out = {}
            for k in f.keys():
                sl = f.get_slice(k)
                out[k] = (str(sl.get_dtype()), tuple(int(n) for n in sl.get_shape()))
            return out
    except Exception as exc:  # safetensors raises its own error types (and OSError) for a bad file
        first = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
        raise InrkitError(f"{st_path} is corrupt or truncated ({first})") from None


def _first(names: list[str]) -> str:
    return ", ".join(show(n, 60) for n in names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def _no_model_in_folder(folder: Path, expect: str | None) -> None:
    """A run folder without ``model.json`` (functa writes ``model_z{d}.json``): say what it holds."""
    others = sorted(p.name for p in folder.glob("model_*.json"))[:3]
    if not others:
        raise InrkitError(f"checkpoint file missing: {folder / 'model.json'}")
    if expect is not None:
        try:
            found = kind(read_meta(folder / others[0]))
        except InrkitError:
            found = expect
        if found != expect:
            name, command = KINDS[found]
            raise InrkitError(f"{folder / others[0]} is {name} checkpoint; use `{command} ...`")
    raise InrkitError(f"{folder} has no model.json; name one of its checkpoints: {', '.join(others)}")


def default_max_parameters() -> int:
    """The loader's parameter budget: 2^28, or ``INRKIT_MAX_PARAMETERS`` when a user raised it above that
    (the variable that bounds the fields inrkit trains, so whatever was trained can be loaded)."""
    raw = os.environ.get("INRKIT_MAX_PARAMETERS", "")
    try:
        return max(DEFAULT_MAX_PARAMETERS, int(raw))
    except ValueError:
        return DEFAULT_MAX_PARAMETERS


def load(path: str | Path, device: str | torch.device = "cpu", *, expect: str | None = None,
         max_parameters: int | None | str = "default", allow_nonfinite: bool = False
         ) -> tuple[nn.Module, dict]:
    """Rebuild the field from ``NAME.json`` and fill it from ``NAME.safetensors``.

    In order, each step before anything larger is read or allocated: the JSON's size, syntax
    and nesting (:func:`read_meta`); its kind, when ``expect`` names one of :data:`KINDS`;
    the architecture checked from its numbers, with at most ``max_parameters`` tensor elements
    (``"default"``: :func:`default_max_parameters`; ``None``: no limit); the tensors' names, dtypes and shapes in the safetensors header
    against those of the model built on the ``meta`` device (no data); then the tensors, which
    must be finite unless ``allow_nonfinite`` (a buffer a model declares in ``INFINITE_OK``, such
    as NeRF's unvisited occupancy cells, may hold +inf).

    Raises :class:`InrkitError` (one line) for a missing, corrupt or truncated file, a
    malformed or oversized architecture, a checkpoint of another kind, tensors that do not
    match the architecture, or non-finite values.
    """
    from safetensors.torch import load as st_load

    st_path, json_path = _paths(path)
    if Path(path).is_dir() and not json_path.exists():
        _no_model_in_folder(Path(path), expect)
    for p in (st_path, json_path):
        if not p.is_file():
            raise InrkitError(f"checkpoint file missing: {p}")
    meta = read_meta(json_path)
    if expect is not None:
        found = kind(meta)
        if found != expect:
            name, command = KINDS[found]
            raise InrkitError(f"{path} is {name} checkpoint; use `{command} ...`")
    arch = meta["architecture"]
    check_field_spec(arch, default_max_parameters() if max_parameters == "default" else max_parameters)
    header = _header(st_path)
    with torch.device("meta"):
        shell = build_field_from_spec(arch, max_parameters=None)
    expected = {k: (_DTYPES.get(v.dtype, str(v.dtype)), tuple(v.shape)) for k, v in shell.state_dict().items()}
    del shell
    if expected != header:
        missing = sorted(set(expected) - set(header))
        extra = sorted(set(header) - set(expected))
        both = sorted(set(expected) & set(header))
        shape = [k for k in both if expected[k][1] != header[k][1]]
        dtype = [k for k in both if expected[k][0] != header[k][0]]
        parts = [f"{what} {_first(names)}" for what, names in
                 (("missing", missing), ("unexpected", extra), ("wrong shape", shape)) if names]
        parts += [f"wrong dtype {k} ({header[k][0]}, expected {expected[k][0]})" for k in dtype[:1]]
        raise InrkitError(f"{st_path.name} does not match {json_path.name}: {'; '.join(parts)}")
    try:
        tensors = st_load(st_path.read_bytes())
    except Exception as exc:  # the header read, the data did not (a file changed or truncated since)
        first = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
        raise InrkitError(f"{st_path} is corrupt or truncated ({first})") from None
    field = build_field_from_spec(arch, max_parameters=None)
    if not allow_nonfinite:
        infinite_ok = set(getattr(field, "INFINITE_OK", ()))
        for k in sorted(tensors):
            t = tensors[k]
            if not t.is_floating_point():
                continue
            bad = torch.isnan(t) | (torch.isinf(t) & ~((t > 0) & (k in infinite_ok)))
            n = int(bad.sum())
            if n:
                raise InrkitError(f"{st_path.name}: tensor {show(k, 60)} holds {n:,} NaN or infinite values of "
                                  f"{t.numel():,} (load with allow_nonfinite=True to inspect it anyway)")
    field.load_state_dict(tensors)
    return field.to(device).eval(), meta
