"""``RayIntegral(pixels=True)`` / ``reconstruct_ct(pixels=True)``: the field's pixel image projected with the
measurement's own operator (scikit-image's radon of a pixel image), every ray each step."""

import numpy as np
import pytest
import torch

from inrkit.apps.inverse import InverseConfig, ct_baselines, reconstruct_ct, run_ct
from inrkit.metrics import psnr
from inrkit.objectives import RayIntegral
from inrkit.rendering.radon import bilinear
from inrkit.signals.tomography import make_problem


def test_the_truths_pixel_image_reproduces_the_sinogram():
    problem = make_problem("shepp-logan", 10, 64)
    batch = problem.sampler(0, "cpu", samples=1)(torch.Generator().manual_seed(0))
    truth = bilinear(torch.as_tensor(problem.image))
    loss = RayIntegral(64, pixels=True)(truth, batch)["loss"]
    assert float(loss) < 1e-12  # skimage's radon of the same image, to float rounding
    shifted = lambda x: truth(x + torch.tensor([2.0 / 64, 0.0]))  # noqa: E731  one pixel off
    assert float(RayIntegral(64, pixels=True)(shifted, batch)["loss"]) > 1e-5


def test_the_pixel_operator_ignores_the_batchs_samples():
    problem = make_problem("shepp-logan", 4, 32)
    field = lambda x: (x[:, :1] + 1.0) ** 2  # noqa: E731
    a = problem.sampler(0, "cpu", samples=1)(torch.Generator().manual_seed(0))
    b = problem.sampler(0, "cpu", samples=32)(torch.Generator().manual_seed(1))
    obj = RayIntegral(32, pixels=True)
    assert float(obj(field, a)["loss"]) == pytest.approx(float(obj(field, b)["loss"]), rel=1e-6)
    assert float(RayIntegral(32)(field, a)["loss"]) != pytest.approx(float(obj(field, a)["loss"]), rel=1e-3)


def test_tiny_pixel_fit_beats_filtered_back_projection_and_records_its_operator(tmp_path):
    problem = make_problem("shepp-logan", 8, 64)
    fbp = ct_baselines(problem, 1)["FBP"][0]
    cfg = InverseConfig(width=64, features=64, sigma=1.5, steps=200, lr=1e-2)
    _, rec, res, _ = reconstruct_ct(problem, cfg, rays=0, device="cpu", pixels=True)
    assert res.finished
    ours, theirs = psnr(np.clip(rec, 0, 1), problem.image, 1.0), psnr(np.clip(fbp, 0, 1), problem.image, 1.0)
    assert ours > theirs + 1.0, (ours, theirs)
    r = run_ct(problem, InverseConfig(width=16, features=16, steps=5), rays=64, device="cpu", pixels=True)
    assert r["operator"] == "pixels" and r["samples_per_ray"] == 64
    assert run_ct(problem, InverseConfig(width=16, features=16, steps=5), rays=64, samples=8,
                  device="cpu")["operator"] == "rays"


def test_pixel_total_variation_is_the_images_own():
    from inrkit.objectives.inverse import total_variation

    problem = make_problem("shepp-logan", 4, 32)
    batch = problem.sampler(0, "cpu", samples=1)(torch.Generator().manual_seed(0))  # no tv_points
    img = torch.as_tensor(problem.image)
    truth = bilinear(img)
    terms = RayIntegral(32, tv=0.5, pixels=True)(truth, batch)
    assert float(terms["tv"]) == pytest.approx(float(total_variation(img.float())), rel=1e-5)
    assert float(terms["loss"]) == pytest.approx(float(terms["data"]) + 0.5 * float(terms["tv"]), rel=1e-6)
    with pytest.raises(Exception, match="tv_points"):
        RayIntegral(32, tv=0.5)(truth, problem.sampler(0, "cpu", samples=4)(None))  # the ray mode still needs them
