"""Divergence is caught in the step that causes it: last finite weights kept, status diverged, exit 3."""

import json
import math

import torch

from conftest import run_cli
from inrkit.batch import Batch
from inrkit.config import FieldConfig, build_field
from inrkit.objectives import Reconstruction
from inrkit.signals.sampling import PointSampler
from inrkit.train import fit


def _data():
    x = torch.rand(32, 2, generator=torch.Generator().manual_seed(0)) * 2 - 1
    return x, torch.sin(3 * x[:, :1])


def test_huge_learning_rate_stops_with_the_last_finite_weights():
    x, y = _data()
    f = build_field(FieldConfig(arch="siren", width=16, hidden_layers=1), 2, 1, 8,
                    generator=torch.Generator().manual_seed(0))
    r = fit(f, PointSampler(x, y), Reconstruction(), steps=50, lr=float("inf"))
    assert r.diverged and r.steps == 0 and "step 1" in r.message
    assert all(torch.isfinite(p).all() for p in f.parameters())


def test_nan_loss_mid_run_is_caught_in_that_step():
    x, y = _data()
    f = build_field(FieldConfig(arch="relu", width=16, hidden_layers=1), 2, 1, 8,
                    generator=torch.Generator().manual_seed(0))

    def sample(g):
        sample.calls += 1
        return Batch(x, y if sample.calls < 6 else y * float("nan"))

    sample.calls = 0
    r = fit(f, sample, Reconstruction(), steps=20, lr=1e-3)
    assert r.diverged and r.steps == 5 and "step 6" in r.message and "nan" in r.message
    assert all(torch.isfinite(p).all() for p in f.parameters())
    assert math.isfinite(r.final_terms["loss"])


def test_cli_fit_with_divergent_learning_rate_exits_3_and_marks_the_run(tmp_path):
    out = tmp_path / "run"
    # the reliability sweep's command: 198,401 NaN weights and "PSNR nan dB" with exit 0 before
    code, _, err = run_cli(["fit", "camera", "--size", "32", "--steps", "30", "--lr", "1e6", "--out", out, "--quiet",
                            "--device", "cpu"])
    assert code == 3, err
    assert len(err.strip().splitlines()) == 1 and err.startswith("inrkit: error: ") and "diverged" in err
    m = json.loads((out / "metrics.json").read_text())
    assert m["status"] == "diverged" and m["steps_done"] < 30
    from inrkit.train import checkpoint

    field, _ = checkpoint.load(out)
    assert all(torch.isfinite(t).all() for t in field.state_dict().values())
    assert "DIVERGED" in (out / "report.html").read_text()


def test_cli_functa_train_divergence_exits_3(tmp_path):
    out = tmp_path / "f"
    code, _, err = run_cli(["functa", "train", "digits", "--latent-dims", "8", "--steps", "5", "--width", "16",
                            "--depth", "1", "--lr", "1e30", "--eval-items", "10", "--out", out, "--quiet",
                            "--device", "cpu"])
    assert code == 3 and "diverged" in err and len(err.strip().splitlines()) == 1, err
    (run,) = json.loads((out / "metrics.json").read_text())["runs"]
    assert run["status"] == "diverged" and run["steps_done"] < 5
