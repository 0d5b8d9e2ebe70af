"""Resumable training: a run killed mid-way and resumed ends with the same bytes as one never interrupted."""

import json
import signal
import subprocess
import sys
import time

import pytest
import torch

from inrkit.apps.image import state_folder
from inrkit.config import FieldConfig, build_field
from inrkit.errors import InrkitError
from inrkit.objectives import Reconstruction
from inrkit.signals.sampling import PointSampler
from inrkit.train import Callback, fit, resume, schedules


class StopAt(Callback):
    """Stops the run after step ``n``, as a kill after a snapshot would."""

    def __init__(self, n):
        self.n = n

    def after_step(self, state):
        if state.step == self.n:
            state.stop = True


def _run(steps_until_stop, folder, resume_from=None, rows=None, extra=()):
    """A small fit stopped after ``steps_until_stop``, snapshotting every step into ``folder``; with ``rows`` (a
    list) under ``--log csv``, the fit's recorded rows are appended to it."""
    import contextlib

    from inrkit.train.progress import Progress, recording

    x = torch.rand(64, 2, generator=torch.Generator().manual_seed(1)) * 2 - 1
    y = torch.sin(3 * x[:, :1])
    f = build_field(FieldConfig(arch="siren", width=16, hidden_layers=1), 2, 1, 8,
                    generator=torch.Generator().manual_seed(0))
    opt = torch.optim.Adam(f.parameters(), lr=1e-3)
    cbs = [*extra, StopAt(steps_until_stop), Progress("fit", False), resume.Snapshots(folder, 0.0, {"run": "test"})]
    with recording("csv", say=False) if rows is not None else contextlib.nullcontext() as rec:
        r = fit(f, PointSampler(x, y, 16), Reconstruction(), steps=40, optimizer=opt,
                scheduler=schedules.cosine(opt, 40), callbacks=cbs, generator=torch.Generator().manual_seed(5),
                resume=resume_from)
    if rows is not None:
        rows += next(iter(rec.series.values())).rows
    return f, r


def test_snapshot_and_resume_equal_an_uninterrupted_run(tmp_path):
    whole, _ = _run(40, tmp_path / "a")
    _, r1 = _run(17, tmp_path / "b")
    assert r1.steps == 17
    snap, meta = resume.load(tmp_path / "b")
    assert meta == {"run": "test"} and snap["step"] == 16  # none at the stopping step itself
    resumed, r2 = _run(40, tmp_path / "c", resume_from=snap)
    assert r2.steps == 40
    for a, b in zip(whole.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)


def test_missing_or_damaged_state_is_one_line(tmp_path):
    with pytest.raises(InrkitError, match="no training state"):
        resume.load(tmp_path / "nothing")
    _run(3, tmp_path / "s")
    (tmp_path / "s" / "current" / "state.json").write_text("{bad")
    with pytest.raises(InrkitError, match="cannot be read"):
        resume.load(tmp_path / "s")


def _cli(args, **kw):
    return subprocess.Popen([sys.executable, "-m", "inrkit", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def test_cli_fit_killed_then_resumed_is_byte_identical(tmp_path):
    common = ["fit", "camera", "--size", "24", "--steps", "150", "--width", "32", "--depth", "2", "--quiet",
              "--device", "cpu", "--log", "csv"]
    ref = _cli([*common, "--out", tmp_path / "ref"])
    assert ref.wait(timeout=600) == 0, ref.stderr.read()
    out = tmp_path / "run"
    p = _cli([*common, "--out", out, "--snapshot-minutes", "0.0001"])
    state = state_folder(out) / "current" / "state.json"
    t0 = time.time()
    while not (state.exists() and json.loads(state.read_text())["state"]) and time.time() - t0 < 300:
        time.sleep(0.05)
    time.sleep(0.3)
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert not out.exists(), "the kill came too late to test anything"
    again = _cli([*common, "--out", out, "--resume"])
    assert again.wait(timeout=600) == 0, again.stderr.read()
    assert (out / "model.safetensors").read_bytes() == (tmp_path / "ref" / "model.safetensors").read_bytes()

    def steps_and_losses(folder):  # --log csv: the resumed run's record starts at step 1, as the whole run's
        import csv

        rows = list(csv.DictReader((folder / "scalars.csv").read_text().splitlines()))
        return [(r["step"], r["loss"]) for r in rows]
    assert steps_and_losses(out) == steps_and_losses(tmp_path / "ref")
    assert [s for s, _ in steps_and_losses(out)] == [str(k) for k in range(1, 151)]
    assert not state_folder(out).exists()  # removed once the run folder is written
    # nothing to resume: one line, exit 2
    other = _cli([*common, "--out", tmp_path / "x", "--resume"])
    assert other.wait(timeout=120) == 2
    assert "no training state" in other.stderr.read() and not (tmp_path / "x").exists()


def test_a_state_saved_before_a_setting_existed_still_matches_but_a_changed_setting_does_not():
    from inrkit.apps.image import _same_run

    saved = {"field": {"arch": "hash", "hash": {"levels": 16, "max_res": None}}, "steps": 100}
    now = {"field": {"arch": "hash", "hash": {"levels": 16, "max_res": None, "time_cells": None}}, "steps": 100}
    assert _same_run(saved, now)  # a setting added later, at its default (None): the earlier behaviour
    now["field"]["hash"]["time_cells"] = 1.0
    assert not _same_run(saved, now)  # the same setting given a value: another run
    assert not _same_run(saved, {**now, "steps": 200})


def _recorded_run(steps_until_stop, folder, resume_from=None):
    rows: list = []
    _run(steps_until_stop, folder, resume_from, rows=rows)
    return [(r["step"], r["loss"]) for r in rows]


def test_a_resumed_run_records_the_steps_before_the_stop_too(tmp_path):
    whole = _recorded_run(40, tmp_path / "a")
    stopped = _recorded_run(9, tmp_path / "b")
    snap, _ = resume.load(tmp_path / "b")
    assert snap["step"] == 8 and len(snap["recorded"]) == 1 and snap["recorded"][0]["values"].shape[0] == 8
    resumed = _recorded_run(40, tmp_path / "c", resume_from=snap)
    assert [s for s, _ in whole] == list(range(1, 41)) and stopped == whole[:9]
    assert resumed == whole  # steps 1-8 from the snapshot, 9-40 run again: the same record as one run


class CtrlCAtFirstStep(Callback):
    def before_step(self, state):
        raise KeyboardInterrupt


def test_a_resumed_run_stopped_at_once_records_no_step_twice(tmp_path):
    """Ctrl-C before the resumed run's first step: its snapshot keeps steps 1..k once each, every one with a loss."""
    _run(5, tmp_path / "s", rows=[])
    snap, _ = resume.load(tmp_path / "s")
    k = snap["step"]
    rows: list = []
    _run(40, tmp_path / "s", snap, rows=rows, extra=[CtrlCAtFirstStep()])
    assert k >= 3 and [r["step"] for r in rows] == list(range(1, k + 1)) and all("loss" in r for r in rows)
    again, _ = resume.load(tmp_path / "s")
    assert again["step"] == k and again["recorded"][0]["values"].shape[0] == k


def test_a_damaged_log_record_in_a_state_is_one_line(tmp_path):
    rows: list = []
    _run(5, tmp_path / "s", rows=rows)
    snap, _ = resume.load(tmp_path / "s")
    snap["recorded"][0]["present"] = snap["recorded"][0]["present"][:2]  # rows and mask disagree
    with pytest.raises(InrkitError, match="--log record is damaged"):
        _run(40, tmp_path / "t", snap, rows=[])
    snap["recorded"] = [{"columns": "step"}]
    with pytest.raises(InrkitError, match="--log record is damaged"):
        _run(40, tmp_path / "t", snap, rows=[])
