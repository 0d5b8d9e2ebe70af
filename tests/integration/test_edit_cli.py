"""poisson, blend and integrate end to end on tiny inputs."""

import json

import numpy as np
from PIL import Image

from conftest import run_cli

FAST = ["--width", "64", "--depth", "2", "--w0", "10", "--lr", "1e-3", "--quiet"]


def test_poisson_gradient_cli(tmp_path):
    code, out, err = run_cli(["poisson", "camera", "--size", "24", "--steps", "150", "--archs", "tanh,siren",
                              "--out", tmp_path / "p", *FAST])
    assert code == 0, err
    m = json.loads((tmp_path / "p" / "metrics.json").read_text())
    assert m["classical_psnr"] > 25  # the discrete solver inverts Sobel gradients well
    assert m["architectures"]["siren"]["psnr"] > 18
    for f in ["report.html", "target.png", "classical.png", "siren.png", "siren_model.safetensors"]:
        assert (tmp_path / "p" / f).is_file()


def test_blend_mixing_and_cloning_cli(tmp_path):
    code, out, err = run_cli(["blend", "camera", "brick", "--size", "24", "--steps", "200", "--mix", "0.5",
                              "--out", tmp_path / "mix", *FAST])
    assert code == 0, err
    mix = json.loads((tmp_path / "mix" / "metrics.json").read_text())
    assert mix["psnr_inr_vs_discrete"] > 20
    mask = np.zeros((24, 24), np.uint8)
    mask[6:18, 6:18] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    code, out, err = run_cli(["blend", "camera", "moon", "--size", "24", "--steps", "200", "--mask",
                              tmp_path / "mask.png", "--out", tmp_path / "clone", *FAST])
    assert code == 0, err
    clone = json.loads((tmp_path / "clone" / "metrics.json").read_text())
    assert clone["psnr_inr_vs_discrete"] > 22
    for f in ["naive.png", "inr_blend.png", "discrete_blend.png", "report.html", "model.safetensors"]:
        assert (tmp_path / "clone" / f).is_file()


def test_integrate_cli(tmp_path):
    yy, xx = np.mgrid[0:20, 0:24].astype(float)
    u = np.sin(xx / 4.0) + 0.05 * yy**1.5
    gy, gx = np.gradient(u)
    np.save(tmp_path / "g.npy", np.stack([gx, gy], -1))
    code, out, err = run_cli(["integrate", tmp_path / "g.npy", "--steps", "300", "--out", tmp_path / "i", *FAST])
    assert code == 0, err
    s = np.load(tmp_path / "i" / "scalar.npy")
    assert s.shape == (20, 24)
    ref = u - u.mean()
    assert np.corrcoef(s.ravel(), ref.ravel())[0, 1] > 0.99
    np.save(tmp_path / "gx.npy", gx)
    np.save(tmp_path / "gy.npy", gy)
    code, out, err = run_cli(["integrate", tmp_path / "gx.npy", tmp_path / "gy.npy", "--steps", "5",
                              "--out", tmp_path / "i2", *FAST])
    assert code == 0, err
