"""The MRI data-consistency step: the result agrees with the measured k-space exactly and keeps the
reconstruction's estimate of the frequencies that were not measured; noise-free, it never moves away
from the truth (the error on the sampled frequencies goes to zero, the rest is unchanged)."""

import numpy as np
import torch

from inrkit.ops.fourier import data_consistent, masked_fft, masked_fft_adjoint
from inrkit.signals.kspace import MRIProblem, make_mask
from inrkit.signals.tomography import phantom


def _problem(kind="radial", acc=4.0):
    img = phantom("shepp-logan", 64)
    return img, MRIProblem.simulate(img, make_mask(kind, img.shape, acc, 0))


def test_the_measured_frequencies_are_the_data_and_the_others_the_estimate():
    img, p = _problem()
    m = p.mask.double()
    x = torch.as_tensor(np.random.default_rng(0).normal(size=img.shape))
    dc = data_consistent(x, p.kspace, m)
    assert torch.allclose(masked_fft(dc, m), p.kspace, atol=1e-12)  # A(dc) = y
    k = torch.fft.fftshift(torch.fft.fft2(dc, norm="ortho"))
    kx = torch.fft.fftshift(torch.fft.fft2(x, norm="ortho"))
    assert torch.allclose(k * (1 - m), kx * (1 - m), atol=1e-12)  # the estimate kept off the mask
    truth = torch.as_tensor(img)
    assert torch.allclose(data_consistent(truth, p.kspace, m).real, truth, atol=1e-12)
    zf = masked_fft_adjoint(p.kspace, m)  # complex A^H y: nothing off the mask, so nothing to change
    assert torch.allclose(data_consistent(zf, p.kspace, m), zf, atol=1e-12)


def test_it_never_moves_a_reconstruction_away_from_the_truth():
    for kind, acc in (("radial", 4.0), ("random", 8.0)):
        img, p = _problem(kind, acc)
        truth = torch.as_tensor(img)
        for s in range(3):
            x = truth + 0.1 * torch.as_tensor(np.random.default_rng(s).normal(size=img.shape))
            dc = data_consistent(x, p.kspace, p.mask.double())
            before, after = float((x - truth).norm()), float((dc - truth).norm())
            assert after < before  # the sampled share of the error (about 1/acc of it) is gone
            assert after > 0.5 * before  # and only that share: the unsampled error stays
