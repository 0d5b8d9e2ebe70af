"""Encode -> file -> decode, for both codecs: exact against the encoder's reconstruction, the
rate is the file's, and the decoded function renders at any size."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from inrkit.codec import compress, decompress, format as FM, quality_to_lambda
from inrkit.codec.coin import CoinSettings
from inrkit.codec.coolchic import CoolChic, RateDistortion, GridSampler, decoder_model
from inrkit.errors import InrkitError

from codec_helpers import TINY, pattern


def _psnr(a, b) -> float:
    return 10 * np.log10(255.0**2 / np.mean((a.astype(float) - b.astype(float)) ** 2))


@pytest.fixture(scope="module")
def coded():
    """One gray and one RGB encode, shared (each costs a few CPU seconds)."""
    return {c: (pattern(24, 20, c), compress(pattern(24, 20, c), 0.005, settings=TINY)) for c in (1, 3)}


@pytest.mark.parametrize("channels", [1, 3])
def test_coolchic_round_trip_is_exact_and_rate_is_the_file(coded, channels):
    sig, r = coded[channels]
    img = decompress(r.data)
    assert img.shape == (24, 20, channels)
    np.testing.assert_array_equal(img, r.image)  # the encoder's own reconstruction, bit for bit
    assert r.bpp == 8 * len(r.data) / (24 * 20)
    assert r.info["bpp"] == pytest.approx(r.bpp)
    c = FM.parse(r.data)
    assert c.codec == "coolchic" and c.colour == ("gray" if channels == 1 else "rgb")
    # the smooth pattern is learnt well beyond a flat image even by this seconds-long fit
    ref = np.round(sig.pixels * 255)
    flat = np.full_like(ref, ref.mean())
    assert _psnr(img, ref) > _psnr(flat, ref) + 3


def test_coolchic_renders_at_any_size(coded):
    r = coded[3][1]
    big = decompress(r.data, size=(40, 30))
    assert big.shape == (30, 40, 3)
    # downsampled back to the stored grid's cell centres it is close to the stored-size decode
    small = decompress(r.data)
    assert abs(big.astype(float).mean() - small.astype(float).mean()) < 3


def test_latents_are_coded_coarse_to_fine_with_context_classes(coded):
    c = FM.parse(coded[1][1].data)
    latents = c.tensors[:3]
    assert [t.context for t in latents] == [0, 1, 1]
    assert [t.shape for t in latents] == [(6, 5), (12, 10), (24, 20)]
    assert [len(t.r_q) for t in latents] == [1, 8, 8]
    model, ys = decoder_model(c)
    assert [tuple(y.shape[-2:]) for y in ys] == [(24, 20), (12, 10), (6, 5)]


def test_larger_lambda_gives_a_smaller_file(coded):
    sig, r = coded[1]
    small = compress(sig, 0.2, settings=TINY)
    assert len(small.data) < len(r.data)


def test_rate_model_matches_the_training_estimate_order():
    """The differentiable rate of rounded latents is within a factor of the coded latents' bits."""
    torch.manual_seed(0)
    m = CoolChic(32, 32, 1, grids=3)
    with torch.no_grad():
        for y in m.latents:
            y.normal_(0, 2)
        m.rate_a.fill_(float(np.log(2.0)))
    ys = m.quantised(None, "round")
    est = float(m.rate_bits(ys).detach())
    from inrkit.codec.coolchic import _latent_records

    coded = 8 * sum(len(t.data) for t in _latent_records(m))
    assert 0.8 < coded / est < 1.2


def test_one_loop_objective_and_sampler():
    m = CoolChic(8, 8, 1, grids=2)
    t = torch.rand(8, 8, 1)
    batch = GridSampler(t, m, "noise")(torch.Generator().manual_seed(0))
    terms = RateDistortion(0.01, "noise", 64)(m, batch)
    assert set(terms) >= {"loss", "mse", "bpp", "psnr"}
    assert torch.isclose(terms["loss"], terms["mse"] + 0.01 * terms["bpp"])


def test_coin_round_trip():
    sig = pattern(16, 16, 3)
    r = compress(sig, 0.001, codec="coin", settings=CoinSettings(width=12, hidden_layers=2, steps=60))
    img = decompress(r.data)
    np.testing.assert_array_equal(img, r.image)
    assert FM.parse(r.data).codec == "coin"
    assert decompress(r.data, size=(8, 8)).shape == (8, 8, 3)
    assert r.info["bits"] in (2, 3, 4, 5, 6, 7, 8)


def test_bad_arguments():
    with pytest.raises(InrkitError, match="lambda"):
        compress(pattern(8, 8, 1), 0.0, settings=TINY)
    with pytest.raises(InrkitError, match="lambda"):
        compress(pattern(8, 8, 1), float("nan"), settings=TINY)
    with pytest.raises(InrkitError, match="quality"):
        quality_to_lambda(0)
    assert quality_to_lambda(100) < quality_to_lambda(50) < quality_to_lambda(1)
