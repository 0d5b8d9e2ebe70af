"""Run folders appear whole or not at all, and only inrkit's own folders are ever replaced.

A run is written in a temporary sibling ``.NAME.tmp-PID-XXXX``; when it is complete a marker
(:data:`MARKER`, a small JSON file) is written inside it and it is swapped in:

1. ``NAME`` -> ``.NAME.old-PID-XXXX`` (only when replacing an earlier run),
2. ``.NAME.tmp-PID-XXXX`` -> ``NAME``,
3. the old run is deleted.

Both steps are ``rename(2)`` within one folder, so at every moment ``NAME`` or its old copy
exists: a run killed between 1 and 2 leaves the old run beside ``NAME``, and the next
:class:`RunDir` (or :func:`check_output`) for the same folder puts it back. Leftovers of
processes that no longer run (the PID is in the name) are deleted then; nothing is printed,
the notices are returned (:func:`recover`, ``RunDir.recovered`` / ``RunDir.cleaned``) for the
command line to show.

Replacing is refused unless the existing folder carries the marker (or, for runs written before
the marker existed, inrkit's signature in ``metrics.json``, ``model.json``, a functaset
``manifest.json``, ``orbit.json`` or a built-in scene's ``README.txt``), is empty, and is not the
working folder, one of its parents, the home folder or the filesystem root.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import stat
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InrkitError

MARKER = ".inrkit-run"
"""File inrkit writes in every run folder, just before the folder is swapped in."""

MARKER_FORMAT = "inrkit-run"
MARKER_VERSION = 1
_MAX_SIGNATURE_BYTES = 64 << 20  # a metrics.json larger than this is not read to look for a signature


def default_run_dir(*parts: str, root: str = "runs") -> Path:
    """``runs/<parts joined by ->-<YYYYmmdd-HHMMSS>``, with a numeric suffix if taken."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = Path(root) / ("-".join(p for p in parts if p) + f"-{stamp}")
    path, k = base, 1
    while path.exists():
        path, k = Path(f"{base}-{k}"), k + 1
    return path


# ---- is this folder inrkit's? --------------------------------------------------------------

def _read_small_json(path: Path):
    """The JSON in ``path`` if it is a regular file (never a FIFO or device) of sensible size, else None."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode) or st.st_size > _MAX_SIGNATURE_BYTES:
        return None
    try:
        return json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError):
        return None


def written_by_inrkit(folder: str | os.PathLike) -> bool:
    """True if ``folder`` carries inrkit's marker, or the signature of a run written before it."""
    folder = Path(folder)
    m = _read_small_json(folder / MARKER)
    if isinstance(m, dict) and m.get("format") == MARKER_FORMAT:
        return True
    # runs written before the marker existed
    m = _read_small_json(folder / "metrics.json")
    if isinstance(m, dict) and ("inrkit_version" in m or str(m.get("command", "")).startswith("inrkit ")):
        return True
    for name, fmt in (("model.json", "inrkit-checkpoint"), ("manifest.json", "inrkit-functaset")):
        m = _read_small_json(folder / name)
        if isinstance(m, dict) and m.get("format") == fmt:
            return True
    m = _read_small_json(folder / "orbit.json")  # nerf render
    if isinstance(m, dict) and {"checkpoint", "frames", "format"} <= m.keys():
        return True
    readme = folder / "README.txt"  # nerf scene
    try:
        if stat.S_ISREG(os.lstat(readme).st_mode):
            with open(readme, "rb") as f:
                if f.read(64).startswith(b"inrkit built-in NeRF scene"):
                    return True
    except OSError:
        pass
    return False


def _is_empty_dir(path: Path) -> bool:
    try:
        with os.scandir(path) as it:
            return next(it, None) is None
    except OSError:
        return False


def write_marker(folder: str | os.PathLike, kind: str = "run") -> None:
    """Write :data:`MARKER` in ``folder``: the format, inrkit's version and the kind of run."""
    from .. import __version__
    from ..atomic import write_json

    write_json(Path(folder) / MARKER, {"format": MARKER_FORMAT, "format_version": MARKER_VERSION,
                                       "inrkit_version": __version__, "kind": kind})  # no time: runs stay byte-identical


# ---- leftovers of killed runs --------------------------------------------------------------

@dataclass
class Recovery:
    """What :func:`recover` did: runs put back at their place, leftovers deleted, leftovers kept."""

    recovered: list[Path] = field(default_factory=list)
    cleaned: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)

    def notices(self, final: Path) -> list[str]:
        out = [f"put back {final} from {p.name}, left by a run that was killed while replacing it"
               if ".old-" in p.name else
               f"finished writing {final} from {p.name}, a complete run whose process was killed before "
               "it was moved in place" for p in self.recovered]
        out += [f"deleted {p}, left by an inrkit run that no longer runs" for p in self.cleaned]
        out += [f"left {p} alone: it looks like an inrkit temporary folder, but its process cannot be "
                "identified; delete it if no inrkit run is writing there" for p in self.kept]
        return out


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists (on this machine)."""
    if pid <= 0:
        return False
    if pid == os.getpid() or os.name == "nt":  # on Windows os.kill(pid, 0) would send CTRL_C_EVENT
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, belongs to someone else
        return True
    except (OSError, OverflowError):
        return True  # unknown: assume alive, never delete
    return True


def _leftovers(final: Path) -> list[tuple[str, int | None, Path]]:
    """``(kind, pid, path)`` for ``.NAME.tmp-*`` / ``.NAME.old-*`` beside ``final``; pid None if not in the name."""
    pat = re.compile(rf"^\.{re.escape(final.name)}\.(tmp|old)-(\d+)?(?:-?[A-Za-z0-9_]*)$")
    found = []
    try:
        entries = list(os.scandir(final.parent))
    except OSError:
        return []
    for e in entries:
        m = pat.match(e.name)
        if m:
            found.append((m.group(1), int(m.group(2)) if m.group(2) else None, Path(e.path)))
    return found


def _remove_tree(path: Path) -> bool:
    try:
        if path.is_symlink() or not path.is_dir():
            return False
        shutil.rmtree(path)
        return True
    except OSError:
        return False


def _newest(paths: list[Path]) -> Path:
    return max(paths, key=lambda p: os.lstat(p).st_ctime)


def recover(final: str | os.PathLike) -> Recovery:
    """Repair what killed runs left beside ``final`` and delete their temporary folders.

    Only leftovers of processes that no longer run are touched. If ``final`` is missing and a
    run killed while replacing it left the old run as ``.NAME.old-PID-*``, the old run is put back
    (the killed command never reported success, so the folder returns to its state before it). If
    there is no old run but a complete temporary folder (it has the marker, written just before
    the swap), the swap is finished. Every other leftover of a dead process is deleted.
    """
    final = Path(final)
    rec = Recovery()
    if not final.name or not final.parent.is_dir():
        return rec
    dead_old, dead_tmp = [], []
    for kind, pid, path in _leftovers(final):
        if pid is None:
            rec.kept.append(path)
        elif not _alive(pid):
            (dead_old if kind == "old" else dead_tmp).append(path)
    if not os.path.lexists(final):
        olds = [p for p in dead_old if p.is_dir() and not p.is_symlink()]
        done = [p for p in dead_tmp if p.is_dir() and not p.is_symlink() and (p / MARKER).is_file()]
        back = _newest(olds) if olds else _newest(done) if done else None
        if back is not None:
            try:
                os.replace(back, final)
                rec.recovered.append(back)
                (dead_old if back in dead_old else dead_tmp).remove(back)
            except OSError:
                pass
    for p in dead_old + dead_tmp:
        if _remove_tree(p):
            rec.cleaned.append(p)
        else:
            rec.kept.append(p)
    return rec


# ---- checks before anything is written -------------------------------------------------------

def _refusal(final: Path, overwrite: bool) -> str | None:
    """Why ``final`` may not become a run folder, or None."""
    real = final.resolve()
    cwd = Path.cwd().resolve()
    if real == Path(real.anchor):
        return f"output folder {final} is the filesystem root; give a new folder's name"
    if real == cwd or cwd.is_relative_to(real):
        return (f"output folder {final} is the working folder or one of its parents; "
                "give a new folder's name")
    try:
        home = Path.home().resolve()
    except (RuntimeError, KeyError, OSError):
        home = None
    if home is not None and real == home:
        return f"output folder {final} is the home folder; give a new folder's name"
    if final.name in ("", ".", ".."):
        return f"output folder {final} names no folder of its own; give a new folder's name"
    if not os.path.lexists(final):
        return None
    if final.is_symlink():
        return f"output folder {final} is a symbolic link; refusing to replace it"
    if not final.is_dir():
        return f"output {final} exists and is not a folder; refusing to replace it"
    if not overwrite:
        return f"output folder {final} already exists; choose another folder or ask to replace it"
    if not written_by_inrkit(final) and not _is_empty_dir(final):
        return f"output folder {final} exists and was not written by inrkit; refusing to replace it"
    return None


def _check_parent_writable(final: Path) -> None:
    """Create ``final``'s parent (removing what was created afterwards) and write a file in it."""
    parent = final.parent
    made: list[Path] = []
    p = parent
    while not p.exists():
        made.append(p)
        if p.parent == p:
            break
        p = p.parent
    try:
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InrkitError(f"cannot create the folder {parent} for {final}: {exc.strerror or exc}") from None
        if not parent.is_dir():
            raise InrkitError(f"cannot write {final}: {parent} is not a folder")
        try:
            fd, probe = tempfile.mkstemp(dir=parent, prefix=f".{final.name or 'out'}.probe-")
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            raise InrkitError(f"cannot write in {parent}: {exc.strerror or exc}") from None
    finally:
        for d in made:  # innermost first
            try:
                d.rmdir()
            except OSError:
                break


def check_output(out: str | os.PathLike, overwrite: bool = False) -> list[str]:
    """Check before any work that a run folder can be written at ``out``; return notices.

    Repairs leftovers of killed runs first (:func:`recover`; what it did is returned as lines to
    show). Raises :class:`InrkitError` if ``out`` is the working folder, one of its parents, the
    home folder or the root, a file or a symbolic link, an existing folder (unless ``overwrite``),
    a folder inrkit did not write, or if its parent cannot be created or written.
    """
    final = Path(out)
    rec = recover(final) if final.name not in ("", ".", "..") else Recovery()
    reason = _refusal(final, overwrite)
    if reason:
        raise InrkitError(reason)
    _check_parent_writable(final)
    return rec.notices(final)


def check_writable(out: str | os.PathLike) -> None:
    """For a folder written in place (a resumable functaset): it is not a file and its parent is writable."""
    final = Path(out)
    if os.path.lexists(final) and not final.is_dir():
        raise InrkitError(f"output {final} exists and is not a folder")
    if final.is_dir():
        try:
            fd, probe = tempfile.mkstemp(dir=final, prefix=".probe-")
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            raise InrkitError(f"cannot write in {final}: {exc.strerror or exc}") from None
    else:
        _check_parent_writable(final)


# ---- the run folder ------------------------------------------------------------------------

class RunDir:
    """Context manager: yields a temporary folder; on success it becomes ``final``.

    On any exception the temporary folder is removed, so a failed run never leaves a folder
    that looks complete. An existing ``final`` is refused unless ``overwrite``, and even then
    unless inrkit wrote it (see :func:`written_by_inrkit`). ``recovered`` and ``cleaned`` list
    what the repair of earlier killed runs did (:func:`recover`); ``notices`` says it in words.
    Inside :func:`inrkit.train.progress.recording` (``--log``) the scalars recorded so far are written
    into the folder before it is swapped in.
    """

    def __init__(self, final: str | os.PathLike, overwrite: bool = False, kind: str = "run"):
        self.final = Path(final)
        self.overwrite = overwrite
        self.kind = kind
        rec = recover(self.final) if self.final.name not in ("", ".", "..") else Recovery()
        self.recovered: list[Path] = rec.recovered
        self.cleaned: list[Path] = rec.cleaned
        self.notices: list[str] = rec.notices(self.final)
        reason = _refusal(self.final, overwrite)
        if reason:
            raise InrkitError(reason)
        self.tmp: Path | None = None

    def __enter__(self) -> Path:
        try:
            self.final.parent.mkdir(parents=True, exist_ok=True)
            self.tmp = Path(tempfile.mkdtemp(dir=self.final.parent, prefix=f".{self.final.name}.tmp-{os.getpid()}-"))
        except OSError as exc:
            raise InrkitError(f"cannot write in {self.final.parent}: {exc.strerror or exc}") from None
        return self.tmp

    def __exit__(self, exc_type, exc, tb) -> bool:
        assert self.tmp is not None
        if exc_type is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return False
        reason = _refusal(self.final, self.overwrite)  # the folder may have changed while the run was written
        if reason:
            keep = self.final.with_name(f"{self.final.name}-{os.getpid()}")
            try:
                os.replace(self.tmp, keep)
            except OSError:
                keep = self.tmp
            raise InrkitError(f"{reason}; this run was kept in {keep}")
        from ..train.progress import active_recorder

        rec = active_recorder()  # --log csv|tensorboard: the scalars of the fits that led here
        if rec is not None:
            rec.write(self.tmp)
        write_marker(self.tmp, self.kind)
        honour_umask(self.tmp)
        _swap(self.tmp, self.final)
        if rec is not None:
            rec.finish_live(self.final)  # the live TensorBoard events beside it are now in the folder
        return False


def current_umask() -> int:
    """The process's umask (read by setting it and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def honour_umask(path: str | os.PathLike) -> None:
    """Give ``path`` (a file, or a folder and everything in it) the permissions a plain ``open`` /
    ``mkdir`` would have given under the user's umask: the temporary names that make writes atomic
    (``mkdtemp``, ``mkstemp``) are created 0700 / 0600, which would hide a finished run from the
    user's group."""
    mask = current_umask()
    path = Path(path)
    items = [path] + (list(path.rglob("*")) if path.is_dir() and not path.is_symlink() else [])
    for p in items:
        if p.is_symlink():
            continue
        try:
            os.chmod(p, (0o777 if p.is_dir() else 0o666) & ~mask)
        except OSError:
            pass  # a file we cannot chmod keeps its mode; the run itself is still complete


def _swap(tmp: Path, final: Path) -> None:
    """``tmp`` becomes ``final``; an existing ``final`` is kept aside until then (see the module docstring)."""
    if not os.path.lexists(final):
        os.rename(tmp, final)
        return
    old = final.with_name(f".{final.name}.old-{os.getpid()}-{secrets.token_hex(4)}")
    os.replace(final, old)
    try:
        os.replace(tmp, final)
    except BaseException:
        try:
            os.replace(old, final)  # roll back: the old run stays in place
        except OSError:
            pass  # the old run stays as .NAME.old-PID-*; the next RunDir for this folder puts it back
        raise
    shutil.rmtree(old, ignore_errors=True)
