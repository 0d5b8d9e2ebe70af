import math

import torch

from inrkit.encodings import GaussianFourierFeatures, Identity, PositionalEncoding
from inrkit.encodings import functional as F


def test_positional_encoding_values():
    x = torch.tensor([[0.25, -0.5]])
    enc = F.positional_encoding(x, 3, include_input=True)
    assert enc.shape == (1, 2 * (2 * 3 + 1))
    assert torch.allclose(enc[0, :2], x[0])
    # band k=1: sin(2 pi x), for both coordinates, then cos(2 pi x)
    band1 = enc[0, 2 + 4:2 + 8]
    expected = torch.tensor([math.sin(2 * math.pi * 0.25), math.sin(2 * math.pi * -0.5),
                             math.cos(2 * math.pi * 0.25), math.cos(2 * math.pi * -0.5)])
    assert torch.allclose(band1, expected, atol=1e-6)


def test_module_equals_function():
    x = torch.rand(10, 2) * 2 - 1
    pe = PositionalEncoding(2, 5)
    assert torch.equal(pe(x), F.positional_encoding(x, 5))
    assert pe(x).shape[-1] == pe.out_dim
    g = torch.Generator().manual_seed(0)
    ff = GaussianFourierFeatures(2, 16, sigma=3.0, generator=g)
    assert torch.equal(ff(x), F.fourier_features(x, ff.B))
    assert ff(x).shape[-1] == ff.out_dim == 32
    assert torch.equal(Identity(2)(x), x)


def test_fourier_features_formula_and_scale():
    g = torch.Generator().manual_seed(1)
    ff = GaussianFourierFeatures(2, 4096, sigma=5.0, generator=g)
    assert abs(float(ff.B.std()) - 5.0) < 0.15  # B ~ N(0, sigma^2)
    x = torch.tensor([[0.1, 0.2]])
    proj = 2 * math.pi * (x @ ff.B.T)
    assert torch.allclose(ff(x), torch.cat([torch.cos(proj), torch.sin(proj)], -1), atol=1e-4)


def test_nyquist_rule():
    assert F.nyquist_frequencies(256) == 7
    assert F.nyquist_frequencies(64) == 5
    assert F.nyquist_frequencies(1) == 1


def _siren_get_num_frequencies_nyquist(samples):
    """Verbatim from PosEncodingNeRF in github.com/vsitzmann/siren, modules.py."""
    nyquist_rate = 1 / (2 * (2 * 1 / samples))
    return int(math.floor(math.log(nyquist_rate, 2)))


def test_nyquist_rule_is_one_band_more_than_sirens_and_stays_below_half_nyquist():
    for n in range(4, 5000):
        L = F.nyquist_frequencies(n)
        assert L == _siren_get_num_frequencies_nyquist(n) + 1, n
        # top band sin(2^(L-1) pi x) has 2^(L-2) cycles per unit; Nyquist is n/4 cycles per unit
        assert 2.0 ** (L - 2) <= n / 8 < 2.0 ** (L - 1), n
