"""Fitting shapes through the one loop: a small SIREN signed distance of the sphere, occupancy of the torus."""

import pytest
import torch

from inrkit.apps.shape import ShapeConfig, evaluate_shape, fit_shape
from inrkit.objectives.shape import SignedDistance, value_and_gradient
from inrkit.signals.shape import SDFSampler, load_shape


@pytest.fixture(scope="module")
def sphere():
    return load_shape("sphere", points=5000)


def test_sphere_sdf_is_zero_on_the_surface_with_unit_gradient(sphere):
    cfg = ShapeConfig(arch="siren", w0=15.0, width=32, depth=2, steps=150, batch=512, lr=1e-3)
    field, res, _ = fit_shape("sdf", sphere, cfg, "cpu")
    assert res.finished
    m, mesh, _ = evaluate_shape("sdf", field, sphere, 24, samples=5000, device="cpu", iou_points=20_000)
    assert m["surface_abs_mean"] < 0.01  # |f| on the surface, in units of the box's half-side
    assert m["surface_eikonal_abs_mean"] < 0.1  # |grad f| near 1 there
    assert m["normal_cosine_mean"] > 0.98
    assert m["iou"] > 0.8


def test_signed_distance_terms_are_exact_for_the_true_sdf(sphere):
    """On the analytic sphere every term of Sitzmann's loss but the off-surface penalty vanishes."""

    class Exact(torch.nn.Module):
        def forward(self, x):
            return x.norm(dim=-1, keepdim=True) - 0.6

    batch = SDFSampler(sphere, 256, 256)(torch.Generator().manual_seed(0))
    terms = SignedDistance()(Exact(), batch)
    assert terms["surface"] < 1e-5 and terms["normal"] < 1e-6 and terms["eikonal"] < 1e-5
    f, g = value_and_gradient(Exact(), batch.coords)
    assert torch.allclose(g.norm(dim=-1), torch.ones(512), atol=1e-5)
