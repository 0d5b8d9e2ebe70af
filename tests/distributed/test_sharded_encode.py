"""``functa encode`` sharded by rank: 2 ranks (one interrupted and restarted) == 1 process, byte for byte."""

import json

import pytest
import torch

from inrkit.apps import functa as F
from inrkit.errors import InrkitError
from inrkit.signals.collections import load_collection


@pytest.fixture(autouse=True)
def _one_thread(_threads):
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    root = tmp_path_factory.mktemp("enc")
    torch.set_num_threads(1)
    r = F.train_functa(load_collection("digits"), latent_dim=4, steps=3, batch_size=4, width=16, hidden_layers=1,
                       device="cpu", eval_items=4)
    F.write_functa_run([r], root / "run")
    return root / "run" / "model_z4"


def _files(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.suffix in (".safetensors", ".json")}


def test_two_ranks_one_restarted_equal_one_process(ckpt, tmp_path, monkeypatch):
    one, two = tmp_path / "one", tmp_path / "two"
    F.encode_functaset(ckpt, "digits", one, shard_size=400, device="cpu")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")  # rank 1 (shards 1 and 3) stops after one shard: a killed rank
    part = F.encode_functaset(ckpt, "digits", two, shard_size=400, device="cpu", stop_after_shards=1)
    assert part["encoded_this_run"] == 400 and not (two / "manifest.json").exists()
    (two / ".shard_00003.safetensors.abcdefgh").write_bytes(b"half a shard")  # killed inside its atomic write
    monkeypatch.setenv("RANK", "0")  # rank 0: shards 0, 2, 4; shard 3 is missing, so no manifest yet
    assert F.encode_functaset(ckpt, "digits", two, shard_size=400, device="cpu")["encoded_this_run"] == 997
    assert not any(sh["done"] for sh in json.loads((two / "manifest.json").read_text())["shards"])
    monkeypatch.setenv("RANK", "1")  # the restarted rank 1 skips shard 1, encodes shard 3 and merges
    assert F.encode_functaset(ckpt, "digits", two, shard_size=400, device="cpu")["encoded_this_run"] == 400
    assert _files(two) == _files(one)  # shards, receipts and manifest: byte for byte
    assert not [p for p in two.iterdir() if p.name.startswith(".")]
    monkeypatch.delenv("RANK")
    monkeypatch.delenv("WORLD_SIZE")
    m, data = F.load_functaset(two)
    assert data["latents"].shape == (1797, 4) and all(sh["done"] for sh in m["shards"])


def test_another_runs_shards_or_manifest_are_one_line_exit_2(ckpt, tmp_path, monkeypatch, capsys):
    from inrkit.cli import main

    a, b = tmp_path / "a", tmp_path / "b"
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    F.encode_functaset(ckpt, "digits", a, shard_size=900, device="cpu", inner_steps=1)
    F.encode_functaset(ckpt, "digits", b, shard_size=900, device="cpu", inner_steps=2)
    (b / "shard_00001.json").write_bytes((a / "shard_00001.json").read_bytes())  # run a's receipt in b
    capsys.readouterr()
    rc = main(["functa", "encode", str(ckpt), "digits", "--out", str(b), "--shard-size", "900", "--inner-steps", "2",
               "--device", "cpu", "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "shards of another run" in err
    monkeypatch.setenv("RANK", "0")
    F.encode_functaset(ckpt, "digits", a, shard_size=900, device="cpu", inner_steps=1)  # a is complete
    assert (a / "manifest.json").exists()
    rc = main(["functa", "encode", str(ckpt), "digits", "--out", str(a), "--shard-size", "900", "--inner-steps", "3",
               "--device", "cpu", "--quiet"])  # a manifest of another setting
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "another checkpoint, dataset or setting" in err
    with pytest.raises(InrkitError):
        F.encode_functaset(ckpt, "digits", a, shard_size=500, device="cpu", inner_steps=1)
    assert json.loads((a / "manifest.json").read_text())["inner_steps"] == 1


def test_the_rank_that_finishes_last_merges(ckpt, tmp_path, monkeypatch):
    """Rank 1 finishes while rank 0 is still encoding: rank 0 looks at rank 1's receipts again at its end."""
    one, two = tmp_path / "one", tmp_path / "two"
    F.encode_functaset(ckpt, "digits", one, shard_size=900, device="cpu")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    real, calls = F.M.encode, []

    def encode_while_rank_1_finishes(*args, **kwargs):
        if not calls:  # inside rank 0's first shard, rank 1 runs from start to end
            calls.append(1)
            monkeypatch.setenv("RANK", "1")
            F.encode_functaset(ckpt, "digits", two, shard_size=900, device="cpu")
            assert not all(sh["done"] for sh in json.loads((two / "manifest.json").read_text())["shards"])
            monkeypatch.setenv("RANK", "0")
        return real(*args, **kwargs)

    monkeypatch.setattr(F.M, "encode", encode_while_rank_1_finishes)
    F.encode_functaset(ckpt, "digits", two, shard_size=900, device="cpu")
    assert calls and _files(two) == _files(one)
