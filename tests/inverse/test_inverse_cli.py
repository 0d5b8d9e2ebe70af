"""``inrkit ct`` / ``inrkit mri`` / ``inrkit shape``: bad input is one line, exit 2, nothing written."""

import numpy as np
import pytest

from inrkit.cli import main


def _fails(capsys, args, match, out):
    code = main([str(a) for a in args] + ["--out", str(out), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert err.startswith("inrkit: error: ") and "\n" not in err
    assert match in err, err
    assert not out.exists()
    assert not [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}")]  # no half-written folder


def test_ct_bad_input(tmp_path, capsys):
    out = tmp_path / "run"
    sino = tmp_path / "s.npy"
    np.save(sino, np.ones((32, 6)))
    angles = tmp_path / "a.npy"
    np.save(angles, np.arange(5.0))
    _fails(capsys, ["ct", sino, "--angles", angles], "6 views but 5 angles", out)
    _fails(capsys, ["ct", sino, "--views", 7], "6 views but 7", out)
    np.save(sino, np.full((32, 6), np.nan))
    _fails(capsys, ["ct", sino], "NaN", out)
    _fails(capsys, ["ct", "no-such-phantom"], "no such file or built-in phantom", out)
    z = tmp_path / "s.npz"
    np.savez(z, sinogram=np.ones((32, 4)), theta=np.arange(3.0))
    _fails(capsys, ["ct", z], "4 views but 3 angles", out)


def test_mri_bad_input(tmp_path, capsys):
    out = tmp_path / "run"
    mask = tmp_path / "m.npy"
    np.save(mask, np.ones((16, 17)))
    _fails(capsys, ["mri", "shepp-logan", "--size", 32, "--mask", mask], "must match", out)
    np.save(mask, np.zeros((32, 32)))
    _fails(capsys, ["mri", "shepp-logan", "--size", 32, "--mask", mask], "samples nothing", out)
    _fails(capsys, ["mri", "shepp-logan", "--mask", "spiral"], "unknown mask", out)
    _fails(capsys, ["mri", "shepp-logan", "--tv", -0.1], "--tv must be at least 0", out)
    _fails(capsys, ["ct", "shepp-logan", "--tv", "inf"], "--tv must be a finite number", out)
    _fails(capsys, ["mri", "shepp-logan", "--tv", "1e12"], "--tv must be at most 1000", out)


def test_shape_bad_input(tmp_path, capsys):
    out = tmp_path / "run"
    bad = tmp_path / "bad.stl"
    bad.write_bytes(b"\x00\x01garbage that is no mesh")
    _fails(capsys, ["shape", "sdf", bad], "cannot read", out)
    pts = tmp_path / "cloud.obj"
    pts.write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\n")
    _fails(capsys, ["shape", "occupancy", pts], "no faces", out)
    xyz = tmp_path / "cloud.xyz"
    xyz.write_text("\n".join(f"{i} {i % 3} {i % 7}" for i in range(50)))
    _fails(capsys, ["shape", "sdf", xyz], "without normals", out)
    xyz.write_text("\n".join(f"{i} nan 0 0 0 1" for i in range(50)))
    _fails(capsys, ["shape", "sdf", xyz], "NaN", out)
    _fails(capsys, ["shape", "sdf", "sphere", "--resolution", 100000], "resolution", out)
    _fails(capsys, ["shape", "sdf", "sphere", "--archs", "nope"], "--archs", out)


def test_occupancy_refuses_an_open_mesh_on_the_command_line(tmp_path, capsys):
    from inrkit.shapes import analytic_shape, write_mesh
    from inrkit.shapes.mesh import Mesh

    ref = analytic_shape("sphere").reference_mesh(24)
    write_mesh(tmp_path / "half.ply", Mesh(ref.vertices, ref.faces[: len(ref.faces) // 2]))
    _fails(capsys, ["shape", "occupancy", tmp_path / "half.ply"], "watertight", tmp_path / "run")


@pytest.mark.parametrize("args", [
    ["ct", "shepp-logan", "--size", 32, "--views", 6, "--steps", 5, "--rays", 0, "--samples", 8, "--width", 16,
     "--features", 16],
    ["mri", "shepp-logan", "--size", 32, "--mask", "random", "--acceleration", 8, "--steps", 5, "--width", 16,
     "--features", 16, "--tv-iterations", 10],
    ["ct", "shepp-logan", "--size", 32, "--views", 6, "--steps", 5, "--rays", 64, "--samples", 8, "--width", 16,
     "--features", 16, "--tv", 0.001],
])
def test_inverse_runs_write_a_whole_folder(tmp_path, capsys, args):
    out = tmp_path / "run"
    assert main([str(a) for a in args] + ["--out", str(out), "--quiet", "--device", "cpu"]) == 0
    text = capsys.readouterr().out
    assert "PSNR" in text and "report.html" in text
    names = {p.name for p in out.iterdir()}
    inr = "inr-ffn-tv-0-001.png" if "--tv" in args else "inr-ffn.png"
    assert {"report.html", "metrics.json", "model.json", "model.safetensors", "truth.png", inr} <= names
    html = (out / "report.html").read_text()
    assert "Errors" in html and "inrkit " + args[0] in html
