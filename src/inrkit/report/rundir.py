"""Run folders appear whole or not at all: written in a temporary sibling, then renamed."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

from ..errors import InrkitError
from ..atomic import write_json  # noqa: F401  (re-exported)


def default_run_dir(*parts: str, root: str = "runs") -> Path:
    """``runs/<parts joined by ->-<YYYYmmdd-HHMMSS>``, with a numeric suffix if taken."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = Path(root) / ("-".join(p for p in parts if p) + f"-{stamp}")
    path, k = base, 1
    while path.exists():
        path, k = Path(f"{base}-{k}"), k + 1
    return path


class RunDir:
    """Context manager: yields a temporary folder; on success it becomes ``final``.

    On any exception the temporary folder is removed, so a failed run never leaves a
    folder that looks complete. An existing ``final`` is refused unless ``overwrite``.
    """

    def __init__(self, final: str | os.PathLike, overwrite: bool = False):
        self.final = Path(final)
        self.overwrite = overwrite
        if self.final.exists() and not overwrite:
            raise InrkitError(f"output folder {self.final} already exists (pass --overwrite or another --out)")
        self.tmp: Path | None = None

    def __enter__(self) -> Path:
        self.final.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(dir=self.final.parent, prefix=f".{self.final.name}.tmp-"))
        return self.tmp

    def __exit__(self, exc_type, exc, tb) -> bool:
        assert self.tmp is not None
        if exc_type is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return False
        if self.final.exists():
            old = self.final.with_name(f".{self.final.name}.old-{os.getpid()}")
            os.replace(self.final, old)
            os.replace(self.tmp, self.final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(self.tmp, self.final)
        return False
