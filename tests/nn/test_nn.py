import math

import torch

from inrkit.config import ARCHS, FieldConfig, build_field
from inrkit.fields import num_parameters
from inrkit.fields.registry import build_field_from_spec
from inrkit.nn import MLP, Siren


def test_siren_initialisation_bounds():
    g = torch.Generator().manual_seed(0)
    net = Siren(2, 3, width=256, hidden_layers=3, w0=30.0, generator=g)
    first = net.layers[0].linear.weight.detach()
    assert float(first.abs().max()) <= 1 / 2 and float(first.abs().max()) > 0.45  # U(-1/n, 1/n), n=2
    bound = math.sqrt(6 / 256) / 30
    for layer in net.layers[1:]:
        w = layer.linear.weight.detach()
        assert float(w.abs().max()) <= bound and float(w.abs().max()) > 0.95 * bound
        # uniform variance bound^2/3
        assert abs(float(w.var()) - bound**2 / 3) < 0.05 * bound**2
    assert float(net.last.weight.detach().abs().max()) <= bound


def test_siren_activations_stay_distributed():
    # Sitzmann 2020 sec. 3.2: with this init, pre-activations keep unit-ish spread through depth.
    g = torch.Generator().manual_seed(0)
    net = Siren(2, 1, width=256, hidden_layers=5, generator=g)
    h = torch.rand(4096, 2, generator=g) * 2 - 1
    for layer in net.layers:
        h = layer(h)
        assert 0.5 < float(h.std()) < 0.9  # arcsine distribution on [-1, 1] has std 1/sqrt(2)


def test_mlp_shapes_and_layer_count():
    net = MLP(2, 3, width=32, hidden_layers=3)
    linears = [m for m in net.layers if isinstance(m, torch.nn.Linear)]
    assert len(linears) == 5  # input, 3 hidden, output
    assert net(torch.zeros(7, 2)).shape == (7, 3)


def test_parameter_count_matches_siren_recipe():
    f = build_field(FieldConfig(arch="siren"), 2, 1)
    assert num_parameters(f) == (2 * 256 + 256) + 3 * (256 * 256 + 256) + (256 + 1)


def test_every_arch_is_pointwise_and_rebuilds_from_spec():
    x = torch.rand(16, 2) * 2 - 1
    for arch in ARCHS:
        g = torch.Generator().manual_seed(0)
        f = build_field(FieldConfig(arch=arch, width=32, hidden_layers=2), 2, 3, 64, generator=g)
        full = f(x)
        assert full.shape == (16, 3)
        assert torch.allclose(full[5:6], f(x[5:6]), atol=1e-6)  # row i depends only on row i
        f2 = build_field_from_spec(f.spec())
        f2.load_state_dict(f.state_dict())
        assert torch.equal(f2(x), full)


def test_seeded_init_is_deterministic():
    a = build_field(FieldConfig(arch="ffn", width=16), 2, 1, generator=torch.Generator().manual_seed(3))
    b = build_field(FieldConfig(arch="ffn", width=16), 2, 1, generator=torch.Generator().manual_seed(3))
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb and torch.equal(va, vb)
