"""NeRF: volume rendering against hand-computed values, cameras, samplers, loaders, bad input."""

import json
import math
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from inrkit.apps import nerf as N
from inrkit.errors import InrkitError
from inrkit.rendering import samplers as SM
from inrkit.rendering.occupancy import OccupancyGrid
from inrkit.rendering.rays import camera_rays, intersect_aabb, look_at
from inrkit.rendering.volume import alphas_from_density, composite, render_weights, transmittance
from inrkit.signals import scene as S
from inrkit.signals.multiview import load_posed_images
from conftest import run_cli


@pytest.fixture(scope="module")
def tiny_scene(tmp_path_factory):
    return S.write_scene(tmp_path_factory.mktemp("scene") / "s", size=24, train=12, val=2, test=2)


def test_single_opaque_sample_takes_all_the_weight():
    density = torch.tensor([[0.0, 1e4, 0.0, 5.0]])
    deltas = torch.ones(1, 4)
    colors = torch.tensor([[[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0], [1.0, 1.0, 1.0]]])
    t = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
    w = render_weights(density, deltas)
    assert torch.allclose(w, torch.tensor([[0.0, 1.0, 0.0, 0.0]]), atol=1e-6)
    out = composite(w, colors, t, background=torch.tensor([1.0, 1.0, 1.0]))
    assert torch.allclose(out["rgb"], torch.tensor([[0.0, 1.0, 0.0]]), atol=1e-6)
    assert abs(float(out["depth"]) - 2.0) < 1e-5 and abs(float(out["opacity"]) - 1.0) < 1e-6


def test_uniform_medium_has_beer_lambert_transmittance():
    sigma, length, n = 0.7, 2.0, 50
    density = torch.full((1, n), sigma, dtype=torch.float64)
    deltas = torch.full((1, n), length / n, dtype=torch.float64)
    a = alphas_from_density(density, deltas)
    T = transmittance(a)
    expected_T = torch.exp(-sigma * length / n * torch.arange(n, dtype=torch.float64))
    assert torch.allclose(T[0], expected_T, rtol=1e-6)
    colors = torch.tensor([0.2, 0.4, 0.6], dtype=torch.float64).expand(1, n, 3)
    bg = torch.tensor([1.0, 0.0, 0.5], dtype=torch.float64)
    out = composite(render_weights(density, deltas), colors, torch.zeros(1, n, dtype=torch.float64), bg)
    trans = math.exp(-sigma * length)
    assert abs(float(out["opacity"]) - (1 - trans)) < 1e-6
    assert torch.allclose(out["rgb"][0], colors[0, 0] * (1 - trans) + bg * trans, atol=1e-6)


def test_rays_from_a_known_camera_hit_known_points():
    c2w = look_at(torch.tensor([0.0, 0.0, 4.0]), torch.zeros(3), torch.tensor([0.0, 1.0, 0.0]))
    h = w = 9
    f = 8.0
    o, d = camera_rays(h, w, f, f, w / 2, h / 2, c2w)
    # the centre pixel looks straight at the origin
    assert torch.allclose(o[4, 4] + 4.0 * d[4, 4], torch.zeros(3), atol=1e-6)
    # column 6 is (6 + 0.5 - 4.5) / 8 = 0.25 to the right: it meets the z = 0 plane at x = 4 * 0.25 = 1
    p = o[4, 6] + d[4, 6] * (4.0 / -d[4, 6, 2])
    assert torch.allclose(p, torch.tensor([1.0, 0.0, 0.0]), atol=1e-6)
    # row 2 is above the centre (image rows go down, world y up here)
    p = o[2, 4] + d[2, 4] * (4.0 / -d[2, 4, 2])
    assert torch.allclose(p, torch.tensor([0.0, 1.0, 0.0]), atol=1e-6)
    t0, t1, hit = intersect_aabb(o[4, 4][None], d[4, 4][None], torch.tensor([[-1.0] * 3, [1.0] * 3]))
    assert bool(hit[0]) and abs(float(t0) - 3.0) < 1e-6 and abs(float(t1) - 5.0) < 1e-6
    _, _, miss = intersect_aabb(torch.tensor([[0.0, 5.0, 4.0]]), torch.tensor([[0.0, 0.0, -1.0]]),
                                torch.tensor([[-1.0] * 3, [1.0] * 3]))
    assert not bool(miss[0])


def test_importance_samples_follow_the_weights():
    edges = torch.linspace(0, 4, 5).expand(3, 5)
    weights = torch.tensor([[0.0, 0.0, 1.0, 0.0]] * 3)
    t = SM.sample_pdf(edges, weights, 64, torch.Generator().manual_seed(0))
    inside = ((t >= 2.0) & (t <= 3.0)).float().mean()
    assert inside > 0.99 and bool((t[:, 1:] >= t[:, :-1]).all())
    e = SM.stratified(torch.zeros(2), torch.full((2,), 3.0), 6, torch.Generator().manual_seed(0))
    mids, deltas = SM.midpoints_and_deltas(e)
    assert e.shape == (2, 7) and bool((deltas >= 0).all()) and float(e.min()) >= 0 and float(e.max()) <= 3


def test_scene_is_deterministic_and_both_layouts_load_the_same_views(tiny_scene, tmp_path):
    tr = load_posed_images(tiny_scene, "train")
    assert tr.images.shape == (12, 24, 24, 4) and tr.poses.shape == (12, 4, 4) and tr.layout == "blender"
    again = S.write_scene(tmp_path / "again", size=24, train=12, val=2, test=2)
    a = np.asarray(Image.open(tiny_scene / "train" / "r_3.png"))
    b = np.asarray(Image.open(again / "train" / "r_3.png"))
    assert np.array_equal(a, b) and 0 < (a[..., 3] > 0).mean() < 0.9  # an object on a transparent background
    # the same frames as an instant-ngp transforms.json with explicit intrinsics
    ngp = tmp_path / "ngp"
    shutil.copytree(tiny_scene / "train", ngp / "images")
    meta = json.loads((tiny_scene / "transforms_train.json").read_text())
    f = 0.5 * 24 / math.tan(0.5 * meta["camera_angle_x"])
    frames = [{"file_path": f"images/r_{k}.png", "transform_matrix": fr["transform_matrix"]}
              for k, fr in enumerate(meta["frames"])]
    (ngp / "transforms.json").write_text(json.dumps({"fl_x": f, "fl_y": f, "cx": 12, "cy": 12, "w": 24, "h": 24,
                                                     "frames": frames}))
    ng_tr = load_posed_images(ngp, "train")
    ng_te = load_posed_images(ngp, "test")
    assert len(ng_te.images) == 2 and len(ng_tr.images) == 10  # frames 0 and 8 held out
    assert np.allclose(ng_tr.images[0], tr.images[1]) and np.allclose(ng_tr.poses[0], tr.poses[1])
    assert np.allclose(ng_tr.intrinsics, tr.intrinsics[1:11], atol=1e-4)
    # the box from the cameras contains the objects (all within the unit cube)
    assert (ng_tr.aabb[0] <= -1).all() and (ng_tr.aabb[1] >= 1).all()
    half = load_posed_images(tiny_scene, "train", downscale=2)
    assert half.images.shape == (12, 12, 12, 4) and np.allclose(half.intrinsics[0], tr.intrinsics[0] / 2)


def test_carving_keeps_every_surface_point(tiny_scene):
    tr = load_posed_images(tiny_scene, "train")
    grid = OccupancyGrid(torch.tensor([[-1.5] * 3, [1.5] * 3]), 32)
    left = grid.carve(torch.as_tensor(tr.images[..., 3]), torch.as_tensor(tr.poses), torch.as_tensor(tr.intrinsics))
    assert 0.01 < left < 0.5
    pts = torch.rand(20000, 3, generator=torch.Generator().manual_seed(0)) * 3 - 1.5
    d, _ = S._sdf(pts.numpy().astype(np.float64))
    solid = torch.as_tensor(d < 0)
    assert bool(grid.query(pts[solid]).all())  # nothing inside an object is carved away
    assert float(grid.query(pts[torch.as_tensor(d > 0.6)]).float().mean()) < 0.1


def test_volume_rendering_pipeline_vanilla_uses_both_passes():
    model = N.build_model(N.PRESETS["vanilla-small"], np.array([[-1.5] * 3, [1.5] * 3], np.float32))
    o = torch.tensor([[0.0, 0.0, 4.0]] * 5)
    d = torch.nn.functional.normalize(torch.randn(5, 3, generator=torch.Generator().manual_seed(0)) * 0.1
                                      + torch.tensor([0.0, 0.0, -1.0]), dim=-1)
    from inrkit.rendering.nerf import render_rays

    out = render_rays(model, o, d, torch.ones(3), perturb=True, generator=torch.Generator().manual_seed(1))
    assert out["rgb"].shape == (5, 3) and out["rgb_coarse"].shape == (5, 3)
    assert int(out["samples_evaluated"]) == 5 * (32 + 96)  # coarse 32, fine 32 + 64
    (out["rgb"].sum() + out["rgb_coarse"].sum()).backward()
    assert model.fine.trunk[0].weight.grad is not None and model.coarse.trunk[0].weight.grad is not None


def test_short_training_beats_a_psnr_bound_and_checkpoint_renders_the_same(tiny_scene, tmp_path, capsys):
    test = load_posed_images(tiny_scene, "test")
    untrained = N.build_model(N.PRESETS["fast-tiny"], test.aabb)
    before = N.evaluate_views(untrained.eval(), test, torch.ones(3))["psnr"]  # grey fog, about 8 dB
    r = N.train_nerf(tiny_scene, "fast-tiny", steps=120, minutes=None, eval_every=1e9, eval_views=2, device="cpu")
    assert r["visual_hull"] < 0.5
    N.write_nerf_run(r, tmp_path / "run")
    ev = N.eval_nerf(tmp_path / "run", tiny_scene, tmp_path / "ev", device="cpu")
    # 120 steps on 12 views of 24x24 reach about 19 dB on the held-out views
    assert ev["psnr"] > 16.0 and ev["psnr"] > before + 6.0, (before, ev["psnr"])
    assert ev["views"] == 2 and (tmp_path / "ev" / "view_000.png").is_file()
    again = N.eval_nerf(tmp_path / "run", tiny_scene, tmp_path / "ev2", device="cpu")
    assert abs(again["psnr"] - ev["psnr"]) < 1e-9
    orb = N.render_orbit(tmp_path / "run", tmp_path / "orbit", frames=3, device="cpu", progress=True)
    assert orb["frames"] == 3 and (tmp_path / "orbit" / "orbit.gif").is_file()
    assert "nerf orbit  3/3  100%" in capsys.readouterr().err  # one progress display for frames too
    with Image.open(tmp_path / "orbit" / "orbit.gif") as g:
        assert g.n_frames == 3
    m = N.export_mesh(tmp_path / "run", tmp_path / "m.ply", resolution=48, level=5.0, device="cpu")
    head = (tmp_path / "m.ply").read_bytes()[:400]
    assert head.startswith(b"ply\nformat binary_little_endian") and m["faces"] > 100
    assert b"property uchar red" in head  # vertex colours from the field
    from inrkit.shapes import load_mesh

    back = load_mesh(tmp_path / "m.ply")  # the shared extractor's mesh reads back whole and closed-oriented
    assert len(back.faces) == m["faces"] and len(back.vertices) == m["vertices"]


class _Empty(torch.nn.Module):
    """A radiance field with no density anywhere: every ray renders its background."""

    def forward(self, points, directions):
        return points.new_zeros(len(points)), points.new_full((len(points), 3), 0.5)


def test_ray_sampler_and_volume_rendering_give_the_hand_computed_loss():
    from inrkit.objectives import VolumeRendering
    from inrkit.rendering.nerf import NeRFModel

    aabb = torch.tensor([[-1.0] * 3, [1.0] * 3])
    model = NeRFModel("vanilla", aabb, samples=8, importance=4, field_args={"width": 8, "depth": 2})
    model.coarse, model.fine = _Empty(), _Empty()
    rgb = torch.tensor([[1.0, 0.0, 0.5], [0.2, 0.4, 0.6], [0.0, 1.0, 1.0], [0.9, 0.1, 0.3]])
    alpha = torch.tensor([[1.0], [0.25], [0.0], [0.5]])
    origins = torch.tensor([[0.0, 0.0, 4.0]]).expand(4, 3)
    directions = torch.nn.functional.normalize(torch.tensor([[0.0, 0.0, -1.0], [0.1, 0.0, -1.0], [0.0, 0.1, -1.0],
                                                             [0.5, 0.5, -1.0]]), dim=-1)
    sampler = N.RaySampler(origins, directions, torch.cat([rgb, alpha], 1), batch_rays=16, background=torch.ones(3))
    g = torch.Generator().manual_seed(3)
    batch = sampler(g)
    # the documented draws: ray indices, then one background colour per ray
    h = torch.Generator().manual_seed(3)
    idx = torch.randint(0, 4, (16,), generator=h)
    bg = torch.rand(16, 3, generator=h)
    assert torch.equal(batch["background"], bg) and torch.equal(batch["origins"], origins[idx])
    assert torch.equal(batch["directions"], directions[idx])
    # an empty field renders bg; the target is a * c + (1 - a) * bg, so the error is a * (c - bg)
    expected = float(((alpha[idx] * (rgb[idx] - bg)) ** 2).mean())
    terms = VolumeRendering(generator=g)(model, batch)
    assert abs(float(terms["rgb"]) - expected) < 1e-7 and abs(float(terms["coarse"]) - expected) < 1e-7
    assert abs(float(terms["loss"]) - 2 * expected) < 1e-7
    # coarse 8, fine 8 + 4 per ray that meets the box; the last direction passes beside it
    assert float(terms["samples_per_ray"]) == (8 + 8 + 4) * int((idx != 3).sum()) / 16
    # opaque frames: one background for every ray, the targets are the colours themselves
    opaque = N.RaySampler(origins, directions, torch.cat([rgb, torch.ones(4, 1)], 1), 16, torch.zeros(3))
    b = opaque(torch.Generator().manual_seed(3))
    assert not opaque.has_alpha and torch.equal(b["background"], torch.zeros(16, 3))
    assert torch.equal(b.targets, rgb[idx])


def test_seeded_training_runs_are_identical(tiny_scene):
    kw = dict(steps=4, minutes=None, eval_every=1e9, eval_views=1, device="cpu", batch_rays=64, seed=5)
    a = N.train_nerf(tiny_scene, "fast-tiny", **kw)
    b = N.train_nerf(tiny_scene, "fast-tiny", **kw)
    sa, sb = a["model"].state_dict(), b["model"].state_dict()
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    (h,) = a["history"]  # evaluated once, after the last step
    assert set(h) == {"step", "seconds", "loss", "val_psnr", "val_ssim", "occupied", "samples_per_ray"}
    assert h["step"] == a["steps"] == 4 and h["loss"] == b["history"][0]["loss"] and 0 < h["occupied"] < 1
    c = N.train_nerf(tiny_scene, "fast-tiny", **{**kw, "seed": 6})
    assert c["history"][0]["loss"] != h["loss"]


def _bad_scene(tmp_path, tiny_scene, name, edit):
    d = tmp_path / name
    shutil.copytree(tiny_scene, d)
    meta = json.loads((d / "transforms_train.json").read_text())
    edit(d, meta)
    (d / "transforms_train.json").write_text(json.dumps(meta))
    return d


def test_bad_datasets_fail_with_one_line(tiny_scene, tmp_path):
    def missing(d, m):
        (d / "train" / "r_1.png").unlink()

    def shape(d, m):
        m["frames"][2]["transform_matrix"] = [[1, 0, 0], [0, 1, 0]]

    def nan(d, m):
        m["frames"][0]["transform_matrix"][0][3] = float("nan")

    def size(d, m):
        Image.new("RGBA", (10, 12)).save(d / "train" / "r_4.png")

    def empty(d, m):
        m["frames"] = []

    for name, edit, msg in (("missing", missing, "frame file missing"), ("shape", shape, "expected 4x4"),
                            ("nan", nan, "NaN"), ("size", size, "share one size"), ("empty", empty, "no frames")):
        d = _bad_scene(tmp_path, tiny_scene, name, edit)
        with pytest.raises(InrkitError, match=msg):
            load_posed_images(d, "train")
    code, out, err = run_cli(["nerf", "train", tmp_path / "nan", "--minutes", "0.05", "--out", tmp_path / "o"])
    assert code == 2 and err.count("\n") == 1 and "NaN" in err and not (tmp_path / "o").exists()
    code, _, err = run_cli(["nerf", "train", tiny_scene, "--preset", "nope", "--out", tmp_path / "o"])
    assert code == 2 and "invalid choice: 'nope'" in err and not (tmp_path / "o").exists()
    code, _, err = run_cli(["nerf", "train", tmp_path / "nowhere", "--out", tmp_path / "o"])
    assert code == 2 and "no such folder" in err
    code, _, err = run_cli(["nerf", "eval", tmp_path / "nope", tiny_scene, "--out", tmp_path / "e"])
    assert code == 2 and "checkpoint" in err and "Traceback" not in err


def test_resumed_training_equals_an_uninterrupted_run(tiny_scene, tmp_path):
    # occupancy updates every 16 steps: 20 steps cross one, and the resume starts after it
    kw = dict(steps=20, minutes=None, eval_every=1e9, eval_views=1, device="cpu", batch_rays=64, seed=5)
    whole = N.train_nerf(tiny_scene, "fast-tiny", **kw)
    # snapshots after every step but the last: the folder keeps the state of step 19
    N.train_nerf(tiny_scene, "fast-tiny", **kw, state_dir=tmp_path / "state", snapshot_minutes=0.0)
    resumed = N.train_nerf(tiny_scene, "fast-tiny", **kw, state_dir=tmp_path / "state", resume=True)
    sa, sb = whole["model"].state_dict(), resumed["model"].state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert resumed["steps"] == 20 and resumed["history"][-1]["loss"] == whole["history"][-1]["loss"]
    with pytest.raises(InrkitError, match="another run"):
        N.train_nerf(tiny_scene, "fast-tiny", **{**kw, "seed": 6}, state_dir=tmp_path / "state", resume=True)
