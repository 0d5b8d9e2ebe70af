"""Command-line values and resource limits (issue 13, item 1): every bad number is refused from
the numbers, before any file is read or anything allocated, with one line and exit code 2.

The refusals run in ONE child process (``inrkit.cli.main`` called per case, each in its own empty
folder, under an address-space limit and an alarm), so that a regression (a 40 GB allocation, a
loop that never ends) fails its case instead of taking the test run down, and the whole file costs
one interpreter start instead of one per case. Two cases also go through ``run_cli`` end to end.
"""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT, run_cli

from inrkit.config import (LIMITS, MAX_PARAMETERS, MAX_VIEWS, PRESETS, FieldConfig, build_field, field_size)
from inrkit.errors import InrkitError

IMG = "{d}/img.png"
CASES = {
    # seeds: torch.Generator.manual_seed takes 64 bits (and some seeds get + 1)
    "seed beyond 64 bits": (["fit", IMG, "--seed", str(2**64)], "--seed must be at most"),
    "negative seed": (["fit", IMG, "--seed", "-1"], "--seed must be at least 0"),
    "nerf seed beyond 64 bits": (["nerf", "train", "builtin", "--seed", str(2**70)], "--seed must be at most"),
    # SIREN frequency
    "w0 zero": (["fit", IMG, "--w0", "0"], "--w0 must be positive"),
    "w0 nan": (["fit", IMG, "--w0", "nan"], "--w0 must be a finite number"),
    "w0 negative": (["fit", IMG, "--w0", "-30"], "--w0 must be positive"),
    "w0 inf": (["fit", IMG, "--w0", "inf"], "--w0 must be a finite number"),
    "functa w0 zero": (["functa", "train", "{d}/data", "--w0", "0"], "--w0 must be positive"),
    # field sizes, counted from the numbers
    "width 100000": (["fit", IMG, "--width", "100000"], "INRKIT_MAX_PARAMETERS"),
    "depth 1000000": (["fit", IMG, "--depth", "1000000"], "INRKIT_MAX_PARAMETERS"),
    # levels: the paper uses 16; every level costs each point 2^d lookups whatever the tables hold
    "hash levels 100000": (["fit", IMG, "--arch", "hash", "--hash-levels", "100000"], "--hash-levels must be at most"),
    "hash table 2^26 at size 4096": (["fit", IMG, "--arch", "hash", "--hash-log2-table", "26", "--size", "4096"],
                                     "INRKIT_MAX_PARAMETERS"),
    "hash table 2^27": (["fit", IMG, "--arch", "hash", "--hash-log2-table", "27"], "--hash-log2-table must be at most"),
    "ffn features 1e9": (["fit", IMG, "--arch", "ffn", "--ffn-features", "1000000000"], "INRKIT_MAX_PARAMETERS"),
    "pe frequencies 1e8": (["fit", IMG, "--arch", "pe", "--pe-frequencies", "100000000"], "INRKIT_MAX_PARAMETERS"),
    "compare: one arch too large": (["compare", IMG, "--archs", "relu,ffn", "--ffn-features", "1000000000"],
                                    "a ffn field"),
    "poisson width": (["poisson", IMG, "--width", "100000"], "INRKIT_MAX_PARAMETERS"),
    "integrate depth": (["integrate", "{d}/g.npy", "--depth", "1000000"], "INRKIT_MAX_PARAMETERS"),
    "functa width": (["functa", "train", "{d}/data", "--width", "100000"], "INRKIT_MAX_PARAMETERS"),
    "functa latent 1e8": (["functa", "train", "{d}/data", "--latent-dims", "64,100000000"], "latent 100000000"),
    "batch size 1e12": (["fit", IMG, "--batch-size", str(10**12)], "INRKIT_MAX_BATCH"),
    # NeRF sizes
    "nerf batch rays 1e8": (["nerf", "train", "builtin", "--batch-rays", "100000000"], "INRKIT_MAX_RAYS"),
    "nerf scene train 1e12": (["nerf", "scene", "--out", "{d}/scene", "--train", str(10**12)], "INRKIT_MAX_VIEWS"),
    "nerf scene views in all": (["nerf", "scene", "--out", "{d}/scene", "--train", "9000", "--test", "2000"],
                                "11,010 views"),
    "nerf scene size": (["nerf", "scene", "--out", "{d}/scene", "--size", "100000"], "--size must be at most"),
    "nerf orbit frames 1e8": (["nerf", "render", "{d}/run", "--orbit", "--frames", "100000000"], "INRKIT_MAX_VIEWS"),
    # architecture lists
    "compare duplicate archs": (["compare", IMG, "--archs", "siren,siren"], "names siren twice"),
    "compare empty archs": (["compare", IMG, "--archs", ""], "at least one architecture"),
    "compare only commas": (["compare", IMG, "--archs", ",,"], "at least one architecture"),
    "compare empty name": (["compare", IMG, "--archs", "siren,,pe"], "empty name"),
    "poisson duplicate archs": (["poisson", IMG, "--archs", "pe,tanh,pe"], "names pe twice"),
    # time budgets
    "poisson minutes nan": (["poisson", IMG, "--minutes", "nan"], "--minutes must be a finite number"),
    "poisson minutes inf": (["poisson", IMG, "--minutes", "inf"], "--minutes must be a finite number"),
    "poisson minutes negative": (["poisson", IMG, "--minutes", "-1"], "--minutes must be positive"),
    "functa minutes inf": (["functa", "train", "{d}/data", "--minutes", "inf"], "--minutes must be a finite"),
    "nerf minutes nan": (["nerf", "train", "builtin", "--minutes", "nan"], "--minutes must be a finite number"),
    "nerf minutes negative": (["nerf", "train", "builtin", "--minutes", "-2"], "--minutes must be positive"),
    "nerf eval-every nan": (["nerf", "train", "builtin", "--eval-every", "nan"], "--eval-every must be a finite"),
    # cameras of an orbit
    "orbit elevation inf": (["nerf", "render", "{d}/run", "--orbit", "--elevation", "inf"], "finite number"),
    "orbit elevation nan": (["nerf", "render", "{d}/run", "--orbit", "--elevation", "nan"], "finite number"),
    "orbit elevation 1000": (["nerf", "render", "{d}/run", "--orbit", "--elevation", "1000"], "at most 90"),
    "orbit radius negative": (["nerf", "render", "{d}/run", "--orbit", "--radius", "-1"], "--radius must be positive"),
    "orbit radius zero": (["nerf", "render", "{d}/run", "--orbit", "--radius", "0"], "--radius must be positive"),
    "orbit radius 1e300": (["nerf", "render", "{d}/run", "--orbit", "--radius", "1e300"], "--radius must be at most"),
    # other floats: finite unless documented otherwise
    "lr nan": (["fit", IMG, "--lr", "nan"], "--lr must be a finite number"),
    "lr inf": (["fit", IMG, "--lr", "inf"], "--lr must be a finite number"),
    "functa lr inf": (["functa", "train", "{d}/data", "--lr", "inf"], "--lr must be a finite number"),
    "ffn sigma nan": (["fit", IMG, "--arch", "ffn", "--ffn-sigma", "nan"], "--ffn-sigma must be a finite"),
    "ffn sigma inf": (["fit", IMG, "--arch", "ffn", "--ffn-sigma", "inf"], "--ffn-sigma must be a finite"),
    "ffn sigma negative": (["fit", IMG, "--arch", "ffn", "--ffn-sigma", "-5"], "--ffn-sigma must be positive"),
    "temperature nan": (["functa", "sample", "{d}/fs", "--temperature", "nan"], "--temperature must be"),
    "blend mix nan": (["blend", IMG, IMG, "--mix", "nan"], "must be a finite number"),
    "render region nan": (["render", "{d}/run", "--region", "-1", "-1", "nan", "1"], "--region must be a finite"),
    "mesh level inf": (["nerf", "mesh", "{d}/run", "--out", "{d}/m.ply", "--level", "inf"], "--level must be a finite"),
    # found only after reading the input: still one line, before any training
    "poisson one-pixel-high image": (["poisson", "{d}/row.png", "--size", "8", "--steps", "1"],
                                     "at least 2 pixels along each axis"),
    "blend mask of another aspect ratio": (["blend", IMG, IMG, "--mask", "{d}/mask_wide.png", "--size", "8"],
                                           "aspect ratios differ"),
    "integrate npz": (["integrate", "{d}/g.npz"], ".npz archive"),
    "integrate 74 GB header": (["integrate", "{d}/huge.npy"], "INRKIT_MAX_ARRAY_PIXELS"),
}

DRIVER = textwrap.dedent("""
    import contextlib, io, json, os, resource, signal, sys, time
    resource.setrlimit(resource.RLIMIT_AS, (6 << 30, 6 << 30))  # a regression fails its case, not the run
    from inrkit.cli import main

    def alarm(*_):
        raise TimeoutError("still running after 20 s")

    signal.signal(signal.SIGALRM, alarm)
    cases = json.load(open(sys.argv[1]))
    with open(sys.argv[2], "w") as results:
        for name, (args, cwd) in cases.items():
            os.chdir(cwd)
            err, out = io.StringIO(), io.StringIO()
            t = time.perf_counter()
            signal.alarm(20)
            try:
                with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
                    code = main(args)
            except BaseException as exc:  # a traceback in the CLI: recorded as the failure it is
                code = f"{type(exc).__name__}: {exc}"[:300]
            signal.alarm(0)
            results.write(json.dumps({"name": name, "code": code, "err": err.getvalue(),
                                      "seconds": time.perf_counter() - t}) + "\\n")
            results.flush()
""")


def _npy_header_claiming(shape):
    """A .npy file whose header claims ``shape`` of float64, followed by 64 bytes."""
    import struct

    hdr = "{'descr': '<f8', 'fortran_order': False, 'shape': %r, }" % (shape,)
    hdr += " " * (118 - len(hdr)) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr.encode() + b"\0" * 64


@pytest.fixture(scope="module")
def refusals(tmp_path_factory):
    d = tmp_path_factory.mktemp("limits")
    inputs = d / "inputs"
    inputs.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray((rng.random((8, 8)) * 255).astype(np.uint8)).save(inputs / "img.png")
    Image.fromarray((rng.random((1, 8)) * 255).astype(np.uint8)).save(inputs / "row.png")
    Image.fromarray(np.full((4, 8), 255, np.uint8)).save(inputs / "mask_wide.png")
    np.save(inputs / "g.npy", rng.random((8, 8, 2)))
    np.savez(inputs / "g.npz", g=rng.random((8, 8, 2)))
    (inputs / "huge.npy").write_bytes(_npy_header_claiming((100_000, 46_250, 2)))  # 74 GB of float64
    (inputs / "data").mkdir()
    cases, folders = {}, {}
    for k, (name, (args, _)) in enumerate(sorted(CASES.items())):
        cwd = d / f"case{k}"
        cwd.mkdir()
        folders[name] = cwd
        # run folders and outputs go into the case's own (empty) folder
        cases[name] = ([a.replace("{d}/run", str(cwd / "run")).replace("{d}/scene", str(cwd / "scene"))
                        .replace("{d}/m.ply", str(cwd / "m.ply")).replace("{d}", str(inputs)) for a in args]
                       + (["--out", str(cwd / "out"), "--quiet"]
                          if args[0] in ("fit", "compare", "poisson", "blend", "integrate") else []), str(cwd))
    (d / "cases.json").write_text(json.dumps(cases))
    proc = subprocess.run([sys.executable, "-c", DRIVER, str(d / "cases.json"), str(d / "results.jsonl")],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    lines = (d / "results.jsonl").read_text().splitlines() if (d / "results.jsonl").exists() else []
    results = {r["name"]: r for r in map(json.loads, lines)}
    return results, folders, proc.stderr[-2000:]


@pytest.mark.parametrize("name", sorted(CASES))
def test_refused_in_one_line_before_anything_is_written(refusals, name):
    results, folders, driver_err = refusals
    assert name in results, f"the driver died before this case: {driver_err}"
    r = results[name]
    lines = [ln for ln in r["err"].splitlines() if ln.strip()]
    assert r["code"] == 2, (r["code"], r["err"])
    assert len(lines) == 1 and lines[0].startswith("inrkit: error: "), r["err"]
    assert CASES[name][1] in lines[0], lines[0]
    assert r["seconds"] < 5, r["seconds"]
    assert not any(folders[name].iterdir()), list(folders[name].iterdir())  # nothing written


def test_end_to_end_refusals(tmp_path):
    """The same refusals as a user meets them: a fresh process, exit 2, one line, nothing written."""
    for args in (["fit", "camera", "--width", "100000", "--out", tmp_path / "o"],
                 ["nerf", "render", tmp_path / "nope", "--orbit", "--elevation", "nan"]):
        code, out, err = run_cli(args, cwd=tmp_path, timeout=60)
        assert code == 2 and len(err.strip().splitlines()) == 1 and err.startswith("inrkit: error: "), err
    assert not any(tmp_path.iterdir())


# ---- the limits themselves -------------------------------------------------------------------

def test_field_size_is_the_built_fields_size():
    """The count the limit is checked against is exactly what build_field allocates."""
    for preset in PRESETS.values():
        for arch in ("relu", "tanh", "pe", "ffn", "siren", "hash"):
            cfg = FieldConfig(**{**preset[0].__dict__, "arch": arch})
            for n in (1, 7, 64):
                f = build_field(cfg, 2, 3, n)
                built = sum(p.numel() for p in f.parameters()) + sum(b.numel() for k, b in f.named_buffers()
                                                                     if k.endswith(".B"))
                assert field_size(cfg, 2, 3, n) == built, (arch, n)


def test_paper_recipes_are_below_the_limits():
    import dataclasses

    from inrkit.config import HashConfig

    paper_hash = FieldConfig(arch="hash", width=64, hidden_layers=1, hash=HashConfig(levels=16, features=2,
                                                                                       log2_table=19))
    for cfg in (*[p[0] for p in PRESETS.values()], paper_hash,
                *[dataclasses.replace(FieldConfig(), arch=a) for a in ("relu", "tanh", "pe", "ffn", "siren")]):
        for side in (256, 512, 2048):
            assert field_size(cfg, 2, 4, side) < MAX_PARAMETERS.default / 10


def test_limits_are_raised_by_environment_variables(monkeypatch):
    from inrkit.cli.nerf import SceneArgs
    from inrkit.cli.options import validate

    args = SceneArgs(out="x", train=12_000)
    with pytest.raises(InrkitError, match="INRKIT_MAX_VIEWS"):
        validate(args)
    monkeypatch.setenv("INRKIT_MAX_VIEWS", "20000")
    validate(args)
    big = FieldConfig(width=8192)  # 201 M numbers
    with pytest.raises(InrkitError, match="INRKIT_MAX_PARAMETERS"):
        build_field(big, 2, 3)
    monkeypatch.setenv("INRKIT_MAX_PARAMETERS", "1e9")
    assert MAX_PARAMETERS.value() == 10**9
    for bad in ("lots", "-1", "0", "1.5", "inf"):
        monkeypatch.setenv("INRKIT_MAX_PARAMETERS", bad)
        with pytest.raises(InrkitError, match="INRKIT_MAX_PARAMETERS must be a positive whole number"):
            MAX_PARAMETERS.value()


def test_every_limit_is_documented():
    readme = (ROOT / "README.md").read_text()
    from inrkit.signals import audio, video, volume

    media = (audio.MAX_AUDIO_SAMPLES, audio.MAX_RENDER_SAMPLES, volume.MAX_VOXELS, video.MAX_VIDEO_FRAMES,
             video.MAX_VIDEO_PIXELS)  # defined beside their readers (signals/), not in the layer-0 list
    for limit in (*LIMITS, *media):
        assert limit.env in readme, limit.env
    assert MAX_VIEWS.default == 10_000
