"""INSP-ConvNet: the chain rule through its first layer equals autograd; jets of many INRs at once;
a tiny classification run separates two digit classes from the INRs alone."""

import numpy as np
import pytest
import torch

from inrkit import coords as C
from inrkit.apps.many import ManySettings, fit_stack
from inrkit.insp.classify import INSPConvNet, PixelConvNet, stacked_jets
from inrkit.ops.taylor import jet, multi_indices


@pytest.fixture(scope="module")
def stack():
    rng = np.random.default_rng(0)
    imgs = rng.random((3, 8, 8, 1)).astype(np.float32)
    s, _, _ = fit_stack(imgs, [5, 6, 7], ManySettings(steps=10, width=16, hidden_layers=2))
    return s


def test_stacked_jets_equal_each_fields_own_jet(stack):
    xy = C.grid((8, 8)).reshape(-1, 2)
    step = (0.25, 0.25)
    J = stacked_jets(stack, xy, step, fields_per_call=2)  # two calls: 2 fields, then 1
    assert J.shape == (3, 64, 15)
    scale = torch.tensor([step[0] ** a * step[1] ** b for a, b in multi_indices(2, 4)])
    for i in range(3):
        with torch.no_grad():
            own = jet(stack.field(i), xy, 4)[:, 0] * scale
        assert torch.allclose(J[i], own, rtol=1e-4, atol=1e-4 * float(own.abs().max()))


def test_first_layer_partials_follow_the_chain_rule(stack):
    """h_1 = tanh(sum_a W[a] d^a Phi + b): its partials up to order 2, built from Phi's order-4 jet,
    equal nested autograd of the composed function (float64)."""
    torch.manual_seed(0)
    field = stack.field(1).double()
    net = INSPConvNet(channels=(4, 3), pixels=5, generator=torch.Generator().manual_seed(1)).double()
    x = torch.rand(5, 2, dtype=torch.float64) * 1.6 - 0.8
    H = net.hidden(jet(field, x, 4)[:, 0][None])[0]  # (5, C1, 6)

    def h1(p):  # (2,) -> (C1,)
        J2 = jet(field, p[None], 2)[0, 0]  # (6,) partials of Phi up to order 2 at p
        return torch.tanh(net.w1[:, 0] @ J2 + net.b1)

    for n in range(5):
        p = x[n]
        jac = torch.autograd.functional.jacobian(h1, p)  # (C1, 2)
        hes = torch.autograd.functional.jacobian(lambda q: torch.autograd.functional.jacobian(h1, q, create_graph=True), p)
        want = torch.stack([h1(p), jac[:, 0], jac[:, 1], hes[:, 0, 0], hes[:, 0, 1], hes[:, 1, 1]], -1)
        assert torch.allclose(H[n], want, rtol=1e-6, atol=1e-8)


def test_networks_map_batches_to_logits():
    J = torch.randn(4, 36, 15)
    for readout in ("flatten", "gap"):
        assert INSPConvNet((5, 6), classes=3, pixels=36, readout=readout)(J).shape == (4, 3)
        assert PixelConvNet((5, 6), classes=3, shape=(6, 6), readout=readout)(J[..., 0]).shape == (4, 3)
