"""Gradient-domain processing: discrete solvers, INR Poisson fits, blending, integration."""

import math

import numpy as np
import pytest
import torch

from inrkit import coords as C
from inrkit.config import FieldConfig, TrainConfig, build_field
from inrkit.edit import discrete
from inrkit.edit.gradient_domain import fit_gradient_field, fit_laplacian_field, image_gradients, remove_constant
from inrkit.errors import InrkitError
from inrkit.metrics import psnr
from inrkit.ops import finite


def _smooth(h=32, w=40):
    g = C.grid((h, w), dtype=torch.float64).numpy()
    return 0.5 * np.sin(2.5 * g[..., 0]) * np.cos(1.5 * g[..., 1]) + 0.3 * g[..., 0] * g[..., 1]


def test_dct_poisson_inverts_the_5point_laplacian():
    u = _smooth()
    step = C.pixel_step(u.shape)
    rec = discrete.solve_poisson_neumann(finite.laplacian_5point(u, step), step)
    assert np.abs(remove_constant(rec[..., None], u[..., None])[..., 0] - u).max() < 1e-9


def test_integrate_gradient_recovers_smooth_function():
    u = _smooth()
    step = C.pixel_step(u.shape)
    rec = discrete.integrate_gradient(finite.central_gradient(u, step), step)
    assert psnr(remove_constant(rec[..., None], u[..., None]), u[..., None]) > 40


def test_poisson_blend_is_exact_for_consistent_inputs():
    # pasting B = A + constant inside a mask: the guidance equals A's gradient, so the
    # Dirichlet solution reproduces A exactly (the constant disappears)
    a = _smooth()
    b = a + 0.3
    step = C.pixel_step(a.shape)
    mask = np.zeros(a.shape, bool)
    mask[8:20, 10:30] = True
    out = discrete.poisson_blend(a, discrete.forward_gradient(b, step), mask, step)
    assert np.abs(out - a).max() < 1e-9
    naive = np.where(mask, b, a)
    assert np.abs(naive - a).max() > 0.29


def test_inr_gradient_fit_matches_discrete_integration():
    u = _smooth(24, 24)[..., None]
    grads = image_gradients(u)
    field, pred, res = fit_gradient_field(grads, FieldConfig(arch="siren", width=64, hidden_layers=2, w0=10.0),
                                          TrainConfig(steps=300, lr=1e-3))
    pred = remove_constant(pred, u)
    assert psnr(pred, u) > 35
    assert res.final_terms["gradient"] < 1e-2 * float((grads ** 2).mean())


def test_anchored_gradient_fit_keeps_anchor_values():
    u = _smooth(20, 20)[..., None]
    grads = image_gradients(u)
    anchor = np.ones((20, 20))
    field, pred, _ = fit_gradient_field(grads, FieldConfig(arch="siren", width=64, hidden_layers=2, w0=10.0),
                                        TrainConfig(steps=300, lr=1e-3), values=u + 0.25, anchor=anchor)
    assert abs(float((pred - u).mean()) - 0.25) < 0.02  # the constant comes from the anchor, not zero


def test_fit_time_budget_stops_with_a_result_and_reads_loss_without_callbacks():
    from inrkit.objectives import Reconstruction
    from inrkit.signals.sampling import PointSampler
    from inrkit.train import fit as fit_loop

    torch.manual_seed(0)
    field = build_field(FieldConfig(arch="siren", width=16, hidden_layers=1), 2, 1, 8)
    x = C.grid((8, 8)).reshape(-1, 2)
    y = torch.sin(3 * x[:, :1])
    r = fit_loop(field, PointSampler(x, y), Reconstruction(), steps=1000, lr=1e-3, max_seconds=1e-9)
    assert r.steps == 1 and math.isfinite(r.final_terms["loss"])
    r2 = fit_loop(field, PointSampler(x, y), Reconstruction(), steps=5, lr=1e-3)  # loss read once at the end
    assert r2.steps == 5 and r2.final_terms["loss"] < r.final_terms["loss"]


def test_grid_stencils_equal_the_array_filters():
    a = np.random.default_rng(0).random((7, 9, 2))
    step = (0.3, 0.2)
    lap = finite.grid_laplacian(torch.tensor(a), step).numpy()
    sob = finite.grid_sobel(torch.tensor(a), step).numpy()
    for c in range(2):
        assert np.abs(lap[..., c] - finite.laplacian_5point(a[..., c], step)).max() < 1e-12
        assert np.abs(sob[:, :, c] - finite.sobel_gradient(a[..., c], step)).max() < 1e-12


def test_stencil_operator_recovers_what_the_analytic_laplacian_leaves_free():
    # _smooth holds 0.3 x y, a harmonic function: the network's own Laplacian cannot see it, the
    # 5-point stencil with mirrored borders (the targets' own operator) pins it down
    u = _smooth(24, 24)
    step = C.pixel_step(u.shape)
    lap = finite.laplacian_5point(u, step)
    cfg = FieldConfig(arch="siren", width=64, hidden_layers=2, w0=10.0)
    scores = {}
    for op in ("analytic", "stencil", "stencil-sobolev"):
        _, pred, _ = fit_laplacian_field(lap, cfg, TrainConfig(steps=150, lr=1e-3), operator=op)
        scores[op] = psnr(remove_constant(pred, u[..., None]), u[..., None])
    assert scores["analytic"] < 25, scores
    assert scores["stencil"] > scores["analytic"] + 10, scores
    assert scores["stencil-sobolev"] > 45, scores


def test_sobolev_preconditioner_inverts_the_neumann_laplacian():
    a = np.random.default_rng(1).random((12, 10))
    step = (0.2, 0.15)
    t = torch.tensor(finite.laplacian_5point(a, step))[..., None]
    u = -finite.grid_neumann_power(t, step, 1.0)[..., 0].numpy()
    assert np.abs((u - u.mean()) - (a - a.mean())).max() < 1e-12
    half = finite.grid_neumann_power(finite.grid_neumann_power(t, step, 0.5), step, 0.5)
    assert torch.allclose(half, finite.grid_neumann_power(t, step, 1.0), atol=1e-12)


def test_stencil_gradient_fit_inverts_sobel_targets():
    u = _smooth(24, 24)[..., None]
    grads = image_gradients(u, "sobel")
    cfg = FieldConfig(arch="siren", width=64, hidden_layers=2, w0=10.0)
    _, pred, _ = fit_gradient_field(grads, cfg, TrainConfig(steps=300, lr=1e-3), operator="stencil")
    assert psnr(remove_constant(pred, u), u) > 35
    with pytest.raises(InrkitError, match="every pixel"):
        fit_gradient_field(grads, cfg, TrainConfig(steps=3, lr=1e-3, batch_size=16), operator="stencil")
    with pytest.raises(InrkitError, match="operator"):
        fit_laplacian_field(u[..., 0], cfg, TrainConfig(steps=3), operator="bogus")
    with pytest.raises(InrkitError, match="applies to the Laplacian"):
        fit_gradient_field(grads, cfg, TrainConfig(steps=3), operator="stencil-sobolev")
