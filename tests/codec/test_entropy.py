"""Range coding under integer discrete-Laplace tables: exact round trips, rate near the model's."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from inrkit.codec import entropy as E
from inrkit.errors import InrkitError


@pytest.mark.parametrize("r_q,lo,hi", [(0, -3, 5), (30000, -40, 17), (65535, -2, 2), (65000, -300, 300)])
def test_frequency_tables_are_exact_distributions(r_q, lo, hi):
    f = E.laplace_frequencies([r_q], lo, hi)
    assert f.shape == (1, hi - lo + 1)
    assert int(f.sum()) == E.TOTAL and f.min() >= 1
    mode = int(np.argmax(f[0])) + lo
    assert mode == 0 or (lo > 0 and mode == lo) or (hi < 0 and mode == hi)
    # symmetric where the range is: P(k) == P(-k) except the remainder that went to the mode
    for k in range(1, min(-lo, hi) + 1):
        assert f[0, k - lo] == f[0, -k - lo]


def test_frequency_tables_are_pinned():
    """The decoder's tables are part of the format: a change here must bump format.VERSION."""
    f = E.laplace_frequencies([0, 12345, 40000, 65535], -20, 20)
    assert hashlib.sha256(f.astype("<i8").tobytes()).hexdigest()[:16] == PINNED_TABLES


PINNED_TABLES = "adae2b22351e242d"


@pytest.mark.parametrize("classes", [False, True])
def test_round_trip_is_exact(classes):
    rng = np.random.default_rng(1)
    x = np.round(rng.laplace(0, 2.0, (37, 23))).astype(np.int64)
    lo, hi = int(x.min()), int(x.max())
    if classes:
        cls = rng.integers(0, 4, x.shape)
        r_q = [E.fit_decay(x[cls == k]) for k in range(4)]
    else:
        cls, r_q = None, [E.fit_decay(x)]
    data = E.encode(x, r_q, lo, hi, cls)
    assert len(data) % 4 == 0
    y = E.decode(data, x.size, r_q, lo, hi, cls)
    np.testing.assert_array_equal(y.reshape(x.shape), x)


def test_one_symbol_alphabet_costs_nothing():
    assert E.encode(np.full(10, 3), [0], 3, 3) == b""
    np.testing.assert_array_equal(E.decode(b"", 10, [0], 3, 3), np.full(10, 3))


def test_rate_within_one_percent_of_the_model_on_a_laplace_source():
    rng = np.random.default_rng(0)
    x = np.round(rng.laplace(0, 3.0, 100_000)).astype(np.int64)
    lo, hi = int(x.min()), int(x.max())
    r = E.refine_decay(x, lo, hi, E.fit_decay(x))
    model_bits = E.code_length_bits(x, E.laplace_frequencies([r], lo, hi), lo)
    coded_bits = 8 * len(E.encode(x, [r], lo, hi))
    assert abs(coded_bits - model_bits) / model_bits < 0.01
    # and the integer Laplace model is within 1 % of the empirical entropy of the source
    _, counts = np.unique(x, return_counts=True)
    empirical = -(counts * np.log2(counts / counts.sum())).sum()
    assert model_bits / empirical < 1.01


def test_fit_decay_recovers_the_scale():
    rng = np.random.default_rng(2)
    r_true = 0.7
    # the difference of two geometric variables is two-sided geometric: P(k) ~ r^|k|
    x = rng.geometric(1 - r_true, 200_000) - rng.geometric(1 - r_true, 200_000)
    assert abs(E.fit_decay(x) / 65536 - r_true) < 0.02


def test_context_classes_from_the_coarser_grid():
    coarse = np.array([[0, 0], [0, 5]])
    cls = E.classes_from_coarser(coarse, (4, 3))
    assert cls.shape == (4, 3) and cls.dtype == np.int64
    assert cls[0, 0] == 0  # parent 0 with neighbours 0 and 0: sum 0
    assert cls[3, 2] == np.searchsorted(E.CONTEXT_THRESHOLDS, 5 + 5 + 5 + 0 + 0, side="right")


def test_garbage_payload_never_escapes_as_another_exception():
    rng = np.random.default_rng(3)
    for _ in range(50):
        data = rng.integers(0, 256, 4 * int(rng.integers(0, 6)), dtype=np.uint8).tobytes()
        try:
            y = E.decode(data, 40, [20000], -5, 5)
        except InrkitError:
            continue
        assert y.min() >= -5 and y.max() <= 5
