"""``--log tensorboard`` streams live: once a command names its run folder OUT, every step's scalars reach
``OUT.live/LABEL/`` while it trains (the rows recorded before included), so ``tensorboard --logdir`` shows the
curves as they grow; the completed run folder holds the whole record in ``tensorboard/`` and the live folder
goes; a failed run keeps it and says where."""

from __future__ import annotations

import pytest
import torch

from inrkit.batch import Batch
from inrkit.cli import main
from inrkit.errors import InrkitError
from inrkit.report.rundir import RunDir
from inrkit.train import Progress, fit
from inrkit.train import progress as P


def _toy_fit(label: str, steps: int = 5, callbacks=()):
    x = torch.linspace(-1, 1, 8)[:, None]
    model = torch.nn.Linear(1, 1)
    return fit(model, lambda _g: Batch(coords=x, targets=3 * x + 1),
               lambda m, b: {"loss": ((m(b.coords) - b.targets) ** 2).mean()}, steps=steps, lr=0.05,
               generator=torch.Generator().manual_seed(0), callbacks=[Progress(label, enabled=False), *callbacks])


def _steps(folder, tag="loss") -> list[int]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder))
    acc.Reload()
    return [e.step for e in acc.Scalars(tag)]


def test_events_stream_while_training_then_move_into_the_run_folder(tmp_path, capsys):
    seen = {}

    class Peek(P.Callback):  # what TensorBoard would read from the live folder in the middle of the run
        def after_step(self, state):
            if state.step == 3:
                P.active_recorder().flush_live()
                seen["during"] = _steps(tmp_path / "run.live" / "during")
                seen["before"] = _steps(tmp_path / "run.live" / "before")

    with P.recording("tensorboard"):
        _toy_fit("before", steps=4)  # fitted before the run folder was named: written when it is
        assert P.stream_beside(tmp_path / "run") == tmp_path / "run"
        assert (tmp_path / "run.live" / P.LIVE_MARKER).is_file()  # the earlier fit's rows were written
        _toy_fit("during", steps=6, callbacks=[Peek()])
        with RunDir(tmp_path / "run") as folder:
            (folder / "x.txt").write_text("x")
        assert not (tmp_path / "run.live").exists()  # the run completed: its own folder has the record
    assert seen == {"before": [1, 2, 3, 4], "during": [1, 2, 3]}
    assert _steps(tmp_path / "run" / "tensorboard" / "during") == list(range(1, 7))
    assert _steps(tmp_path / "run" / "tensorboard" / "before") == [1, 2, 3, 4]
    err = capsys.readouterr().err
    assert f"live scalars in {tmp_path / 'run.live'}" in err and "stays" not in err


def test_a_failed_run_keeps_its_live_log_and_says_where(tmp_path, capsys):
    with pytest.raises(RuntimeError):
        with P.recording("tensorboard"):
            P.stream_beside(tmp_path / "run")
            _toy_fit("fit", steps=3)
            with RunDir(tmp_path / "run"):
                raise RuntimeError("stopped")
    assert not (tmp_path / "run").exists()
    assert _steps(tmp_path / "run.live" / "fit") == [1, 2, 3]
    assert f"stays in {tmp_path / 'run.live'}" in capsys.readouterr().err


def test_an_old_live_log_is_replaced_and_a_foreign_folder_refused(tmp_path):
    old = tmp_path / "run.live"
    old.mkdir()
    (old / P.LIVE_MARKER).write_text("")
    (old / "stale").mkdir()
    with P.recording("tensorboard", say=False):
        P.stream_beside(tmp_path / "run")
        assert not old.exists()  # replaced: the new one is made at the first step
        _toy_fit("fit", steps=1)
        assert sorted(p.name for p in old.iterdir()) == [P.LIVE_MARKER, "fit"]
    mine = tmp_path / "mine.live"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    with P.recording("tensorboard"), pytest.raises(InrkitError, match="is not an inrkit live log"):
        P.stream_beside(tmp_path / "mine")
    assert (mine / "notes.txt").read_text() == "keep"


def test_csv_alone_and_no_log_stream_nothing(tmp_path, capsys):
    for log in ("csv", "none"):
        with P.recording(log):
            P.stream_beside(tmp_path / "run")
            _toy_fit("fit", steps=2)
    assert not (tmp_path / "run.live").exists() and capsys.readouterr().err == ""


def test_relabelled_series_keep_their_live_events(tmp_path):
    with P.recording("tensorboard", say=False) as rec:
        P.stream_beside(tmp_path / "run")
        with P.series_named("field camera"):
            _toy_fit("SIREN", steps=2)
        _toy_fit("SIREN", steps=3)  # the same progress label again: its own live folder
        rec.flush_live()
        assert _steps(tmp_path / "run.live" / "SIREN") == [1, 2]
        assert _steps(tmp_path / "run.live" / "SIREN_2") == [1, 2, 3]
        assert set(rec.series) == {"field camera", "SIREN"}


def test_cli_announces_the_live_folder_and_quiet_does_not(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    tiny = ["fit", "camera", "--size", "16", "--steps", "3", "--width", "8", "--log", "tensorboard"]
    assert main([*tiny, "--out", "a"]) == 0
    err = capsys.readouterr().err
    assert "TensorBoard: live scalars in a.live" in err
    assert (tmp_path / "a" / "tensorboard").is_dir() and not (tmp_path / "a.live").exists()
    assert main([*tiny, "--out", "b", "--quiet"]) == 0
    assert "live" not in capsys.readouterr().err and (tmp_path / "b" / "tensorboard").is_dir()


def test_no_live_folder_without_a_step_and_writers_close_when_their_fit_ends(tmp_path, capsys):
    with pytest.raises(ValueError):
        with P.recording("tensorboard"):
            P.stream_beside(tmp_path / "run")
            raise ValueError("the input did not load")  # before any training
    assert not (tmp_path / "run.live").exists() and "stays" not in capsys.readouterr().err
    with P.recording("tensorboard", say=False) as rec:
        P.stream_beside(tmp_path / "many")
        for k in range(3):
            _toy_fit(f"shard {k}", steps=2)
        assert rec._writers == {}  # one open event file at a time, not one per shard
        assert _steps(tmp_path / "many.live" / "shard_2") == [1, 2]


def test_dot_names_the_folder_it_is(tmp_path, monkeypatch):
    (tmp_path / "here").mkdir()
    monkeypatch.chdir(tmp_path / "here")
    with P.recording("tensorboard", say=False):
        P.stream_beside(".")
        _toy_fit("fit", steps=1)
    assert (tmp_path / "here.live" / "fit").is_dir()


def test_ctrl_c_inside_an_earlier_callback_keeps_one_live_series(tmp_path):
    """Ctrl-C in an evaluation ordered before the progress display: the step it cut short is recorded in the
    series' own event folder (not a second one opened after the first was closed), and in the snapshot."""
    import os

    import torch

    from inrkit.config import FieldConfig, build_field
    from inrkit.objectives import Reconstruction
    from inrkit.signals.sampling import PointSampler
    from inrkit.train import Callback, fit, resume
    from inrkit.train.progress import Progress, recording, stream_beside

    class CtrlCInEvaluation(Callback):
        def after_step(self, state):
            if state.step == 5:
                raise KeyboardInterrupt

    x = torch.rand(64, 2, generator=torch.Generator().manual_seed(1)) * 2 - 1
    f = build_field(FieldConfig(arch="siren", width=16, hidden_layers=1), 2, 1, 8,
                    generator=torch.Generator().manual_seed(0))
    with recording("csv,tensorboard", say=False) as rec:
        stream_beside(tmp_path / "out")
        cbs = [CtrlCInEvaluation(), Progress("fit", False), resume.Snapshots(tmp_path / "state", 1e9, {})]
        r = fit(f, PointSampler(x, torch.sin(3 * x[:, :1]), 16), Reconstruction(), steps=20,
                optimizer=torch.optim.Adam(f.parameters()), callbacks=cbs, generator=torch.Generator().manual_seed(5))
        assert r.status == "interrupted" and [row["step"] for row in rec.series["fit"].rows] == [1, 2, 3, 4, 5]
    assert sorted(os.listdir(tmp_path / "out.live")) == ["INRKIT_LIVE_LOG", "fit"]
    snap, _ = resume.load(tmp_path / "state")
    assert snap["step"] == 5 and snap["recorded"][0]["values"].shape[0] == 5
