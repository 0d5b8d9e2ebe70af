"""Many fields at once: batched == one at a time; sharded run folders, resumable and rank-independent."""

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from inrkit.apps.many import ManySettings, field_seed, fit_many, fit_one, fit_stack, load_field
from inrkit.signals.collections import load_collection
from inrkit.train import checkpoint

SMALL = ManySettings(width=16, hidden_layers=2, steps=100, lr=1e-3, seed=3)


@pytest.fixture(autouse=True)
def _one_thread(_threads):
    torch.set_num_threads(1)  # tiny stacks: a second spinning OpenMP thread only slows a shared machine


@pytest.fixture(scope="module")
def digits():
    return load_collection("digits")


def test_batched_equals_one_at_a_time(digits):
    """Each stacked field equals the same field fitted alone (same seed from its id) to float rounding."""
    ids = [5, 6, 7, 8]
    model, psnr, rec = fit_stack(digits.images[5:9], ids, SMALL)
    assert rec["status"] == "ok" and rec["steps"] == SMALL.steps
    for row, i in enumerate(ids):
        solo, solo_psnr = fit_one(digits.images[i], i, SMALL)
        stacked = model.state_of(row)
        for k, v in solo.state_dict().items():
            torch.testing.assert_close(stacked[k], v, rtol=1e-5, atol=1e-5)
        assert abs(float(psnr[row]) - solo_psnr) < 1e-3
    assert float(psnr.mean()) > 25  # a real fit, not a trivial agreement of two untrained fields


def test_initialisation_from_sample_id_not_position(digits):
    """The same sample fitted in another batch, at another position, gives the same field."""
    a, pa = fit_many(digits.images[0:4], ids=[0, 1, 2, 3], settings=replace(SMALL, steps=20), device="cpu")
    b, pb = fit_many(digits.images[[3, 1]], ids=[3, 1], settings=replace(SMALL, steps=20), device="cpu")
    for k, v in b.state_of(0).items():
        torch.testing.assert_close(v, a.state_of(3)[k], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(pb[1], pa[1], rtol=1e-4, atol=1e-4)
    assert field_seed(3, 1) != field_seed(3, 2) and field_seed(3, 1) != field_seed(4, 1)


def _main(args, capsys):
    """``inrkit ARGS`` in this process (a subprocess costs seconds of imports on a loaded machine)."""
    from inrkit.cli import main

    capsys.readouterr()
    rc = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return rc, out, err


ARGS = ["fit-many", "digits", "--items", "16", "--shard-size", "4", "--steps", "100", "--lr", "1e-3", "--width", "16",
        "--depth", "2", "--seed", "1", "--quiet"]
FAST = ManySettings(width=16, hidden_layers=2, steps=100, lr=1e-3, seed=1)


def _shards(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("shard_*.safetensors"))}


def test_cli_run_extract_render_and_rerun(tmp_path, digits, capsys):
    out = tmp_path / "many"
    rc, _, err = _main([*ARGS, "--out", out], capsys)
    assert rc == 0, err
    man = json.loads((out / "manifest.json").read_text())
    metrics = json.loads((out / "metrics.json").read_text())
    assert len(man["shards"]) == 4 and metrics["items"] == 16 and len(metrics["psnr"]) == 16
    assert metrics["psnr_mean"] > 30
    # one field out as an ordinary checkpoint, equal to its row of the stacked fit
    field, meta = load_field(out, 13)
    ckpt = tmp_path / "f13"
    assert _main(["extract-field", out, "--id", "13", "--out", ckpt], capsys)[0] == 0
    loaded, lmeta = checkpoint.load(ckpt, expect="field")
    from inrkit import coords as C
    xy = C.grid((8, 8)).reshape(-1, 2)
    with torch.no_grad():
        torch.testing.assert_close(loaded(xy), field(xy))
        target = torch.as_tensor(digits.images[13] * 2 - 1).reshape(-1, 1)
        mse = float(((loaded(xy) - target) ** 2).mean())
    assert abs(10 * np.log10(4 / mse) - metrics["psnr"][13]) < 1e-3
    rc, _, err = _main(["render", ckpt, "--out", tmp_path / "f13.png", "--quiet"], capsys)
    assert rc == 0, err
    # a rerun skips every finished shard: the files are not rewritten
    before = {p.name: p.stat().st_mtime_ns for p in out.glob("shard_*")}
    assert _main([*ARGS, "--out", out], capsys)[0] == 0
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("shard_*")} == before
    # another run's folder (other settings): one line, exit 2
    rc, _, err = _main([*ARGS, "--steps", "31", "--out", out], capsys)
    assert rc == 2 and err.count("\n") == 1 and "another fit-many run" in err


def test_shards_of_another_run_refused(tmp_path, digits, capsys):
    from inrkit.apps.many import fit_many_run

    a, b = tmp_path / "a", tmp_path / "b"
    small = replace(FAST, steps=2)
    fit_many_run(digits, a, small, items=4, shard_size=4)
    fit_many_run(digits, b, replace(small, seed=2), items=4, shard_size=4)
    (a / "shard_00000.json").write_bytes((b / "shard_00000.json").read_bytes())  # a receipt of run b in a
    (a / "manifest.json").unlink()
    rc, _, err = _main([*ARGS, "--steps", "2", "--items", "4", "--out", a], capsys)
    assert rc == 2 and err.count("\n") == 1 and "shards of another run" in err
    (a / "run.json").unlink()  # shards without the run's description: not this run's folder
    rc, _, err = _main([*ARGS, "--steps", "2", "--items", "4", "--out", a], capsys)
    assert rc == 2 and err.count("\n") == 1 and "use a new --out" in err


def test_two_ranks_and_a_killed_rank_give_the_same_bytes(tmp_path, digits, monkeypatch):
    """Rank-strided shards under WORLD_SIZE=2 (torchrun's variables), rank 1 killed by SIGKILL
    mid-shard and restarted: the shards and manifest are byte-identical to one process's."""
    from inrkit.apps.many import fit_many_run

    one, two = tmp_path / "one", tmp_path / "two"
    slow = replace(FAST, steps=150)  # a fraction of a second a shard: the kill lands inside one
    fit_many_run(digits, one, slow, items=8, shard_size=2)
    # rank 1 (shards 1 and 3), a separate process, is killed while fitting its second shard
    args = [a for a in ARGS if a != "--quiet"]
    args[args.index("--steps") + 1] = "150"
    args[args.index("--items") + 1], args[args.index("--shard-size") + 1] = "8", "2"
    victim = subprocess.Popen([sys.executable, "-m", "inrkit", *args, "--quiet", "--out", str(two)],
                              env={**os.environ, "OMP_NUM_THREADS": "1", "RANK": "1", "WORLD_SIZE": "2"},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not (two / "shard_00001.json").exists() and time.time() < deadline and victim.poll() is None:
        time.sleep(0.02)
    assert victim.poll() is None, "rank 1 finished before it could be killed"
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    assert not (two / "shard_00003.json").exists()
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")  # rank 0 fits its shards; rank 1's are missing: no merge yet
    assert fit_many_run(digits, two, slow, items=8, shard_size=2) is None
    assert not (two / "manifest.json").exists()
    monkeypatch.setenv("RANK", "1")  # the restarted rank 1 fits shard 3 and merges
    assert fit_many_run(digits, two, slow, items=8, shard_size=2) is not None
    assert _shards(two) == _shards(one) and len(_shards(one)) == 4
    assert (two / "manifest.json").read_bytes() == (one / "manifest.json").read_bytes()
    assert not [p for p in two.iterdir() if p.name.startswith(".")]  # no temporary file left


def test_a_folder_inrkit_did_not_write_is_refused_and_divergence_is_not_success(tmp_path, digits, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    rc, _, err = _main([*ARGS, "--steps", "2", "--items", "2", "--out", mine], capsys)
    assert rc == 2 and err.count("\n") == 1 and "no fit-many run wrote" in err
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]  # nothing written beside the user's file
    rc, _, err = _main([*ARGS, "--steps", "5", "--items", "2", "--lr", "1e37", "--out", tmp_path / "div"], capsys)
    assert rc == 3 and "did not finish (diverged)" in err
