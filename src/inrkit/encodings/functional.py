"""Encodings as pure functions: coordinates in, features out, no parameters owned.

Each function is pointwise: row i of the output depends only on row i of the input,
which is what lets one backward pass give every point's derivative (see ``inrkit.ops``).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def positional_encoding(coords: Tensor, num_frequencies: int, include_input: bool = True) -> Tensor:
    """NeRF positional encoding (Mildenhall et al. 2020, sec. 5.1, eq. 4).

    gamma(p) = (sin(2^0 pi p), cos(2^0 pi p), ..., sin(2^(L-1) pi p), cos(2^(L-1) pi p)),
    applied to every coordinate separately, optionally preceded by p itself (as the
    authors' code does).

    Shapes: ``coords (*, d)`` -> ``(*, d * (2 L + include_input))``.
    """
    freqs = (2.0 ** torch.arange(num_frequencies, dtype=coords.dtype, device=coords.device)) * math.pi
    scaled = coords[..., None, :] * freqs[:, None]  # (*, L, d)
    enc = torch.cat([torch.sin(scaled), torch.cos(scaled)], dim=-1)  # (*, L, 2d)
    enc = enc.flatten(-2)  # (*, 2 L d)
    if include_input:
        enc = torch.cat([coords, enc], dim=-1)
    return enc


def fourier_features(coords: Tensor, B: Tensor) -> Tensor:
    """Random Fourier features (Tancik et al. 2020, sec. 5, "Gaussian" mapping).

    gamma(v) = [cos(2 pi B v), sin(2 pi B v)] with ``B (m, d)``.

    Shapes: ``coords (*, d)`` -> ``(*, 2 m)``.
    """
    proj = 2.0 * math.pi * coords @ B.T  # (*, m)
    return torch.cat([torch.cos(proj), torch.sin(proj)], dim=-1)


def nyquist_frequencies(samples_per_axis: int) -> int:
    """Number of NeRF frequency bands up to the Nyquist rate of ``samples_per_axis`` samples on [-1, 1].

    The grid spacing is 2/N, so the Nyquist rate is N/4 cycles per unit; band k has
    2^k / 2 cycles per unit, giving floor(log2(N/2)) bands (at least 1). This is the rule
    Sitzmann et al. 2020 use for their ReLU+PE baseline.
    """
    return max(1, int(math.floor(math.log2(max(samples_per_axis, 2) / 2))))
