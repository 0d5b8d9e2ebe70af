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

Before anything is built, each class checks its own spec from the numbers with the
classmethod ``check_spec(spec) -> int`` beside its ``from_spec`` (types, ranges, known
choices; ``inrkit.specs``), returning the number of tensor elements it would allocate.
:func:`check_field_spec` sums them, so a loader can refuse a model above a parameter
budget (:data:`DEFAULT_MAX_PARAMETERS`, which a caller can raise) before allocating.
Every error from a spec comes out as one :class:`InrkitError` line.
"""

from __future__ import annotations

import importlib
from typing import Callable, TypeVar

from torch import nn

from ..encodings import DenseGrid, Encoding, GaussianFourierFeatures, Identity, MultiresGrid, PositionalEncoding
from ..errors import InrkitError
from ..nn import MLP, Network, Siren
from ..specs import show

ENCODINGS: dict[str, type[Encoding]] = {}
NETWORKS: dict[str, type[Network]] = {}
FIELDS: dict[str, type[nn.Module]] = {}

_DEFINED_IN = {"nerf": "inrkit.rendering.nerf"}
"""Field kinds registered by modules above the field layer: imported when first asked for."""
_DEFINED_IN.update(insp_operator="inrkit.insp.operator", insp_readout="inrkit.insp.operator")

C = TypeVar("C", bound=type)

DEFAULT_MAX_PARAMETERS = 2**28
"""Tensor elements a spec may ask for unless the caller raises it: 268M, 1 GiB of float32, about
30 times the largest model inrkit trains (a NeRF hash field with T = 2^19 and 16 levels: 8.4M)."""

SPEC_ERRORS = (KeyError, TypeError, ValueError, ArithmeticError, IndexError, RecursionError)
"""What checking or building a malformed spec may raise; the registry turns each into one line."""


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


def _lookup(table: dict[str, type], family: str, spec) -> type:
    kind = _kind(spec)
    if family == "field" and isinstance(kind, str) and kind not in FIELDS and kind in _DEFINED_IN:
        importlib.import_module(_DEFINED_IN[kind])
    if not isinstance(kind, str) or kind not in table:
        raise InrkitError(f"unknown {family} type {show(kind)} in checkpoint")
    return table[kind]


def check_encoding(spec: dict) -> int:
    """Check an encoding's spec (its class's ``check_spec``); the tensor elements it would allocate."""
    return _lookup(ENCODINGS, "encoding", spec).check_spec(spec)  # type: ignore[attr-defined]


def check_network(spec: dict) -> int:
    """Check a network's spec (its class's ``check_spec``); the tensor elements it would allocate."""
    return _lookup(NETWORKS, "network", spec).check_spec(spec)  # type: ignore[attr-defined]


def build_encoding(spec: dict) -> Encoding:
    """Rebuild an encoding from its ``spec()``."""
    return _lookup(ENCODINGS, "encoding", spec).from_spec(spec)  # type: ignore[attr-defined]


def build_network(spec: dict) -> Network:
    """Rebuild a network from its ``spec()``."""
    return _lookup(NETWORKS, "network", spec).from_spec(spec)  # type: ignore[attr-defined]


def _malformed(exc: BaseException) -> InrkitError:
    msg = str(exc) if not isinstance(exc, KeyError) else show(exc.args[0] if exc.args else "")
    msg = " ".join(msg.split())[:200]
    return InrkitError(f"checkpoint architecture is malformed ({type(exc).__name__}: {msg})")


def check_field_spec(spec: dict, max_parameters: int | None = DEFAULT_MAX_PARAMETERS) -> int:
    """Check a field's spec from the numbers alone, allocating nothing; returns its tensor elements.

    Raises :class:`InrkitError` (one line) for an unknown type, a missing or ill-typed entry, a
    value out of range, or more than ``max_parameters`` elements (``None``: no limit).
    """
    try:
        n = _lookup(FIELDS, "field", spec).check_spec(spec)  # type: ignore[attr-defined]
    except SPEC_ERRORS as exc:
        raise _malformed(exc) from None
    if max_parameters is not None and n > max_parameters:
        raise InrkitError(f"checkpoint architecture asks for {n:,} parameters, above the limit of "
                          f"{max_parameters:,} (raise max_parameters to load it)")
    return n


def build_field_from_spec(spec: dict, max_parameters: int | None = DEFAULT_MAX_PARAMETERS) -> nn.Module:
    """Rebuild an (untrained) field from ``field.spec()``; a checkpoint then fills its tensors.

    The spec is checked first (:func:`check_field_spec`), so nothing is allocated for a spec
    that is malformed or above ``max_parameters``. Raises :class:`InrkitError` (one line) for
    an unknown type of field, encoding or network, or a spec with missing or ill-typed entries.
    Under ``with torch.device("meta"):`` it builds a model with shapes and dtypes but no data.
    """
    check_field_spec(spec, max_parameters)
    try:
        return _lookup(FIELDS, "field", spec).from_spec(spec)  # type: ignore[attr-defined]
    except SPEC_ERRORS as exc:
        raise _malformed(exc) from None


# ---- the parts below the field layer ------------------------------------------------------
register_encoding("identity")(Identity)
register_encoding("pe")(PositionalEncoding)
register_encoding("ffn")(GaussianFourierFeatures)
register_encoding("hashgrid")(MultiresGrid)
register_encoding("densegrid")(DenseGrid)
register_network("mlp")(MLP)
register_network("siren")(Siren)
