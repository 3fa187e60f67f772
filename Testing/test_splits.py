import numpy as np
import pytest

from AttriVAELib import InvalidDatasetError
from AttriVAELib.data.splits import oversample_minority, stratified_split


def test_split_is_disjoint_covering_stratified_and_seeded():
    labels = np.array([1] * 67 + [0] * 33)
    split = stratified_split(labels, 0.15, 0.15, seed=3)
    parts = [split.train, split.val, split.test]
    assert sorted(np.concatenate(parts).tolist()) == list(range(100))
    for part in parts:
        assert abs(labels[part].mean() - 0.67) < 0.1
    again = stratified_split(labels, 0.15, 0.15, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(parts, [again.train, again.val, again.test]))
    other = stratified_split(labels, 0.15, 0.15, seed=4)
    assert not np.array_equal(split.test, other.test)


def test_tiny_cohorts_still_get_every_part():
    split = stratified_split(np.array([0, 1, 1]), 0.15, 0.15, seed=0)
    assert len(split.train) and len(split.val) and len(split.test)


def test_too_few_subjects():
    with pytest.raises(InvalidDatasetError, match="at least 3"):
        stratified_split(np.array([0, 1]), 0.15, 0.15, seed=0)


def test_oversampling_balances_classes_with_existing_subjects():
    labels = np.array([1] * 47 + [0] * 30)
    indices = np.arange(77)
    balanced = oversample_minority(indices, labels, seed=0)
    assert np.bincount(labels[balanced]).tolist() == [47, 47]
    assert np.array_equal(balanced[:77], indices)
    extra = balanced[77:]
    assert len(set(extra.tolist())) == 17 and np.all(labels[extra] == 0)  # drawn without replacement


def test_oversampling_a_balanced_split_changes_nothing():
    labels = np.array([0, 1, 0, 1])
    assert np.array_equal(oversample_minority(np.arange(4), labels, seed=0), np.arange(4))
