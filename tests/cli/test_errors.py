"""Every bad input through the command line: exit code 2, one line on stderr, no traceback,
and no run folder left behind."""

import json
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from conftest import run_cli


def _png_header(w, h):
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk)) \
        + struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND"))


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad")
    (d / "notes.txt").write_text("hello")
    (d / "huge.png").write_bytes(_png_header(30000, 30000))
    (d / "zero.png").write_bytes(_png_header(0, 10))
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(d / "ok.png")
    # a tiny valid checkpoint to damage
    code, out, err = run_cli(["fit", d / "ok.png", "--steps", "2", "--width", "8", "--depth", "1",
                              "--out", d / "run", "--quiet"])
    assert code == 0, err
    st = (d / "run" / "model.safetensors").read_bytes()
    (d / "trunc").mkdir()
    (d / "trunc" / "model.safetensors").write_bytes(st[: len(st) - 10])
    (d / "trunc" / "model.json").write_bytes((d / "run" / "model.json").read_bytes())
    (d / "nojson").mkdir()
    (d / "nojson" / "model.safetensors").write_bytes(st)
    (d / "mismatch").mkdir()
    (d / "mismatch" / "model.safetensors").write_bytes(st)
    meta = json.loads((d / "run" / "model.json").read_text())
    meta["architecture"]["network"]["width"] = 9
    (d / "mismatch" / "model.json").write_text(json.dumps(meta))
    return d


CASES = {
    "missing file": (["fit", "{d}/nope.png"], "no such file"),
    "not an image": (["fit", "{d}/notes.txt"], "not an image"),
    "above pixel limit": (["fit", "{d}/huge.png"], "above the limit"),
    "pixel limit option": (["fit", "{d}/ok.png", "--max-pixels", "100"], "above the limit"),
    # a PNG header of width 0: the PNG standard forbids it and Pillow will not identify the file
    "zero size": (["fit", "{d}/zero.png"], "zero.png is not an image file that can be read"),
    "unknown arch": (["fit", "{d}/ok.png", "--arch", "resnet"], "invalid choice: 'resnet'"),
    "unknown arch in compare": (["compare", "{d}/ok.png", "--archs", "siren,foo"], "unknown architecture"),
    "bad option value": (["fit", "{d}/ok.png", "--steps", "abc"], "invalid int"),
    "truncated checkpoint": (["render", "{d}/trunc"], "corrupt or truncated"),
    "checkpoint without json": (["render", "{d}/nojson"], "missing"),
    "json does not match tensors": (["render", "{d}/mismatch"], "does not match"),
    "absurd render size": (["render", "{d}/run", "--size", "100000", "100000"], "above the limit"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_exits_2_with_one_line(files, name):
    args, needle = CASES[name]
    out_dir = files / f"out-{name.replace(' ', '_')}"
    args = [a.format(d=files) for a in args]
    if args[0] in ("fit", "compare"):
        args += ["--out", str(out_dir), "--quiet"]
    code, out, err = run_cli(args)
    assert code == 2, (code, err)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("inrkit: error: ") and needle in lines[0]
    assert "Traceback" not in err
    assert not out_dir.exists()
    assert not any(p.name.startswith(f".{out_dir.name}") for p in files.iterdir())  # no temp folder left


@pytest.fixture(scope="module")
def edit_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("edit")
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(d / "a.png")
    Image.fromarray(np.zeros((16, 20), np.uint8)).save(d / "b_wide.png")
    Image.fromarray(np.zeros((16, 16), np.uint8) + 9).save(d / "b.png")
    Image.fromarray(np.zeros((8, 12), np.uint8)).save(d / "mask_small.png")  # another aspect ratio
    Image.fromarray((np.arange(256).reshape(16, 16)).astype(np.uint8)).save(d / "mask_gray.png")
    np.save(d / "g_bad_shape.npy", np.zeros((16, 16, 3)))
    g = np.zeros((16, 16, 2))
    g[3, 3, 0] = np.nan
    np.save(d / "g_nan.npy", g)
    np.save(d / "g_pickle.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    np.save(d / "g_empty.npy", np.zeros((0, 16, 2)))
    return d


EDIT_CASES = {
    "different sizes": (["blend", "{d}/a.png", "{d}/b_wide.png"], "differ in size"),
    "mask wrong size": (["blend", "{d}/a.png", "{d}/b.png", "--mask", "{d}/mask_small.png"], "aspect ratio"),
    "mask not binary": (["blend", "{d}/a.png", "{d}/b.png", "--mask", "{d}/mask_gray.png"], "binary"),
    "alpha out of range": (["blend", "{d}/a.png", "{d}/b.png", "--alpha", "1.5"], "--mix must be at most 1, not 1.5"),
    "gradient wrong shape": (["integrate", "{d}/g_bad_shape.npy"], "expected (H, W, 2)"),
    "gradient with NaN": (["integrate", "{d}/g_nan.npy"], "NaN"),
    "gradient is a pickle": (["integrate", "{d}/g_pickle.npy"], "not a readable .npy"),
    "gradient missing": (["integrate", "{d}/none.npy"], "no such file"),
    "gradient of zero size": (["integrate", "{d}/g_empty.npy"], "gradient field 16x0 is too small"),
    "poisson unknown arch": (["poisson", "{d}/a.png", "--archs", "siren,bogus"], "unknown architecture"),
    "poisson stencil with a batch": (["poisson", "{d}/a.png", "--operator", "stencil", "--batch-size", "16"],
                                     "every pixel"),
    "poisson sobolev from gradients": (["poisson", "{d}/a.png", "--operator", "stencil-sobolev"], "applies to"),
    "poisson unknown resample": (["poisson", "{d}/a.png", "--resample", "cubic"], "invalid choice"),
    # options these commands never used are refused now, rather than accepted and ignored
    "poisson refuses --amp": (["poisson", "{d}/a.png", "--amp"], "unrecognized arguments: --amp"),
    "blend refuses --compile": (["blend", "{d}/a.png", "{d}/b.png", "--compile"], "unrecognized arguments: --compile"),
    "integrate refuses --log-every": (["integrate", "{d}/g_nan.npy", "--log-every", "5"],
                                      "unrecognized arguments: --log-every 5"),
}


@pytest.mark.parametrize("name", sorted(EDIT_CASES))
def test_edit_bad_input_exits_2_with_one_line(edit_files, name):
    args, needle = EDIT_CASES[name]
    out_dir = edit_files / f"out-{name.replace(' ', '_')}"
    args = [a.format(d=edit_files) for a in args] + ["--out", str(out_dir), "--quiet", "--steps", "2"]
    code, out, err = run_cli(args)
    assert code == 2, (code, err)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("inrkit: error: ") and needle in lines[0], err
    assert "Traceback" not in err and not out_dir.exists()


@pytest.mark.parametrize("args, needle", [
    (["fit", "camera", "--size", "100000"], "above the limit"),
    (["poisson", "camera", "--size", "100000"], "above the limit"),
    (["functa", "train", "digits", "--eval-items", "0"], "at least 1"),
])
def test_absurd_sizes_exit_2(tmp_path, args, needle):
    code, _, err = run_cli(args + ["--out", tmp_path / "o", "--quiet"])
    assert code == 2 and err.count("\n") == 1 and needle in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()
