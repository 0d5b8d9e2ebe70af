"""The forward operators: ray integrals against scikit-image's radon, the masked DFT's adjoint."""

import numpy as np
import pytest
import torch

from inrkit.errors import InrkitError
from inrkit.ops.fourier import check_mask, masked_fft, masked_fft_adjoint, tv_reconstruction
from inrkit.rendering import radon as R
from inrkit.signals.kspace import MRIProblem, make_mask, radial_mask, random_mask
from inrkit.signals.tomography import phantom


@pytest.mark.parametrize("n", [32, 33])
def test_ray_integrals_equal_skimage_radon(n):
    """Tolerance: 1e-4 of the largest projection (float32 sums of n bilinear samples; measured 6e-7)."""
    from skimage.transform import radon

    img = phantom("shepp-logan", n)
    theta = np.array([0.0, 17.3, 45.0, 90.0, 123.4, 179.0])
    ref = radon(img, theta, circle=True, preserve_range=True)
    ours = R.sinogram(R.bilinear(torch.tensor(img)), n, torch.tensor(theta)).double().numpy()
    assert ours.shape == ref.shape
    assert np.abs(ours - ref).max() <= 1e-4 * np.abs(ref).max()


def test_ray_integrals_are_differentiable_and_jittered_samples_average_to_the_integral():
    n = 32
    img = torch.tensor(phantom("shepp-logan", n), dtype=torch.float32, requires_grad=True)
    fn = R.bilinear(img)
    angles, offsets = torch.tensor([0.3, 1.2]), torch.tensor([-3.0, 5.0])
    out = R.project(fn, n, angles, offsets, R.ray_samples(n, 2, jitter=False))
    out.sum().backward()
    assert img.grad is not None and img.grad.abs().sum() > 0
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        est = torch.stack([R.project(fn, n, angles, offsets, R.ray_samples(n, 2, g)) for _ in range(400)]).mean(0)
    assert torch.allclose(est, out.detach(), rtol=0.02, atol=0.05)


def test_masked_fourier_is_adjoint_consistent():
    g = torch.Generator().manual_seed(0)
    h, w = 24, 20
    mask = random_mask((h, w), 3.0, seed=1).double()
    x = torch.complex(torch.randn(h, w, generator=g, dtype=torch.float64),
                      torch.randn(h, w, generator=g, dtype=torch.float64))
    y = torch.complex(torch.randn(h, w, generator=g, dtype=torch.float64),
                      torch.randn(h, w, generator=g, dtype=torch.float64))
    lhs = torch.vdot(masked_fft(x, mask).flatten(), y.flatten())  # <A x, y>
    rhs = torch.vdot(x.flatten(), masked_fft_adjoint(y, mask).flatten())  # <x, A^H y>
    assert abs(lhs - rhs) < 1e-10 * abs(lhs)
    full = torch.ones(h, w, dtype=torch.float64)
    assert torch.allclose(masked_fft_adjoint(masked_fft(x, full), full), x)  # unitary


@pytest.mark.parametrize("acc", [4.0, 8.0])
def test_masks_reach_their_acceleration(acc):
    for m in (radial_mask((64, 64), acc), random_mask((64, 64), acc)):
        frac = float(m.mean())
        assert 0.8 / acc <= frac <= 1.3 / acc
        assert m[32, 32] == 1  # DC sampled


def test_tv_beats_zero_filled_on_the_phantom():
    from inrkit.metrics import psnr

    img = phantom("shepp-logan", 64)
    prob = MRIProblem.simulate(img, make_mask("random", (64, 64), 4.0))
    zf = prob.zero_filled()
    tv = tv_reconstruction(prob.kspace, prob.mask.double(), 0.01, 100).real.numpy()
    assert psnr(tv, img, 1.0) > psnr(zf, img, 1.0) + 3


def test_bad_masks_are_refused():
    with pytest.raises(InrkitError, match="must match"):
        check_mask(torch.ones(8, 9), (8, 8))
    with pytest.raises(InrkitError, match="0 and 1"):
        check_mask(torch.full((8, 8), 0.5), (8, 8))
    with pytest.raises(InrkitError, match="samples nothing"):
        check_mask(torch.zeros(8, 8), (8, 8))
