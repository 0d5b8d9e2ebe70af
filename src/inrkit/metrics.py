"""Quality metrics, all on the signal's own value range."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor


def mse(pred: Tensor, target: Tensor) -> float:
    return float(torch.mean((pred.detach().double() - target.detach().double()) ** 2))


def psnr(pred: Tensor | np.ndarray, target: Tensor | np.ndarray, data_range: float = 2.0) -> float:
    """Peak signal-to-noise ratio, 10 log10(range^2 / MSE), in dB.

    ``data_range`` is 2 for values in [-1, 1] (inrkit's targets), 1 for pixels in [0, 1];
    the two give the same figure for the same image.
    """
    p = torch.as_tensor(pred).detach().double()
    t = torch.as_tensor(target).detach().double()
    err = float(torch.mean((p - t) ** 2))
    return float("inf") if err == 0 else 10.0 * math.log10(data_range**2 / err)


def psnr_from_mse(mse: Tensor, data_range: float = 2.0, floor: float = 1e-12) -> Tensor:
    """PSNR in dB of each mean squared error in ``mse (*)``: 10 log10(range^2 / max(MSE, floor)).

    The batched form of :func:`psnr` for many signals at once (functa's per-signal figures);
    the floor keeps a perfect fit finite.
    """
    return 10.0 * torch.log10(data_range ** 2 / mse.clamp_min(floor))


def ssim(pred: np.ndarray, target: np.ndarray, data_range: float = 1.0, gaussian_weights: bool = False) -> float:
    """Structural similarity (Wang et al. 2004, eq. 13) via scikit-image, on ``(H, W[, C])`` arrays.

    By default this is scikit-image's ``structural_similarity`` as it comes: a 7 x 7
    UNIFORM window (shrunk to the largest odd size that fits images under 7 pixels) and
    sample covariances, not the paper's 11 x 11 Gaussian window of sigma 1.5 (sec. III-C).
    Figures in docs/benchmarks.md use this default (for the 512 x 512 built-in camera
    image plus Gaussian noise of std 0.02 the two windows give 0.8273 and 0.8269).
    ``gaussian_weights=True`` gives the paper's window
    (sigma 1.5, truncated at 3.5 sigma: 11 x 11) with population covariances, which is
    how scikit-image's documentation says to match Wang et al.'s implementation; images
    smaller than 11 pixels then give NaN. Neither downsamples large images first, as the
    authors' MATLAB ``ssim.m`` recommends. K1 = 0.01 and K2 = 0.03 as in the paper;
    colour images average the per-channel SSIM. NaN when the window does not fit.
    """
    from skimage.metrics import structural_similarity

    pred = np.asarray(pred, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    if pred.ndim == 3 and pred.shape[2] == 1:
        pred, target = pred[..., 0], target[..., 0]
    h, w = target.shape[:2]
    channel_axis = 2 if pred.ndim == 3 else None
    if gaussian_weights:
        if min(h, w) < 11:
            return float("nan")  # the paper's 11 x 11 window does not fit
        return float(structural_similarity(pred, target, data_range=data_range, gaussian_weights=True,
                                           sigma=1.5, use_sample_covariance=False, channel_axis=channel_axis))
    win = min(7, h, w)
    if win < 3:
        return float("nan")  # SSIM's window does not fit an image this small
    win -= (win + 1) % 2  # odd window
    return float(structural_similarity(pred, target, data_range=data_range, win_size=win,
                                       channel_axis=channel_axis))
