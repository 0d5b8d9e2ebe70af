"""Paths read from a user's dataset file stay inside the dataset folder.

A dataset file (NeRF ``transforms*.json``, a functaset manifest, a shard list) names other
files by relative path. :func:`confined` is the one gate they pass: the path is joined to the
folder, every symbolic link is followed (``Path.resolve(strict=True)``), and the result must lie
inside the folder (itself resolved) and be a regular file. So ``../../x.png``, absolute paths,
links out of the folder, ``/dev/zero``, ``/proc/self/environ``, FIFOs (which would block a
reader forever) and folders are refused with one line, before anything is opened.

What remains: a file swapped for a link between this check and the read (a race only someone who
can already write inside the folder can run).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ..errors import InrkitError


def confined(folder: str | os.PathLike, relative: object, what: str = "file") -> Path:
    """``folder / relative`` resolved, checked to be a regular file inside ``folder``.

    ``relative`` comes from a user's file, so anything is checked: it must be a non-empty string
    without NUL, not absolute. ``what`` names the entry in messages ("frame 3 of transforms.json").
    Raises :class:`InrkitError` (one line) otherwise, or if the file is missing.
    """
    if not isinstance(relative, str) or not relative.strip():
        raise InrkitError(f"{what}: the path {relative!r} is not a file name")
    if "\x00" in relative:
        raise InrkitError(f"{what}: the path {relative!r} contains a NUL character")
    if os.path.isabs(relative) or relative.startswith(("/", "\\")) or (len(relative) > 1 and relative[1] == ":"):
        raise InrkitError(f"{what}: the path {relative!r} is absolute; paths must be relative to {folder}")
    try:
        root = Path(folder).resolve(strict=True)
    except (OSError, RuntimeError) as exc:
        raise InrkitError(f"cannot open the folder {folder}: {exc}") from None
    try:
        real = (root / relative).resolve(strict=True)
    except FileNotFoundError:
        raise InrkitError(f"{what}: {relative} does not exist in {folder}") from None
    except (OSError, RuntimeError) as exc:  # a loop of links, a name too long, no permission
        raise InrkitError(f"{what}: cannot resolve {relative}: {exc}") from None
    if not real.is_relative_to(root):
        raise InrkitError(f"{what}: {relative} resolves to {real}, outside the folder {folder}; refusing to read it")
    try:
        mode = os.stat(real).st_mode
    except OSError as exc:
        raise InrkitError(f"{what}: cannot read {relative}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(mode):
        raise InrkitError(f"{what}: {relative} is not a regular file; refusing to read it")
    return real


def exists_in(folder: str | os.PathLike, relative: object) -> bool:
    """Whether ``folder / relative`` names something (a dangling link counts); opens nothing."""
    return isinstance(relative, str) and "\x00" not in relative and os.path.lexists(Path(folder) / relative)
