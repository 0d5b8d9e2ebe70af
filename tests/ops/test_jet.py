"""Forward-mode derivatives (ops.jet) against autograd, the closed forms and the objectives that use them."""

import math

import pytest
import torch

from inrkit.batch import Batch

from inrkit import coords as C
from inrkit import ops
from inrkit.config import FieldConfig, build_field
from inrkit.encodings.modules import Identity
from inrkit.fields.base import NeuralField
from inrkit.nn.mlp import Siren
from inrkit.objectives import LaplacianMatch
from inrkit.ops.jet import jet, supports_jet

ARCHS = ["siren", "tanh", "pe", "ffn", "relu"]


def _field(arch, d, m, seed=0):
    cfg = FieldConfig(arch=arch, width=32, hidden_layers=2)
    return build_field(cfg, d, m, 32, generator=torch.Generator().manual_seed(seed)).double()


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("d", [1, 2, 3])
def test_jet_equals_autograd(arch, d):
    f = _field(arch, d, 2)
    x = (torch.rand(200, d, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * 2 - 1)
    v, g, lap = jet(f, x)
    xr = x.clone().requires_grad_(True)
    y = f(xr)
    J = ops.jacobian(y, xr)
    L = torch.cat([ops.laplacian(y[:, i:i + 1], xr) for i in range(2)], dim=1)
    assert v.shape == (200, 2) and g.shape == (200, 2, d) and lap.shape == (200, 2)
    torch.testing.assert_close(v, y, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(g, J, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(lap, L, rtol=1e-9, atol=1e-9)
    _, g1, none = jet(f, x, laplacian=False)
    assert none is None
    torch.testing.assert_close(g1, J, rtol=1e-10, atol=1e-10)


def test_jet_closed_form_single_sine():
    """A one-unit SIREN with hand-set weights is a*sin(w0 (k.x + b)): gradient and Laplacian in closed form."""
    net = Siren(2, 1, width=1, hidden_layers=0, w0=2.0).double()
    with torch.no_grad():
        net.layers[0].linear.weight.copy_(torch.tensor([[0.5, -1.5]]))
        net.layers[0].linear.bias.fill_(0.25)
        net.last.weight.fill_(3.0)
        net.last.bias.fill_(0.0)
    f = NeuralField(Identity(2), net).double()
    x = torch.tensor([[0.1, 0.2], [-0.7, 0.4]], dtype=torch.float64)
    k = torch.tensor([0.5, -1.5], dtype=torch.float64)
    z = 2.0 * (x @ k + 0.25)
    v, g, lap = jet(f, x)
    torch.testing.assert_close(v[:, 0], 3 * torch.sin(z))
    torch.testing.assert_close(g[:, 0], (3 * 2.0 * torch.cos(z))[:, None] * k)
    torch.testing.assert_close(lap[:, 0], -3 * 4.0 * (k @ k) * torch.sin(z))
    assert math.isclose(float(k @ k), 2.5)


def test_supports_jet_only_where_rules_exist():
    assert all(supports_jet(_field(a, 2, 1)) for a in ARCHS)
    assert not supports_jet(_field("hash", 2, 1))
    with pytest.raises(TypeError):
        jet(_field("hash", 2, 1), torch.zeros(3, 2, dtype=torch.float64))


@pytest.mark.parametrize("arch", ["siren", "pe"])
def test_laplacian_objective_same_loss_and_parameter_gradients(arch):
    """Training on the forward Laplacian moves the parameters exactly as the autograd route."""
    f = _field(arch, 2, 1)
    x = C.grid((12, 12)).reshape(-1, 2).double()
    t = torch.randn(144, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    loss = LaplacianMatch()(f, Batch(x, t))["loss"]
    g_jet = torch.autograd.grad(loss, list(f.parameters()), allow_unused=True, materialize_grads=True)
    xr = x.clone().requires_grad_(True)
    loss_ref = ((ops.laplacian(f(xr), xr) - t) ** 2).mean()
    g_ref = torch.autograd.grad(loss_ref, list(f.parameters()), allow_unused=True, materialize_grads=True)
    torch.testing.assert_close(loss, loss_ref, rtol=1e-10, atol=0)
    for a, b in zip(g_jet, g_ref):
        torch.testing.assert_close(a, b, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("what", ["gradient", "laplacian"])
def test_evaluate_forward_equals_autograd_route(what):
    f = _field("siren", 2, 3).float()
    x = C.grid((20, 30))
    a = ops.evaluate(f, x, what, chunk=97)
    b = ops.evaluate(f, x, what, chunk=97, method="autograd")
    assert a.shape == b.shape == (20, 30, 2 if what == "gradient" else 1)
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-3 * float(b.abs().max()))
    with pytest.raises(ValueError):
        ops.evaluate(f, x, what, method="finite")


@pytest.mark.parametrize("arch", ARCHS)
def test_jet_applies_output_scale_and_shift(arch):
    # f = s g + b: value s g + b, gradient s grad g, Laplacian s Delta g (the shift moves values only)
    g = _field(arch, 2, 2, seed=4)
    f = NeuralField(g.encoding, g.network, output_scale=-37.5, output_shift=4.25)
    x = (torch.rand(40, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(5)) * 2 - 1)
    v, grad, lap = jet(f, x)
    xa = x.clone().requires_grad_(True)
    y = f(xa)
    assert torch.allclose(v, y.detach(), atol=1e-10)
    assert torch.allclose(grad, ops.jacobian(y, xa).detach(), atol=1e-9)
    lap_auto = torch.cat([ops.laplacian(y[:, i:i + 1], xa) for i in range(2)], -1).detach()
    assert torch.allclose(lap, lap_auto, atol=1e-7 * max(1.0, float(lap_auto.abs().max())))
    v0, grad0, lap0 = jet(g, x)
    assert torch.allclose(v, -37.5 * v0 + 4.25) and torch.allclose(grad, -37.5 * grad0)
    assert torch.allclose(lap, -37.5 * lap0)


def test_default_output_scale_adds_no_arithmetic():
    g = _field("siren", 2, 3).float()
    x = torch.rand(64, 2) * 2 - 1
    f = NeuralField(g.encoding, g.network, output_scale=1.0, output_shift=0.0)
    with torch.no_grad():
        plain = g.network(g.encoding(x))
        assert torch.equal(f(x), plain) and torch.equal(g(x), plain)  # bit-identical, not merely close
        assert torch.equal(jet(f, x)[0], jet(g, x)[0])
