"""Field values <-> displayable pixels, in one place.

inrkit fits image-like signals as values in [-1, 1] (``pixels = (values + 1) / 2``,
the SIREN recipe); these helpers turn values or [0, 1] pixels into arrays to show or save.
"""

from __future__ import annotations

import numpy as np
from torch import Tensor


def values_to_pixels(values: Tensor | np.ndarray) -> np.ndarray:
    """Field values in [-1, 1] -> float pixels in [0, 1], clipped."""
    if isinstance(values, Tensor):
        values = values.detach().cpu().float().numpy()
    return np.clip((values + 1.0) * 0.5, 0.0, 1.0)


def to_uint8(pixels: np.ndarray) -> np.ndarray:
    """[0, 1] floats -> uint8, dropping a singleton channel axis (NaN shows as black)."""
    out = np.round(np.clip(np.nan_to_num(pixels, nan=0.0), 0, 1) * 255.0).astype(np.uint8)
    if out.ndim == 3 and out.shape[-1] == 1:
        out = out[..., 0]
    return out


def values_to_uint8(values: Tensor | np.ndarray) -> np.ndarray:
    """Field values in [-1, 1] -> uint8 pixels (singleton channel axis dropped)."""
    return to_uint8(values_to_pixels(values))
