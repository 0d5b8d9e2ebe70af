"""Functa: latent-modulated SIREN, Meta-SGD inner loop, meta-training through fit, functasets,
classification and generation."""

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from inrkit import coords as C
from inrkit.apps import functa as F
from inrkit.batch import Batch
from inrkit.errors import InrkitError
from inrkit.fields.modulated import LatentModulatedField
from inrkit.meta import functa as M
from inrkit.metrics import psnr_from_mse
from inrkit.objectives.meta import MetaReconstruction
from inrkit.signals.collections import load_collection
from inrkit.train import fit
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


# --- the field and the inner loop -------------------------------------------------------------

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


def test_inner_loop_minimises_the_loss_it_is_given(digits):
    f = _field()
    x, t = _batch(digits, 4)
    mse = M.inner_loop(f, x, t, steps=2)
    assert torch.equal(M.inner_loop(f, x, t, steps=2, loss=M.per_signal_loss), mse)  # the default is the MSE
    # a loss that ignores the latents leaves them at zero; half the MSE takes one step of half the size
    assert torch.equal(M.inner_loop(f, x, t, steps=2, loss=lambda p, y: 0 * p.sum(dim=(1, 2))), torch.zeros(4, 16))
    half = M.inner_loop(f, x, t, steps=1, loss=lambda p, y: 0.5 * M.per_signal_loss(p, y))
    assert torch.allclose(half, 0.5 * M.inner_loop(f, x, t, steps=1), atol=1e-7)


def test_batched_encoding_equals_one_at_a_time(digits):
    f = _field().double()
    x, t = _batch(digits, 6)
    x, t = x.double(), t.double()
    batched = M.encode(f, x, t, steps=3, batch_size=6)
    single = torch.cat([M.encode(f, x, t[i:i + 1], steps=3, batch_size=1) for i in range(6)])
    assert torch.allclose(batched, single, atol=1e-6)


# --- the outer step: objective, sampler and callbacks of fit ---------------------------------

def test_meta_objective_is_the_loss_after_the_inner_loop(digits):
    f = _field()
    x, t = _batch(digits)
    terms = MetaReconstruction(inner_steps=2)(f, Batch(coords=x, targets=t))
    losses = M.per_signal_loss(f(x, M.inner_loop(f, x, t, 2)), t)
    assert torch.allclose(terms["loss"], losses.mean())
    assert torch.allclose(terms["psnr"], psnr_from_mse(losses.detach()).mean())
    assert not terms["psnr"].requires_grad


@pytest.mark.parametrize("first_order", [False, True])
def test_meta_gradient_reaches_the_inner_rates_only_in_second_order(digits, first_order):
    f = _field()
    x, t = _batch(digits)
    MetaReconstruction(2, first_order)(f, Batch(x, t))["loss"].backward()
    reached = f.meta_lrs.grad is not None and bool(f.meta_lrs.grad.abs().sum() > 0)
    assert reached != first_order


@pytest.mark.parametrize("clamp", [True, False])
def test_meta_sgd_rates_are_clamped_after_each_step(digits, clamp):
    f = _field()
    x, t = _batch(digits)
    sample = M.SignalBatches(x, t, 4)
    callbacks = [M.ClampMetaLRs()] if clamp else []
    opt = torch.optim.Adam([f.meta_lrs], lr=2.0)  # each step moves every rate by about 2
    fit(f, sample, MetaReconstruction(1), steps=2, optimizer=opt, callbacks=callbacks, generator=torch.Generator())
    rates = f.meta_lrs.detach()
    assert torch.isfinite(rates).all()
    assert bool(((rates >= 0) & (rates <= 1)).all()) == clamp


def test_signal_batches_draw_like_randint():
    x, t = torch.zeros(3, 2), torch.arange(10.0).reshape(10, 1, 1).expand(10, 3, 1)
    a, b = torch.Generator().manual_seed(4), torch.Generator().manual_seed(4)
    batch = M.SignalBatches(x, t, 16)(a)  # more than the signals: still drawn with replacement
    idx = torch.randint(0, 10, (10,), generator=b)
    assert batch.coords is x and torch.equal(batch.targets, t[idx])


def test_history_every_ten_steps_and_at_the_end(digits):
    f = _field()
    x, t = _batch(digits, 4)
    rec = M.TermHistory(every=10)
    fit(f, M.SignalBatches(x, t, 2), MetaReconstruction(1, True), steps=25, callbacks=[rec],
        generator=torch.Generator())
    assert [h["step"] for h in rec.history] == [10, 20, 25]
    assert set(rec.history[0]) == {"step", "seconds", "loss", "psnr"}


# --- train_functa ------------------------------------------------------------------------------

def _tiny(dataset="digits", **kw):
    args = dict(latent_dim=8, steps=4, batch_size=4, width=16, hidden_layers=1, device="cpu", eval_items=8)
    return F.train_functa(dataset, **{**args, **kw})


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


def test_train_functa_is_reproducible_with_a_seed(digits):
    a, b, c = _tiny(digits, seed=1), _tiny(digits, seed=1), _tiny(digits, seed=2)
    sa, sb, sc = (r["field"].state_dict() for r in (a, b, c))
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)
    assert a["steps_done"] == 4 and a["history"][-1]["step"] == 4


def test_train_functa_stops_on_its_time_budget(digits):
    r = _tiny(digits, steps=100_000, minutes=0.002)  # 0.12 s
    assert 1 <= r["steps_done"] < 100_000
    assert r["history"][-1]["step"] == r["steps_done"]
    assert r["config"]["minutes"] == 0.002


def test_train_functa_messages_name_no_flags(digits):
    with pytest.raises(InrkitError, match="at least 1") as e:
        _tiny(digits, steps=0)
    with pytest.raises(InrkitError, match="time budget") as f:
        _tiny(digits, minutes=0)
    assert "--" not in str(e.value) + str(f.value)


# --- functasets: encode, resume, load -----------------------------------------------------------

@pytest.fixture(scope="module")
def small(tmp_path_factory, digits):
    """A folder of 100 digits (10 per class, of which the folder rule holds out 2), a tiny model
    meta-trained on digits, and the folder's functaset in shards of 30."""
    root = tmp_path_factory.mktemp("functa")
    for k in range(10):
        (root / "data" / str(k)).mkdir(parents=True)
        for j, img in enumerate(digits.images[digits.labels == k][:10]):
            Image.fromarray((img[..., 0] * 255).round().astype(np.uint8)).save(root / "data" / str(k) / f"{j}.png")
    r = F.train_functa(digits, latent_dim=16, steps=20, batch_size=16, width=32, hidden_layers=2, device="cpu",
                       eval_items=20)
    F.write_functa_run([r], root / "run")
    ckpt = root / "run" / "model_z16"
    F.encode_functaset(ckpt, str(root / "data"), root / "fs", shard_size=30, device="cpu")
    return root, ckpt


def test_encode_resumes_to_the_same_functaset(small, tmp_path):
    root, ckpt = small
    part = F.encode_functaset(ckpt, str(root / "data"), tmp_path / "b", shard_size=30, device="cpu",
                              stop_after_shards=2)
    assert [s["done"] for s in part["shards"]] == [True, True, False, False]
    with pytest.raises(InrkitError, match="not done"):
        F.load_functaset(tmp_path / "b")
    F.encode_functaset(ckpt, str(root / "data"), tmp_path / "b", shard_size=30, device="cpu")
    _, a = F.load_functaset(root / "fs")
    _, b = F.load_functaset(tmp_path / "b")
    assert a["latents"].shape == (100, 16)
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_encode_refuses_a_folder_of_another_setting(small, tmp_path):
    root, ckpt = small
    F.encode_functaset(ckpt, str(root / "data"), tmp_path / "b", shard_size=30, device="cpu", stop_after_shards=1)
    with pytest.raises(InrkitError, match="another"):
        F.encode_functaset(ckpt, str(root / "data"), tmp_path / "b", shard_size=50, device="cpu")


def test_load_functaset_refuses_a_manifest_that_does_not_match(small, tmp_path):
    import shutil

    root, _ = small
    shutil.copytree(root / "fs", tmp_path / "fs")
    m = json.loads((tmp_path / "fs" / "manifest.json").read_text())
    m["modulation_dim"] += 1
    (tmp_path / "fs" / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(InrkitError, match="does not match"):
        F.load_functaset(tmp_path / "fs")


# --- classification and generation ------------------------------------------------------------------

def test_epoch_batches_visit_every_row_once_per_epoch():
    from inrkit.meta.epochs import EpochBatches

    x, y = torch.arange(10.0)[:, None], torch.arange(10)
    s, g, ref = EpochBatches(x, y, 4), torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    assert len(s) == 3
    for _ in range(2):
        perm = torch.randperm(10, generator=ref)
        parts = [s(g) for _ in range(3)]
        assert [len(p) for p in parts] == [4, 4, 2]
        assert torch.equal(torch.cat([p.targets for p in parts]), perm)
        assert torch.equal(torch.cat([p.coords for p in parts])[:, 0].long(), perm)


def test_mlp_classifier_separates_separable_classes_and_is_seeded():
    from inrkit.meta.classifier import mlp_accuracy

    g = torch.Generator().manual_seed(0)
    centres = 4 * torch.randn(4, 6, generator=g)
    y = torch.arange(400) % 4
    x = centres[y] + torch.randn(400, 6, generator=g)
    state = torch.random.get_rng_state()
    a = mlp_accuracy(x[:320], y[:320], x[320:], y[320:], hidden=64, epochs=20)
    assert torch.equal(torch.random.get_rng_state(), state)  # the caller's global generator is untouched
    assert a > 0.9 and a == mlp_accuracy(x[:320], y[:320], x[320:], y[320:], hidden=64, epochs=20)


def test_classify_reports_every_input_and_beats_chance(small):
    root, _ = small
    acc = F.classify(root / "fs", epochs=5)
    assert (acc["train_items"], acc["test_items"], acc["latent_dim"]) == (80, 20, 16)
    assert min(acc["modulations"], acc["latents"], acc["pixels"]) > 0.3  # 10 classes: chance is 0.1
    with pytest.raises(InrkitError, match="epochs must be at least 1"):
        F.classify(root / "fs", epochs=0)


@pytest.fixture(scope="module")
def sampled(small):
    """A sample run with a flow and a diffusion model; the denoiser is made narrow (16 units
    instead of 512) so that its 1,000-step sampling of 1,000 latents takes a second."""
    import functools

    from inrkit.meta import diffusion as D

    root, _ = small
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(D, "train_ddpm", functools.partial(D.train_ddpm, hidden=16))
        metrics = F.sample_functa(root / "fs", root / "gen", samples=8, epochs=3, pairs=2, steps=3,
                                  diffusion_steps=30)
    return root / "gen", metrics


def test_sample_scores_every_density_model(sampled):
    _, sm = sampled
    assert np.isfinite(sm["test_ll_per_dim_flow"]) and np.isfinite(sm["test_ll_per_dim_gaussian"])
    fd = sm["frechet_distance_to_test"]
    assert list(fd) == ["train latents (floor)", "RealNVP flow", "full-covariance Gaussian", "DDPM diffusion"]
    assert all(math.isfinite(v) and v >= 0 for v in fd.values())
    assert [h["epoch"] for h in sm["history"]] == [1, 2, 3] and 1 <= sm["best_epoch"] <= 3
    assert sm["diffusion"]["history"][-1]["step"] == 30


def test_sample_writes_its_files_and_interpolates_across_classes(sampled, small):
    out, sm = sampled
    for name in ("flow.safetensors", "flow.json", "diffusion.safetensors", "diffusion.json", "samples.png",
                 "interpolation.png", "metrics.json", "report.html"):
        assert (out / name).is_file(), name
    _, data = F.load_functaset(small[0] / "fs")
    assert len(sm["interpolation_pairs"]) == 2
    for a, b in sm["interpolation_pairs"]:
        assert not data["train"][a] and not data["train"][b] and data["labels"][a] != data["labels"][b]
    assert len(sm["nearest_train_rms"]) == 8


def test_saved_flow_reloads_and_decodes_to_images(sampled, small):
    from safetensors.torch import load_file

    from inrkit.meta.flow import RealNVP

    out, _ = sampled
    field, _ = F.load_functa(small[1])
    arch = json.loads((out / "flow.json").read_text())["architecture"]
    flow = RealNVP(16, couplings=arch["couplings"], hidden=arch["hidden"])
    flow.load_state_dict(load_file(out / "flow.safetensors"))
    imgs = F._decode(field, flow.eval().sample(3), (8, 8, 1))
    assert imgs.shape == (3, 8, 8) and imgs.dtype == np.uint8


def test_sample_messages_name_no_flags(small, tmp_path):
    root, _ = small
    for kw, text in ((dict(samples=0), "at least 1"), (dict(diffusion_steps=-1), "diffusion steps"),
                     (dict(temperature=0), "temperature")):
        with pytest.raises(InrkitError, match=text) as e:
            F.sample_functa(root / "fs", tmp_path / "o", **kw)
        assert "--" not in str(e.value)


# --- datasets and the command line -------------------------------------------------------------

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
    r = _tiny("digits", steps=2, eval_items=4)
    F.write_functa_run([r], tmp_path / "run")
    js = tmp_path / "run" / "model_z8.json"
    meta = json.loads(js.read_text())
    meta["architecture"]["latent_dim"] = 16
    js.write_text(json.dumps(meta))
    code, _, err = run_cli(["functa", "encode", tmp_path / "run" / "model_z8", "digits", "--out", tmp_path / "fs"])
    assert code == 2 and "does not match" in err and "Traceback" not in err
