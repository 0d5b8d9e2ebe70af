"""metrics.ssim: scikit-image's default window, and the paper's Gaussian window on request."""

import math

import numpy as np
from skimage.metrics import structural_similarity

from inrkit.metrics import ssim


def test_default_is_the_uniform_7x7_window_and_gaussian_is_wang_et_al():
    rng = np.random.default_rng(0)
    a = rng.random((40, 48, 3))
    b = np.clip(a + 0.05 * rng.standard_normal(a.shape), 0, 1)
    assert ssim(a, b) == structural_similarity(a, b, data_range=1.0, win_size=7, channel_axis=2)
    paper = structural_similarity(a, b, data_range=1.0, gaussian_weights=True, sigma=1.5,
                                  use_sample_covariance=False, channel_axis=2)
    assert ssim(a, b, gaussian_weights=True) == paper and paper != ssim(a, b)
    assert ssim(a, a) == 1.0 and ssim(a, a, gaussian_weights=True) == 1.0
    assert math.isnan(ssim(a[:10, :10], b[:10, :10], gaussian_weights=True))  # 11x11 does not fit
    assert not math.isnan(ssim(a[:10, :10], b[:10, :10]))
