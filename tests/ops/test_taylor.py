"""Jets of any order (ops.taylor) against nested autograd, closed forms and the refusals."""

import math

import pytest
import torch

from inrkit.config import FieldConfig, HashConfig, build_field
from inrkit.encodings.modules import Identity
from inrkit.errors import InrkitError
from inrkit.fields.base import NeuralField
from inrkit.nn.mlp import Siren
from inrkit.ops.taylor import autograd_jet, jet, jet_map, multi_indices, num_partials


def _siren(d, m=2, seed=0, w0=10.0):
    g = torch.Generator().manual_seed(seed)
    f = NeuralField(Identity(d), Siren(d, m, width=16, hidden_layers=2, w0=w0, generator=g)).double()
    f.output_scale, f.output_shift = 1.7, 0.3
    return f


def _close(a, b, d, order, rtol=1e-5):
    """Every partial within ``rtol`` of the largest partial of the same order and channel."""
    idx = multi_indices(d, order)
    for k in range(order + 1):
        cols = [i for i, j in enumerate(idx) if sum(j) == k]
        scale = b[..., cols].abs().amax(dim=(0, 2), keepdim=True).clamp_min(1e-300)
        err = ((a[..., cols] - b[..., cols]).abs() / scale).max()
        assert err < rtol, (k, float(err))


def test_multi_indices():
    assert multi_indices(2, 2) == ((0, 0), (1, 0), (0, 1), (2, 0), (1, 1), (0, 2))
    for d in (1, 2, 3):
        for K in range(6):
            idx = multi_indices(d, K)
            assert len(idx) == len(set(idx)) == num_partials(d, K) == math.comb(K + d, d)


@pytest.mark.parametrize("d", [1, 2, 3])
@pytest.mark.parametrize("order", [0, 1, 2, 3, 4])
def test_siren_jet_equals_nested_autograd(d, order):
    m = 2 if d < 3 else 1  # nested autograd's cost is per channel; two channels are tested in 1-2 D
    f = _siren(d, m, seed=10 * d + order)
    x = torch.rand(12, d, dtype=torch.float64, generator=torch.Generator().manual_seed(order)) * 2 - 1
    a, b = jet(f, x, order), autograd_jet(f, x, order)
    assert a.shape == (12, m, math.comb(order + d, d))
    _close(a, b, d, order)


@pytest.mark.parametrize("arch", ["tanh", "pe", "ffn", "relu"])
def test_mlp_fields_equal_nested_autograd(arch):
    cfg = FieldConfig(arch=arch, width=16, hidden_layers=2)
    f = build_field(cfg, 2, 1, 16, generator=torch.Generator().manual_seed(3)).double()
    x = torch.rand(12, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(4)) * 2 - 1
    order = 4 if arch != "relu" else 2  # ReLU without an encoding: everything above order 1 is 0
    _close(jet(f, x, order), autograd_jet(f, x, order), 2, order)


def test_closed_form_plane_wave():
    """f = sin(a x + b y + c): d^(p+q) f / dx^p dy^q = a^p b^q sin(a x + b y + c + (p + q) pi / 2)."""
    a, b, c = 1.3, -0.7, 0.4
    f = NeuralField(Identity(2), Siren(2, 1, width=1, hidden_layers=0, w0=1.0)).double()
    with torch.no_grad():
        f.network.layers[0].linear.weight.copy_(torch.tensor([[a, b]], dtype=torch.float64))
        f.network.layers[0].linear.bias.fill_(c)
        f.network.last.weight.fill_(1.0)
        f.network.last.bias.zero_()
    x = torch.rand(50, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 2 - 1
    K = 6
    J = jet(f, x, K)[:, 0]  # (N, P)
    phase = a * x[:, 0] + b * x[:, 1] + c
    for col, (p, q) in enumerate(multi_indices(2, K)):
        want = a**p * b**q * torch.sin(phase + (p + q) * math.pi / 2)
        torch.testing.assert_close(J[:, col], want, rtol=1e-10, atol=1e-10)


def test_jet_map_chunks_and_no_graph():
    f = _siren(2).float()
    x = torch.rand(7, 9, 2) * 2 - 1
    whole = jet_map(f, x, 3, chunk=1000)
    parts = jet_map(f, x, 3, chunk=5)
    assert whole.shape == (7, 9, 2, 10) and not whole.requires_grad
    scale = whole.abs().amax(dim=(0, 1), keepdim=True)  # per channel and partial (orders differ by w0^k)
    assert ((whole - parts).abs() / scale).max() < 1e-5


def test_jet_is_differentiable_in_parameters():
    f = _siren(2)
    x = torch.rand(10, 2, dtype=torch.float64) * 2 - 1
    jet(f, x, 3).square().sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in f.parameters())


def test_hash_grid_refused_above_order_one():
    cfg = FieldConfig(arch="hash", width=16, hidden_layers=1, hash=HashConfig(levels=2, log2_table=8))
    f = build_field(cfg, 2, 1, 16, generator=torch.Generator().manual_seed(0))
    x = torch.rand(5, 2) * 2 - 1
    with pytest.raises(InrkitError, match="vanish almost everywhere"):
        jet(f, x, 2)
    assert jet(f, x, 1).shape == (5, 1, 3)  # orders 0 and 1 by autograd


@pytest.mark.parametrize("order", [-1, 13, 2.0, True])
def test_order_out_of_range(order):
    with pytest.raises(InrkitError, match="jet order"):
        jet(_siren(2), torch.zeros(3, 2, dtype=torch.float64), order)
