"""The loader refuses hostile or broken checkpoints with one line, before allocating (issue 13, item 5).

Sizes in ``model.json`` are checked from the numbers (types, ranges, a parameter budget) before any
module is built; the safetensors header's names, dtypes and shapes are compared with the model the
spec implies (built on the ``meta`` device) before the data is read; NaN / Inf tensors are refused
unless asked for; a checkpoint of another kind names the command that reads it.
"""

import copy
import json
import math
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest
import torch
from hypothesis import strategies as st

from conftest import run_cli

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fuzz"))
from fuzzkit import json_slots  # noqa: E402  (one mutation helper for the suite and the campaigns)
from inrkit.encodings import Identity, MultiresGrid
from inrkit.errors import InrkitError
from inrkit.fields import NeuralField
from inrkit.fields.modulated import LatentModulatedField
from inrkit.nn import MLP, Siren
from inrkit.train import checkpoint

FIXTURES = Path(__file__).parent / "fixtures" / "checkpoints"


def _relu(width=16, hidden_layers=1):
    g = torch.Generator().manual_seed(0)
    return NeuralField(Identity(2), MLP(2, 3, width, hidden_layers, generator=g))


def _save(tmp_path, field=None, meta=None, name="m"):
    st, js = checkpoint.save(tmp_path / name, field if field is not None else _relu(), meta or {})
    return st, js, json.loads(js.read_text())


def _refused(path, match=None, **kw):
    """Loading ``path`` raises one line of InrkitError within 2 s; returns the message."""
    t0 = time.perf_counter()
    with pytest.raises(InrkitError) as info:
        checkpoint.load(path, **kw)
    assert time.perf_counter() - t0 < 2.0
    msg = str(info.value)
    assert "\n" not in msg and len(msg) < 400, msg
    if match:
        assert match in msg, msg
    return msg


# ---- sizes refused from the numbers, quickly and without allocating (in a child with a memory cap) ------

_CHILD = textwrap.dedent("""
    import json, resource, sys, time
    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))  # the old loader ran into this, not the machine
    from inrkit.train import checkpoint
    from inrkit.errors import InrkitError
    out = {}
    for name, path in json.loads(sys.argv[1]).items():
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t0 = time.perf_counter()
        try:
            checkpoint.load(path)
            result = "loaded"
        except InrkitError as exc:
            result = "InrkitError: " + str(exc)
        except BaseException as exc:
            result = type(exc).__name__ + ": " + str(exc)[:200]
        out[name] = {"seconds": time.perf_counter() - t0, "result": result,
                     "rss_growth_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before}
    # building on the meta device must not reach torch's Python decompositions (seconds to import)
    out["slow_meta_imports"] = "sympy" in sys.modules
    print(json.dumps(out))
""")


@pytest.fixture(scope="module")
def oversized(tmp_path_factory):
    """Mutated checkpoints whose spec asks for huge or endless allocations, loaded in one child process."""
    tmp = tmp_path_factory.mktemp("oversized")
    cases = {}

    def variant(name, src, edit):
        meta = json.loads((src.with_suffix(".json")).read_text())
        edit(meta["architecture"])
        (tmp / f"{name}.json").write_text(json.dumps(meta))
        (tmp / f"{name}.safetensors").write_bytes(src.with_suffix(".safetensors").read_bytes())
        cases[name] = str(tmp / name)

    variant("width_20000", FIXTURES / "relu", lambda a: a["network"].update(width=20000))
    variant("hidden_layers_1e6", FIXTURES / "siren", lambda a: a["network"].update(hidden_layers=1_000_000))
    variant("hash_log2_40", FIXTURES / "hash_3d", lambda a: a["encoding"].update(log2_table_size=40, resolutions=[4096] * 2))
    variant("hash_resolution_1e5", FIXTURES / "hash_3d",
            lambda a: a["encoding"].update(log2_table_size=30, resolutions=[100_000] * 4))
    variant("densegrid_4096", FIXTURES / "densegrid", lambda a: a["encoding"].update(resolution=4096))
    variant("nerf_occupancy_4096", FIXTURES / "nerf_fast", lambda a: a.update(occupancy_resolution=4096))
    for name in ("ffn", "pe", "functa", "nerf_vanilla"):  # within budget: refused by the header check
        variant(f"{name}_width_mismatch", FIXTURES / name,
                lambda a: (a["network"] if "network" in a else a.get("field_args", a)).update(width=40))
    p = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(cases)], capture_output=True, text=True,
                       timeout=240, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert p.returncode == 0, p.stderr[-2000:]
    return json.loads(p.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("name", ["width_20000", "hidden_layers_1e6", "hash_log2_40", "hash_resolution_1e5",
                                  "densegrid_4096", "nerf_occupancy_4096", "ffn_width_mismatch",
                                  "pe_width_mismatch", "functa_width_mismatch", "nerf_vanilla_width_mismatch"])
def test_oversized_specs_are_refused_quickly_without_allocating(oversized, name):
    r = oversized[name]
    assert r["result"].startswith("InrkitError: "), r
    assert not oversized["slow_meta_imports"]
    assert "\n" not in r["result"]
    assert r["seconds"] < 2.0, r
    assert r["rss_growth_kb"] < 100 * 1024, r  # the old loader allocated 4.9 GB for width 20000


def test_parameter_budget_can_be_raised(tmp_path):
    _save(tmp_path, _relu(width=64))
    msg = _refused(tmp_path / "m", max_parameters=1000)
    assert "above the limit of 1,000" in msg
    field, _ = checkpoint.load(tmp_path / "m", max_parameters=10**6)
    assert field.network.width == 64


# ---- ill-typed and out-of-range values: one line each ------------------------------------------------

def _nested(depth):
    v: object = 1
    for _ in range(depth):
        v = [v]
    return v


@pytest.mark.parametrize("where, value", [
    (("network", "width"), -16), (("network", "width"), 0), (("network", "hidden_layers"), True),
    (("network", "width"), "16"), (("network", "width"), 16.0), (("network", "width"), math.inf),
    (("network", "hidden_layers"), -1), (("network", "in_dim"), None), (("network", "activation"), "gelu"),
    (("network", "activation"), ["relu"]), (("network",), "mlp"), (("network",), [1, 2]),
    (("encoding",), 7), (("encoding", "type"), ["identity"]), (("encoding", "in_dim"), _nested(40)),
    (("output_scale",), math.inf), (("output_scale",), 0.0), (("output_scale",), math.nan),
    (("network", "extra"), 1),
])
def test_ill_typed_values_are_refused_in_one_line(tmp_path, where, value):
    _, js, meta = _save(tmp_path)
    node = meta["architecture"]
    for k in where[:-1]:
        node = node[k]
    node[where[-1]] = value
    js.write_text(json.dumps(meta))  # writes Infinity / NaN as Python's json does
    _refused(tmp_path / "m", "checkpoint")


_HASH_SIREN = lambda: NeuralField(MultiresGrid(2, [4, 8], 6, 2), Siren(4, 1, 8, 1))  # noqa: E731
_FUNCTA = lambda: LatentModulatedField(2, 3, 4, 8, 1)  # noqa: E731


@pytest.mark.parametrize("field, edit", [
    (_FUNCTA, lambda a: a.update(w0=-30.0)), (_FUNCTA, lambda a: a.update(w0=0)),
    (_FUNCTA, lambda a: a.update(hidden_layers=False)), (_FUNCTA, lambda a: a.pop("in_dim")),
    (_FUNCTA, lambda a: a.update(latent_dim=-4)), (_FUNCTA, lambda a: a.update(width=1e9)),
    (_HASH_SIREN, lambda a: a["encoding"].update(resolutions=[4, -8])),
    (_HASH_SIREN, lambda a: a["encoding"].update(resolutions=[])),
    (_HASH_SIREN, lambda a: a["encoding"].update(resolutions=[[4], 8])),
    (_HASH_SIREN, lambda a: a["encoding"].update(features=2.5)),
    (_HASH_SIREN, lambda a: a["encoding"].update(in_dim=5)),
    (_HASH_SIREN, lambda a: a["network"].update(first_w0=math.inf)),
    (_HASH_SIREN, lambda a: a["network"].update(w0="30")),
])
def test_siren_grid_and_functa_values_are_checked(tmp_path, field, edit):
    _, js, meta = _save(tmp_path, field())
    edit(meta["architecture"])
    js.write_text(json.dumps(meta))
    _refused(tmp_path / "m", "checkpoint")


def test_nerf_spec_values_are_checked(tmp_path):
    meta = json.loads((FIXTURES / "nerf_fast.json").read_text())
    st = (FIXTURES / "nerf_fast.safetensors").read_bytes()
    for edit in (lambda a: a.update(aabb=[[0, 0, 0], [1, 1]]), lambda a: a.update(aabb=[[0, 0, 0], [0, 1, 1]]),
                 lambda a: a.update(samples=0), lambda a: a.update(recipe="ngp"), lambda a: a.update(near=-1),
                 lambda a: a.update(field_args=[]), lambda a: a["field_args"].update(levels=0),
                 lambda a: a["field_args"].update(bogus=1), lambda a: a.update(aabb=[[0, 0, 0], [1, 1, math.inf]])):
        m = copy.deepcopy(meta)
        edit(m["architecture"])
        (tmp_path / "n.json").write_text(json.dumps(m))
        (tmp_path / "n.safetensors").write_bytes(st)
        _refused(tmp_path / "n", "checkpoint architecture")


def test_json_size_and_nesting_are_bounded_before_parsing(tmp_path):
    _, js, meta = _save(tmp_path)
    js.write_text(json.dumps(meta)[:-1] + ', "deep": ' + "[" * 100_000 + "]" * 100_000 + "}")
    _refused(tmp_path / "m", "not valid JSON")
    js.write_text(json.dumps({**meta, "deep": _nested(200)}))
    _refused(tmp_path / "m", "deeper than")
    js.write_text(json.dumps({**meta, "pad": " " * (checkpoint.MAX_JSON_BYTES + 1)}))
    _refused(tmp_path / "m", "above the limit")
    js.write_text(json.dumps(meta)[:-1] + ', "big": ' + "9" * 5000 + "}")
    _refused(tmp_path / "m", "not valid JSON")


# ---- tensors: dtypes and values ------------------------------------------------------------------------

def test_a_tensor_relabelled_with_another_dtype_is_refused(tmp_path):
    st, _, _ = _save(tmp_path)
    data = st.read_bytes()
    n = int.from_bytes(data[:8], "little")
    header = data[8:8 + n]
    assert b'"F32"' in header
    st.write_bytes(data[:8] + header.replace(b'"F32"', b'"I32"', 1) + data[8 + n:])  # same byte size
    msg = _refused(tmp_path / "m", "wrong dtype")
    assert "I32, expected F32" in msg


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_nonfinite_tensors_are_refused_unless_asked(tmp_path, bad):
    f = _relu()
    with torch.no_grad():
        f.network.layers[2].weight[3, 1] = bad
    _save(tmp_path, f)
    msg = _refused(tmp_path / "m", "network.layers.2.weight")
    assert "1 NaN or infinite" in msg and "allow_nonfinite" in msg
    g, _ = checkpoint.load(tmp_path / "m", allow_nonfinite=True)
    w = g.network.layers[2].weight[3, 1]
    assert (math.isnan(bad) and torch.isnan(w)) or w == bad


def test_nerf_occupancy_may_hold_unvisited_cells_but_not_nan(tmp_path):
    model, meta = checkpoint.load(FIXTURES / "nerf_fast")
    model.occupancy.density.fill_(math.inf)  # saved before the first occupancy update
    checkpoint.save(tmp_path / "n", model, {k: v for k, v in meta.items() if k != "architecture"})
    checkpoint.load(tmp_path / "n")
    model.occupancy.density[0, 0, 0] = math.nan
    checkpoint.save(tmp_path / "n", model, {})
    _refused(tmp_path / "n", "occupancy.density")


# ---- a checkpoint of another kind names the command that reads it -----------------------------------------

def _functa_run(folder: Path) -> Path:
    """A tiny functa run folder as ``apps.functa.write_functa_run`` writes its checkpoints."""
    field = LatentModulatedField(2, 3, 4, 8, 1, generator=torch.Generator().manual_seed(0))
    folder.mkdir()
    checkpoint.save(folder / "model_z4", field, {
        "task": "functa", "dataset": "tiny", "signal": {"kind": "image", "shape": [8, 8], "channels": 3},
        "value_range": [-1.0, 1.0], "training": {"steps": 1, "steps_done": 1, "seconds": 0.1, "history": []}})
    return folder


def test_kind_of_each_checkpoint():
    assert checkpoint.kind(json.loads((FIXTURES / "functa.json").read_text())) == "functa"
    assert checkpoint.kind(json.loads((FIXTURES / "nerf_fast.json").read_text())) == "nerf"
    assert checkpoint.kind(json.loads((FIXTURES / "siren.json").read_text())) == "field"
    assert checkpoint.kind({"task": "functa", "architecture": []}) == "functa"
    _refused(FIXTURES / "functa", "is a functa checkpoint; use `inrkit functa ...`", expect="field")
    _refused(FIXTURES / "siren", "is a field checkpoint; use `inrkit render ...`", expect="nerf")
    checkpoint.load(FIXTURES / "functa", expect="functa")


def test_render_of_a_functa_checkpoint_or_run_folder_says_so(tmp_path):
    run = _functa_run(tmp_path / "functa_run")
    for target, needle in ((run / "model_z4.json", "functa checkpoint; use `inrkit functa ...`"),
                           (run, "its checkpoints are model_z4: name one")):  # the folder: what it holds
        code, out, err = run_cli(["render", target, "--out", tmp_path / "x.png"])
        assert code == 2, (out, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("inrkit: error: "), err
        assert needle in lines[0], lines[0]
        assert not (tmp_path / "x.png").exists()


def test_render_of_a_nerf_checkpoint_says_so(tmp_path):
    code, out, err = run_cli(["render", FIXTURES / "nerf_fast.json", "--out", tmp_path / "x.png"])
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "NeRF checkpoint; use `inrkit nerf ...`" in err


# ---- property: any mutation of a valid model.json loads or is refused in one line ---------------------------

_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 70), st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=6),
    st.sampled_from(["mlp", "siren", "relu", "hashgrid", "identity", "neural_field", "nerf", "fast"]),
    st.lists(st.integers(-2, 2**20), max_size=5), st.dictionaries(st.text(max_size=4), st.integers(), max_size=3),
    st.recursive(st.integers(0, 3), lambda c: st.lists(c, max_size=2), max_leaves=8),
)
_BASES = {
    "hash": json.loads((FIXTURES / "hash.json").read_text()),
    "siren": json.loads((FIXTURES / "siren.json").read_text()),
    "functa": json.loads((FIXTURES / "functa.json").read_text()),
    "nerf_fast": json.loads((FIXTURES / "nerf_fast.json").read_text()),
}


def mutate(doc: dict, data) -> dict:
    """Random values at random keys, deletions, new keys and type swaps of a checkpoint's JSON."""
    doc = copy.deepcopy(doc)
    for _ in range(data.draw(st.integers(1, 4))):
        slots = json_slots(doc)
        if not slots:
            break
        node, key = data.draw(st.sampled_from(slots))
        op = data.draw(st.sampled_from(["set", "set", "delete", "add", "swap"]))
        if op == "set":
            node[key] = data.draw(_VALUES)
        elif op == "delete" and isinstance(node, dict):
            del node[key]
        elif op == "add" and isinstance(node, dict):
            node[data.draw(st.text(max_size=8))] = data.draw(_VALUES)
        elif op == "swap":
            v = node[key]
            node[key] = (str(v) if not isinstance(v, str) else [v]) if not isinstance(v, (int, float)) \
                else data.draw(st.sampled_from([float(v) if not isinstance(v, float) else v, str(v), [v], {"v": v},
                                                bool(v), -v, v * 1000]))
    return doc


def test_mutated_model_json_loads_or_is_refused_in_one_line():
    from hypothesis import HealthCheck, given, settings

    tmp = Path(tempfile.mkdtemp(prefix="inrkit-fuzz-"))
    for name in _BASES:
        (tmp / f"{name}.safetensors").write_bytes((FIXTURES / f"{name}.safetensors").read_bytes())
    started = time.perf_counter()

    @settings(max_examples=200, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(base=st.sampled_from(sorted(_BASES)), data=st.data())
    def check(base, data):
        doc = mutate(_BASES[base], data)
        (tmp / f"{base}.json").write_text(json.dumps(doc))
        t0 = time.perf_counter()
        try:
            checkpoint.load(tmp / base)
        except InrkitError as exc:
            assert "\n" not in str(exc)
        assert time.perf_counter() - t0 < 2.0

    check()
    assert time.perf_counter() - started < 60  # about 20 s on 2 loaded cores


def test_an_insp_operator_is_its_own_kind():
    assert checkpoint.kind({"architecture": {"type": "insp_readout"}}) == "insp"
    assert checkpoint.KINDS["insp"][1] == "inrkit insp apply"
