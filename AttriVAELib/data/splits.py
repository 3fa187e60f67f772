"""Stratified train/validation/test split and minority oversampling (paper §3.3)."""

from __future__ import annotations

__all__ = ["Split", "oversample_minority", "stratified_folds", "stratified_split"]

from dataclasses import dataclass

import numpy as np

from ..errors import InvalidDatasetError


@dataclass(frozen=True)
class Split:
    """Subject indices of each part; disjoint and covering the cohort."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray

    def to_dict(self) -> dict[str, list[int]]:
        return {part: getattr(self, part).tolist() for part in ("train", "val", "test")}


def stratified_split(labels: np.ndarray, val_fraction: float, test_fraction: float, seed: int) -> Split:
    """Split indices so every part keeps the class ratio; each part gets at least one subject.

    Within each class the indices are shuffled with ``seed``, then cut by rounding the fractions.

    Raises:
        InvalidDatasetError: fewer than 3 subjects.
    """
    if len(labels) < 3:
        raise InvalidDatasetError(f"{len(labels)} subjects cannot be split into train/val/test; need at least 3")
    rng = np.random.default_rng(seed)
    parts: dict[str, list[int]] = {"train": [], "val": [], "test": []}
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        n_test = int(round(test_fraction * len(members)))
        n_val = int(round(val_fraction * len(members)))
        parts["test"] += members[:n_test].tolist()
        parts["val"] += members[n_test:n_test + n_val].tolist()
        parts["train"] += members[n_test + n_val:].tolist()
    for part in ("val", "test"):  # tiny cohorts: borrow one training subject so no part is empty
        if not parts[part]:
            parts[part].append(parts["train"].pop())
    return Split(*(np.sort(np.array(parts[p], dtype=np.int64)) for p in ("train", "val", "test")))


def oversample_minority(indices: np.ndarray, labels: np.ndarray, seed: int) -> np.ndarray:
    """Append random duplicates of minority-class subjects until the classes balance.

    Duplicates are drawn without replacement while the deficit allows (as the official code).

    ``labels`` are the labels of the whole cohort; returns indices into it (originals first)."""
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels[indices], return_counts=True)
    extra = [rng.choice(indices[labels[indices] == c], size=counts.max() - n, replace=counts.max() - n > n)
             for c, n in zip(classes, counts) if n < counts.max()]
    return np.concatenate([indices, *extra]) if extra else indices


def stratified_folds(labels: np.ndarray, folds: int, val_fraction: float, seed: int) -> list[Split]:
    """K stratified folds: fold i is the test part of split i; a stratified ``val_fraction`` of all
    subjects is drawn from the other folds for model selection, the rest trains.

    Raises:
        InvalidDatasetError: fewer subjects of a class than folds.
    """
    if folds < 2:
        raise InvalidDatasetError(f"cross-validation needs at least 2 folds, got {folds}")
    rng = np.random.default_rng(seed)
    assignment = np.empty(len(labels), dtype=np.int64)
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        if len(members) < folds:
            raise InvalidDatasetError(f"class {label} has {len(members)} subjects, fewer than {folds} folds; "
                                      f"use fewer --folds")
        assignment[members] = np.arange(len(members)) % folds
    splits = []
    for fold in range(folds):
        val = []
        for label in np.unique(labels):
            candidates = rng.permutation(np.flatnonzero((labels == label) & (assignment != fold)))
            val += candidates[:max(1, int(round(val_fraction * (labels == label).sum())))].tolist()
        in_val = np.isin(np.arange(len(labels)), val)
        splits.append(Split(np.flatnonzero((assignment != fold) & ~in_val), np.sort(np.array(val)),
                            np.flatnonzero(assignment == fold)))
    return splits
