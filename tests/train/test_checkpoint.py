import json
import pickle
from pathlib import Path

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


# ---- checkpoints written before issue 12 (tests/train/fixtures/checkpoints/README.md) -----------------

FIXTURES = Path(__file__).parent / "fixtures" / "checkpoints"
FIELD_FIXTURES = ["siren", "relu", "tanh", "pe", "ffn", "hash", "siren_audio", "pe_noinput_3d", "densegrid",
                  "hash_3d"]


@pytest.fixture(scope="module")
def expected():
    from safetensors.torch import load_file

    return load_file(FIXTURES / "expected.safetensors")


@pytest.mark.parametrize("name", FIELD_FIXTURES)
def test_old_field_checkpoints_load_and_reproduce_their_outputs(expected, name):
    field, meta = checkpoint.load(FIXTURES / name)
    assert "before issue 12" in meta["note"]
    assert field.spec() == meta["architecture"]  # the spec JSON is written exactly as before
    with torch.no_grad():
        values = field(expected[f"{name}.coords"])
    # float32 rounding of a sine layer's phase w0 (W x + b) grows with w0: the audio SIREN's first w0 is 3,000,
    # 100 times the image SIREN's, so its outputs match to 100 times the tolerance (a wrong migration is off by
    # far more: whole layers or scales)
    scale = max(1.0, float(meta["architecture"]["network"].get("first_w0", 30.0)) / 30.0)
    torch.testing.assert_close(values, expected[f"{name}.values"], atol=1e-6 * scale, rtol=0)


def test_old_functa_checkpoint_loads(expected):
    field, meta = checkpoint.load(FIXTURES / "functa")
    assert field.spec() == meta["architecture"]
    with torch.no_grad():
        values = field(expected["functa.coords"], expected["functa.latents"])
    torch.testing.assert_close(values, expected["functa.values"], atol=1e-6, rtol=0)


@pytest.mark.parametrize("name", ["nerf_fast", "nerf_vanilla"])
def test_old_nerf_checkpoints_load(expected, name):
    from inrkit.rendering.nerf import render_rays

    model, meta = checkpoint.load(FIXTURES / name)
    assert model.spec() == meta["architecture"]
    e = {k.split(".", 1)[1]: v for k, v in expected.items() if k.startswith(name + ".")}
    with torch.no_grad():
        sigma, rgb = model.coarse(e["points"], e["dirs"])
        out = render_rays(model, e["origins"], e["directions"], torch.ones(3))
    torch.testing.assert_close(sigma, e["sigma"], atol=1e-6, rtol=0)
    torch.testing.assert_close(rgb, e["rgb"], atol=1e-6, rtol=0)
    if "occupied" in e:
        assert torch.equal(model.occupancy.query(e["points"]).to(torch.uint8), e["occupied"])
    # rendering also went through the volume-rendering change of issue 12 (an exclusive sum of optical
    # depths instead of a product with 1e-10 added): it moves these figures by rounding only (~1e-7)
    for k in ("rgb", "opacity", "depth"):
        torch.testing.assert_close(out[k], e[f"render_{k}"], atol=1e-6, rtol=0)


def test_checkpoint_module_does_not_reach_into_the_configuration():
    import ast

    tree = ast.parse(Path(checkpoint.__file__).read_text())
    modules = {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    modules |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not any("config" in m or "apps" in m or "cli" in m for m in modules), modules
    assert "fields.registry" in modules


# ---- the registry: every part rebuilds itself from its own spec ---------------------------------

def test_every_registered_part_rebuilds_from_its_spec():
    from inrkit.fields import registry as R

    examples = {
        "identity": {"type": "identity", "in_dim": 2},
        "pe": {"type": "pe", "in_dim": 3, "num_frequencies": 2, "include_input": False},
        "ffn": {"type": "ffn", "in_dim": 2, "num_features": 4, "sigma": 3.0},
        "hashgrid": {"type": "hashgrid", "in_dim": 2, "resolutions": [4, 9], "log2_table_size": 6, "features": 2},
        "densegrid": {"type": "densegrid", "in_dim": 3, "resolution": 5, "features": 3},
        "mlp": {"type": "mlp", "in_dim": 2, "out_dim": 1, "width": 8, "hidden_layers": 1, "activation": "tanh"},
        "siren": {"type": "siren", "in_dim": 1, "out_dim": 2, "width": 8, "hidden_layers": 1, "w0": 30.0,
                  "first_w0": 3000.0},
    }
    assert set(examples) == set(R.ENCODINGS) | set(R.NETWORKS)
    for kind, spec in examples.items():
        table = R.ENCODINGS if kind in R.ENCODINGS else R.NETWORKS
        part = table[kind].from_spec(spec)
        assert type(part) is table[kind] and part.spec() == spec
        build = R.build_encoding if kind in R.ENCODINGS else R.build_network
        assert build(spec).spec() == spec
    field_spec = {"type": "neural_field", "encoding": examples["pe"], "network": {**examples["mlp"], "in_dim": 12}}
    assert R.build_field_from_spec(field_spec).spec() == field_spec
    assert {"neural_field", "latent_modulated"} <= set(R.FIELDS)
    with pytest.raises(ValueError, match="already registered"):
        R.register_network("mlp")(type("Other", (), {}))


@pytest.mark.parametrize("arch, message", [
    ({"type": "nope"}, "unknown field type 'nope' in checkpoint"),
    ({"type": "neural_field", "encoding": {"type": "wavelet", "in_dim": 2}, "network": {"type": "mlp"}},
     "unknown encoding type 'wavelet' in checkpoint"),
    ({"type": "neural_field", "encoding": {"type": "identity", "in_dim": 2}, "network": {"type": "kan"}},
     "unknown network type 'kan' in checkpoint"),
    ({"type": "neural_field", "encoding": {"type": "identity", "in_dim": 2}},
     r"checkpoint architecture is malformed \(KeyError: 'network'\)"),
    ({"type": "neural_field", "encoding": {"type": "identity"}, "network": {"type": "mlp"}},
     r"checkpoint architecture is malformed \(KeyError: 'in_dim'\)"),
    ({"type": "neural_field", "encoding": {"type": "identity", "in_dim": 2},
      "network": {"type": "mlp", "in_dim": 3, "out_dim": 1}}, "checkpoint architecture is malformed \\(ValueError"),
    ({"type": "latent_modulated", "in_dim": 2}, "checkpoint architecture is malformed \\(TypeError"),
    ({"type": "nerf", "recipe": "fast"}, r"checkpoint architecture is malformed \(KeyError: 'aabb'\)"),
    (["not", "an", "object"], "checkpoint architecture is malformed \\(TypeError: expected a JSON object"),
])
def test_unknown_and_malformed_specs_fail_with_one_line(tmp_path, arch, message):
    checkpoint.save(tmp_path / "m", _field(), {})
    meta = json.loads((tmp_path / "m.json").read_text())
    meta["architecture"] = arch
    (tmp_path / "m.json").write_text(json.dumps(meta))
    with pytest.raises(InrkitError, match=message) as info:
        checkpoint.load(tmp_path / "m")
    assert "\n" not in str(info.value)


# ---- output scale and shift ------------------------------------------------------------------

def test_output_scale_and_shift_round_trip_and_default_spec_is_unchanged(tmp_path):
    from inrkit.fields import NeuralField

    f = _field("siren")
    assert "output_scale" not in f.spec() and "output_shift" not in f.spec()
    scaled = NeuralField(f.encoding, f.network, output_scale=31.5, output_shift=-2.0)
    assert scaled.spec()["output_scale"] == 31.5 and scaled.spec()["output_shift"] == -2.0
    x = torch.rand(20, 2) * 2 - 1
    with torch.no_grad():
        assert torch.allclose(scaled(x), 31.5 * f(x) - 2.0, rtol=1e-6, atol=1e-5)
    checkpoint.save(tmp_path / "s", scaled, {})
    g, meta = checkpoint.load(tmp_path / "s")
    assert (g.output_scale, g.output_shift) == (31.5, -2.0) and meta["architecture"] == scaled.spec()
    assert torch.equal(g(x), scaled(x))
    with pytest.raises(ValueError, match="output_scale"):
        NeuralField(f.encoding, f.network, output_scale=0.0)


def test_a_nerf_checkpoint_loads_without_importing_the_renderer_first(monkeypatch):
    # NeRFModel registers itself in rendering/nerf.py, above the field layer: the registry imports that
    # module on demand. Simulate a process that has not imported it yet (``import inrkit`` may already).
    import sys

    import inrkit.rendering.nerf  # present first, so that it can be removed and restored
    from inrkit.fields import registry as R

    monkeypatch.delitem(R.FIELDS, "nerf")
    monkeypatch.delitem(sys.modules, "inrkit.rendering.nerf")
    monkeypatch.setattr(inrkit.rendering, "nerf", inrkit.rendering.nerf)  # restored after the re-import
    model, _ = checkpoint.load(FIXTURES / "nerf_fast")
    assert type(model).__name__ == "NeRFModel" and "nerf" in R.FIELDS
