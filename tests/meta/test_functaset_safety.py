"""Functasets: shard checksums (resumed encodes and loads verify them) and confinement of the
manifest's paths (nothing read or written outside the functaset folder); malformed manifests
are one line."""

import json
import os
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from inrkit.apps import functa as F
from inrkit.errors import InrkitError
from inrkit.signals.collections import load_collection
from conftest import run_cli


@pytest.fixture(scope="module")
def fs(tmp_path_factory):
    """30 digits in class folders, a tiny functa trained on digits, and their functaset in shards of 10."""
    root = tmp_path_factory.mktemp("fsafe")
    digits = load_collection("digits")
    for k in range(3):
        (root / "data" / str(k)).mkdir(parents=True)
        for j, img in enumerate(digits.images[digits.labels == k][:10]):
            Image.fromarray((img[..., 0] * 255).round().astype(np.uint8)).save(root / "data" / str(k) / f"{j}.png")
    r = F.train_functa(digits, latent_dim=4, steps=3, batch_size=4, width=16, hidden_layers=1, device="cpu",
                       eval_items=4)
    F.write_functa_run([r], root / "run")
    ckpt = root / "run" / "model_z4"
    F.encode_functaset(ckpt, str(root / "data"), root / "fs", shard_size=10, device="cpu")
    return root, ckpt


def _copy(fs, tmp_path):
    root, _ = fs
    shutil.copytree(root / "fs", tmp_path / "fs")
    return tmp_path / "fs"


def _encode(fs, out):
    root, ckpt = fs
    return F.encode_functaset(ckpt, str(root / "data"), out, shard_size=10, device="cpu")


def _one_line(exc) -> str:
    text = str(exc.value)
    assert "\n" not in text and text
    return text


def test_each_shard_has_its_checksum(fs):
    root, _ = fs
    m = json.loads((root / "fs" / "manifest.json").read_text())
    import hashlib

    assert len(m["shards"]) == 3
    for sh in m["shards"]:
        assert sh["sha256"] == hashlib.sha256((root / "fs" / sh["file"]).read_bytes()).hexdigest()


def test_a_corrupt_shard_is_refused_on_load_and_encoded_again_on_resume(fs, tmp_path):
    root, _ = fs
    out = _copy(fs, tmp_path)
    shard = out / "shard_00001.safetensors"
    data = bytearray(shard.read_bytes())
    data[-5] ^= 0x01  # one byte of a latent: still a valid safetensors file of the right shapes
    shard.write_bytes(bytes(data))
    with pytest.raises(InrkitError) as e:
        F.load_functaset(out)
    assert "SHA-256" in _one_line(e) and "shard_00001" in str(e.value)
    r = _encode(fs, out)
    assert r["encoded_this_run"] == 10  # that shard only: the other two match their checksums
    for name in ("shard_00000.safetensors", "shard_00001.safetensors", "shard_00002.safetensors", "manifest.json"):
        assert (out / name).read_bytes() == (root / "fs" / name).read_bytes(), name
    F.load_functaset(out)


def test_a_shard_without_a_checksum_is_encoded_again(fs, tmp_path):
    root, _ = fs
    out = _copy(fs, tmp_path)
    m = json.loads((out / "manifest.json").read_text())
    del m["shards"][2]["sha256"]  # a manifest written before checksums were kept
    (out / "manifest.json").write_text(json.dumps(m, indent=2))
    F.load_functaset(out)  # still loads (sizes checked)
    assert _encode(fs, out)["encoded_this_run"] == 10
    assert (out / "manifest.json").read_bytes() == (root / "fs" / "manifest.json").read_bytes()


def _hostile(out, kind: str, outside):
    """Point shard 1 of ``out`` somewhere it must not go; ``outside`` is a folder beside it."""
    m = json.loads((out / "manifest.json").read_text())
    good = out / "shard_00001.safetensors"
    outside.mkdir(exist_ok=True)
    shutil.copy(good, outside / "x.safetensors")  # the right bytes: only its place is wrong
    if kind == "dotdot":
        m["shards"][1]["file"] = "../outside/x.safetensors"
    elif kind == "inner-dotdot":
        m["shards"][1]["file"] = "sub/../../outside/x.safetensors"
    elif kind == "absolute":
        m["shards"][1]["file"] = str(outside / "x.safetensors")
    elif kind == "symlink-out":
        good.unlink()
        good.symlink_to(outside / "x.safetensors")
    elif kind == "dev-zero":
        m["shards"][1]["file"] = "/dev/zero"
    elif kind == "symlink-dev":
        good.unlink()
        good.symlink_to("/dev/zero")
    elif kind == "fifo":
        good.unlink()
        os.mkfifo(good)
    elif kind == "folder":
        good.unlink()
        good.mkdir()
    elif kind == "manifest-link":
        shutil.copy(out / "manifest.json", outside / "manifest.json")
        (out / "manifest.json").unlink()
        (out / "manifest.json").symlink_to(outside / "manifest.json")
        return
    (out / "manifest.json").write_text(json.dumps(m, indent=2))


KINDS = ["dotdot", "inner-dotdot", "absolute", "symlink-out", "dev-zero", "symlink-dev", "fifo", "folder",
         "manifest-link"]


@pytest.mark.parametrize("kind", KINDS)
def test_hostile_shard_paths_are_refused_on_read(fs, tmp_path, kind):
    out = _copy(fs, tmp_path)
    _hostile(out, kind, tmp_path / "outside")
    with pytest.raises(InrkitError) as e:
        F.load_functaset(out)
    assert any(w in _one_line(e) for w in ("outside", "absolute", "not a regular file")), str(e.value)
    with pytest.raises(InrkitError):
        F.classify(out, epochs=1)
    with pytest.raises(InrkitError):
        F.sample_functa(out, tmp_path / "samples", epochs=1, samples=2)
    assert not (tmp_path / "samples").exists()


@pytest.mark.parametrize("kind", KINDS)
def test_encode_never_writes_outside_its_folder(fs, tmp_path, kind):
    out = _copy(fs, tmp_path)
    _hostile(out, kind, tmp_path / "outside")
    m = json.loads((out / "manifest.json").read_text())
    m["shards"][1]["done"] = False  # asks encode to (re)write it
    if kind != "manifest-link":
        (out / "manifest.json").write_text(json.dumps(m, indent=2))
    before = {p: p.read_bytes() for p in (tmp_path / "outside").iterdir()}
    with pytest.raises(InrkitError) as e:
        _encode(fs, out)
    _one_line(e)
    assert {p: p.read_bytes() for p in (tmp_path / "outside").iterdir()} == before
    assert not (tmp_path / "outside" / "x.safetensors.tmp").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fs", "outside"]


def test_hostile_path_through_the_command_line(fs, tmp_path):
    out = _copy(fs, tmp_path)
    _hostile(out, "dotdot", tmp_path / "outside")
    code, _, err = run_cli(["functa", "classify", out, "--epochs", "1"])
    assert code == 2 and err.count("\n") == 1 and "outside" in err and "Traceback" not in err
    root, ckpt = fs
    code, _, err = run_cli(["functa", "encode", ckpt, root / "data", "--out", out, "--shard-size", "10"])
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err


def _malformed():
    def edit(f):
        def make(m):
            f(m)
            return json.dumps(m)
        return make

    def drop(key):
        return edit(lambda m: m.pop(key))

    def put(path, value):
        def f(m):
            d = m
            for k in path[:-1]:
                d = d[k]
            d[path[-1]] = value
        return edit(f)

    return {
        "not json": lambda m: "{bad",
        "a list": lambda m: "[1, 2]",
        "a number": lambda m: "3",
        "empty object": lambda m: "{}",
        "deep nesting": lambda m: "[" * 100000 + "]" * 100000,
        "no shards": drop("shards"), "no items": drop("items"), "no latent_dim": drop("latent_dim"),
        "shards an object": put(["shards"], {}), "items a string": put(["items"], "ten"),
        "latent_dim a bool": put(["latent_dim"], True), "modulation_dim 0": put(["modulation_dim"], 0),
        "items negative": put(["items"], -1), "image_shape short": put(["image_shape"], [8, 8]),
        "dataset a number": put(["dataset"], 5), "shard a string": put(["shards", 0], "shard_00000.safetensors"),
        "file a number": put(["shards", 0, "file"], 3), "done a string": put(["shards", 0, "done"], "yes"),
        "start negative": put(["shards", 0, "start"], -1), "stop a float": put(["shards", 0, "stop"], 10.0),
        "overlapping shards": put(["shards", 1, "start"], 5), "items too many": put(["items"], 31),
        "sha256 malformed": put(["shards", 0, "sha256"], "zz"), "file empty": put(["shards", 0, "file"], ""),
        "file with NUL": put(["shards", 0, "file"], "a\x00b"),
    }


@pytest.mark.parametrize("case", list(_malformed()))
def test_malformed_manifests_are_one_line(fs, tmp_path, case):
    out = _copy(fs, tmp_path)
    m = json.loads((out / "manifest.json").read_text())
    (out / "manifest.json").write_text(_malformed()[case](m))
    with pytest.raises(InrkitError) as e:
        F.load_functaset(out)
    _one_line(e)
    with pytest.raises(InrkitError) as e:
        _encode(fs, out)
    _one_line(e)


def test_malformed_manifest_through_the_command_line(tmp_path):
    (tmp_path / "fs").mkdir()
    for text in ("{bad", "[1]", '{"shards": 3}'):
        (tmp_path / "fs" / "manifest.json").write_text(text)
        code, _, err = run_cli(["functa", "classify", tmp_path / "fs", "--epochs", "1"])
        assert code == 2 and err.count("\n") == 1 and "not a valid functaset manifest" in err, err


def test_an_oversized_manifest_is_refused_before_reading(fs, tmp_path, monkeypatch):
    out = _copy(fs, tmp_path)
    monkeypatch.setattr(F, "MAX_MANIFEST_BYTES", 100)
    with pytest.raises(InrkitError, match="above the limit"):
        F.load_functaset(out)


def test_a_shard_name_too_long_is_one_line(fs, tmp_path):
    out = _copy(fs, tmp_path)
    m = json.loads((out / "manifest.json").read_text())
    m["shards"][1]["file"] = "a" * 5000
    (out / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(InrkitError) as e:
        F.load_functaset(out)
    _one_line(e)
    with pytest.raises(InrkitError) as e:
        _encode(fs, out)
    _one_line(e)
