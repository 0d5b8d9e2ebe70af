"""INSP operators: hand-set closed forms, invariances (Xu et al. 2022, Theorem 1), specs and checkpoints."""

import math

import numpy as np
import pytest
import torch

from inrkit import coords as C
from inrkit.config import FieldConfig, HashConfig, build_field
from inrkit.encodings.modules import Identity
from inrkit.errors import InrkitError
from inrkit.fields.base import NeuralField
from inrkit.fields.registry import build_field_from_spec
from inrkit.insp import INSPOperator, JetReadout, order_norms, scaled_jet
from inrkit.nn.mlp import MLP, Siren
from inrkit.train import checkpoint


def _waves(freqs, amps, phases):
    """f(x, y) = sum_i a_i sin(k_i . (x, y) + c_i) as a one-layer SIREN (w0 = 1): band-limited, closed form."""
    n = len(freqs)
    f = NeuralField(Identity(2), Siren(2, 1, width=n, hidden_layers=0, w0=1.0)).double()
    with torch.no_grad():
        f.network.layers[0].linear.weight.copy_(torch.tensor(freqs, dtype=torch.float64))
        f.network.layers[0].linear.bias.copy_(torch.tensor(phases, dtype=torch.float64))
        f.network.last.weight.copy_(torch.tensor([amps], dtype=torch.float64))
        f.network.last.bias.zero_()
    return f


def test_heat_series_equals_gaussian_filter_on_band_limited_field():
    """exp(s^2 Lap / 2) truncated at K = 4 against skimage.filters.gaussian (sigma 1 px, periodic)."""
    from skimage.filters import gaussian

    n = 64
    pi = math.pi  # frequencies pi * integer: periodic on [-1, 1], so 'wrap' has no border
    f = _waves([[pi, 0.0], [2 * pi, pi], [-pi, 3 * pi]], [0.6, 0.3, 0.2], [0.3, 1.1, -0.4])
    grid = C.grid((n, n), dtype=torch.float64)
    image = f(grid)[..., 0].detach().numpy()
    want = gaussian(image, sigma=1.0, mode="wrap", truncate=6.0, preserve_range=True)
    heat = JetReadout(2, 1, 4, C.pixel_step((n, n)), kind="heat", sigma=1.0).double()
    got = INSPOperator(f, heat)(grid)[..., 0].detach().numpy()
    assert np.linalg.norm(got - want) / np.linalg.norm(want) < 1e-3
    nothing = np.linalg.norm(image - want) / np.linalg.norm(want)
    assert nothing > 1e-2  # the blur does change the image: the test can tell


def test_gradient_magnitude_matches_sobel_on_a_ramp():
    from skimage.filters import sobel

    n = 32
    f = NeuralField(Identity(2), MLP(2, 1, width=4, hidden_layers=0, activation="tanh")).double()
    with torch.no_grad():  # tanh of a small slope: nearly linear, Phi = 0.1 x + 0.05 y to within 1e-4
        for m in f.network.layers:
            if isinstance(m, torch.nn.Linear):
                m.weight.zero_()
                m.bias.zero_()
        f.network.layers[0].weight[0] = torch.tensor([0.01, 0.005], dtype=torch.float64)
        f.network.layers[-1].weight[0, 0] = 10.0
    grid = C.grid((n, n), dtype=torch.float64)
    pixels = ((f(grid)[..., 0] + 1) / 2).detach().numpy()
    op = INSPOperator(f, JetReadout(2, 1, 1, C.pixel_step((n, n)), kind="gradient_magnitude").double())
    got = ((op(grid)[..., 0] + 1) / 2).detach().numpy()
    inner = (slice(2, -2), slice(2, -2))
    np.testing.assert_allclose(got[inner], sobel(pixels)[inner], rtol=1e-3)


def _random_siren(seed=0):
    g = torch.Generator().manual_seed(seed)
    return NeuralField(Identity(2), Siren(2, 1, width=16, hidden_layers=2, w0=6.0, generator=g)).double()


def test_shift_invariance():
    """Psi of Phi(. + t) equals Psi shifted by t (random Pi, K = 3)."""
    phi = _random_siren()
    t = torch.tensor([0.13, -0.27], dtype=torch.float64)
    shifted = _random_siren()
    with torch.no_grad():
        lin = shifted.network.layers[0].linear
        lin.bias += lin.weight @ t  # W (x + t) + b
    pi = JetReadout(2, 1, 3, (0.05, 0.05), generator=torch.Generator().manual_seed(1), width=32).double()
    x = torch.rand(100, 2, dtype=torch.float64) * 1.4 - 0.7
    a = INSPOperator(shifted, pi)(x)
    b = INSPOperator(phi, pi)(x + t)
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_rotation_invariance_needs_multiplicity_weights():
    """Pi(norms of each order) is rotation invariant with the weights k!/j! (Phi_xx^2 + 2 Phi_xy^2 + Phi_yy^2);
    summing the distinct partials once each is not (Xu et al. 2022, Theorem 1)."""
    K, d = 3, 2
    phi = _random_siren(2)
    th = 0.7
    R = torch.tensor([[math.cos(th), -math.sin(th)], [math.sin(th), math.cos(th)]], dtype=torch.float64)
    rotated = _random_siren(2)
    with torch.no_grad():
        lin = rotated.network.layers[0].linear
        lin.weight.copy_(lin.weight @ R)  # Phi_R(x) = Phi(R x)
    pi = MLP(K + 1, 1, width=16, hidden_layers=1, generator=torch.Generator().manual_seed(3)).double()
    x = torch.rand(100, 2, dtype=torch.float64) * 1.2 - 0.6
    step = (0.1, 0.1)
    Ja = scaled_jet(rotated, x, K, step)
    Jb = scaled_jet(phi, x @ R.T, K, step)
    torch.testing.assert_close(pi(order_norms(Ja, d, K)), pi(order_norms(Jb, d, K)), rtol=1e-5, atol=1e-5)
    flat_a, flat_b = order_norms(Ja, d, K, weighted=False), order_norms(Jb, d, K, weighted=False)
    torch.testing.assert_close(flat_a[:, :2], flat_b[:, :2])  # orders 0 and 1 need no weights
    assert ((flat_a[:, 2:] - flat_b[:, 2:]).abs() / flat_b[:, 2:]).max() > 0.05


def test_spec_round_trip_and_checkpoint(tmp_path):
    phi = build_field(FieldConfig(arch="siren", width=16, hidden_layers=1), 2, 1, 32,
                      generator=torch.Generator().manual_seed(0))
    ro = JetReadout(2, 1, 2, (2 / 32, 2 / 32), width=8, hidden_layers=1, generator=torch.Generator().manual_seed(1))
    ro.set_statistics(torch.randn(50, 6))
    op = INSPOperator(phi, ro)
    x = torch.rand(20, 2) * 2 - 1
    checkpoint.save(tmp_path / "op", op, {"note": "test"})
    again, meta = checkpoint.load(tmp_path / "op")
    assert isinstance(again, INSPOperator) and meta["note"] == "test"
    torch.testing.assert_close(again(x), op(x))
    assert type(build_field_from_spec(ro.spec())) is JetReadout


def test_operator_refuses_hash_grid_above_order_one():
    cfg = FieldConfig(arch="hash", width=8, hidden_layers=1, hash=HashConfig(levels=2, log2_table=8))
    base = build_field(cfg, 2, 1, 16, generator=torch.Generator().manual_seed(0))
    with pytest.raises(InrkitError, match="vanish almost everywhere"):
        INSPOperator(base, JetReadout(2, 1, 2, (0.1, 0.1), width=4, hidden_layers=0))


@pytest.mark.parametrize("bad", [{"order": 99}, {"kind": "magic"}, {"step": [0.1]}, {"width": -1}, {"extra": 1}])
def test_malformed_readout_spec_is_one_line(bad):
    spec = JetReadout(2, 1, 2, (0.1, 0.1), width=4, hidden_layers=0).spec()
    spec.update(bad)
    with pytest.raises(InrkitError, match="malformed"):
        build_field_from_spec(spec)


def test_paper_blur_is_an_affine_map_of_one_convolution_and_refuses_nothing_new():
    from scipy.signal import convolve2d

    from inrkit.insp import tasks as T

    rng = np.random.default_rng(0)
    img = rng.random((40, 40))
    out = T.paper_blur(img)
    assert out.min() == 0.0 and out.max() == 1.0  # each pass spans [0, 1]
    lin = convolve2d(img, T.paper_psf(), mode="same")
    inner = (slice(6, -6), slice(6, -6))  # away from the border (mirrored at every pass there)
    A = np.stack([lin[inner].ravel(), np.ones(lin[inner].size)], 1)
    coef, *_ = np.linalg.lstsq(A, out[inner].ravel(), rcond=None)
    assert np.abs(A @ coef - out[inner].ravel()).max() < 1e-9
    assert T.paper_psf().shape == (11, 11) and abs(T.paper_psf().sum() - 1) < 1e-12
    assert T.degrade(img, "deblur-paper", "x").shape == img.shape
    assert T.target(img, "deblur-paper") is not img and np.array_equal(T.target(img, "deblur-paper"), img)


def test_paper_deblur_baselines_report_an_oracle_contrast_that_cannot_lose():
    from inrkit.insp import tasks as T

    rng = np.random.default_rng(1)
    clean = np.clip(T.gaussian(rng.random((32, 32)), 1.0) * 3 - 1, 0, 1)
    blurred = T.degrade(clean, "deblur-paper", "x")
    out = T.classical("deblur-paper", blurred, dict(T.DEFAULT_PARAMS), clean=clean)
    for name in ("Wiener", "Richardson-Lucy"):
        plain = out[f"{name}, known PSF (tuned)"]
        oracle = out[f"{name}, known PSF + oracle contrast"]
        assert ((oracle - clean) ** 2).mean() <= ((plain - clean) ** 2).mean() + 1e-12
    assert not any("oracle" in k for k in T.classical("deblur-paper", blurred, dict(T.DEFAULT_PARAMS)))
