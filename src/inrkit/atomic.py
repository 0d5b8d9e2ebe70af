"""Files appear whole or not at all: written to a temporary sibling, then renamed.

Every layer that writes a user-visible file goes through :func:`write_bytes_atomic`
(or :func:`write_json`), so a killed run never leaves a half-written file behind.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder, then rename."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: str | os.PathLike, obj) -> None:
    """Indented, key-sorted, standard JSON; numbers NumPy or torch hand over become plain floats.

    NaN and infinities (a PSNR of identical images, a diverged loss) are written as ``null``:
    Python's ``Infinity`` / ``NaN`` tokens are not JSON, and browsers' ``JSON.parse``, ``jq`` and
    most other readers refuse the whole file over one of them.
    """
    plain = _finite_or_null(json.loads(json.dumps(obj, default=_jsonable)))
    write_bytes_atomic(path, (json.dumps(plain, indent=2, sort_keys=True, allow_nan=False) + "\n").encode())


def _finite_or_null(x):
    if isinstance(x, float):
        return x if x == x and x not in (float("inf"), float("-inf")) else None
    if isinstance(x, dict):
        return {k: _finite_or_null(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_finite_or_null(v) for v in x]
    return x


def _jsonable(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return str(x)
