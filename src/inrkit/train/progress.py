"""The one progress display, shown the same way for every command; :class:`ScalarLog` keeps the
same scalars per step, and :class:`Recorder` writes them for ``--log csv|tensorboard``.

Every training loop of inrkit (``inrkit.train.fit``) carries exactly one :class:`Progress`, enabled
or not (``--quiet``), so the progress display is also where every command's scalars are tapped:
inside :func:`recording` each :class:`Progress` feeds its steps to the active :class:`Recorder`
(one series per progress label: an architecture, a latent size, a stage), and
:class:`inrkit.report.rundir.RunDir` writes what was recorded into the run folder it completes
(``scalars.csv`` and/or ``tensorboard/LABEL/events.out.tfevents.*``), so the logs appear with
the run folder, whole, like every other file in it. :func:`probing` uses the same tap for
``--dry-run``: it times the first steps of the real command and stops it before anything is
written.

``step/total  pct  loss terms  published figures (PSNR, ...)  elapsed  remaining``. On a
terminal the line is redrawn in place at most a few times a second; when stderr is a file
or a pipe it prints one plain line every ``every_percent`` of the budget (and at the end),
so a log holds tens of lines, not thousands of redraws. The budget is the larger of the step
and time fractions, so a run that stops on its time budget reaches 100 % too.
"""

from __future__ import annotations

import contextlib
import contextvars
import re
import sys
import time
from pathlib import Path
from typing import Iterator, TextIO

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
        self._recorder: Recorder | None = None
        self._series: str | None = None  # this fit's series in the active --log Recorder
        self._resumed: dict | None = None  # the rows a resumed run recorded before it was stopped
        self._last_recorded = -1  # the step last recorded

    def recorded(self, state: FitState) -> dict | None:
        """The rows ``--log`` has recorded for this fit up to ``state``'s step (kept in a training snapshot,
        which may be taken before this callback's turn in the step: the step is then recorded now), or None."""
        self._record(state)
        if self._recorder is None or self._series is None or self._series not in self._recorder.series:
            return None
        return self._recorder.series[self._series].columns()

    def _record(self, state: FitState) -> None:
        rec = _RECORDER.get() if self.records else None
        if rec is None or state.step == self._last_recorded:
            return
        if self._series is None or self._recorder is not rec:  # a loop that did not call on_start
            self._recorder, self._series = rec, rec.start(self.label)
        rec.record(self._series, state)
        self._last_recorded = state.step

    def resume_recorded(self, rows: dict | None) -> None:
        """Rows from :meth:`recorded` of the stopped run this fit continues: its record starts with them."""
        self._resumed = rows

    def on_start(self, state: FitState) -> None:
        self._t0 = time.perf_counter()
        self._next_mark = self.every
        rec = _RECORDER.get() if self.records else None
        self._recorder, self._series = rec, (rec.start(self.label) if rec is not None else None)
        if rec is not None and self._series is not None and self._resumed:
            rec.restore(self._series, self._resumed)
        self._resumed = None
        self._last_recorded = state.step  # a resumed fit has recorded its steps so far
        probe = _PROBE.get() if self.records else None
        if probe is not None:
            probe.start(self.label, state)

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

    records = True
    """Whether ``--log`` records this display's steps and ``--dry-run`` times them (not for a :class:`Counter`)."""

    def after_step(self, state: FitState) -> None:
        self._record(state)
        probe = _PROBE.get() if self.records else None
        if probe is not None:
            probe.step(self.label, state)
        if not self.enabled or probe is not None:
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
        self._record(state)  # a step that Ctrl-C cut short after it was taken: recorded before the file closes
        if self._recorder is not None and self._series is not None:
            self._recorder.end_series(self._series)  # its live event file is complete: close it
        if not self.enabled or _PROBE.get() is not None:
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
        self.bar.records = False  # not a training loop: no --log series, no --dry-run timing
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
        self.wall: list[float] = []  # time.time() of each row (TensorBoard's wall-clock axis)
        self._seen: dict[str, float] = {}

    def after_step(self, state: FitState) -> None:
        new = {k: v for k, v in state.log.items() if self._seen.get(k) != v}  # measured at this step
        self._seen.update(state.log)
        self.rows.append({"step": state.step, "seconds": state.train_seconds, **state.loss_terms, **new})
        self.wall.append(time.time())

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
        return {"rows": [dict(r) for r in self.rows], "seen": dict(self._seen), "wall": list(self.wall)}

    def load_state_dict(self, d: dict) -> None:
        if "values" in d:  # the column form of :meth:`columns`
            cols, ints = list(d["columns"]), set(d.get("int_columns", ()))
            vals, present = d["values"].tolist(), d["present"].tolist()
            self.rows = [{c: (int(v) if c in ints else float(v)) for c, v, p in zip(cols, row, mask) if p}
                         for row, mask in zip(vals, present)]
            self.wall, self._seen = d["wall"].tolist(), dict(d.get("seen", {}))
            return
        self.rows, self._seen = [dict(r) for r in d["rows"]], dict(d.get("seen", {}))
        self.wall = list(d.get("wall") or [time.time()] * len(self.rows))

    def columns(self) -> dict:
        """The rows as float64 columns with a presence mask (what a training snapshot stores: tensors go
        to its safetensors file, not its JSON, however long the run); :meth:`load_state_dict` reads it back."""
        import numpy as np
        import torch

        cols: list[str] = []
        for r in self.rows:
            cols += [k for k in r if k not in cols]
        index = {c: j for j, c in enumerate(cols)}
        vals = np.full((len(self.rows), len(cols)), np.nan)
        present = np.zeros((len(self.rows), len(cols)), bool)
        ints = {c for c in cols if all(isinstance(r[c], int) for r in self.rows if c in r)}
        for i, r in enumerate(self.rows):
            for k, v in r.items():
                vals[i, index[k]] = v
                present[i, index[k]] = True
        return {"columns": cols, "int_columns": sorted(ints), "values": torch.from_numpy(vals),
                "present": torch.from_numpy(present), "wall": torch.tensor(self.wall, dtype=torch.float64),
                "seen": dict(self._seen)}



# ---- --log csv|tensorboard -----------------------------------------------------------------------

LOG_FORMATS = ("csv", "tensorboard")
"""What ``--log`` accepts, alone or comma-separated (``csv,tensorboard``); ``none``: no log."""

LOG_EXTRA_HINT = "pip install 'inrkit[log]'"


def parse_log(text: str | None) -> tuple[str, ...]:
    """``"csv,tensorboard"`` -> ``("csv", "tensorboard")``; ``"none"``, ``""`` or None -> ``()``.
    Unknown or repeated names are refused in one line; TensorBoard must be installed (the ``log`` extra),
    checked here, before any training."""
    from ..errors import InrkitError

    if text is None or text.strip() in ("", "none"):
        return ()
    names = [t.strip() for t in text.split(",")]
    out: list[str] = []
    for n in names:
        if n not in LOG_FORMATS:
            raise InrkitError(f"--log takes csv, tensorboard or both (csv,tensorboard), not {n or text!r}")
        if n in out:
            raise InrkitError(f"--log names {n} twice")
        out.append(n)
    if "tensorboard" in out:
        check_tensorboard()
    return tuple(out)


def check_tensorboard() -> None:
    """Refuse ``--log tensorboard`` in one line when the ``tensorboard`` package is missing."""
    import importlib.util

    from ..errors import InrkitError

    if importlib.util.find_spec("tensorboard") is None:
        raise InrkitError(f"--log tensorboard needs the tensorboard package: {LOG_EXTRA_HINT}")


LIVE_MARKER = "INRKIT_LIVE_LOG"
"""The file that marks ``OUT.live/`` as inrkit's live log (only such a folder is replaced by a new run)."""

LIVE_FLUSH_SECONDS = 5
"""How often the live event files reach the disk (TensorBoard re-reads them every few seconds)."""


def _add_row(writer, row: dict[str, float], wall: float) -> None:
    """One recorded row as TensorBoard scalars: tag = the column, step = the training step."""
    step = int(row["step"])
    for k, v in row.items():
        if k != "step":
            writer.add_scalar(k, float(v), step, walltime=wall)


def _safe(label: str) -> str:
    """A progress label as a folder name: ``functa z=64`` -> ``functa_z=64``."""
    return re.sub(r"[^A-Za-z0-9_.=+-]+", "_", label).strip("_.") or "run"


class Recorder:
    """The scalars of every fit a command runs, one :class:`ScalarLog` per fit (named by its progress label),
    and how to write them (``formats``: ``csv``, ``tensorboard``). A second fit under a label already used
    (fit-many's shards) gets ``label#2``, and so on, so no series is overwritten."""

    def __init__(self, formats: tuple[str, ...]):
        self.formats = tuple(formats)
        self.series: dict[str, ScalarLog] = {}
        self.live: Path | None = None  # --log tensorboard: where the events stream while the command runs
        self._live_out: Path | None = None  # the run folder they stream beside
        self._writers: dict[str, object] = {}  # one SummaryWriter per series, opened at its first live row
        self.say = True  # False under --quiet: the live folder is not announced

    def start(self, label: str) -> str:
        """A new series for a fit that starts under ``label``: its name (``label``, else ``label#2`` ...)."""
        key, k = label, 2
        while key in self.series:
            key, k = f"{label}#{k}", k + 1
        self.series[key] = ScalarLog()
        return key

    def record(self, key: str, state: FitState) -> None:
        """One step of the fit recorded as series ``key`` (from :meth:`start`)."""
        if key not in self.series:
            self.series[key] = ScalarLog()
        self.series[key].after_step(state)
        if self.live is not None:
            self._stream(key, len(self.series[key].rows) - 1)

    def restore(self, key: str, rows: dict) -> None:
        """Series ``key`` starts with the rows a stopped run recorded (``--resume``); streamed if live."""
        self.series[key].load_state_dict(rows)
        if self.live is not None:
            for i in range(len(self.series[key].rows)):
                self._stream(key, i)

    # ---- live TensorBoard events, beside the run folder ----

    def stream_beside(self, out: str | Path) -> Path | None:
        """Under ``--log tensorboard``, stream every step's scalars to ``OUT.live/LABEL/`` while the command
        runs (``tensorboard --logdir`` on OUT's parent shows the curves as they grow), from the rows recorded
        so far on. When the run folder ``out`` is completed (:meth:`finish_live`, called by
        :class:`~inrkit.report.rundir.RunDir`), its own ``tensorboard/`` holds the whole record and the live
        folder is removed; a run that fails or is stopped keeps it. A live folder left by an earlier run of
        the same ``out`` is replaced; any other folder of that name is refused in one line. Returns the live
        folder, or None (no ``tensorboard`` log, or already streaming)."""
        if "tensorboard" not in self.formats or self.live is not None:
            return None
        from ..errors import InrkitError

        import os

        out = Path(out)
        base = out if out.name not in ("", ".", "..") else Path(os.path.abspath(out))  # "." names the folder it is
        if not base.name:
            return None  # the filesystem root: refused as an output elsewhere; nothing to stream beside
        live = base.with_name(base.name + ".live")
        if live.is_symlink() or (live.exists() and not (live / LIVE_MARKER).is_file()):
            raise InrkitError(f"{live} exists and is not an inrkit live log: move it, or choose another --out")
        if live.exists():  # an earlier run's, replaced
            import shutil

            try:
                shutil.rmtree(live)
            except OSError as exc:
                raise InrkitError(f"cannot replace the live log {live}: {exc.strerror or exc}") from None
        self.live, self._live_out = live, out
        for key, s in self.series.items():  # the fits that ran before the run folder was named
            for i in range(len(s.rows)):
                self._stream(key, i)
        return live

    def _stream(self, key: str, i: int) -> None:
        w = self._writers.get(key)
        if w is None:
            from torch.utils.tensorboard import SummaryWriter

            assert self.live is not None and self._live_out is not None
            if not (self.live / LIVE_MARKER).is_file():  # made at the first step: a run that fails before any
                from ..errors import InrkitError  # training leaves no empty folder

                try:
                    self.live.mkdir(parents=True, exist_ok=True)
                    (self.live / LIVE_MARKER).write_text(
                        f"live TensorBoard events of the run {self._live_out.name}; removed when it completes, "
                        "with the whole record in its tensorboard/ folder\n")
                except OSError as exc:
                    raise InrkitError(f"cannot write the live log {self.live}: {exc.strerror or exc}") from None
            name, n = _safe(key), 2
            while (self.live / name).exists():  # a label used again after series_named renamed the first
                name, n = f"{_safe(key)}_{n}", n + 1
            w = self._writers[key] = SummaryWriter(log_dir=str(self.live / name), flush_secs=LIVE_FLUSH_SECONDS)
        s = self.series[key]
        _add_row(w, s.rows[i], s.wall[i])

    def flush_live(self) -> None:
        """Put the live events written so far on disk now (they also reach it every few seconds)."""
        for w in self._writers.values():
            w.flush()  # type: ignore[attr-defined]

    def end_series(self, key: str) -> None:
        """The fit recording series ``key`` has ended: close its live event file (a command fitting thousands
        of shards keeps one file open at a time, not thousands)."""
        w = self._writers.pop(key, None)
        if w is not None:
            w.close()  # type: ignore[attr-defined]

    def close_live(self) -> None:
        """Flush and close the live event files (they stay on disk)."""
        for w in self._writers.values():
            w.close()  # type: ignore[attr-defined]
        self._writers = {}

    def finish_live(self, final: str | Path) -> None:
        """The run folder ``final`` is complete: if the live events streamed beside it, close and remove
        them (``final/tensorboard/`` holds the whole record)."""
        if self.live is None or self._live_out is None or Path(final).absolute() != self._live_out.absolute():
            return
        import shutil

        self.close_live()
        shutil.rmtree(self.live, ignore_errors=True)
        self.live = self._live_out = None

    @property
    def empty(self) -> bool:
        return not any(s.rows for s in self.series.values())

    def csv(self) -> str:
        """One table: ``run`` (the progress label), ``step``, ``seconds``, loss terms, published figures."""
        import csv
        import io

        cols: list[str] = ["run"]
        for s in self.series.values():
            for r in s.rows:
                cols += [k for k in r if k not in cols]
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
        w.writeheader()
        for label, s in self.series.items():
            for r in s.rows:
                w.writerow({"run": label, **{k: (repr(v) if isinstance(v, float) else v) for k, v in r.items()}})
        return buf.getvalue()

    def write(self, folder: str | Path) -> list[Path]:
        """Write the formats asked for into ``folder``: ``scalars.csv``; ``tensorboard/LABEL/`` event files
        (one TensorBoard run per label, scalars tagged by their names, step = the training step, wall time =
        when the step ended). Returns what was written."""
        folder = Path(folder)
        written = []
        if self.empty:
            return written
        if "csv" in self.formats:
            from ..atomic import write_bytes_atomic

            write_bytes_atomic(folder / "scalars.csv", self.csv().encode())
            written.append(folder / "scalars.csv")
        if "tensorboard" in self.formats:
            check_tensorboard()
            from torch.utils.tensorboard import SummaryWriter

            root = folder / "tensorboard"
            for label, s in self.series.items():
                w = SummaryWriter(log_dir=str(root / _safe(label)))
                try:
                    for r, wall in zip(s.rows, s.wall):
                        _add_row(w, r, wall)
                finally:
                    w.close()
            written.append(root)
        return written


_RECORDER: contextvars.ContextVar[Recorder | None] = contextvars.ContextVar("inrkit_recorder", default=None)


@contextlib.contextmanager
def recording(formats: tuple[str, ...] | str | None, say: bool = True) -> Iterator[Recorder | None]:
    """Within this block every :class:`Progress` records its steps and every run folder completed
    (:class:`inrkit.report.rundir.RunDir`) receives the logs: ``formats`` as :func:`parse_log` gives
    (a string is parsed); empty: nothing recorded."""
    if isinstance(formats, str) or formats is None:
        formats = parse_log(formats)
    if not formats:
        yield None
        return
    rec = Recorder(formats)
    rec.say = say
    token = _RECORDER.set(rec)
    try:
        yield rec
    finally:
        _RECORDER.reset(token)
        rec.close_live()
        if rec.live is not None and rec.live.exists() and rec.say:
            print(f"the live TensorBoard log of this run stays in {rec.live}", file=sys.stderr)


def stream_beside(out: str | Path) -> Path:
    """``out``, the run folder a command is about to compute; inside ``--log tensorboard`` its scalars now
    stream live to ``OUT.live/`` (:meth:`Recorder.stream_beside`), said on stderr unless the recording is
    quiet (``--quiet``). Outside a recording, or under ``--log csv``, nothing happens."""
    out = Path(out)
    rec = _RECORDER.get()
    live = rec.stream_beside(out) if rec is not None else None
    if live is not None and rec is not None and rec.say:
        print(f"TensorBoard: live scalars in {live} (tensorboard --logdir {live.parent}); they move into "
              f"{out / 'tensorboard'} when the run completes", file=sys.stderr)
    return out


def active_recorder() -> Recorder | None:
    """The :class:`Recorder` of the enclosing :func:`recording` block, if any."""
    return _RECORDER.get()


@contextlib.contextmanager
def series_named(label: str) -> Iterator[None]:
    """Inside ``--log`` (:func:`recording`): the series that the block's fits start are renamed after what
    they fit, ``label`` where the block ran one fit and ``label: LOOP`` where it ran several (an insp
    image's field is ``field camera-noisy`` rather than ``SIREN#7``; a compress-bench encode's phases are
    ``camera-0.002: cool-chic fine``). Series recorded before the block keep their names; a clash gets
    ``#2``, ``#3`` ... as in :meth:`Recorder.start`."""
    rec = active_recorder()
    before = set(rec.series) if rec is not None else set()
    try:
        yield
    finally:
        if rec is not None:
            new = [k for k in rec.series if k not in before]
            names = {k: label if len(new) == 1 else f"{label}: {k.split('#')[0]}" for k in new}
            renamed: dict[str, ScalarLog] = {}
            for k, v in rec.series.items():  # the new series are the last ones: the order is kept
                key, n = names.get(k, k), 2
                while k in names and (key in before or key in renamed):
                    key, n = f"{names[k]}#{n}", n + 1
                renamed[key] = v
                if k in rec._writers:  # the live events keep their folder; the writer follows the series
                    rec._writers[key] = rec._writers.pop(k)
            rec.series = renamed


# ---- --dry-run: time the real command's first steps ------------------------------------------------

class ProbeDone(BaseException):
    """Raised by a :class:`Progress` inside :func:`probing` once enough steps are timed (never escapes it);
    a BaseException, so an app's ``except Exception`` does not swallow it, and a run folder being written is
    removed (:class:`~inrkit.report.rundir.RunDir`)."""


class Probe:
    """Times ``steps`` training steps after ``warmup`` of the first fit a command starts, then stops the
    command (:class:`ProbeDone`) before it writes anything."""

    def __init__(self, steps: int = 3, warmup: int = 1):
        self.steps, self.warmup = steps, warmup
        self.label: str | None = None
        self.total_steps: int | None = None
        self.max_seconds: float | None = None
        self.setup_seconds: float | None = None
        self.per_step: float | None = None
        self.fits_started = 0
        self._t0 = time.perf_counter()
        self._start_train = 0.0

    def start(self, label: str, state: FitState) -> None:
        self.fits_started += 1
        if self.label is None:
            self.label, self.total_steps, self.max_seconds = label, state.steps, state.max_seconds
            self.setup_seconds = time.perf_counter() - self._t0

    def step(self, label: str, state: FitState) -> None:
        if label != self.label:
            return
        if state.step == self.warmup:
            self._start_train = state.train_seconds
        if state.step >= self.warmup + self.steps or state.last_step:
            done = state.step - self.warmup
            self.per_step = (state.train_seconds - self._start_train) / done if done > 0 else state.train_seconds
            raise ProbeDone

    def estimate(self, steps: int | None = None, max_seconds: float | None = None) -> tuple[float | None, str]:
        """``(seconds, how)``: setup + per step x the step budget (or the time budget) of the first fit, or
        the ``steps`` / ``max_seconds`` given (a command whose first loop is one stage of several)."""
        if self.per_step is None:
            return None, "the command reached no training step to time"
        whole = steps is not None or max_seconds is not None
        steps = steps if whole else self.total_steps
        max_seconds = max_seconds if whole else self.max_seconds
        self.max_seconds = max_seconds
        if whole:
            self.fits_started = 1  # the budget given covers the later stages
        if steps:
            train = self.per_step * steps
            if self.max_seconds:
                train = min(train, self.max_seconds)
        else:
            train = self.max_seconds or 0.0
        how = (f"measured: a probe of {self.steps} steps after {self.warmup} warm-up step of the command itself "
               f"({self.label}: {self.per_step:.3g} s/step x {steps or 'its time budget'}"
               + (" steps, at most the time budget" if steps and self.max_seconds else " steps" if steps else "")
               + f", plus {self.setup_seconds:.1f} s of loading and set-up); evaluations and the report are not "
                 "counted" + ("" if self.fits_started <= 1 else "; later stages of the command are not counted"))
        return self.setup_seconds + train, how


_PROBE: contextvars.ContextVar[Probe | None] = contextvars.ContextVar("inrkit_probe", default=None)


def probing(run, steps: int = 3, warmup: int = 1) -> Probe:
    """Run ``run()`` (the command's real work, from loading to training) until its first fit has done
    ``warmup + steps`` steps, then stop it; return the :class:`Probe` with its timing. Progress displays
    stay silent meanwhile. Nothing is written: the commands write their run folders after training."""
    probe = Probe(steps, warmup)
    token = _PROBE.set(probe)
    try:
        run()
    except ProbeDone:
        pass
    finally:
        _PROBE.reset(token)
    return probe
