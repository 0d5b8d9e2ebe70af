"""Bjontegaard deltas (Bjontegaard 2001, VCEG-M33), with piecewise cubic Hermite (pchip)
interpolation as in later VCEG/JVET practice (VCEG-AL22), over the overlapping range only.

- BD-rate: the mean difference of ``log10(rate)`` between two curves, each interpolated as a
  function of PSNR, over the PSNR interval both cover; ``100 (10^d - 1)`` percent. Negative:
  the test codec needs fewer bits for the same quality.
- BD-PSNR: the mean PSNR difference, each curve a function of ``log10(rate)``, over the rate
  interval both cover.

Never extrapolated: ``None`` (n/a) when a curve has fewer than :data:`MIN_POINTS` distinct
points or the PSNR overlap is below :data:`MIN_OVERLAP_DB` (the rate overlap below
:data:`MIN_OVERLAP_LOG10` for BD-PSNR).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

MIN_POINTS = 4
MIN_OVERLAP_DB = 0.5
MIN_OVERLAP_LOG10 = math.log10(1.1)  # the rates overlap by at least 10 %


def _curve(x: Sequence[float], y: Sequence[float]):
    """pchip of y(x) over distinct, sorted x (duplicates of x averaged), or None if too few points."""
    from scipy.interpolate import PchipInterpolator

    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    ux = np.unique(x)
    if len(ux) < MIN_POINTS:
        return None
    uy = np.array([y[x == v].mean() for v in ux])
    return PchipInterpolator(ux, uy, extrapolate=False)


def bd_rate(rate_ref, psnr_ref, rate_test, psnr_test) -> float | None:
    """Percent rate change of ``test`` against ``ref`` at equal PSNR, or None (n/a)."""
    a = _curve(psnr_ref, np.log10(rate_ref))
    b = _curve(psnr_test, np.log10(rate_test))
    if a is None or b is None:
        return None
    lo = max(a.x[0], b.x[0])
    hi = min(a.x[-1], b.x[-1])
    if hi - lo < MIN_OVERLAP_DB:
        return None
    d = (b.integrate(lo, hi) - a.integrate(lo, hi)) / (hi - lo)
    return float(100.0 * (10.0 ** d - 1.0))


def bd_psnr(rate_ref, psnr_ref, rate_test, psnr_test) -> float | None:
    """Mean PSNR gain in dB of ``test`` over ``ref`` at equal rate, or None (n/a)."""
    a = _curve(np.log10(rate_ref), psnr_ref)
    b = _curve(np.log10(rate_test), psnr_test)
    if a is None or b is None:
        return None
    lo = max(a.x[0], b.x[0])
    hi = min(a.x[-1], b.x[-1])
    if hi - lo < MIN_OVERLAP_LOG10:
        return None
    return float((b.integrate(lo, hi) - a.integrate(lo, hi)) / (hi - lo))


def psnr_at(rates, psnrs, bpp: float) -> float | None:
    """PSNR of a curve at rate ``bpp`` by pchip in log rate, or None outside its range."""
    from scipy.interpolate import PchipInterpolator

    r = np.log10(np.asarray(rates, dtype=np.float64))
    p = np.asarray(psnrs, dtype=np.float64)
    order = np.argsort(r)
    r, p = r[order], p[order]
    keep = np.concatenate([[True], np.diff(r) > 0])
    r, p = r[keep], p[keep]
    x = math.log10(bpp)
    if len(r) < 2 or not r[0] <= x <= r[-1]:
        return None
    return float(PchipInterpolator(r, p, extrapolate=False)(x))
