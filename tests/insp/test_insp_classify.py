"""INSP-ConvNet: the chain rule through its first layer equals autograd; jets of many INRs at once;
a tiny classification run separates two digit classes from the INRs alone."""

import numpy as np
import pytest
import torch

from inrkit import coords as C
from inrkit.apps.many import ManySettings, fit_stack
from inrkit.errors import InrkitError
from inrkit.insp.classify import INSPConvNet, PixelConvNet, order_rms, stacked_jets
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


@pytest.mark.parametrize("preconditioned", [False, True])
def test_first_layer_partials_follow_the_chain_rule(stack, preconditioned):
    """h_1 = tanh(sum_a (W[a] / c_|a|) d^a Phi + b): its partials up to order 2, built from Phi's
    order-4 jet, equal nested autograd of the composed function (float64), with the per-order
    scales c at one and at other values (they are a parametrisation, not a change of the chain rule)."""
    torch.manual_seed(0)
    field = stack.field(1).double()
    net = INSPConvNet(channels=(4, 3), pixels=5, generator=torch.Generator().manual_seed(1),
                      derivative_init="uniform").double()
    if preconditioned:
        net.jet_scale.copy_(torch.tensor([0.9, 0.4, 0.6, 1.2, 3.1]))
    c = net.jet_scale[torch.tensor([sum(j) for j in multi_indices(2, 2)])]
    x = torch.rand(5, 2, dtype=torch.float64) * 1.6 - 0.8
    H = net.hidden(jet(field, x, 4)[:, 0][None])[0]  # (5, C1, 6)

    def h1(p):  # (2,) -> (C1,)
        J2 = jet(field, p[None], 2)[0, 0]  # (6,) partials of Phi up to order 2 at p
        return torch.tanh((net.w1[:, 0] / c) @ J2 + net.b1)

    for n in range(5):
        p = x[n]
        jac = torch.autograd.functional.jacobian(h1, p)  # (C1, 2)
        hes = torch.autograd.functional.jacobian(lambda q: torch.autograd.functional.jacobian(h1, q, create_graph=True), p)
        want = torch.stack([h1(p), jac[:, 0], jac[:, 1], hes[:, 0, 0], hes[:, 0, 1], hes[:, 1, 1]], -1)
        assert torch.allclose(H[n], want, rtol=1e-6, atol=1e-8)


def test_networks_map_batches_to_logits():
    J = torch.randn(4, 36, 15)
    for readout in ("flatten", "gap", "pool"):
        assert INSPConvNet((5, 6), classes=3, pixels=36, readout=readout)(J).shape == (4, 3)
        assert PixelConvNet((5, 6), classes=3, shape=(6, 6), readout=readout)(J[..., 0]).shape == (4, 3)


def _reference_logits(net: INSPConvNet, J: torch.Tensor) -> torch.Tensor:
    """The network written term by term, straight from its definition (slow, for comparison)."""
    idx = multi_indices(2, 4)
    pos = {j: i for i, j in enumerate(idx)}
    two = multi_indices(2, 2)
    c = net.jet_scale[[sum(a) for a in two]]
    e = net.hidden_scale[[sum(b) for b in two]]
    B, P, _ = J.shape
    DL = torch.zeros(B, P, net.w1.shape[0], 6, dtype=J.dtype)
    for bi, b in enumerate(two):
        for ai, a in enumerate(two):
            DL[..., bi] += J[..., pos[(a[0] + b[0], a[1] + b[1])], None] * (net.w1[:, 0, ai] / c[ai])
    DL[..., 0] += net.b1
    t = torch.tanh(DL[..., 0])
    s, q = 1 - t * t, -2 * t * (1 - t * t)
    Lx, Ly = DL[..., 1], DL[..., 2]
    H = torch.stack([t, s * Lx, s * Ly, s * DL[..., 3] + q * Lx * Lx, s * DL[..., 4] + q * Lx * Ly,
                     s * DL[..., 5] + q * Ly * Ly], -1)
    h2 = torch.tanh(torch.einsum("npca,kca->npk", H, net.w2 / e) + net.b2)
    return net.head(h2)


def test_fast_forward_equals_the_term_by_term_definition():
    g = torch.Generator().manual_seed(3)
    J = torch.randn(3, 10, 15, generator=g, dtype=torch.float64) * torch.tensor([1, 2, 2, 3, 3, 3] + [5] * 9)
    for readout in ("flatten", "gap"):
        net = INSPConvNet((4, 5), classes=3, pixels=10, readout=readout, generator=g, derivative_init="uniform").double()
        net.jet_scale.copy_(torch.tensor([1.0, 0.5, 0.7, 2.0, 4.0]))
        net.hidden_scale.copy_(torch.tensor([0.8, 0.3, 1.5]))
        assert torch.allclose(net(J), _reference_logits(net, J), rtol=1e-10, atol=1e-12)


def test_calibrate_puts_every_order_at_unit_rms():
    """After calibrate, Phi's partials of each order divided by their scale, and the first layer's
    partials of each order divided by theirs, have root mean square one on the calibration jets."""
    g = torch.Generator().manual_seed(4)
    growth = torch.tensor([float(sum(j)) for j in multi_indices(2, 4)])
    J = torch.randn(8, 20, 15, generator=g, dtype=torch.float64) * 2.5 ** growth  # higher orders larger
    net = INSPConvNet((6, 4), pixels=20, generator=g, derivative_init="uniform").double().calibrate(J)
    assert net.jet_scale[4] / net.jet_scale[1] > 10  # 2.5^3
    assert torch.allclose(order_rms(J, 4) / net.jet_scale, torch.ones(5, dtype=torch.float64))
    with torch.no_grad():
        H = net.hidden(J)
    assert torch.allclose(order_rms(H, 2) / net.hidden_scale, torch.ones(3, dtype=torch.float64))
    state = net.state_dict()  # saved with the network
    assert "jet_scale" in state and "hidden_scale" in state


def test_pool_readout_averages_2x2_cells():
    from inrkit.insp.classify import _Readout

    ro = _Readout(1, (4, 6), 2, "pool")
    assert ro.linear.in_features == 6
    h = torch.arange(24.0).reshape(1, 24, 1)  # raster order of a 4 x 6 grid
    with torch.no_grad():
        ro.linear.weight.zero_()
        ro.linear.weight[0, 0] = 1.0  # the first cell: rows 0-1, columns 0-1
        ro.linear.bias.zero_()
    assert float(ro(h)[0, 0]) == (0 + 1 + 6 + 7) / 4
    with pytest.raises(InrkitError, match="2 x 2"):
        _Readout(1, (1, 6), 2, "pool")


def test_zero_derivative_init_starts_pointwise_and_learns_derivatives():
    g = torch.Generator().manual_seed(0)
    net = INSPConvNet((3, 2), classes=2, pixels=4, generator=g)
    assert (net.w1[..., 1:] == 0).all() and (net.w2[..., 1:] == 0).all()
    assert (net.w1[..., 0] != 0).all()
    J = torch.randn(5, 4, 15)
    loss = net(J).square().sum()
    loss.backward()
    assert net.w1.grad[..., 1:].abs().sum() > 0  # the derivative terms are trained, not frozen
    with pytest.raises(InrkitError, match="derivative_init"):
        INSPConvNet((3, 2), derivative_init="ones")


def test_classifiers_are_seeded_heads_included():
    for make in (lambda g: INSPConvNet((3, 2), classes=4, pixels=16, readout="pool", generator=g),
                 lambda g: PixelConvNet((3, 2), classes=4, shape=(4, 4), readout="flatten", generator=g)):
        a, b = make(torch.Generator().manual_seed(3)), make(torch.Generator().manual_seed(3))
        c = make(torch.Generator().manual_seed(4))
        for (name, pa), pb, pc in zip(a.named_parameters(), b.parameters(), c.parameters()):
            assert torch.equal(pa, pb), name
        assert not torch.equal(a.head.linear.weight, c.head.linear.weight)


def test_classify_cache_reuses_the_fitted_sirens_and_refuses_a_damaged_one(tmp_path, monkeypatch):
    import inrkit.apps.many as many
    from inrkit.apps.insp import ClassifyConfig, inr_features

    rng = np.random.default_rng(1)
    imgs = rng.random((5, 8, 8, 1)).astype(np.float32)
    cfg = ClassifyConfig(field_steps=5, fields_per_fit=3, width=8, hidden_layers=1)
    first = inr_features(imgs, [10, 11, 12, 13, 14], cfg, cache=tmp_path)
    assert len(list(tmp_path.glob("*.safetensors"))) == 2  # two chunks: 3 + 2 fields

    def no_fit(*a, **k):
        raise AssertionError("fitted again although the cache holds these fields")

    monkeypatch.setattr(many, "fit_stack", no_fit)
    again = inr_features(imgs, [10, 11, 12, 13, 14], cfg, cache=tmp_path)
    for k in ("jets", "weights", "psnr"):
        assert torch.equal(first[k], again[k]), k
    with pytest.raises(AssertionError, match="fitted again"):  # other pixels: another key, so a new fit
        inr_features(imgs[:, ::-1].copy(), [10, 11, 12, 13, 14], cfg, cache=tmp_path)
    import hashlib
    import json

    from safetensors.torch import load_file, save_file

    victim = sorted(tmp_path.glob("*.safetensors"))[0]
    record = victim.with_suffix(".json")
    good_bytes, good_json = victim.read_bytes(), record.read_text()

    def refused(match):
        with pytest.raises(InrkitError, match=match):
            inr_features(imgs, [10, 11, 12, 13, 14], cfg, cache=tmp_path)
        victim.write_bytes(good_bytes)
        record.write_text(good_json)

    flipped = bytearray(good_bytes)
    flipped[-3] ^= 0x40  # one bit of one weight
    victim.write_bytes(bytes(flipped))
    refused("damaged")
    victim.write_bytes(good_bytes[:40])
    refused("damaged")
    record.write_text(json.dumps({**json.loads(good_json), "psnr": [[1.0]] * 3}))
    refused("not a complete record")
    record.write_text("{not json")
    refused("cannot be read")
    record.write_text(json.dumps({**json.loads(good_json), "psnr": [10 ** 400] * 3}))
    refused("not a complete record")
    rec = json.loads(good_json)
    record.write_text(json.dumps({**rec, "record": {**rec["record"], "seconds": True}}))
    refused("not a complete record")
    record.write_text("[" * 100_000 + "]" * 100_000)
    refused("cannot be read")
    tensors = load_file(str(victim))
    key = sorted(tensors)[0]
    tensors[key] = tensors[key][:1].clone()  # one field's tensors where the chunk has more
    save_file(tensors, str(victim))
    record.write_text(json.dumps({**json.loads(good_json), "sha256": hashlib.sha256(victim.read_bytes()).hexdigest()}))
    refused("do not hold")
    again = inr_features(imgs, [10, 11, 12, 13, 14], cfg, cache=tmp_path)  # restored: read back as before
    assert torch.equal(first["jets"], again["jets"]) and again["cached"] == 5


def test_shifted_batches_translate_each_input_by_its_own_whole_pixel_move_onto_background():
    from inrkit.insp.classify import Shifted
    from inrkit.meta.epochs import EpochBatches

    h, w = 5, 6
    x = torch.randn(16, h * w, 3)
    y = torch.arange(16)
    batches = Shifted(EpochBatches(x, y, batch_size=16), (h, w), 1)
    assert len(batches) == 1
    b = batches(torch.Generator().manual_seed(0))
    seen = set()
    for xi, yi in zip(b.coords, b.targets):
        src = x[int(yi)].reshape(h, w, 3)
        hits = []
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                want = torch.zeros(h, w, 3)
                want[..., 0] = src[0, 0, 0]  # background: the corner's value, zero partials
                want[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
                    src[max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
                if torch.equal(xi.reshape(h, w, 3), want):
                    hits.append((dy, dx))
        assert len(hits) == 1  # one translation by at most a pixel, every partial moved with its value
        seen.add(hits[0])
    assert len(seen) > 3  # each input draws its own
    flat = Shifted(EpochBatches(x[..., 0], y, batch_size=16), (h, w), 1)(torch.Generator().manual_seed(0))
    assert torch.equal(flat.coords, b.coords[..., 0])  # pixels (B, P) move as the jets' values do
    with pytest.raises(InrkitError, match="shift"):
        Shifted(batches, (h, w), -1)
    with pytest.raises(InrkitError, match="grid"):
        Shifted(EpochBatches(x, y), (4, 4), 1)(torch.Generator())
