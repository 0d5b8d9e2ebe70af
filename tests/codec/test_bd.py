"""Bjontegaard deltas against hand-computed cases."""

from __future__ import annotations

import math

import pytest

from inrkit.codec import bd

RATES = [0.1, 0.2, 0.4, 0.8, 1.6]
PSNRS = [25.0, 27.5, 30.5, 33.0, 36.0]


def test_same_curve_scaled_in_rate_gives_exactly_that_rate_change():
    # the test codec needs 20 % fewer bits at every PSNR: log10 rates differ by log10(0.8) everywhere
    assert bd.bd_rate(RATES, PSNRS, [0.8 * r for r in RATES], PSNRS) == pytest.approx(-20.0, abs=1e-9)
    assert bd.bd_rate(RATES, PSNRS, RATES, PSNRS) == pytest.approx(0.0, abs=1e-12)


def test_same_curve_shifted_in_psnr_gives_exactly_that_gain():
    assert bd.bd_psnr(RATES, PSNRS, RATES, [p + 1.0 for p in PSNRS]) == pytest.approx(1.0, abs=1e-12)


def test_linear_curves_by_hand():
    # ref: PSNR = 30 + 10 log10(R); test: PSNR = 31 + 10 log10(R) over an overlapping range.
    # As functions of PSNR, log10 R_test - log10 R_ref = -0.1 everywhere: BD-rate = 10^-0.1 - 1.
    r1 = [0.1, 0.2, 0.4, 0.8]
    r2 = [0.15, 0.3, 0.6, 1.2]
    p1 = [30 + 10 * math.log10(r) for r in r1]
    p2 = [31 + 10 * math.log10(r) for r in r2]
    assert bd.bd_rate(r1, p1, r2, p2) == pytest.approx(100 * (10 ** -0.1 - 1), abs=1e-9)
    assert bd.bd_psnr(r1, p1, r2, p2) == pytest.approx(1.0, abs=1e-9)


def test_not_available_without_enough_points_or_overlap():
    assert bd.bd_rate(RATES[:3], PSNRS[:3], RATES[:3], PSNRS[:3]) is None
    far = [p + 20 for p in PSNRS]  # no PSNR overlap
    assert bd.bd_rate(RATES, PSNRS, RATES, far) is None
    slight = [p + (36.0 - 25.0) - 0.3 for p in PSNRS]  # 0.3 dB of overlap: below 0.5 dB
    assert bd.bd_rate(RATES, PSNRS, RATES, slight) is None
    assert bd.bd_psnr(RATES, PSNRS, [r * 100 for r in RATES], PSNRS) is None


def test_psnr_at_never_extrapolates():
    assert bd.psnr_at(RATES, PSNRS, 0.4) == pytest.approx(30.5)
    assert bd.psnr_at(RATES, PSNRS, 0.05) is None
    assert bd.psnr_at(RATES, PSNRS, 2.0) is None
    assert 27.5 < bd.psnr_at(RATES, PSNRS, 0.3) < 30.5
