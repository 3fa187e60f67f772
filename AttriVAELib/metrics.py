"""Evaluation metrics used in training summaries (the full disentanglement set comes with evaluation)."""

from __future__ import annotations

__all__ = ["accuracy", "roc_auc", "spearman"]

import numpy as np
from scipy import stats


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve from probabilities over the whole set (Mann–Whitney U / n₀n₁; ties
    count ½). NaN when only one class is present."""
    labels = np.asarray(labels).astype(bool)
    positives, negatives = labels.sum(), (~labels).sum()
    if positives == 0 or negatives == 0:
        return float("nan")
    ranks = stats.rankdata(scores)
    return float((ranks[labels].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def accuracy(labels: np.ndarray, probabilities: np.ndarray, threshold: float = 0.5) -> float:
    """Share of subjects whose probability is on the right side of ``threshold``."""
    return float(np.mean((np.asarray(probabilities) >= threshold) == np.asarray(labels).astype(bool)))


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman rank correlation; NaN when either input is constant."""
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(stats.spearmanr(x, y).statistic)
