"""Differential operators against closed forms, torch.func and finite differences."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from inrkit import coords as C
from inrkit import ops
from inrkit.config import FieldConfig, build_field


class Analytic(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn
        self.dummy = nn.Parameter(torch.zeros((), dtype=torch.float64))

    def forward(self, x):
        return self.fn(x)[..., None]


def _x(n, d, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, d, generator=g, dtype=torch.float64) * 2 - 1).requires_grad_(True)


def test_sin_1d():
    x = _x(50, 1)
    y = torch.sin(3 * x)
    assert torch.allclose(ops.gradient(y, x), 3 * torch.cos(3 * x))
    assert torch.allclose(ops.laplacian(y, x), -9 * torch.sin(3 * x))


def test_gaussian_2d():
    x = _x(64, 2)
    r2 = (x**2).sum(-1, keepdim=True)
    y = torch.exp(-r2)
    assert torch.allclose(ops.gradient(y, x), -2 * x * y)
    # Laplacian of exp(-|x|^2) in d dims: (4|x|^2 - 2d) exp(-|x|^2)
    assert torch.allclose(ops.laplacian(y, x), (4 * r2 - 4) * y)


def test_polynomial_3d_hessian():
    x = _x(20, 3)
    a, b, c = x[:, 0], x[:, 1], x[:, 2]
    y = (a**2 * b + b * c**3)[:, None]
    H = ops.hessian(y, x)
    expected = torch.stack([
        torch.stack([2 * b, 2 * a, torch.zeros_like(a)], -1),
        torch.stack([2 * a, torch.zeros_like(a), 3 * c**2], -1),
        torch.stack([torch.zeros_like(a), 3 * c**2, 6 * b * c], -1)], -2)
    assert torch.allclose(H, expected)
    assert torch.allclose(ops.laplacian(y, x)[:, 0], 2 * b + 6 * b * c)


def test_divergence_and_jacobian():
    x = _x(30, 2)
    v = torch.stack([x[:, 0] ** 2 * x[:, 1], torch.sin(x[:, 1])], -1)
    assert torch.allclose(ops.divergence(v, x)[:, 0], 2 * x[:, 0] * x[:, 1] + torch.cos(x[:, 1]))
    J = ops.jacobian(v, x)
    assert J.shape == (30, 2, 2)
    assert torch.allclose(J[:, 0, 1], x[:, 0] ** 2)


@pytest.mark.parametrize("arch", ["siren", "tanh", "ffn"])
def test_against_torch_func(arch):
    field = build_field(FieldConfig(arch=arch, width=32, hidden_layers=2), 3, 1,
                        generator=torch.Generator().manual_seed(0)).double()
    x = _x(10, 3)
    single = lambda p: field(p[None])[0, 0]  # noqa: E731
    H_ref = torch.vmap(torch.func.hessian(single))(x.detach())
    g_ref = torch.vmap(torch.func.grad(single))(x.detach())
    y = field(x)
    assert torch.allclose(ops.gradient(y, x), g_ref, atol=1e-10)
    assert torch.allclose(ops.hessian(y, x), H_ref, atol=1e-8)
    assert torch.allclose(ops.laplacian(y, x)[:, 0], H_ref.diagonal(dim1=-2, dim2=-1).sum(-1), atol=1e-8)


def test_chunked_evaluation_matches_one_shot():
    field = build_field(FieldConfig(arch="siren", width=32, hidden_layers=2), 2, 3,
                        generator=torch.Generator().manual_seed(0))
    grid = C.grid((17, 23))
    one = ops.evaluate(field, grid, "laplacian", chunk=10**6)
    chunked = ops.evaluate(field, grid, "laplacian", chunk=37)
    assert one.shape == (17, 23, 1)
    assert torch.allclose(one, chunked, atol=1e-4, rtol=1e-5)
    assert torch.equal(ops.evaluate(field, grid, "value", chunk=50), ops.evaluate(field, grid, "value"))


def test_finite_differences_of_arrays_match_closed_form():
    shape = (128, 96)
    step = C.pixel_step(shape)
    g = C.grid(shape, dtype=torch.float64).numpy()
    f = np.sin(2 * g[..., 0]) * np.cos(g[..., 1])
    gx = 2 * np.cos(2 * g[..., 0]) * np.cos(g[..., 1])
    lap = -5 * f
    cg = ops.finite.central_gradient(f, step)
    assert np.abs(cg[2:-2, 2:-2, 0] - gx[2:-2, 2:-2]).max() < 1e-3
    assert np.abs(ops.finite.sobel_gradient(f, step)[2:-2, 2:-2, 0] - gx[2:-2, 2:-2]).max() < 2e-3
    assert np.abs(ops.finite.laplacian_5point(f, step)[2:-2, 2:-2] - lap[2:-2, 2:-2]).max() < 1e-3


def test_field_finite_differences_agree_with_autodiff_on_analytic_field():
    field = Analytic(lambda x: torch.sin(2 * x[..., 0]) * torch.exp(x[..., 1]))
    x = _x(40, 2)
    y = field(x)
    fd_g = ops.finite.field_gradient(field, x.detach())
    fd_l = ops.finite.field_laplacian(field, x.detach())
    assert torch.allclose(ops.gradient(y, x), fd_g, atol=1e-8)
    closed = (-4 + 1) * torch.sin(2 * x[:, 0]) * torch.exp(x[:, 1])
    assert torch.allclose(ops.laplacian(y, x)[:, 0], closed.detach())
    assert torch.allclose(fd_l[:, 0], closed.detach(), atol=1e-5)


def test_chunked_hessian_jacobian_divergence():
    field = build_field(FieldConfig(arch="tanh", width=16, hidden_layers=1), 2, 2,
                        generator=torch.Generator().manual_seed(0)).double()
    grid = C.grid((5, 7), dtype=torch.float64)
    x = grid.reshape(-1, 2).requires_grad_(True)
    y = field(x)
    J = ops.evaluate(field, grid, "jacobian", chunk=8)
    assert J.shape == (5, 7, 4)
    assert torch.allclose(J.reshape(-1, 2, 2), ops.jacobian(y, x).detach())
    div = ops.evaluate(field, grid, "divergence", chunk=8)
    assert torch.allclose(div.reshape(-1, 1), ops.divergence(y, x).detach())
    Hs = ops.evaluate(field, grid, "hessian", chunk=8)
    assert torch.allclose(Hs.reshape(-1, 2, 2), ops.hessian(y.mean(-1, keepdim=True), x).detach())


@pytest.mark.parametrize("method", ["auto", "autograd"])
def test_per_channel_derivatives_and_the_channel_mean(method):
    field = build_field(FieldConfig(arch="siren", width=16, hidden_layers=1), 2, 3,
                        generator=torch.Generator().manual_seed(1)).double()
    grid = C.grid((4, 5), dtype=torch.float64)
    x = grid.reshape(-1, 2).requires_grad_(True)
    y = field(x)
    J = ops.jacobian(y, x).detach()  # (20, 3, 2)
    g_each = ops.evaluate(field, grid, "gradient", chunk=7, method=method, channels="each")
    assert g_each.shape == (4, 5, 6)
    assert torch.allclose(g_each.reshape(-1, 3, 2), J, atol=1e-10)
    g_mean = ops.evaluate(field, grid, "gradient", chunk=7, method=method)  # the default: channel mean
    assert g_mean.shape == (4, 5, 2) and torch.allclose(g_mean.reshape(-1, 2), J.mean(1), atol=1e-10)
    lap_each = ops.evaluate(field, grid, "laplacian", method=method, channels="each")
    lap_auto = torch.cat([ops.laplacian(y[:, i:i + 1], x) for i in range(3)], -1).detach()
    assert lap_each.shape == (4, 5, 3) and torch.allclose(lap_each.reshape(-1, 3), lap_auto, atol=1e-8)
    lap_mean = ops.evaluate(field, grid, "laplacian", method=method)
    assert lap_mean.shape == (4, 5, 1) and torch.allclose(lap_mean[..., 0], lap_each.mean(-1), atol=1e-8)
    H_each = ops.evaluate(field, grid, "hessian", method=method, channels="each")
    assert H_each.shape == (4, 5, 12)
    H_ref = torch.stack([ops.hessian(y[:, i:i + 1], x).detach() for i in range(3)], 1)  # (20, 3, 2, 2)
    assert torch.allclose(H_each.reshape(-1, 3, 2, 2), H_ref, atol=1e-8)
    assert torch.allclose(ops.evaluate(field, grid, "hessian", method=method), H_each.reshape(4, 5, 3, 4).mean(2),
                          atol=1e-8)
    with pytest.raises(ValueError, match="channels"):
        ops.evaluate(field, grid, "gradient", channels="sum")


@pytest.mark.parametrize("arch, method", [("siren", "auto"), ("siren", "autograd"), ("hash", "auto")])
def test_derivative_maps_come_out_in_the_scaled_units(arch, method):
    from inrkit.encodings import MultiresGrid
    from inrkit.fields import NeuralField
    from inrkit.nn import MLP

    gen = torch.Generator().manual_seed(2)
    if arch == "hash":  # no forward-mode rule: autograd through the grid
        g = NeuralField(MultiresGrid.from_paper(2, 3, 2, 8, 4, 32, generator=gen), MLP(6, 1, 16, 1, "tanh",
                                                                                       generator=gen)).double()
    else:
        g = build_field(FieldConfig(arch=arch, width=16, hidden_layers=1), 2, 1, 16, generator=gen).double()
    f = NeuralField(g.encoding, g.network, output_scale=1e3, output_shift=-7.0)
    grid = C.grid((6, 6), dtype=torch.float64)
    for what in ("value", "gradient", "laplacian", "hessian"):
        a = ops.evaluate(f, grid, what, method=method)
        b = ops.evaluate(g, grid, what, method=method)
        expected = 1e3 * b - 7.0 if what == "value" else 1e3 * b
        assert torch.allclose(a, expected, rtol=1e-9, atol=1e-9), what
