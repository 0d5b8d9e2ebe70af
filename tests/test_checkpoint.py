import json
import pickle

import pytest
import torch

from inrkit.config import FieldConfig, build_field
from inrkit.errors import InrkitError
from inrkit.train import checkpoint


def _field(arch="ffn"):
    return build_field(FieldConfig(arch=arch, width=16, hidden_layers=1), 2, 3,
                       generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("arch", ["relu", "tanh", "pe", "ffn", "siren"])
def test_round_trip_identical_outputs(tmp_path, arch):
    f = _field(arch)
    checkpoint.save(tmp_path / "m", f, {"note": "x"})
    g, meta = checkpoint.load(tmp_path / "m.safetensors")
    x = torch.rand(50, 2) * 2 - 1
    assert torch.equal(f(x), g(x))
    assert meta["note"] == "x" and meta["architecture"] == f.spec()
    # the run-folder and .json spellings reach the same checkpoint
    checkpoint.save(tmp_path / "model", f, {})
    assert torch.equal(checkpoint.load(tmp_path)[0](x), f(x))
    assert torch.equal(checkpoint.load(tmp_path / "model.json")[0](x), f(x))


def test_loading_never_unpickles(tmp_path, monkeypatch):
    checkpoint.save(tmp_path / "m", _field(), {})

    def boom(*a, **k):
        raise AssertionError("unpickling attempted")

    monkeypatch.setattr(pickle, "load", boom)
    monkeypatch.setattr(pickle, "loads", boom)
    monkeypatch.setattr(pickle, "Unpickler", boom)
    monkeypatch.setattr(torch, "load", boom)
    checkpoint.load(tmp_path / "m")


def test_corrupt_truncated_and_mismatched(tmp_path):
    st, js = checkpoint.save(tmp_path / "m", _field(), {})
    data = st.read_bytes()
    st.write_bytes(data[: len(data) // 2])
    with pytest.raises(InrkitError, match="corrupt or truncated"):
        checkpoint.load(tmp_path / "m")
    st.write_bytes(b"\x00" * 100)
    with pytest.raises(InrkitError, match="corrupt or truncated"):
        checkpoint.load(tmp_path / "m")
    st.write_bytes(data)
    meta = json.loads(js.read_text())
    meta["architecture"]["network"]["width"] = 32
    js.write_text(json.dumps(meta))
    with pytest.raises(InrkitError, match="does not match"):
        checkpoint.load(tmp_path / "m")
    js.write_text("{not json")
    with pytest.raises(InrkitError, match="not valid JSON"):
        checkpoint.load(tmp_path / "m")
    js.unlink()
    with pytest.raises(InrkitError, match="missing"):
        checkpoint.load(tmp_path / "m")
    js.write_text(json.dumps({"format": "inrkit-checkpoint", "architecture": {"type": "nope"}}))
    with pytest.raises(InrkitError, match="unknown field type"):
        checkpoint.load(tmp_path / "m")


def test_saved_bytes_are_deterministic(tmp_path):
    a, _ = checkpoint.save(tmp_path / "a", _field(), {})
    b, _ = checkpoint.save(tmp_path / "b", _field(), {})
    assert a.read_bytes() == b.read_bytes()
