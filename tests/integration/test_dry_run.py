"""``--dry-run`` prints the values the run then uses: each case runs the command twice, with and
without ``--dry-run``, and compares the printed values with the run folder's model.json / metrics.json.
The dry run writes nothing."""

from __future__ import annotations

import json
import shutil
import re

import pytest

from inrkit.cli import main
from inrkit.config import DEFAULT_LR

ROW = re.compile(r"^  (\w+)\s+= (.*?)  \((.*)\)$")


def dry_run(argv, capsys) -> tuple[dict[str, str], dict[str, str], str]:
    """``(values, sources, the whole page)`` printed by ``argv + --dry-run``."""
    assert main([*argv, "--dry-run"]) == 0
    text = capsys.readouterr().out
    values, sources = {}, {}
    for line in text.splitlines():
        m = ROW.match(line)
        if m:
            values[m.group(1)], sources[m.group(1)] = m.group(2), m.group(3)
    assert re.search(r"^estimate: about \S.* \(measured: a probe of", text, re.M), text
    return values, sources, text


def test_fit_dry_run_prints_what_the_run_uses(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    argv = ["fit", "camera", "--preset", "tiny", "--size", "16", "--steps", "5", "--width", "24", "--quiet",
            "--out", "run"]
    values, sources, _ = dry_run(argv, capsys)
    assert list(tmp_path.iterdir()) == [], "a dry run writes nothing"
    assert sources["width"] == "flag" and sources["steps"] == "flag" and sources["preset"] == "flag"
    assert sources["batch_size"] == "preset tiny" and sources["hash_levels"] == "preset tiny"
    assert sources["holdout"] == "default" and sources["lr"].startswith("default")
    assert main(argv) == 0
    capsys.readouterr()
    model = json.loads((tmp_path / "run" / "model.json").read_text())
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    field, train = model["training"]["field"], model["training"]["train"]
    assert values["arch"] == field["arch"] == "hash"
    assert int(values["width"]) == field["width"] == 24
    assert int(values["depth"]) == field["hidden_layers"]
    assert int(values["hash_levels"]) == field["hash"]["levels"]
    assert int(values["hash_log2_table"]) == field["hash"]["log2_table"]
    assert int(values["steps"]) == train["steps"] == metrics["steps"] == 5
    assert int(values["batch_size"]) == train["batch_size"]
    assert values["schedule"] == train["schedule"]
    assert int(values["seed"]) == train["seed"]
    assert float(values["lr"]) == model["training"]["lr"] == DEFAULT_LR["hash"]
    assert float(values["holdout"]) == metrics["holdout"]["fraction"]
    assert int(values["size"]) == max(metrics["image_shape"][:2]) == 16
    assert values["out"] == "run"


def test_fit_dry_run_says_the_device_recipe(tmp_path, monkeypatch, capsys):
    """Without --preset: auto, resolved by the device, and said; the image is capped on a CPU."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    values, sources, text = dry_run(["fit", "camera", "--steps", "2", "--width", "16", "--holdout", "0"], capsys)
    assert values["preset"] == "cpu" and "auto" in sources["preset"] and "no CUDA GPU" in sources["preset"]
    assert values["size"] == "128" and sources["size"].startswith("preset cpu")
    assert values["arch"] == "siren" and sources["arch"] == "preset cpu"
    assert values["device"] == "cpu" and sources["holdout"] == "flag"
    assert "512" in text  # the image's own size is said
    assert list(tmp_path.iterdir()) == []


def test_poisson_dry_run_prints_what_the_run_uses(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    argv = ["poisson", "camera", "--size", "16", "--steps", "3", "--archs", "siren", "--width", "16", "--quiet",
            "--out", "p"]
    values, sources, _ = dry_run(argv, capsys)
    assert list(tmp_path.iterdir()) == []
    assert main(argv) == 0
    capsys.readouterr()
    m = json.loads((tmp_path / "p" / "metrics.json").read_text())
    assert int(values["steps"]) == m["steps"] == 3 and sources["steps"] == "flag"
    assert int(values["size"]) == max(m["shape"]) == 16
    assert values["supervision"] == m["supervision"] and values["operator"] == m["operator"]
    assert float(values["lr"]) == m["architectures"]["siren"]["lr"]
    assert values["archs"] == ",".join(m["architectures"])


def test_log_csv_writes_every_steps_scalars(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    argv = ["fit", "camera", "--preset", "tiny", "--size", "16", "--steps", "6", "--log-every", "3", "--quiet",
            "--log", "csv", "--out", "run"]
    assert main(argv) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].endswith("-> run/report.html")  # --quiet: the summary line only
    rows = (tmp_path / "run" / "scalars.csv").read_text().splitlines()
    header = rows[0].split(",")
    assert header[:4] == ["run", "step", "seconds", "loss"] and "psnr" in header and "held-out" in header
    body = [dict(zip(header, r.split(","))) for r in rows[1:]]
    assert [int(r["step"]) for r in body] == [1, 2, 3, 4, 5, 6]
    assert [bool(r["psnr"]) for r in body] == [True, False, True, False, False, True]  # where it was measured
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert float(body[-1]["psnr"]) == pytest.approx(metrics["history"][-1]["psnr"])
    assert not (tmp_path / "run" / "tensorboard").exists()


# ---- --log on every training command, --dry-run on those without a recipe of their own ----------------

TRAINING = [["fit", "x.png"], ["compare", "x.png"], ["poisson", "x.png"], ["blend", "a.png", "b.png"],
            ["integrate", "g.npy"], ["nerf", "train", "builtin"], ["functa", "train", "digits"],
            ["functa", "sample", "fs"], ["fit-many", "digits", "--out", "o"], ["ct", "shepp-logan"],
            ["mri", "shepp-logan"], ["shape", "sdf", "torus"], ["shape", "occupancy", "torus"],
            ["compress", "camera"], ["insp", "train", "edges"], ["insp", "bench"], ["insp", "classify"],
            ["compress-bench"]]


def test_every_training_command_takes_log_and_dry_run():
    from inrkit.cli import build_parser

    parser = build_parser()
    for argv in TRAINING:
        for value in ("csv", "tensorboard", "csv,tensorboard"):
            ns = parser.parse_args([*argv, "--log", value, "--dry-run"])
            assert ns.log == value and ns.dry_run, argv


SMALL_LOGGED = [  # (argv, run folder or None, series expected in scalars.csv)
    (["mri", "shepp-logan", "--size", "24", "--steps", "4", "--width", "8", "--tv-iterations", "2", "--out", "r"],
     "r", {"MRI"}),
    (["ct", "shepp-logan", "--views", "8", "--size", "24", "--steps", "3", "--width", "8", "--rays", "64",
      "--sart-iterations", "1", "--out", "r"], "r", {"CT 8 views"}),
    (["integrate", "g.npy", "--steps", "3", "--width", "8", "--out", "r"], "r", {"integrate"}),
    (["fit", "v.npy", "--steps", "3", "--out", "r"], "r", {"volume SIREN"}),
    (["compress", "camera", "--preset", "tiny", "--size", "16", "--steps", "6", "-o", "c.inrk"], "c.inrk-log",
     {"cool-chic coarse", "cool-chic fine", "cool-chic ste"}),
]


@pytest.mark.parametrize("argv, folder, series", SMALL_LOGGED, ids=lambda a: a[0] if isinstance(a, list) else "")
def test_log_csv_on_other_commands(argv, folder, series, tmp_path, monkeypatch, capsys):
    import csv
    import io

    import numpy as np

    monkeypatch.chdir(tmp_path)
    np.save(tmp_path / "g.npy", np.zeros((8, 8, 2)))
    np.save(tmp_path / "v.npy", np.random.default_rng(0).random((6, 7, 5)).astype(np.float32))
    assert main([*argv, "--quiet", "--log", "csv"]) == 0, capsys.readouterr().err
    rows = list(csv.DictReader(io.StringIO((tmp_path / folder / "scalars.csv").read_text())))
    assert {r["run"] for r in rows} == series
    assert all(r["loss"] and float(r["loss"]) == float(r["loss"]) for r in rows)  # every step has a finite loss
    first = [r for r in rows if r["run"] == sorted(series)[0]]
    assert [int(r["step"]) for r in first] == list(range(1, len(first) + 1))


def test_log_tensorboard_missing_fails_before_training(tmp_path, monkeypatch, capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tensorboard" else real(name, *a))
    monkeypatch.chdir(tmp_path)
    assert main(["ct", "shepp-logan", "--log", "tensorboard", "--out", "r"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["inrkit: error: --log tensorboard needs the tensorboard package: pip install 'inrkit[log]'"]
    assert list(tmp_path.iterdir()) == []


DRY = [
    ["ct", "shepp-logan", "--views", "8", "--size", "24", "--steps", "50", "--width", "8", "--out", "r"],
    ["shape", "occupancy", "torus", "--steps", "50", "--width", "8", "--batch", "64", "--resolution", "8"],
    ["compress", "camera", "--preset", "tiny", "--size", "16", "-o", "c.inrk"],
    ["fit-many", "digits", "--items", "4", "--steps", "50", "--width", "8", "--out", "many"],
    ["fit", "v.npy", "--steps", "50", "--width", "8"],
]


@pytest.mark.parametrize("argv", DRY, ids=lambda a: a[0] + (" " + a[1] if a[0] == "shape" else ""))
def test_dry_run_of_other_commands_prints_sources_and_a_measured_estimate(argv, tmp_path, monkeypatch, capsys):
    import numpy as np

    monkeypatch.chdir(tmp_path)
    inputs = tmp_path / "in"
    inputs.mkdir()
    np.save(inputs / "v.npy", np.random.default_rng(0).random((6, 7, 5)).astype(np.float32))
    argv = [str(inputs / w) if w == "v.npy" else w for w in argv]
    assert main([*argv, "--dry-run", "--log", "csv"]) == 0
    text = capsys.readouterr().out
    rows = {m.group(1): (m.group(2), m.group(3)) for m in map(ROW.match, text.splitlines()) if m}
    assert rows["steps" if argv[0] != "compress" else "preset"][1] == "flag"
    assert any(src == "default" for _, src in rows.values())
    m = re.search(r"^estimate: about (\S.*?) \(measured: a probe of 3 steps after 1 warm-up step", text, re.M)
    assert m, text
    assert re.search(r"x (50|120) steps", text), text  # the command's own step budget
    assert list(tmp_path.iterdir()) == [inputs] and [p.name for p in inputs.iterdir()] == ["v.npy"], \
        "a dry run writes nothing"


# ---- insp train | bench | classify, functa encode, compress-bench (issue 14) ------------------------

INSP_TINY = ["--size", "16", "--field-steps", "5", "--pi-steps", "5", "--field-width", "8", "--pi-width", "8",
             "--pi-batch", "64", "--train-images", "astronaut", "--test-images", "camera"]


def _tree(folder) -> dict:
    """Every path under ``folder`` and, for files, when it was last written."""
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns if p.is_file() else None
            for p in sorted(folder.rglob("*"))}


def test_insp_train_dry_run_prints_what_the_run_uses(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    argv = ["insp", "train", "edges", *INSP_TINY, "--order", "2", "--quiet", "--out", "r"]
    values, sources, text = dry_run(argv, capsys)
    assert list(tmp_path.iterdir()) == [], "a dry run writes nothing"
    assert sources["task"] == "argument" and sources["order"] == "flag" and sources["pi_depth"] == "default"
    assert values["out"] == "r" and sources["out"] == "flag" and values["cache"] == "none"
    assert "x 5 steps x 2 fields" in text and "Pi at K=2" in text  # both loops, scaled by the run's counts
    assert main(argv) == 0
    capsys.readouterr()
    cfg = json.loads((tmp_path / "r" / "operator.json").read_text())["config"]
    for name in ("order", "size", "field_width", "field_depth", "field_steps", "pi_width", "pi_depth", "pi_steps",
                 "pi_batch", "seed", "subpixel"):
        assert int(values[name]) == cfg[name], name
    assert float(values["pi_lr"]) == cfg["pi_lr"]


def test_insp_bench_dry_run_counts_shared_and_cached_fields(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _, _, text = dry_run(["insp", "bench", *INSP_TINY, "--tasks", "edges,blur", "--orders", "0,2"], capsys)
    # edges and blur both fit the clean image: one field per image (2), not per task and image (4)
    assert "2 SIRENs to fit" in text and "x 5 steps x 2 fields" in text and "x 4 trainings" in text
    assert "the classical methods" in text  # said not to be counted
    assert list(tmp_path.iterdir()) == []
    # and the run fits just those, without a cache
    import inrkit.apps.insp as app

    fits = []
    real = app.fit_field
    monkeypatch.setattr(app, "fit_field", lambda pixels, name, cfg, cache=None, kind="", progress=False: (
        fits.append((name, kind)) or real(pixels, name, cfg, cache, kind, progress)))
    assert main(["insp", "bench", *INSP_TINY, "--tasks", "edges,blur", "--orders", "0", "--upscale", "1",
                 "--out", "b"]) == 0
    capsys.readouterr()
    assert sorted(fits) == sorted(set(fits)) and len(fits) == 2, fits
    shutil.rmtree(tmp_path / "b")
    # fields fitted by insp train into --cache are not fitted again: the estimate has no field fit left
    assert main(["insp", "train", "edges", *INSP_TINY, "--cache", "c", "--quiet", "--out", "r"]) == 0
    capsys.readouterr()
    before = _tree(tmp_path)
    _, sources, text = dry_run(["insp", "bench", *INSP_TINY, "--tasks", "edges,blur", "--cache", "c"], capsys)
    assert "0 SIRENs to fit, 2 found in c" in text and "a field fit" not in text
    assert sources["cache"] == "flag"
    assert _tree(tmp_path) == before, "a dry run writes nothing, in the cache neither"


def test_insp_classify_dry_run(tmp_path, monkeypatch, capsys):
    from inrkit.signals import collections

    digits = collections.load_collection("digits")  # 8 x 8 digits: the same code path as MNIST, quicker
    monkeypatch.setattr(collections, "load_collection", lambda name: digits)
    monkeypatch.chdir(tmp_path)
    argv = ["insp", "classify", "--train-per-class", "2", "--test-per-class", "1", "--field-steps", "3", "--epochs",
            "2", "--weight-epochs", "2", "--seeds", "0,1", "--readouts", "gap", "--channels", "4,4"]
    values, sources, text = dry_run(argv, capsys)
    assert list(tmp_path.iterdir()) == []
    assert values["seeds"] == "0,1" and sources["seeds"] == "flag" and sources["w0"] == "default"
    assert "20 training and 10 test digits of 8 x 8" in text
    assert "x 2 epochs x 1 batch x 2 seed-readout runs" in text and "x 3 steps x 1 chunk;" in text


def test_functa_encode_dry_run_counts_what_is_left(tmp_path, monkeypatch, capsys):
    from inrkit.apps import functa as apps_functa
    from inrkit.apps.functa import encode_functaset

    digits = apps_functa.load_collection("digits")  # read once for the five commands below
    monkeypatch.setattr(apps_functa, "load_collection", lambda name: digits)
    monkeypatch.chdir(tmp_path)
    assert main(["functa", "train", "digits", "--steps", "1", "--width", "8", "--depth", "1", "--latent-dims", "4",
                 "--eval-items", "5", "--snapshot-minutes", "0", "--quiet", "--out", "f"]) == 0
    capsys.readouterr()
    before = _tree(tmp_path)
    values, sources, text = dry_run(["functa", "encode", "f/model_z4", "digits", "--out", "fs"], capsys)
    assert _tree(tmp_path) == before and not (tmp_path / "fs").exists()
    assert values["inner_steps"] == "3" and "checkpoint" in sources["inner_steps"]  # the training's, resolved
    assert "x 1,797 items to encode" in text and "2 shards of 1000" in text
    encode_functaset(ckpt="f/model_z4", dataset="digits", out="fs", device="cpu", stop_after_shards=1)
    before = _tree(tmp_path)
    _, _, text = dry_run(["functa", "encode", "f/model_z4", "digits", "--out", "fs"], capsys)
    assert "x 797 items to encode" in text and "1 of them already encoded in fs" in text
    assert _tree(tmp_path) == before
    assert main(["functa", "encode", "f/model_z4", "digits", "--out", "fs", "--shard-size", "500", "--dry-run"]) == 2
    assert "another checkpoint, dataset or setting" in capsys.readouterr().err  # the run's own check, first


def test_compress_bench_dry_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    argv = ["compress-bench", "--images", "camera", "coffee", "--preset", "tiny", "--lambdas", "0.02", "0.002",
            "--size", "16"]
    values, sources, text = dry_run(argv, capsys)
    assert list(tmp_path.iterdir()) == []
    assert values["images"] == "camera coffee" and sources["preset"] == "flag"
    assert values["seconds"] == "none" and sources["seconds"] == "default: preset tiny"
    assert values["out"] == "runs/compress-bench" and sources["out"] == "default"
    assert "4 encodes" in text and "x 120 steps, for 4 encodes" in text
    (tmp_path / "b").mkdir()
    assert main([*argv, "--out", "b", "--dry-run"]) == 2  # the run's own check of --out, before the probe
    assert "already exists" in capsys.readouterr().err
