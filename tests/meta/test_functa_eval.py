"""Functa's held-out evaluation subset: class-balanced and seeded, never a prefix of a split sorted by class."""

import numpy as np
import pytest

from inrkit.apps import functa as F
from inrkit.signals.collections import load_collection


def _sorted_labels(per_class=100, classes=10):
    return np.repeat(np.arange(classes), per_class)  # a test split sorted by class, as mnist's is


def test_subset_covers_every_class_equally():
    labels = _sorted_labels()
    idx = F.balanced_subset(labels, 500, seed=0)
    assert len(idx) == 500 and len(set(idx.tolist())) == 500
    assert np.bincount(labels[idx], minlength=10).tolist() == [50] * 10
    assert set(labels[:500].tolist()) == {0, 1, 2, 3, 4}  # what the first 500 held: half the classes


def test_subset_prefix_shows_several_classes_and_is_seeded():
    labels = _sorted_labels()
    idx = F.balanced_subset(labels, 100, seed=3)
    assert labels[idx[:8]].tolist() == list(range(8))  # round-robin: the report's examples row
    assert np.array_equal(idx, F.balanced_subset(labels, 100, seed=3))
    assert not np.array_equal(np.sort(idx), np.sort(F.balanced_subset(labels, 100, seed=4)))


def test_subset_uneven_sizes_small_classes_and_the_whole_split():
    labels = _sorted_labels()
    counts = np.bincount(labels[F.balanced_subset(labels, 23, seed=0)], minlength=10)
    assert counts.sum() == 23 and set(counts.tolist()) == {2, 3}
    skewed = np.array([0] * 3 + [1] * 50 + [2] * 50)
    idx = F.balanced_subset(skewed, 30, seed=0)
    counts = np.bincount(skewed[idx]).tolist()
    assert len(set(idx.tolist())) == 30 and counts[0] == 3 and sorted(counts[1:]) == [13, 14]  # all of class 0
    whole = F.balanced_subset(labels, 5000, seed=0)
    assert sorted(whole.tolist()) == list(range(1000))
    unknown = F.balanced_subset(np.full(40, -1), 10, seed=0)  # unlabelled folders: one class
    assert len(set(unknown.tolist())) == 10


@pytest.mark.parametrize("items", [20, 100_000])
def test_train_functa_scores_a_balanced_subset(items):
    digits = load_collection("digits")
    r = F.train_functa(digits, latent_dim=4, steps=2, batch_size=4, width=8, hidden_layers=1, device="cpu",
                       eval_items=items)
    _, labels = digits.split("test")
    sub = r["eval_subset"]
    assert set(sub["per_class"]) == {str(k) for k in range(10)}
    if items >= len(labels):
        assert r["eval_items"] == len(labels) and sub["protocol"] == "the whole test split"
    else:
        assert r["eval_items"] == 20 and set(sub["per_class"].values()) == {2}
        assert len(set(labels[sub["indices"][:8]].tolist())) == 8
