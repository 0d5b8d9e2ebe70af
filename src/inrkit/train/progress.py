"""The one progress display, shown the same way for every command; :class:`ScalarLog` keeps the
same scalars per step for ``--log csv``.

``step/total  pct  loss terms  published figures (PSNR, ...)  elapsed  remaining``. On a
terminal the line is redrawn in place at most a few times a second; when stderr is a file
or a pipe it prints one plain line every ``every_percent`` of the budget (and at the end),
so a log holds tens of lines, not thousands of redraws. The budget is the larger of the step
and time fractions, so a run that stops on its time budget reaches 100 % too.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from .fit import Callback, FitState


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def _num(v: float) -> str:
    return f"{v:.3g}" if abs(v) < 1e-2 or abs(v) >= 1e4 else f"{v:.4g}"


class Progress(Callback):
    """Progress of one :func:`~inrkit.train.fit` run on ``stream`` (stderr); silent when not ``enabled``."""

    def __init__(self, label: str, enabled: bool = True, stream: TextIO | None = None, every_percent: float = 10.0,
                 refresh_seconds: float = 0.25, tty: bool | None = None):
        self.label, self.enabled = label, enabled
        self.stream = stream if stream is not None else sys.stderr
        self.tty = tty if tty is not None else bool(getattr(self.stream, "isatty", lambda: False)())
        self.every = every_percent / 100.0
        self.refresh = refresh_seconds
        self._t0 = 0.0
        self._last_draw = -1e9
        self._next_mark = 0.0
        self._width = 0

    def on_start(self, state: FitState) -> None:
        self._t0 = time.perf_counter()
        self._next_mark = self.every

    def line(self, state: FitState) -> str:
        """The status text for ``state`` (what both display modes print)."""
        total = f"/{state.steps}" if state.steps else ""
        parts = [f"{self.label}", f"{state.step}{total}", f"{100 * state.fraction:3.0f}%"]
        if state.terms:
            parts += [f"{k} {_num(v)}" for k, v in state.loss_terms.items()]
        parts += [f"{k} {_num(v)}" for k, v in state.log.items()]
        elapsed = time.perf_counter() - self._t0
        parts.append(_clock(elapsed))
        frac = state.fraction
        if 0 < frac < 1:
            parts.append(f"eta {_clock(elapsed * (1 - frac) / frac)}")
        return "  ".join(parts)

    def after_step(self, state: FitState) -> None:
        if not self.enabled:
            return
        if self.tty:
            now = time.perf_counter()
            if now - self._last_draw >= self.refresh:
                self._last_draw = now
                self._draw(self.line(state))
        elif state.fraction >= self._next_mark:
            while self._next_mark <= state.fraction:
                self._next_mark += self.every
            self._print(self.line(state))

    def on_end(self, state: FitState) -> None:
        if not self.enabled:
            return
        text = self.line(state)
        if self.tty:
            self._draw(text)
            self.stream.write("\n")
            self.stream.flush()
        elif not (self._next_mark > 1.0 and state.fraction >= 1.0):
            self._print(text)

    def _draw(self, text: str) -> None:
        pad = max(0, self._width - len(text))
        self._width = len(text)
        self.stream.write("\r" + text + " " * pad)
        self.stream.flush()

    def _print(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()


class Counter:
    """The same progress line for a loop that is not a fit (views, frames, blocks of rows):
    ``counter(done)`` after each item, ``counter.close()`` at the end."""

    def __init__(self, label: str, total: int, enabled: bool = True, stream: TextIO | None = None):
        self.bar = Progress(label, enabled, stream)
        self.state = FitState(model=None, optimizer=None, steps=total, max_seconds=None, generator=None)
        self.bar.on_start(self.state)

    def __call__(self, done: int, total: int | None = None) -> None:
        self.state.step = done
        self.bar.after_step(self.state)

    def close(self) -> None:
        self.bar.on_end(self.state)


class ScalarLog(Callback):
    """Every step's scalars, for ``--log csv``: step, training seconds, each loss term and each figure
    published in ``state.log`` at that step (PSNR and held-out PSNR on evaluation steps, empty
    otherwise). :meth:`csv` gives them as CSV text, one row per step, columns in first-seen order."""

    def __init__(self):
        self.rows: list[dict[str, float]] = []
        self._seen: dict[str, float] = {}

    def after_step(self, state: FitState) -> None:
        new = {k: v for k, v in state.log.items() if self._seen.get(k) != v}  # measured at this step
        self._seen.update(state.log)
        self.rows.append({"step": state.step, "seconds": state.train_seconds, **state.loss_terms, **new})

    def csv(self) -> str:
        import csv
        import io

        cols: list[str] = []
        for r in self.rows:
            cols += [k for k in r if k not in cols]
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
        w.writeheader()
        for r in self.rows:
            w.writerow({k: (repr(v) if isinstance(v, float) else v) for k, v in r.items()})
        return buf.getvalue()

    def state_dict(self) -> dict:
        return {"rows": [dict(r) for r in self.rows], "seen": dict(self._seen)}

    def load_state_dict(self, d: dict) -> None:
        self.rows, self._seen = [dict(r) for r in d["rows"]], dict(d.get("seen", {}))
