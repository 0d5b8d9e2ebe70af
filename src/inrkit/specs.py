"""Checking a part's JSON spec from the numbers, before anything is allocated.

A checkpoint's ``architecture`` comes from a file a user hands us, so every part's
``check_spec(spec) -> int`` reads its entries through these helpers: integers that are
integers (not bools, not floats), within a range; finite floats; known choices; short
lists. It returns the number of tensor elements the part would allocate, computed from
the numbers alone, so the loader can refuse a model that would not fit before it builds
one (``inrkit.fields.registry``).

Errors are ``KeyError`` / ``TypeError`` / ``ValueError`` with one-line messages naming
the part and the entry; the registry turns them into one :class:`~inrkit.errors.InrkitError`.
The structural bounds here (layers, levels, dimensions) are far above any model inrkit
trains; the size of a model is bounded by the parameter budget, which the caller sets.
"""

from __future__ import annotations

import math
from typing import Any, Iterable

MAX_DIM = 1 << 24
"""Largest width, feature count or resolution entry (a bound on the numbers, not the budget)."""
MAX_LAYERS = 1024
"""Largest layer count: building a part costs Python objects per layer, whatever their size."""
MAX_LEVELS = 64
"""Largest number of grid levels."""
MAX_FREQUENCIES = 64
"""Largest number of positional-encoding octaves (2^63 is already beyond float precision)."""

_MISSING: Any = object()


def require_object(spec: object, what: str) -> dict:
    """``spec`` itself must be a JSON object."""
    if not isinstance(spec, dict):
        raise TypeError(f"expected a JSON object for {what}, got {type(spec).__name__}")
    return spec


def _get(spec: dict, key: str, default: Any, what: str, missing: type[Exception]) -> Any:
    if key in spec:
        return spec[key]
    if default is _MISSING:
        raise missing(key) if missing is KeyError else missing(f"{what}: missing required entry {key!r}")
    return default


def integer(spec: dict, key: str, what: str, lo: int = 1, hi: int = MAX_DIM, default: Any = _MISSING,
            missing: type[Exception] = TypeError) -> int:
    """``spec[key]`` as an int in ``[lo, hi]`` (bools and floats refused); ``default`` when absent."""
    v = _get(spec, key, default, what, missing)
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError(f"{what}.{key} must be an integer, got {_show(v)}")
    if not lo <= v <= hi:
        raise ValueError(f"{what}.{key} must be between {lo} and {hi}, got {_show(v)}")
    return v


def number(spec: dict, key: str, what: str, positive: bool = False, nonzero: bool = False,
           at_least: float | None = None, default: Any = _MISSING, missing: type[Exception] = TypeError) -> float:
    """``spec[key]`` as a finite float (an int is accepted); optionally > 0, != 0 or >= ``at_least``."""
    v = _get(spec, key, default, what, missing)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise TypeError(f"{what}.{key} must be a number, got {_show(v)}")
    try:
        f = float(v)
    except OverflowError:
        f = math.inf
    if not math.isfinite(f):
        raise ValueError(f"{what}.{key} must be finite, got {_show(v)}")
    if positive and not f > 0:
        raise ValueError(f"{what}.{key} must be positive, got {_show(v)}")
    if nonzero and f == 0:
        raise ValueError(f"{what}.{key} must be non-zero, got {_show(v)}")
    if at_least is not None and not f >= at_least:
        raise ValueError(f"{what}.{key} must be at least {at_least}, got {_show(v)}")
    return f


def boolean(spec: dict, key: str, what: str, default: Any = _MISSING) -> bool:
    """``spec[key]`` as a JSON boolean."""
    v = _get(spec, key, default, what, TypeError)
    if not isinstance(v, bool):
        raise TypeError(f"{what}.{key} must be true or false, got {_show(v)}")
    return v


def choice(spec: dict, key: str, what: str, choices: Iterable[str], default: Any = _MISSING,
           missing: type[Exception] = TypeError) -> str:
    """``spec[key]`` as one of ``choices``."""
    v = _get(spec, key, default, what, missing)
    choices = sorted(choices)
    if not isinstance(v, str) or v not in choices:
        raise ValueError(f"{what}.{key} must be one of {choices}, got {_show(v)}")
    return v


def integer_list(spec: dict, key: str, what: str, lo: int = 1, hi: int = MAX_DIM, max_len: int = MAX_LEVELS,
                 default: Any = _MISSING) -> list[int]:
    """``spec[key]`` as a non-empty list of at most ``max_len`` ints in ``[lo, hi]``."""
    v = _get(spec, key, default, what, TypeError)
    if not isinstance(v, list) or not 1 <= len(v) <= max_len:
        raise TypeError(f"{what}.{key} must be a list of 1 to {max_len} integers, got {_show(v)}")
    for i in range(len(v)):
        integer({key: v[i]}, key, what, lo, hi)
    return list(v)


def only_keys(spec: dict, what: str, allowed: Iterable[str]) -> None:
    """Refuse entries the constructor does not take (``"type"`` is always allowed)."""
    extra = sorted(str(k) for k in set(spec) - set(allowed) - {"type"})
    if extra:
        raise ValueError(f"{what} has unknown entries {_show(extra[:3])}")


def linear_size(n_in: int, n_out: int) -> int:
    """Elements of an ``nn.Linear(n_in, n_out)``: weight and bias."""
    return n_in * n_out + n_out


def show(v: object, limit: int = 40) -> str:
    """``repr(v)`` on one line, cut to ``limit`` characters (a value from a file may be anything)."""
    try:
        s = repr(v)
    except (RecursionError, ValueError):  # a structure too deep, an int too long to print
        s = f"<{type(v).__name__}>"
    s = s.replace("\n", " ").replace("\r", " ")
    return s if len(s) <= limit else s[: limit - 3] + "..."


_show = show
