"""``InverseConfig(nonneg=...)``: the field's output mapped onto [0, inf) before the forward operator
(attenuation and magnitude images are non-negative), for CT and MRI; stored as the network plus the map."""

import math

import numpy as np
import pytest
import torch

from inrkit.apps.inverse import NONNEG, SOFTPLUS_BETA, InverseConfig, NonNegative, reconstruct_ct, run_ct, run_mri
from inrkit.errors import InrkitError
from inrkit.signals.kspace import MRIProblem, load_mri_image, make_mask
from inrkit.signals.tomography import image_of, make_problem
from inrkit.train import checkpoint


class _Linear(torch.nn.Module):
    """A field whose output is its first coordinate: negative on half the square."""

    def forward(self, x):
        return x[:, :1]


@pytest.mark.parametrize("kind", NONNEG[1:])
def test_each_map_is_non_negative_and_pointwise(kind):
    x = torch.linspace(-1, 1, 101)[:, None].repeat(1, 2)
    y = NonNegative(_Linear(), kind)(x)
    assert y.shape == (101, 1)
    assert float(y.min()) >= 0.0
    assert float(y[-1, 0]) == pytest.approx(1.0, abs=1e-4)  # all three keep a positive output (softplus: ~1e-5 off)
    single = torch.cat([NonNegative(_Linear(), kind)(x[i:i + 1]) for i in range(101)])
    assert torch.equal(single, y)  # row i depends only on row i


def test_the_maps_values():
    x = torch.tensor([[-0.5, 0.0], [0.0, 0.0], [0.5, 0.0]])
    assert NonNegative(_Linear(), "relu")(x)[:, 0].tolist() == [0.0, 0.0, 0.5]
    assert NonNegative(_Linear(), "abs")(x)[:, 0].tolist() == [0.5, 0.0, 0.5]
    sp = NonNegative(_Linear(), "softplus")(x)[:, 0]
    assert float(sp[1]) == pytest.approx(math.log(2.0) / SOFTPLUS_BETA, rel=1e-6)
    assert float(sp[0]) == pytest.approx(math.log1p(math.exp(-0.5 * SOFTPLUS_BETA)) / SOFTPLUS_BETA, rel=1e-5)


def test_unknown_map_is_refused():
    with pytest.raises(InrkitError, match="unknown non-negative output 'sigmoid'"):
        InverseConfig(nonneg="sigmoid")
    with pytest.raises(InrkitError, match="unknown non-negative output"):
        NonNegative(_Linear(), "none")  # the wrapper is only for a real map
    assert InverseConfig().nonneg == "none"


def test_ct_fit_with_softplus_is_non_negative_and_its_checkpoint_names_the_map(tmp_path):
    problem = make_problem("shepp-logan", 6, 32)
    base = dict(width=32, features=32, sigma=1.5, steps=60, lr=1e-2)
    cfg = InverseConfig(**base, nonneg="softplus")
    field, rec, res, _ = reconstruct_ct(problem, cfg, rays=0, samples=16, device="cpu")
    assert res.finished and isinstance(field, NonNegative)
    x = torch.rand(4000, 2) * 2 - 1
    with torch.no_grad():
        assert float(field.field(x).min()) < 0.0  # the network itself goes negative somewhere ...
        assert float(field(x).min()) >= 0.0  # ... the field it makes does not
    assert rec.min() >= 0.0
    r = run_ct(problem, cfg, rays=0, samples=16, device="cpu", out=tmp_path / "run")
    assert "INR (ffn, softplus)" in r["methods"], r["methods"].keys()
    assert r["config"]["nonneg"] == "softplus"
    stored, meta = checkpoint.load(tmp_path / "run" / "model")
    assert meta["output"] == {"map": "softplus", "beta": SOFTPLUS_BETA}
    # the stored network, mapped as its metadata says, is the field that was fitted (same seed)
    again = image_of(lambda x: torch.nn.functional.softplus(stored(x), beta=meta["output"]["beta"]), 32)
    np.testing.assert_allclose(again, rec, atol=1e-5)


def test_mri_fit_takes_the_same_option():
    image, name = load_mri_image("shepp-logan", 32)
    problem = MRIProblem.simulate(image, make_mask("radial", image.shape, 4.0), name)
    r = run_mri(problem, InverseConfig(width=32, features=32, sigma=0.75, steps=40, lr=3e-3, nonneg="softplus"),
                tv_iterations=10, device="cpu")
    assert r["config"]["nonneg"] == "softplus"
    assert r["methods"]["INR (ffn, softplus)"]["psnr"] > 18.0  # it trained (measured 22.2 dB; zero-filled 22.7)
