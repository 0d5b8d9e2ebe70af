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
    """Number L of NeRF frequency bands for ``samples_per_axis`` = N samples on [-1, 1]:

        L = max(1, floor(log2(N / 2))),   e.g. N = 64 -> 5, 256 -> 7, 512 -> 8.

    Band k of :func:`positional_encoding` is sin(2^k pi x), which has 2^(k-1) cycles per
    unit; samples 2/N apart have a Nyquist rate of N/4 cycles per unit. L is the number
    of bands k = 0, 1, ... with 2^k <= N/4, so the top band (k = L - 1) has at most N/8
    cycles per unit: half the Nyquist rate, never aliased.

    This is ONE BAND MORE than the rule of SIREN's ReLU+PE baseline (Sitzmann et al.
    2020): ``PosEncodingNeRF.get_num_frequencies_nyquist`` in the authors' ``modules.py``
    (github.com/vsitzmann/siren) returns floor(log2(nyquist_rate)) = floor(log2(N/4)),
    which is the index of that top band used as the count, so its top band has at most
    N/16 cycles per unit. For N >= 4, ``nyquist_frequencies(N) ==
    get_num_frequencies_nyquist(N) + 1`` always (for N < 4 SIREN's count is negative).
    inrkit keeps its count: the ReLU+PE figures in docs/benchmarks.md were measured with
    it, and the extra band still lies within half the Nyquist rate. Pass
    ``num_frequencies = nyquist_frequencies(N) - 1`` to reproduce SIREN's baseline exactly.
    """
    return max(1, int(math.floor(math.log2(max(samples_per_axis, 2) / 2))))
