"""Held-out PSNR (Tancik et al. 2020): fit on most pixels, score the pixels never trained on."""

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import inrkit
from inrkit.apps import image as A
from inrkit.config import FieldConfig, FourierConfig, TrainConfig
from inrkit.errors import InrkitError
from inrkit.metrics import psnr
from inrkit.signals import ImageSignal
from inrkit.signals.image import holdout_split
from conftest import run_cli


def test_holdout_split_is_seeded_disjoint_and_sized():
    train, held = holdout_split(400, 0.1, seed=5)
    assert len(held) == 40 and len(train) == 360
    assert set(train.tolist()).isdisjoint(held.tolist()) and len(set(train.tolist()) | set(held.tolist())) == 400
    again = holdout_split(400, 0.1, seed=5)
    assert torch.equal(train, again[0]) and torch.equal(held, again[1])
    assert not torch.equal(held, holdout_split(400, 0.1, seed=6)[1])
    none_train, none_held = holdout_split(400, 0.0, seed=5)
    assert len(none_held) == 0 and torch.equal(none_train, torch.arange(400))
    assert len(holdout_split(4, 0.01, seed=0)[1]) == 1  # a positive fraction holds out at least one pixel
    with pytest.raises(InrkitError, match="fraction"):
        holdout_split(400, 1.0, seed=0)


def test_sampler_draws_only_training_rows():
    sig = ImageSignal(np.random.default_rng(0).random((8, 8, 1), dtype=np.float32))
    train, held = holdout_split(64, 0.25, seed=0)
    whole = sig.sampler(0, rows=train)(torch.Generator())
    assert whole.coords.shape == (48, 2) and whole.grid is None
    coords = sig.coords().reshape(-1, 2)
    assert torch.equal(whole.coords, coords[train])
    batch = sig.sampler(500, rows=train)(torch.Generator().manual_seed(0))
    held_set = {tuple(c) for c in coords[held].tolist()}
    assert not any(tuple(c) in held_set for c in batch.coords.tolist())


def _smooth(n=16):
    y, x = np.mgrid[0:n, 0:n] / (n - 1)
    return ImageSignal((0.5 + 0.3 * np.sin(2.0 * x + 1.0) * np.cos(1.5 * y)).astype(np.float32)[..., None],
                       name="smooth")


def test_memorising_fit_scores_lower_on_held_out_pixels():
    # Fourier features of a high scale fitted to a smooth image: the training pixels are reproduced, the
    # pixels between them are high-frequency guesses, far worse than connecting the neighbours linearly.
    # (On white noise the same field is NOT memorising by the rule: there linear interpolation, 8.4 dB, does
    # worse than the field's 9.8 dB, as nothing between samples is predictable.)
    ffn = FieldConfig(arch="ffn", width=64, hidden_layers=1, ffn=FourierConfig(features=128, sigma=20.0))
    fit_ = A.fit_signal(_smooth(), ffn, TrainConfig(steps=300, lr=1e-3, log_every=100), "cpu",
                        derivative_maps=False, holdout=0.1)
    m = fit_.metrics
    assert m["psnr"] > m["psnr_heldout"] + 10.0, m
    assert m["psnr_heldout"] < m["psnr_heldout_interpolation"] < m["psnr"], m
    assert m["memorising"] and m["verdict"] == "memorising" and m["memorisation_rule"] == A.MEMORISATION_RULE
    assert m["holdout"]["pixels"] == 26 and m["holdout"]["fraction"] == 0.1
    assert "psnr_heldout" in fit_.history[-1] and fit_.history[-1]["psnr_heldout"] == m["psnr_heldout"]
    assert "Memorising" in A.memorisation_note(m) and "classical interpolation" in A.memorisation_note(m)


def test_smooth_fit_scores_alike_on_held_out_pixels():
    relu = FieldConfig(arch="relu", width=32, hidden_layers=2)
    m = A.fit_signal(_smooth(), relu, TrainConfig(steps=300, lr=1e-3, log_every=300), "cpu",
                     derivative_maps=False, holdout=0.1).metrics
    # within a few dB between the pixels of what it reaches on them: the field interpolates, or at worst is
    # under-fitted (below the linear interpolation on both), never memorising
    assert m["psnr_heldout"] > 40.0 and m["psnr"] - m["psnr_heldout"] < 6.0, m
    assert not m["memorising"] and m["verdict"] in ("interpolates", "under-fitted"), m
    assert "Memorising" not in A.memorisation_note(m)


def test_no_holdout_is_todays_fit():
    sig, cfg = _smooth(8), FieldConfig(arch="siren", width=16, hidden_layers=1)
    tcfg = TrainConfig(steps=5, batch_size=20, seed=4, log_every=5)
    plain = A.fit_signal(sig, cfg, tcfg, "cpu", derivative_maps=False)
    zero = A.fit_signal(sig, cfg, tcfg, "cpu", derivative_maps=False, holdout=0.0)
    for k, v in plain.field.state_dict().items():
        assert torch.equal(v, zero.field.state_dict()[k])
    assert plain.metrics["psnr_heldout"] is None and "psnr_heldout" not in plain.history[-1]
    assert plain.meta()["training"].keys() == zero.meta()["training"].keys()
    assert "final_psnr_heldout" not in plain.meta()["training"]
    assert plain.metrics["psnr"] == psnr(A.evaluate(plain.field, sig.coords()), sig.targets())


def _fake(arch, train, held, base=25.0):
    m = {"psnr": train, "ssim": 0.5, "parameters": 10, "model_bytes": 40, "seconds": 1.0, "status": "ok",
         "holdout": {"protocol": "a random 10% of pixels"}, **A.heldout_metrics(train, held, base, "linear")}
    return SimpleNamespace(arch=arch, lr=1e-3, metrics=m)


def test_the_verdict_compares_with_the_interpolation():
    assert A.verdict(37.5, 32.6, 30.0) == "interpolates"  # a 4.9 dB gap, but better than interpolating
    assert A.verdict(80.0, 20.0, 25.0) == "memorising"  # worse than interpolating, samples reproduced
    assert A.verdict(22.0, 21.5, 25.0) == "under-fitted"  # worse than interpolating everywhere
    assert A.verdict(30.0, 25.0, 25.0) == "interpolates"


def test_interpolation_baseline_is_exact_on_linear_signals_in_every_dimension():
    rng = np.random.default_rng(0)
    for shape in ((40,), (12, 10), (6, 5, 4)):
        grids = np.meshgrid(*[np.arange(n, dtype=np.float64) for n in shape], indexing="ij")
        values = np.stack([0.1 * sum((k + 1) * g for k, g in enumerate(grids)), np.ones(shape)], -1)
        held = np.zeros(int(np.prod(shape)), dtype=bool)
        held[rng.choice(held.size, held.size // 10, replace=False)] = True
        held[0] = False  # a corner stays trained, so no point lies outside the training samples' hull in 1-D
        est, method = A.interpolate_heldout(values, held)
        truth = values.reshape(-1, 2)[held]
        interior = np.ones(len(truth), dtype=bool)
        if len(shape) == 3:  # normalised convolution is exact on linear data only where the neighbours are symmetric
            assert np.all(np.abs(est - truth)[:, 1] < 1e-12) and "normalised convolution" in method
            continue
        assert np.abs(est - truth)[interior].max() < 1e-9, (shape, method)


def test_compare_table_ranks_by_held_out_psnr_with_a_baseline_row():
    fits = [_fake("ffn", 80.0, 20.0), _fake("siren", 30.0, 28.0), _fake("relu", 22.0, 21.5)]
    header, rows = A.compare_table(fits)
    assert header[1] == "held-out PSNR (dB)" and header[2] == "training PSNR (dB)" and header[4] == "verdict"
    assert [r[0] for r in rows] == ["SIREN", A.BASELINE_LABEL, "ReLU MLP", "ReLU + Fourier features"]
    assert [r[4] for r in rows] == ["interpolates", "baseline", "under-fitted", "memorising"]
    note = A._compare_note(fits)
    assert "Memorising" in note and "ReLU + Fourier features" in note and A.MEMORISATION_RULE in note


def test_cli_reports_held_out_psnr_and_holdout_zero_keeps_todays_bytes(tmp_path):
    args = ["fit", "astronaut", "--size", "12", "--steps", "5", "--width", "16", "--depth", "1", "--arch", "ffn",
            "--batch-size", "50", "--seed", "3", "--quiet"]
    code, out, err = run_cli(args + ["--out", tmp_path / "held"])
    assert code == 0, err
    assert "held-out PSNR" in out and "training PSNR" in out
    m = json.loads((tmp_path / "held" / "metrics.json").read_text())
    assert m["holdout"]["fraction"] == 0.1 and m["holdout"]["pixels"] == round(0.1 * 12 * 12)
    assert np.isfinite(m["psnr_heldout"]) and "psnr_heldout" in m["history"][-1]
    report = (tmp_path / "held" / "report.html").read_text()
    assert "held-out PSNR" in report and "random 10% of pixels" in report

    code, out, err = run_cli(args + ["--holdout", "0", "--out", tmp_path / "zero"])
    assert code == 0, err
    assert "every pixel" in out
    lib = inrkit.fit_image("astronaut", "ffn", size=12, field_cfg=FieldConfig(width=16, hidden_layers=1),
                           train_cfg=TrainConfig(steps=5, batch_size=50, seed=3))
    inrkit.save(tmp_path / "lib", lib.field, lib.meta())
    cli_field, _ = inrkit.load(tmp_path / "zero" / "model")
    for k, v in lib.field.state_dict().items():
        assert v.numpy().tobytes() == cli_field.state_dict()[k].numpy().tobytes(), k
    held_field, _ = inrkit.load(tmp_path / "held" / "model")
    assert any(not torch.equal(v, held_field.state_dict()[k]) for k, v in lib.field.state_dict().items())
    assert json.loads((tmp_path / "zero" / "metrics.json").read_text())["psnr_heldout"] is None
