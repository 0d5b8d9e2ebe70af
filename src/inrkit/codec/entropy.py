"""Range coding of integer tensors under discrete Laplace models with exact integer tables.

The model of a symbol ``k`` in a tensor's alphabet ``[lo, hi]`` is the discrete Laplace
(two-sided geometric) distribution ``P(k) ~ r^|k|``, centred at 0, whose decay ``r`` is stored
as a 16-bit integer ``r_q = round(65536 r)``. The decoder rebuilds the frequency table from
``r_q`` with integers only (:func:`laplace_frequencies`): masses ``m_0 = 2^30``,
``m_{j+1} = floor(m_j r_q / 2^16)``, then frequencies that sum to exactly ``2^24`` with every
symbol of the alphabet at least 1. The range coder (``constriction``'s ``RangeEncoder`` /
``RangeDecoder`` with a ``Categorical`` model, Bamler 2022) receives these frequencies as
float64 ``f / 2^24``, which are exact dyadic numbers, so encoder and decoder hand it
bit-identical inputs on every platform. (Building the table from ``exp`` or a Laplace CDF in
floating point, or passing float32 probabilities, can differ in the last bits between
machines or libraries and desynchronise the range coder; the issue measured this.)

Why not ``constriction.stream.model.QuantizedLaplace``: it evaluates the CDF in floating
point inside the coder from float parameters, which ties the bitstream to that computation.
Integer tables cost one small loop per class and make the file format independent of it.

A *context model* splits a tensor's symbols into classes, each with its own ``r_q``: for a
latent grid, the class of each symbol is computed in integers from the already decoded coarser
grid (:func:`classes_from_coarser`), so the decoder knows every class before decoding the grid
(coarse to fine). Symbols are coded class by class, in raster order within a class.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import InrkitError

PRECISION = 24
"""Frequencies sum to 2^24 (constriction's default 24-bit precision for 32-bit words)."""
TOTAL = 1 << PRECISION
R_ONE = 1 << 16
M0 = 1 << 30

CONTEXT_THRESHOLDS = (1, 2, 3, 4, 6, 9, 13)
"""Class of a symbol from ``s``, the sum of |q| over its parent and the parent's 4 neighbours in
the next coarser grid: class j holds ``THRESHOLDS[j-1] <= s < THRESHOLDS[j]`` (8 classes)."""
N_CONTEXT_CLASSES = len(CONTEXT_THRESHOLDS) + 1


def _constriction():
    try:
        import constriction
    except ImportError:  # pragma: no cover - the codec extra is installed by the Makefile
        raise InrkitError("the codec needs the constriction package: pip install 'inrkit[codec]'") from None
    return constriction


def laplace_masses(r_q: np.ndarray, n: int) -> np.ndarray:
    """``(K, n)`` int64 masses ``m_j`` for ``j = 0..n-1`` of each decay ``r_q (K,)``, integers only."""
    r = np.asarray(r_q, dtype=np.int64)
    out = np.zeros((len(r), n), dtype=np.int64)
    m = np.full(len(r), M0, dtype=np.int64)
    for j in range(n):
        out[:, j] = m
        m = (m * r) >> 16  # m < 2^30, r < 2^16: no overflow
        if not m.any():
            break
    return out


def laplace_frequencies(r_q, lo: int, hi: int) -> np.ndarray:
    """``(K, hi - lo + 1)`` int64 frequencies, each row summing to ``2^24``, every entry >= 1.

    Row ``i`` is the discrete Laplace of decay ``r_q[i] / 65536`` over ``[lo, hi]``:
    ``f_k = 1 + floor(m_|k| (2^24 - n) / sum m)``, the remainder added to the most probable
    symbol (the first maximum). Deterministic integer arithmetic throughout.
    """
    r_q = np.atleast_1d(np.asarray(r_q, dtype=np.int64))
    n = hi - lo + 1
    if n < 1 or n > TOTAL // 2:
        raise InrkitError(f"symbol range [{lo}, {hi}] is too wide to code")
    reach = max(abs(lo), abs(hi)) + 1
    masses = laplace_masses(r_q, reach)  # (K, reach)
    idx = np.abs(np.arange(lo, hi + 1, dtype=np.int64))  # (n,)
    w = masses[:, idx]  # (K, n)
    tot = w.sum(axis=1, keepdims=True)  # (K, 1) <= 2^30 * 2^16 = 2^46
    freq = np.ones_like(w)
    # m <= 2^30 and (TOTAL - n) < 2^24: the product stays below 2^54; floor-divide by tot > 0
    freq += (w * (TOTAL - n)) // np.maximum(tot, 1)
    rest = TOTAL - freq.sum(axis=1)
    freq[np.arange(len(r_q)), np.argmax(w, axis=1)] += rest
    return freq


def code_length_bits(symbols: np.ndarray, freqs: np.ndarray, lo: int, classes: np.ndarray | None = None) -> float:
    """Bits the model assigns to ``symbols`` (the range coder's output is within a few words of it)."""
    s = np.asarray(symbols, dtype=np.int64).ravel() - lo
    if freqs.shape[1] == 1:
        return 0.0
    c = np.zeros_like(s) if classes is None else np.asarray(classes, dtype=np.int64).ravel()
    return float(-np.log2(freqs[c, s] / TOTAL).sum())


def fit_decay(symbols: np.ndarray) -> int:
    """``r_q`` of the maximum-likelihood discrete Laplace for ``symbols`` (centred at 0).

    For ``P(k) = (1 - r)/(1 + r) r^|k|``, ``E|k| = 2r / (1 - r^2)``; with ``m`` the mean of
    ``|k|``, ``r = (sqrt(1 + m^2) - 1) / m``. The encoder alone computes this (in floats); the
    decoder reads the rounded integer.
    """
    a = np.abs(np.asarray(symbols, dtype=np.float64))
    if a.size == 0:
        return 0
    m = float(a.mean())
    if m == 0:
        return 0
    r = (math.sqrt(1.0 + m * m) - 1.0) / m
    return int(min(R_ONE - 1, max(0, round(r * R_ONE))))


def refine_decay(symbols: np.ndarray, lo: int, hi: int, r_q: int, span: int = 3) -> int:
    """The ``r_q`` near the ML estimate with the shortest exact code length (integer tables round)."""
    best, best_bits = r_q, math.inf
    s = np.asarray(symbols, dtype=np.int64).ravel() - lo
    counts = np.bincount(s, minlength=hi - lo + 1)
    cands = sorted({min(R_ONE - 1, max(0, r_q + d * max(1, r_q // 256))) for d in range(-span, span + 1)})
    freqs = laplace_frequencies(np.array(cands), lo, hi)
    bits = -(counts[None, :] * np.log2(freqs / TOTAL)).sum(axis=1)
    i = int(np.argmin(bits))
    if bits[i] < best_bits:
        best = cands[i]
    return int(best)


def classes_from_coarser(coarser: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """``(H, W)`` int64 context class of each symbol of a grid of ``shape`` from the decoded
    ``coarser (h, w)`` grid (the next scale, about half the size): ``s`` = sum of |q| over the
    parent cell ``(i * h // H, j * w // W)`` and its 4 neighbours (edges clamped), bucketed by
    :data:`CONTEXT_THRESHOLDS`. Integers only."""
    H, W = shape
    c = np.abs(np.asarray(coarser, dtype=np.int64))
    h, w = c.shape
    pad = np.pad(c, 1, mode="edge")  # (h+2, w+2)
    s = pad[1:-1, 1:-1] + pad[:-2, 1:-1] + pad[2:, 1:-1] + pad[1:-1, :-2] + pad[1:-1, 2:]  # (h, w)
    rows = (np.arange(H) * h) // H
    cols = (np.arange(W) * w) // W
    parent = s[rows[:, None], cols[None, :]]  # (H, W)
    return np.searchsorted(np.array(CONTEXT_THRESHOLDS), parent, side="right").astype(np.int64)


def encode(symbols: np.ndarray, r_q, lo: int, hi: int, classes: np.ndarray | None = None) -> bytes:
    """Range-code integer ``symbols`` (any shape, raster order) in ``[lo, hi]``; class ``c`` of
    each symbol (``classes``, same shape, or all 0) uses decay ``r_q[c]``."""
    con = _constriction()
    s = np.asarray(symbols, dtype=np.int64).ravel()
    if s.size and (s.min() < lo or s.max() > hi):
        raise ValueError(f"symbols outside [{lo}, {hi}]")
    if lo == hi:  # a one-symbol alphabet costs nothing (and constriction refuses it)
        return b""
    c = np.zeros_like(s) if classes is None else np.asarray(classes, dtype=np.int64).ravel()
    freqs = laplace_frequencies(np.asarray(r_q), lo, hi)
    enc = con.stream.queue.RangeEncoder()
    for k in range(len(freqs)):
        part = s[c == k]
        if part.size:
            model = con.stream.model.Categorical(freqs[k].astype(np.float64) / TOTAL, perfect=False)
            enc.encode((part - lo).astype(np.int32), model)
    return enc.get_compressed().astype("<u4").tobytes()


def decode(data: bytes, n: int, r_q, lo: int, hi: int, classes: np.ndarray | None = None) -> np.ndarray:
    """Inverse of :func:`encode`: ``(n,)`` int64 symbols. A damaged payload raises
    :class:`InrkitError` (or decodes to symbols inside ``[lo, hi]``, never outside)."""
    con = _constriction()
    c = np.zeros(n, dtype=np.int64) if classes is None else np.asarray(classes, dtype=np.int64).ravel()
    if c.size != n:
        raise InrkitError("corrupt .inrk file: context classes do not match the tensor")
    if lo == hi:
        if data:
            raise InrkitError("corrupt .inrk file: payload for a one-symbol tensor")
        return np.full(n, lo, dtype=np.int64)
    freqs = laplace_frequencies(np.asarray(r_q), lo, hi)
    if c.size and (c.min() < 0 or c.max() >= len(freqs)):
        raise InrkitError("corrupt .inrk file: a context class has no model")
    words = np.frombuffer(data, dtype="<u4").astype(np.uint32)
    out = np.empty(n, dtype=np.int64)
    try:
        dec = con.stream.queue.RangeDecoder(words)
        for k in range(len(freqs)):
            where = np.nonzero(c == k)[0]
            if where.size:
                model = con.stream.model.Categorical(freqs[k].astype(np.float64) / TOTAL, perfect=False)
                out[where] = np.asarray(dec.decode(model, int(where.size)), dtype=np.int64) + lo
    except InrkitError:
        raise
    except Exception as exc:  # constriction reports damaged data as ValueError / AssertionError / ...
        raise InrkitError(f"corrupt .inrk file: the entropy-coded data cannot be decoded ({type(exc).__name__})") from None
    if n and (out.min() < lo or out.max() > hi):  # pragma: no cover - the categorical alphabet forbids it
        raise InrkitError("corrupt .inrk file: decoded symbols outside their range")
    return out
