"""``--log csv`` on insp train | bench | classify and compress-bench (issue 14): every training loop of the
command is a series in the run folder's ``scalars.csv``, named after what it fitted; and the new options'
bad values are one line, exit 2, before any work."""

from __future__ import annotations

import csv
import io

import pytest

from inrkit.cli import main

INSP_TINY = ["--size", "16", "--field-steps", "4", "--pi-steps", "3", "--field-width", "8", "--pi-width", "8",
             "--pi-batch", "64", "--train-images", "astronaut", "--test-images", "camera"]


def _series(path) -> dict[str, list[dict]]:
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    out: dict[str, list[dict]] = {}
    for r in rows:
        out.setdefault(r["run"], []).append(r)
    return out


def _check_steps(series: dict[str, list[dict]]) -> None:
    for name, rows in series.items():
        assert [int(r["step"]) for r in rows] == list(range(1, len(rows) + 1)), name
        assert all(float(r["loss"]) == float(r["loss"]) for r in rows), name  # a finite loss at every step


def test_insp_train_log_csv(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["insp", "train", "denoise", *INSP_TINY, "--order", "2", "--quiet", "--log", "csv", "--out", "r"]) == 0
    out = capsys.readouterr()
    assert out.err == "" and out.out.strip().endswith("-> r/report.html")  # --quiet: no progress display
    series = _series(tmp_path / "r" / "scalars.csv")
    # one series per field, named after its image and degradation, then Pi's
    assert list(series) == ["field astronaut-noisy", "field camera-noisy", "INSP denoise K=2"]
    assert [len(v) for v in series.values()] == [4, 4, 3]
    _check_steps(series)
    assert series["field camera-noisy"][0]["psnr"]  # the fields' evaluation is recorded where measured


def test_insp_bench_log_csv(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["insp", "bench", *INSP_TINY, "--tasks", "edges", "--orders", "0,1", "--upscale", "1", "--quiet",
                 "--log", "csv", "--out", "b"]) == 0
    capsys.readouterr()
    series = _series(tmp_path / "b" / "scalars.csv")
    assert list(series) == ["field astronaut-clean", "field camera-clean", "INSP edges K=0", "INSP edges K=1"]
    _check_steps(series)
    assert (tmp_path / "b" / "table.md").is_file()


def test_insp_classify_log_csv(tmp_path, monkeypatch, capsys):
    from inrkit.signals import collections

    digits = collections.load_collection("digits")  # 8 x 8 digits: the same code path as MNIST, quicker
    monkeypatch.setattr(collections, "load_collection", lambda name: digits)
    monkeypatch.chdir(tmp_path)
    assert main(["insp", "classify", "--train-per-class", "2", "--test-per-class", "1", "--field-steps", "3",
                 "--epochs", "2", "--weight-epochs", "2", "--seeds", "0", "--readouts", "gap", "--channels", "4,4",
                 "--quiet", "--log", "csv", "--out", "c"]) == 0
    capsys.readouterr()
    series = _series(tmp_path / "c" / "scalars.csv")
    assert list(series) == ["fit INRs 1-30 of 30", "INSP-ConvNet gap seed 0", "pixel ConvNet gap seed 0",
                            "weights MLP seed 0"]
    assert len(series["fit INRs 1-30 of 30"]) == 3 and len(series["weights MLP seed 0"]) == 2
    _check_steps(series)


def test_compress_bench_log_csv_and_quiet(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["compress-bench", "--images", "camera", "--preset", "tiny", "--lambdas", "0.02", "0.002", "--size",
                 "16", "--out", "b", "--quiet", "--log", "csv"]) == 0
    out = capsys.readouterr()
    assert out.err == ""  # --quiet: no progress bar and no line per encode
    assert out.out.strip().endswith("-> b/report.html")
    series = _series(tmp_path / "b" / "scalars.csv")
    assert list(series) == [f"camera-{lam}: cool-chic {phase}" for lam in ("0.02", "0.002")
                            for phase in ("coarse", "fine", "ste")]
    _check_steps(series)
    assert sum(len(v) for v in series.values()) == 2 * 120  # the tiny preset's 120 steps per encode
    assert not (tmp_path / "b" / "tensorboard").exists()


def test_compress_bench_without_quiet_says_each_encode(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["compress-bench", "--images", "camera", "--preset", "tiny", "--lambdas", "0.02", "--size", "16",
                 "--out", "b"]) == 0
    err = capsys.readouterr().err
    assert "bench camera 16x16 lambda 0.02:" in err
    assert not (tmp_path / "b" / "scalars.csv").exists()  # no --log: no scalars


BAD = [["insp", "train", "edges"], ["insp", "bench"], ["insp", "classify"], ["compress-bench"]]


@pytest.mark.parametrize("argv", BAD, ids=" ".join)
@pytest.mark.parametrize("value, needle", [("bogus", "--log takes csv, tensorboard or both"),
                                           ("csv,csv", "--log names csv twice")])
def test_bad_log_is_one_line_before_any_work(argv, value, needle, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main([*argv, "--log", value, "--out", "o"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0], err
    assert list(tmp_path.iterdir()) == []


def test_functa_encode_has_dry_run_but_no_log(capsys):
    from inrkit.cli import build_parser

    ns = build_parser().parse_args(["functa", "encode", "ckpt", "digits", "--out", "fs", "--dry-run"])
    assert ns.dry_run
    assert main(["functa", "encode", "ckpt", "digits", "--out", "fs", "--log", "csv"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unrecognized arguments: --log csv" in err[0]
