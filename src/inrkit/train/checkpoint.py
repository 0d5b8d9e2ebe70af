"""Checkpoints: ``NAME.safetensors`` (tensors) beside ``NAME.json`` (everything else).

Loading never unpickles: tensors come from safetensors, the architecture from JSON,
and both are checked against each other before any value is used. Each part rebuilds
itself from its JSON spec (``inrkit.fields.registry``), so this module depends on the
field layer only, never on the configuration at the edge.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from .. import __version__
from ..atomic import write_bytes_atomic
from ..errors import InrkitError
from ..fields.registry import build_field_from_spec

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


def load(path: str | Path, device: str | torch.device = "cpu") -> tuple[nn.Module, dict]:
    """Rebuild the field from ``NAME.json`` and fill it from ``NAME.safetensors``.

    Raises :class:`InrkitError` (one line) for a missing, corrupt or truncated file, or
    when the tensors do not match the architecture the JSON describes.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load as st_load

    st_path, json_path = _paths(path)
    for p in (st_path, json_path):
        if not p.is_file():
            raise InrkitError(f"checkpoint file missing: {p}")
    try:
        meta = json.loads(json_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InrkitError(f"{json_path} is not valid JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or "architecture" not in meta:
        raise InrkitError(f"{json_path} is not an inrkit checkpoint description")
    try:
        tensors = st_load(st_path.read_bytes())
    except (SafetensorError, ValueError, OSError) as exc:
        raise InrkitError(f"{st_path} is corrupt or truncated ({str(exc).splitlines()[0]})") from None
    field = build_field_from_spec(meta["architecture"])
    expected = {k: tuple(v.shape) for k, v in field.state_dict().items()}
    found = {k: tuple(v.shape) for k, v in tensors.items()}
    if expected != found:
        missing = sorted(set(expected) - set(found))
        extra = sorted(set(found) - set(expected))
        shape = sorted(k for k in set(expected) & set(found) if expected[k] != found[k])
        raise InrkitError(f"{st_path.name} does not match {json_path.name}: "
                          f"missing {missing[:3]}, unexpected {extra[:3]}, wrong shape {shape[:3]}")
    field.load_state_dict(tensors)
    return field.to(device).eval(), meta
