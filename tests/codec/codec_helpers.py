"""Small deterministic images and codec settings shared by the codec tests."""

from __future__ import annotations

import numpy as np

from inrkit.codec.coolchic import CoolChicSettings
from inrkit.signals import ImageSignal



TINY = CoolChicSettings(grids=3, hidden=(6, 6), steps=60, latent_lr=0.1, coarse_fraction=0.25, ste_fraction=0.2)
"""A seconds-long cool-chic fit for tests."""


def pattern(h: int = 16, w: int = 16, channels: int = 3) -> ImageSignal:
    """Smooth ramps plus a bright square: deterministic, no files needed."""
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    chans = [0.2 + 0.6 * x, 0.3 + 0.5 * y, 0.5 + 0.3 * np.sin(6 * x + 3 * y)][:channels]
    img = np.stack(chans, -1).astype(np.float32)
    img[h // 4:h // 2, w // 4:w // 2] = 0.9
    return ImageSignal(np.round(img * 255) / 255, name="pattern")
