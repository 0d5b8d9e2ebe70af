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


def ssim(pred: np.ndarray, target: np.ndarray, data_range: float = 1.0) -> float:
    """Structural similarity (Wang et al. 2004) via scikit-image, on ``(H, W[, C])`` arrays."""
    from skimage.metrics import structural_similarity

    pred = np.asarray(pred, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    if pred.ndim == 3 and pred.shape[2] == 1:
        pred, target = pred[..., 0], target[..., 0]
    h, w = target.shape[:2]
    win = min(7, h, w)
    if win < 3:
        return float("nan")  # SSIM's window does not fit an image this small
    win -= (win + 1) % 2  # odd window
    return float(structural_similarity(pred, target, data_range=data_range, win_size=win,
                                       channel_axis=2 if pred.ndim == 3 else None))
