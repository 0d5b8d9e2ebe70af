"""The total-variation prior of ``ct --tv`` / ``mri --tv``: its value on known images and fields, the
terms it reports, and refusals."""

import math

import pytest
import torch

from inrkit import coords as C
from inrkit.errors import InrkitError
from inrkit.objectives import MaskedFourier, RayIntegral
from inrkit.objectives.inverse import TV_EPS, total_variation
from inrkit.signals.kspace import MRIProblem, make_mask
from inrkit.signals.tomography import make_problem


def test_total_variation_of_a_constant_is_zero_and_of_a_ramp_its_slope():
    assert total_variation(torch.full((8, 8), 0.3)).item() == pytest.approx(math.sqrt(TV_EPS))
    ramp = torch.arange(10.0)[None, :].repeat(6, 1) * 0.05  # 0.05 per pixel along x
    # every pixel but the last column differs by 0.05 from its right neighbour; nothing along y
    expected = (9 / 10) * math.sqrt(0.05 ** 2 + TV_EPS) + (1 / 10) * math.sqrt(TV_EPS)
    assert total_variation(ramp).item() == pytest.approx(expected, rel=1e-5)
    diagonal = torch.arange(7.0)[:, None] * 0.03 + torch.arange(7.0)[None, :] * 0.04
    assert total_variation(diagonal[:-1, :-1].contiguous()).item() < 0.05 + 1e-6  # isotropic: |(0.04, 0.03)| = 0.05


class Linear(torch.nn.Module):
    def __init__(self, a: float, b: float):
        super().__init__()
        self.w = torch.nn.Parameter(torch.tensor([[a], [b]]))

    def forward(self, x):
        return x @ self.w


def test_ct_tv_term_is_the_fields_difference_over_one_pixel_and_is_reported_apart():
    n = 32
    problem = make_problem("shepp-logan", 6, n)
    batch = problem.sampler(16, tv_points=512)(torch.Generator().manual_seed(0))
    assert batch["tv_points"].shape == (512, 2) and batch["tv_points"].abs().max() <= 1.0
    field = Linear(0.3, 0.4)  # |grad| = 0.5 per unit; one pixel step is 2 / n units
    terms = RayIntegral(n, support=False, tv=0.01)(field, batch)
    assert terms["tv"].item() == pytest.approx(0.5 * 2 / n, rel=1e-4)
    assert terms["loss"].item() == pytest.approx(terms["data"].item() + 0.01 * terms["tv"].item(), rel=1e-6)
    assert set(RayIntegral(n)(field, problem.sampler(16)(None))) == {"loss"}  # no weight: no extra terms
    with pytest.raises(InrkitError, match="tv_points"):
        RayIntegral(n, tv=0.01)(field, problem.sampler(16)(None))


def test_mri_tv_term_equals_the_total_variation_of_the_fields_image():
    image = torch.rand(12, 16, generator=torch.Generator().manual_seed(1)).double().numpy()
    problem = MRIProblem.simulate(image, make_mask("radial", image.shape, 4.0, 0), "noise", 0.0, 0, {})
    batch = problem.sampler()(None)
    field = Linear(0.2, -0.7)
    terms = MaskedFourier(tv=0.5)(field, batch)
    img = field(C.grid((12, 16)).reshape(-1, 2))[:, 0].reshape(12, 16)
    assert terms["tv"].item() == pytest.approx(total_variation(img).item(), rel=1e-6)
    assert terms["loss"].item() == pytest.approx(terms["data"].item() + 0.5 * terms["tv"].item(), rel=1e-6)


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf")])
def test_a_weight_that_is_not_a_finite_non_negative_number_is_refused(bad):
    with pytest.raises(InrkitError, match="total-variation weight"):
        MaskedFourier(tv=bad)
    with pytest.raises(InrkitError, match="total-variation weight"):
        RayIntegral(32, tv=bad)
