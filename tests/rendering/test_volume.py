"""Volume rendering maths (rendering/volume.py) against closed forms and the product form."""

import torch

from inrkit.rendering.volume import alphas_from_density, render_weights, transmittance, transmittance_from_density


def _medium(seed=0, rays=8, samples=40, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    density = torch.rand(rays, samples, generator=g, dtype=dtype) * 5.0
    density[:, ::7] = 0.0  # empty segments
    deltas = torch.rand(rays, samples, generator=g, dtype=dtype) * 0.1
    return density, deltas


def test_exclusive_sum_equals_the_product_of_one_minus_alpha():
    density, deltas = _medium()
    T_sum = transmittance_from_density(density, deltas)
    T_prod = transmittance(alphas_from_density(density, deltas))
    assert torch.equal(T_sum[:, 0], torch.ones(8, dtype=torch.float64))  # T_0 = 1
    assert torch.allclose(T_sum, T_prod, rtol=1e-12, atol=0)
    w = render_weights(density, deltas)
    assert torch.allclose(w, T_prod * alphas_from_density(density, deltas), rtol=1e-12, atol=0)
    assert float(w.sum(-1).max()) <= 1.0
    # sum_i w_i = 1 - T_final (telescoping): what the background sees
    tau = (density * deltas).sum(-1)
    assert torch.allclose(w.sum(-1), 1.0 - torch.exp(-tau), rtol=1e-12)


def test_float32_matches_float64_and_an_opaque_sample_has_finite_gradients():
    density, deltas = _medium(1)
    w64 = render_weights(density, deltas)
    w32 = render_weights(density.float(), deltas.float())
    assert float((w32.double() - w64).abs().max()) < 1e-6
    # a sample so dense that exp(-sigma delta) is exactly 0 in float32: all the weight, finite gradients
    d = torch.tensor([[0.0, 2e3, 5.0, 1.0]], requires_grad=True)
    w = render_weights(d, torch.full((1, 4), 0.1))
    assert torch.allclose(w, torch.tensor([[0.0, 1.0, 0.0, 0.0]]))
    w.sum().backward()
    assert torch.isfinite(d.grad).all()
