"""Rebuild encodings, networks and fields from the JSON their ``spec()`` writes.

Every part describes itself with ``spec()`` (a JSON-able dict whose ``"type"`` names its
class) and rebuilds itself with the classmethod ``from_spec(spec)``, both in its own
module. This module only maps each ``"type"`` to its class, one table per family, so
``train/checkpoint.py`` needs nothing above the field layer.

- Encodings and networks sit below the field layer and import nothing from it; they are
  registered by the lines at the bottom of this module (a new one: a class with
  ``spec``/``from_spec`` and one line there).
- Fields register themselves with ``@register_field("type")`` where they are defined.
  Kinds defined above the field layer (NeRF's model in ``rendering/nerf.py``) are listed
  in ``_DEFINED_IN`` and imported on first use, so loading one needs no import from the
  caller while the field layer imports nothing above it when it is loaded.

A rebuilt part has fresh (untrained) parameters; a checkpoint then fills its tensors.
"""

from __future__ import annotations

import importlib
from typing import Callable, TypeVar

from torch import nn

from ..encodings import DenseGrid, Encoding, GaussianFourierFeatures, Identity, MultiresGrid, PositionalEncoding
from ..errors import InrkitError
from ..nn import MLP, Network, Siren

ENCODINGS: dict[str, type[Encoding]] = {}
NETWORKS: dict[str, type[Network]] = {}
FIELDS: dict[str, type[nn.Module]] = {}

_DEFINED_IN = {"nerf": "inrkit.rendering.nerf"}
"""Field kinds registered by modules above the field layer: imported when first asked for."""

C = TypeVar("C", bound=type)


def _register(table: dict[str, type], family: str, kind: str) -> Callable[[C], C]:
    def decorate(cls: C) -> C:
        if table.get(kind, cls) is not cls:
            raise ValueError(f"{family} type {kind!r} is already registered to {table[kind].__name__}")
        table[kind] = cls
        return cls

    return decorate


def register_encoding(kind: str) -> Callable[[C], C]:
    """Class decorator: ``spec()["type"] == kind`` rebuilds with ``cls.from_spec``."""
    return _register(ENCODINGS, "encoding", kind)


def register_network(kind: str) -> Callable[[C], C]:
    """Class decorator: ``spec()["type"] == kind`` rebuilds with ``cls.from_spec``."""
    return _register(NETWORKS, "network", kind)


def register_field(kind: str) -> Callable[[C], C]:
    """Class decorator: ``spec()["type"] == kind`` rebuilds with ``cls.from_spec``."""
    return _register(FIELDS, "field", kind)


def spec_kwargs(spec: dict, *names: str) -> dict:
    """The constructor arguments among ``names`` that ``spec`` holds; absent ones keep their defaults.

    Keys that are not constructor arguments (``"type"``) are ignored, as they always were.
    """
    return {n: spec[n] for n in names if n in spec}


def _kind(spec) -> object:
    if not isinstance(spec, dict):
        raise TypeError(f"expected a JSON object, got {type(spec).__name__}")
    return spec.get("type")


def build_encoding(spec: dict) -> Encoding:
    """Rebuild an encoding from its ``spec()``."""
    kind = _kind(spec)
    if kind not in ENCODINGS:
        raise InrkitError(f"unknown encoding type {kind!r} in checkpoint")
    return ENCODINGS[kind].from_spec(spec)  # type: ignore[arg-type]


def build_network(spec: dict) -> Network:
    """Rebuild a network from its ``spec()``."""
    kind = _kind(spec)
    if kind not in NETWORKS:
        raise InrkitError(f"unknown network type {kind!r} in checkpoint")
    return NETWORKS[kind].from_spec(spec)  # type: ignore[arg-type]


def build_field_from_spec(spec: dict) -> nn.Module:
    """Rebuild an (untrained) field from ``field.spec()``; a checkpoint then fills its tensors.

    Raises :class:`InrkitError` (one line) for an unknown type of field, encoding or
    network, or a spec with missing or ill-typed entries.
    """
    try:
        kind = _kind(spec)
        if kind not in FIELDS and kind in _DEFINED_IN:
            importlib.import_module(_DEFINED_IN[kind])  # type: ignore[index]
        if kind not in FIELDS:
            raise InrkitError(f"unknown field type {kind!r} in checkpoint")
        return FIELDS[kind].from_spec(spec)  # type: ignore[attr-defined,index]
    except (KeyError, TypeError, ValueError) as exc:
        raise InrkitError(f"checkpoint architecture is malformed ({type(exc).__name__}: {exc})") from None


# ---- the parts below the field layer ------------------------------------------------------
register_encoding("identity")(Identity)
register_encoding("pe")(PositionalEncoding)
register_encoding("ffn")(GaussianFourierFeatures)
register_encoding("hashgrid")(MultiresGrid)
register_encoding("densegrid")(DenseGrid)
register_network("mlp")(MLP)
register_network("siren")(Siren)
