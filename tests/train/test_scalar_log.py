"""``--log csv|tensorboard``: the progress callback of every training loop feeds the active recorder, and the
run folder written afterwards receives ``scalars.csv`` and TensorBoard event files holding the same losses.
``--dry-run``'s probe: the first steps of the real loop are timed and the command is stopped."""

from __future__ import annotations

import csv
import io

import pytest
import torch

from inrkit.batch import Batch
from inrkit.errors import InrkitError
from inrkit.report.rundir import RunDir
from inrkit.train import Progress, fit
from inrkit.train import progress as P


def _toy_fit(label: str, steps: int = 5, seed: int = 0):
    """A line fitted to 8 points: a real loss that falls, through the one loop with a Progress."""
    g = torch.Generator().manual_seed(seed)
    x = torch.linspace(-1, 1, 8)[:, None]
    y = 3 * x + 1
    model = torch.nn.Linear(1, 1)

    def sample(_g):
        return Batch(coords=x, targets=y)

    def objective(m, b):
        return {"loss": ((m(b.coords) - b.targets) ** 2).mean()}

    class Publish(P.Callback):
        def after_step(self, state):
            if state.step % 2 == 0:
                state.log["psnr"] = float(state.step)

    return fit(model, sample, objective, steps=steps, lr=0.05, generator=g,
               callbacks=[Publish(), Progress(label, enabled=False)])


def _events(folder):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder))
    acc.Reload()
    return acc


def test_csv_and_tensorboard_hold_every_steps_loss(tmp_path):
    with P.recording("csv,tensorboard") as rec:
        a = _toy_fit("first", steps=5)
        b = _toy_fit("second", steps=3)
        with RunDir(tmp_path / "run") as folder:
            (folder / "x.txt").write_text("x")
    run = tmp_path / "run"
    rows = list(csv.DictReader(io.StringIO((run / "scalars.csv").read_text())))
    assert [(r["run"], int(r["step"])) for r in rows] == [("first", s) for s in range(1, 6)] + [
        ("second", s) for s in range(1, 4)]
    assert float(rows[4]["loss"]) == pytest.approx(a.final_terms["loss"])
    assert float(rows[-1]["loss"]) == pytest.approx(b.final_terms["loss"])
    assert [r["psnr"] for r in rows[:5]] == ["", "2.0", "", "4.0", ""]  # only where it was published
    assert float(rows[0]["loss"]) > float(rows[4]["loss"])  # the loss fell
    for label, res, n in (("first", a, 5), ("second", b, 3)):
        acc = _events(run / "tensorboard" / label)
        assert {"loss", "seconds"} <= set(acc.Tags()["scalars"])
        loss = acc.Scalars("loss")
        assert [e.step for e in loss] == list(range(1, n + 1))
        assert loss[-1].value == pytest.approx(res.final_terms["loss"], rel=1e-6)
        assert [e.step for e in acc.Scalars("psnr")] == [s for s in range(1, n + 1) if s % 2 == 0]
    assert rec is not None and not (tmp_path / "elsewhere").exists()


def test_nothing_is_recorded_outside_recording_or_without_formats(tmp_path):
    assert P.active_recorder() is None
    with P.recording("none") as rec:
        assert rec is None and P.active_recorder() is None
        _toy_fit("x")
        with RunDir(tmp_path / "run"):
            pass
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == [".inrkit-run"]


def test_the_same_label_twice_keeps_both_series():
    with P.recording("csv") as rec:
        _toy_fit("shard", steps=2)
        _toy_fit("shard", steps=3)
    assert {k: len(s.rows) for k, s in rec.series.items()} == {"shard": 2, "shard#2": 3}


@pytest.mark.parametrize("text, needle", [("csv,csv", "twice"), ("json", "not 'json'"), ("csv,", "not 'csv,'")])
def test_bad_log_values_are_one_line(text, needle):
    with pytest.raises(InrkitError, match=needle):
        P.parse_log(text)


def test_missing_tensorboard_says_which_extra(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tensorboard" else real(name, *a))
    with pytest.raises(InrkitError, match=r"pip install 'inrkit\[log\]'"):
        P.parse_log("csv,tensorboard")
    assert P.parse_log("csv") == ("csv",)


def test_probe_times_the_first_steps_and_stops_the_loop():
    done = []

    def work():
        done.append(_toy_fit("probe", steps=1000))

    probe = P.probing(work, steps=3, warmup=1)
    assert done == []  # stopped inside the loop: nothing after training ran
    assert probe.label == "probe" and probe.total_steps == 1000 and probe.per_step is not None
    seconds, how = probe.estimate()
    assert seconds == pytest.approx(probe.setup_seconds + 1000 * probe.per_step)
    assert "probe of 3 steps" in how and "1000" in how
    assert P._PROBE.get() is None
    seconds2, _ = probe.estimate(steps=10)
    assert seconds2 == pytest.approx(probe.setup_seconds + 10 * probe.per_step)
