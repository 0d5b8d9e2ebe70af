"""Functa: latent-modulated SIREN, Meta-SGD inner loop, encoding, functasets, classification."""

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from inrkit import coords as C
from inrkit.apps import functa as F
from inrkit.errors import InrkitError
from inrkit.fields.modulated import LatentModulatedField
from inrkit.meta import functa as M
from inrkit.signals.collections import load_collection
from conftest import run_cli


@pytest.fixture(scope="module")
def digits():
    return load_collection("digits")


def _field(latent=16, seed=0):
    return LatentModulatedField(2, 1, latent, width=32, hidden_layers=2, generator=torch.Generator().manual_seed(seed))


def _batch(coll, n=8):
    x = C.grid((8, 8)).reshape(-1, 2)
    t = torch.as_tensor(coll.images[:n] * 2 - 1).reshape(n, -1, 1)
    return x, t


def test_modulations_are_inputs_not_parameters():
    f = _field()
    names = {n for n, _ in f.named_parameters()}
    assert not any("latent" in n for n in names)
    x = torch.rand(5, 2) * 2 - 1
    z = torch.zeros(3, 16)
    out = f(x, z)
    assert out.shape == (3, 5, 1)
    assert torch.allclose(out[0], f.siren(x))  # zero latent and zero bias: the unmodulated SIREN
    z2 = torch.randn(3, 16)
    assert not torch.allclose(f(x, z2)[0], out[0])


def test_inner_loop_lowers_every_signals_loss(digits):
    f = _field()
    x, t = _batch(digits)
    before = M.per_signal_loss(f(x, torch.zeros(8, 16)), t)
    z = M.inner_loop(f, x, t, steps=3)
    after = M.per_signal_loss(f(x, z), t)
    assert bool((after < before).all())


def test_batched_encoding_equals_one_at_a_time(digits):
    f = _field().double()
    x, t = _batch(digits, 6)
    x, t = x.double(), t.double()
    batched = M.encode(f, x, t, steps=3, batch_size=6)
    single = torch.cat([M.encode(f, x, t[i:i + 1], steps=3, batch_size=1) for i in range(6)])
    assert torch.allclose(batched, single, atol=1e-6)


def test_second_order_meta_gradient_reaches_the_inner_learning_rates(digits):
    f = _field()
    x, t = _batch(digits)
    opt = torch.optim.Adam(f.parameters(), lr=1e-3)
    before = f.meta_lrs.detach().clone()
    M.outer_step(f, opt, x, t, inner_steps=2)
    assert not torch.equal(before, f.meta_lrs.detach())
    assert float(f.meta_lrs.min()) >= 0 and float(f.meta_lrs.max()) <= 1


def test_tiny_meta_training_beats_zero_latent_and_pca_is_computed(digits):
    r = F.train_functa(digits, latent_dim=16, steps=150, batch_size=16, width=64, hidden_layers=2, seed=0,
                       device="cpu", eval_items=60)
    f = r["field"]
    te, _ = digits.split("test")
    x = C.grid((8, 8)).reshape(-1, 2)
    E = torch.as_tensor(te[:60] * 2 - 1).reshape(60, -1, 1)
    zero = float(M.psnr_per_signal(f, x, E, torch.zeros(60, 16)).mean())
    assert r["heldout_psnr"][3] > zero + 1.0
    assert r["heldout_psnr"][10] > r["heldout_psnr"][1]
    assert 10 < r["pca_psnr"] < 60


def test_encode_resume_equals_uninterrupted_and_classifier_beats_chance(tmp_path, digits):
    r = F.train_functa(digits, latent_dim=16, steps=20, batch_size=16, width=32, hidden_layers=2, device="cpu",
                       eval_items=20)
    F.write_functa_run([r], tmp_path / "run")
    ckpt = tmp_path / "run" / "model_z16"
    full = F.encode_functaset(ckpt, "digits", tmp_path / "a", shard_size=500, device="cpu")
    part = F.encode_functaset(ckpt, "digits", tmp_path / "b", shard_size=500, device="cpu", stop_after_shards=2)
    assert [s["done"] for s in part["shards"]] == [True, True, False, False]
    with pytest.raises(InrkitError, match="not done"):
        F.load_functaset(tmp_path / "b")
    F.encode_functaset(ckpt, "digits", tmp_path / "b", shard_size=500, device="cpu")
    _, a = F.load_functaset(tmp_path / "a")
    _, b = F.load_functaset(tmp_path / "b")
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert a["latents"].shape == (1797, 16)
    acc = F.classify(tmp_path / "a", epochs=5)
    assert min(acc["modulations"], acc["latents"], acc["pixels"]) > 0.3  # 10 classes: chance is 0.1
    # generation: a flow on the latents; finite likelihood, samples decode to the image shape
    sm = F.sample_functa(tmp_path / "a", tmp_path / "gen", samples=8, epochs=3, pairs=2, steps=3, diffusion_steps=30)
    assert np.isfinite(sm["test_ll_per_dim_flow"]) and np.isfinite(sm["test_ll_per_dim_gaussian"])
    fd = sm["frechet_distance_to_test"]
    assert set(fd) == {"train latents (floor)", "RealNVP flow", "full-covariance Gaussian", "DDPM diffusion"}
    assert all(math.isfinite(v) and v >= 0 for v in fd.values())
    for name in ("flow.safetensors", "flow.json", "diffusion.safetensors", "diffusion.json", "samples.png",
                 "interpolation.png", "report.html"):
        assert (tmp_path / "gen" / name).is_file(), name
    assert len(sm["interpolation_pairs"]) == 2
    field, _ = F.load_functa(ckpt)
    from inrkit.meta.flow import RealNVP
    from safetensors.torch import load_file
    flow = RealNVP(16, **{k: v for k, v in json.loads((tmp_path / "gen" / "flow.json").read_text())["architecture"].items()
                          if k in ("couplings", "hidden")})
    flow.load_state_dict(load_file(tmp_path / "gen" / "flow.safetensors"))
    imgs = F._decode(field, flow.eval().sample(3), (8, 8, 1))
    assert imgs.shape == (3, 8, 8) and imgs.dtype == np.uint8
    # a manifest that does not match its tensors
    m = json.loads((tmp_path / "a" / "manifest.json").read_text())
    m["modulation_dim"] += 1
    (tmp_path / "a" / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(InrkitError, match="does not match"):
        F.load_functaset(tmp_path / "a")
    # resuming into a folder made with another setting is refused
    with pytest.raises(InrkitError, match="another"):
        F.encode_functaset(ckpt, "digits", tmp_path / "b", shard_size=100, device="cpu")


def test_folder_dataset_labels_and_bad_folders(tmp_path):
    for cls in ("cats", "dogs"):
        (tmp_path / "ok" / cls).mkdir(parents=True)
        for i in range(5):
            Image.fromarray(np.full((6, 6), 40 * i, np.uint8)).save(tmp_path / "ok" / cls / f"{i}.png")
    coll = load_collection(str(tmp_path / "ok"))
    assert coll.classes == ["cats", "dogs"] and coll.images.shape == (10, 6, 6, 1)
    assert coll.labels.tolist() == [0] * 5 + [1] * 5 and int((~coll.train).sum()) == 2
    (tmp_path / "empty").mkdir()
    with pytest.raises(InrkitError, match="no images"):
        load_collection(str(tmp_path / "empty"))
    (tmp_path / "mixed").mkdir()
    Image.fromarray(np.zeros((6, 6), np.uint8)).save(tmp_path / "mixed" / "a.png")
    Image.fromarray(np.zeros((7, 6), np.uint8)).save(tmp_path / "mixed" / "b.png")
    with pytest.raises(InrkitError, match="differ in size"):
        load_collection(str(tmp_path / "mixed"))


def test_functa_cli_bad_inputs(tmp_path):
    (tmp_path / "empty").mkdir()
    code, _, err = run_cli(["functa", "train", tmp_path / "empty", "--steps", "1", "--out", tmp_path / "o"])
    assert code == 2 and err.count("\n") == 1 and "no images" in err and not (tmp_path / "o").exists()
    code, _, err = run_cli(["functa", "classify", tmp_path / "empty"])
    assert code == 2 and "not a functaset" in err
    # a checkpoint whose JSON says another latent size than its tensors
    r = F.train_functa("digits", latent_dim=8, steps=2, batch_size=4, width=16, hidden_layers=1, device="cpu",
                       eval_items=4)
    F.write_functa_run([r], tmp_path / "run")
    js = tmp_path / "run" / "model_z8.json"
    meta = json.loads(js.read_text())
    meta["architecture"]["latent_dim"] = 16
    js.write_text(json.dumps(meta))
    code, _, err = run_cli(["functa", "encode", tmp_path / "run" / "model_z8", "digits", "--out", tmp_path / "fs"])
    assert code == 2 and "does not match" in err and "Traceback" not in err
