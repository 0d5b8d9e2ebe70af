"""End-to-end image fits on the CPU: quality gates, derivatives, reproducibility, outputs."""

import json

import numpy as np
import pytest
import torch

import inrkit
from inrkit import coords as C
from inrkit import ops
from inrkit.config import TrainConfig
from inrkit.train import checkpoint
from conftest import run_cli


@pytest.fixture(scope="module")
def camera64():
    return inrkit.load_image("camera", size=64)


@pytest.fixture(scope="module")
def siren_fit(camera64):
    # The reference recipe: 3 hidden layers of 256, Adam 1e-4, targets in [-1, 1], whole image per step.
    return inrkit.fit_image(camera64, "siren", train_cfg=TrainConfig(steps=500, lr=1e-4, log_every=100))


def test_siren_reaches_45db_and_relu_shows_spectral_bias(camera64, siren_fit):
    assert siren_fit.metrics["psnr"] >= 45.0
    relu = inrkit.fit_image(camera64, "relu", train_cfg=TrainConfig(steps=500, log_every=500),)
    assert relu.metrics["psnr"] <= siren_fit.metrics["psnr"] - 10.0
    # spectral bias: ReLU's error is worst in the top frequency band, relatively to SIREN's
    from inrkit.report.plots import band_snr

    target = camera64.pixels[..., 0]
    _, s_relu = band_snr(relu.maps["reconstruction"][..., 0], target)
    _, s_siren = band_snr(siren_fit.maps["reconstruction"][..., 0], target)
    assert s_relu[0] - s_relu[-1] > 10.0  # low bands fitted far better than high bands
    assert s_siren[-1] > s_relu[-1] + 10.0


def test_autodiff_matches_finite_differences_of_the_fitted_field(siren_fit):
    field = siren_fit.field.double()
    try:
        x = C.grid((9, 9), dtype=torch.float64).reshape(-1, 2).requires_grad_(True)
        y = field(x)
        g = ops.gradient(y, x).detach()
        lap = ops.laplacian(y, x).detach()
        g_fd = ops.finite.field_gradient(field, x.detach(), h=1e-6)
        lap_fd = ops.finite.field_laplacian(field, x.detach(), h=1e-4)
        assert float((g - g_fd).norm() / g.norm()) < 1e-3
        assert float((lap - lap_fd).norm() / lap.norm()) < 1e-3
    finally:
        siren_fit.field.float()


def test_derivative_maps_resemble_target_derivatives(siren_fit):
    m = siren_fit.maps
    a = m["gradient"].reshape(-1)
    b = m["target_gradient"].reshape(-1)
    assert np.corrcoef(a, b)[0, 1] > 0.9  # SIREN's gradient tracks the image's


def test_checkpoint_round_trip_and_render(tmp_path, siren_fit):
    inrkit.save(tmp_path / "model", siren_fit.field, siren_fit.meta())
    field, meta = inrkit.load(tmp_path / "model")
    grid = siren_fit.signal.coords()
    assert torch.equal(ops.evaluate(field, grid), ops.evaluate(siren_fit.field, grid))
    same = inrkit.render(field, meta, (64, 64))
    assert np.array_equal(same, np.round(siren_fit.maps["reconstruction"][..., 0] * 255).astype(np.uint8))
    big = inrkit.render(field, meta, (512, 512), chunk=4096)  # 8x, in 64 blocks
    assert big.shape == (512, 512)
    # the 8x render averaged back down is close to the 64x64 image
    down = big.reshape(64, 8, 64, 8).mean((1, 3)) / 255.0
    assert np.abs(down - siren_fit.signal.pixels[..., 0]).mean() < 0.02
    zoom = inrkit.render(field, meta, (32, 32), region=(-1, -1, 0, 0))
    assert np.abs(zoom.astype(float) - same[:32, :32]).mean() < 3
    lap = inrkit.render(field, meta, (40, 30), what="laplacian")
    assert lap.shape == (30, 40, 3)


def test_cli_fit_writes_complete_run_and_is_reproducible(tmp_path):
    args = ["fit", "astronaut", "--size", "24", "--steps", "15", "--width", "32", "--arch", "ffn",
            "--batch-size", "200", "--seed", "7", "--quiet"]
    code, out, err = run_cli(args + ["--out", tmp_path / "a"])
    assert code == 0, err
    code, _, err = run_cli(args + ["--out", tmp_path / "b"])
    assert code == 0, err
    a, b = tmp_path / "a", tmp_path / "b"
    assert (a / "model.safetensors").read_bytes() == (b / "model.safetensors").read_bytes()
    for name in ["model.json", "reconstruction.png", "gradient.png", "laplacian.png", "target_gradient.png",
                 "target_laplacian.png", "training.png", "metrics.json", "report.html"]:
        assert (a / name).is_file(), name
    metrics = json.loads((a / "metrics.json").read_text())
    assert metrics["parameters"] > 0 and metrics["image_bytes"] == 24 * 24 * 3
    meta = json.loads((a / "model.json").read_text())
    assert meta["signal"]["shape"] == [24, 24] and meta["coords"]["bounds"] == [[-1.0, 1.0], [-1.0, 1.0]]
    assert meta["value_range"] == [-1.0, 1.0] and meta["inrkit_version"] == inrkit.__version__
    html = (a / "report.html").read_text()
    assert "PSNR" in html and "data:image/png;base64," in html and "src=\"http" not in html
    code, out, err = run_cli(["render", a, "--scale", "8", "--out", tmp_path / "big.png"])
    assert code == 0, err
    from PIL import Image

    assert Image.open(tmp_path / "big.png").size == (192, 192)
    # a different seed gives a different model
    code, _, err = run_cli(args[:-3] + ["--seed", "8", "--quiet", "--out", tmp_path / "c"])
    assert code == 0, err
    assert (tmp_path / "c" / "model.safetensors").read_bytes() != (a / "model.safetensors").read_bytes()


def test_cli_compare_writes_figure_table_and_spectral_plot(tmp_path):
    code, out, err = run_cli(["compare", "camera", "--size", "20", "--steps", "10", "--width", "16", "--depth", "1",
                              "--quiet", "--out", tmp_path / "cmp"])
    assert code == 0, err
    d = tmp_path / "cmp"
    for name in ["comparison.png", "spectral_bias.png", "table.md", "metrics.json", "report.html", "training.png"]:
        assert (d / name).is_file(), name
    for arch in inrkit.config.ARCHS if hasattr(inrkit, "config") else ["relu", "tanh", "pe", "ffn", "siren"]:
        assert (d / arch / "model.safetensors").is_file()
    m = json.loads((d / "metrics.json").read_text())
    assert set(m["architectures"]) == {"relu", "tanh", "pe", "ffn", "siren"}
    assert all(np.isfinite(v["psnr"]) for v in m["architectures"].values())
    assert "SIREN" in (d / "table.md").read_text()


def test_fast_preset_fits_and_is_reproducible(tmp_path):
    from inrkit.config import PRESETS

    sig = inrkit.load_image("camera", size=32)
    fcfg, tcfg = PRESETS["fast"]
    a = inrkit.fit_image(sig, "hash", field_cfg=fcfg, train_cfg=tcfg)
    assert a.metrics["psnr"] > 40.0  # the fast preset memorises a small image quickly
    tiny_f, tiny_t = PRESETS["tiny"]
    b1 = inrkit.fit_image(sig, "hash", field_cfg=tiny_f, train_cfg=tiny_t)
    b2 = inrkit.fit_image(sig, "hash", field_cfg=tiny_f, train_cfg=tiny_t)
    assert b1.metrics["psnr"] > 25.0
    for (k1, v1), (k2, v2) in zip(b1.field.state_dict().items(), b2.field.state_dict().items()):
        assert k1 == k2 and torch.equal(v1, v2)  # random batches come from the seeded generator
    inrkit.save(tmp_path / "m", b1.field, b1.meta())
    field, meta = inrkit.load(tmp_path / "m")
    assert torch.equal(field(sig.coords().reshape(-1, 2)), b1.field(sig.coords().reshape(-1, 2)))
