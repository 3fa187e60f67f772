"""Metrics of disentanglement, interpretability, reconstruction and classification (paper §3.4).

Z is (N, L) latent codes (we use μ: deterministic), A is (N, K) attribute values, N subjects. Unless said
otherwise the definitions follow the AR-VAE reference evaluation, which Attri-VAE most likely used
(docs/interpretation.md, "Metrics"); each function names its variant. Written here because no maintained
library implements the AR-VAE set (interpretability and SCC exist nowhere) and the reference code fails on
numpy 2.
"""

from __future__ import annotations

__all__ = [
    "CEILING_SEED",
    "MI_SEED",
    "SUBSAMPLE_SUBJECTS",
    "DISENTANGLEMENT_METRICS",
    "accuracy",
    "dice",
    "disentanglement",
    "disentanglement_ceiling",
    "ground_truth_code",
    "interpretability",
    "mig_binned",
    "mig_ksg",
    "mmd",
    "modularity",
    "mutual_information_ksg",
    "precision_and_leakage",
    "roc_auc",
    "sap",
    "scc",
    "spearman",
    "subsampled_scores",
]

import numpy as np
from scipy import special, stats
from scipy.spatial import cKDTree

from .errors import InvalidConfigError

KSG_NEIGHBOURS = 3  # k of the Kraskov estimator, as scikit-learn's mutual_info_regression


def _check(z: np.ndarray, a: np.ndarray, minimum: int) -> tuple[np.ndarray, np.ndarray]:
    z, a = np.asarray(z, dtype=np.float64), np.asarray(a, dtype=np.float64)
    if a.ndim == 1:
        a = a[:, None]
    if z.ndim != 2 or len(z) != len(a):
        raise InvalidConfigError(f"codes {z.shape} and attributes {a.shape} must be (N, L) and (N, K) with one N")
    if len(z) < minimum:
        raise InvalidConfigError(f"this metric needs at least {minimum} samples, got {len(z)}")
    return z, a


MI_SEED = 0
"""Seed of the estimator's jitter: scikit-learn's ``random_state``, which the AR-VAE evaluation leaves unset."""


def _unit_scale(x: np.ndarray) -> np.ndarray:
    """Columns divided by their standard deviation (ddof 0; a constant column is left as it is), as
    scikit-learn's ``scale(x, with_mean=False)``."""
    std = x.std(axis=0)
    return x / np.where(std > 0, std, 1.0)


def _jitter(x: np.ndarray, rng: np.random.RandomState) -> np.ndarray:
    """x (N, F) plus scikit-learn's 1e-10 × max(1, mean |x|) Gaussian jitter per column (it breaks ties)."""
    return x + 1e-10 * np.maximum(1.0, np.mean(np.abs(x), axis=0)) * rng.standard_normal(size=x.shape)


def _ksg(x: np.ndarray, y: np.ndarray, neighbours: int) -> float:
    """Kraskov–Stögbauer–Grassberger estimator 1 of I(x; y) in nats for two samples (N,), max-norm
    neighbourhoods, negative estimates clipped to 0."""
    n = len(x)
    joint = np.column_stack([x, y])
    radius = cKDTree(joint).query(joint, k=neighbours + 1, p=np.inf)[0][:, -1]
    radius = np.nextafter(radius, 0)  # strictly inside the k-th neighbour's distance
    n_x = cKDTree(x[:, None]).query_ball_point(x[:, None], radius, p=np.inf, return_length=True)
    n_y = cKDTree(y[:, None]).query_ball_point(y[:, None], radius, p=np.inf, return_length=True)
    mi = (special.digamma(n) + special.digamma(neighbours)
          - np.mean(special.digamma(n_x)) - np.mean(special.digamma(n_y)))
    return max(0.0, float(mi))


def mutual_information_ksg(features: np.ndarray, target: np.ndarray, seed: int = MI_SEED,
                           neighbours: int = KSG_NEIGHBOURS) -> np.ndarray:
    """(F,) I(feature_f; target) in nats of continuous features (N, F) (or (N,)) with a continuous target
    (N,): scikit-learn's ``mutual_info_regression(features, target, random_state=seed)`` step by step (unit
    variance, the same jitter drawn in the same order, KSG with k = 3), which the AR-VAE evaluation calls.
    Written here so that scikit-learn is not a run-time dependency; the tests compare the two. Needs N > k + 1.
    """
    features = np.asarray(features, dtype=np.float64).reshape(len(features), -1)
    target = np.asarray(target, dtype=np.float64).ravel()
    if len(target) <= neighbours + 1:
        raise InvalidConfigError(f"KSG mutual information needs more than {neighbours + 1} samples, "
                                 f"got {len(target)}")
    rng = np.random.RandomState(seed)
    features = _jitter(_unit_scale(features), rng)
    target = _jitter(_unit_scale(target[:, None]), rng)[:, 0]
    return np.array([_ksg(column, target, neighbours) for column in features.T])


def _mi_matrix(z: np.ndarray, a: np.ndarray) -> np.ndarray:
    """(L, K) KSG mutual information of every code with every attribute."""
    return np.column_stack([mutual_information_ksg(z, a[:, j]) for j in range(a.shape[1])])


def _self_information(a: np.ndarray) -> np.ndarray:
    """(K,) I(a_j; a_j) by the same estimator (the AR-VAE evaluation's stand-in for the entropy)."""
    return np.array([mutual_information_ksg(a[:, j], a[:, j])[0] for j in range(a.shape[1])])


def interpretability(z: np.ndarray, a: np.ndarray) -> list[dict[str, float]]:
    """Per attribute j: the code k* with the highest KSG mutual information with it, and the R² of the
    1-D least-squares line a_j ≈ w·z_k* + b (AR-VAE's version of Adel et al. 2018). Needs N > 4."""
    z, a = _check(z, a, KSG_NEIGHBOURS + 2)
    mi = _mi_matrix(z, a)
    results = []
    for j in range(a.shape[1]):
        best = int(np.argmax(mi[:, j]))
        r = np.corrcoef(z[:, best], a[:, j])[0, 1] if np.ptp(z[:, best]) and np.ptp(a[:, j]) else 0.0
        results.append({"dim": best, "r2": float(r**2)})
    return results


def _gap_over_entropy(mi: np.ndarray, entropy: np.ndarray) -> float:
    top = np.sort(mi, axis=0)[::-1]  # (L, K), largest first
    gaps = (top[0] - top[1]) / np.where(entropy > 0, entropy, np.nan)
    return float(np.nanmean(gaps)) if np.isfinite(gaps).any() else 0.0


def mig_ksg(z: np.ndarray, a: np.ndarray) -> float:
    """Mutual information gap, AR-VAE's continuous variant: mean over attributes of (top-1 − top-2 KSG MI
    over codes) / I(a; a), where the KSG self-information I(a; a) (jitter included) stands in for the entropy.
    It grows like ln N, so values depend on N: state N beside it. Needs N > 4 and at least 2 codes."""
    z, a = _check(z, a, KSG_NEIGHBOURS + 2)
    if z.shape[1] < 2:
        raise InvalidConfigError("MIG needs at least 2 latent codes")
    return _gap_over_entropy(_mi_matrix(z, a), _self_information(a))


def _discretise(x: np.ndarray, bins: int) -> np.ndarray:
    """Equal-width bins over the column's own range (``np.histogram`` edges), as disentanglement_lib."""
    return np.digitize(x, np.histogram(x, bins)[1][:-1])


def _discrete_mi(x: np.ndarray, y: np.ndarray) -> float:
    """Mutual information (nats) of two integer label arrays from their contingency table."""
    _, x = np.unique(x, return_inverse=True)
    _, y = np.unique(y, return_inverse=True)
    joint = np.zeros((x.max() + 1, y.max() + 1))
    np.add.at(joint, (x, y), 1)
    joint /= joint.sum()
    outer = joint.sum(1, keepdims=True) @ joint.sum(0, keepdims=True)
    nonzero = joint > 0
    return float((joint[nonzero] * np.log(joint[nonzero] / outer[nonzero])).sum())


def mig_binned(z: np.ndarray, a: np.ndarray, bins: int = 20) -> float:
    """Mutual information gap, disentanglement_lib's discrete variant: codes and (continuous) attributes
    are cut into ``bins`` equal-width bins, MI and entropy are discrete (nats). Needs N ≥ 2, 2 codes."""
    z, a = _check(z, a, 2)
    if z.shape[1] < 2:
        raise InvalidConfigError("MIG needs at least 2 latent codes")
    codes = np.column_stack([_discretise(z[:, i], bins) for i in range(z.shape[1])])
    factors = np.column_stack([_discretise(a[:, j], bins) for j in range(a.shape[1])])
    mi = np.array([[_discrete_mi(codes[:, i], factors[:, j]) for j in range(a.shape[1])] for i in range(z.shape[1])])
    entropy = np.array([_discrete_mi(factors[:, j], factors[:, j]) for j in range(a.shape[1])])
    return _gap_over_entropy(mi, entropy)


def sap(z: np.ndarray, a: np.ndarray) -> float:
    """Separated attribute predictability (Kumar et al. 2018), continuous variant: S[k, j] = squared
    Pearson correlation of code k and attribute j (0 for a constant code); mean over j of the gap between
    the two largest S[:, j]. Needs N ≥ 3 and 2 codes."""
    z, a = _check(z, a, 3)
    if z.shape[1] < 2:
        raise InvalidConfigError("SAP needs at least 2 latent codes")
    scores = np.zeros((z.shape[1], a.shape[1]))
    for i in range(z.shape[1]):
        for j in range(a.shape[1]):
            if z[:, i].var() > 1e-12 and a[:, j].var() > 0:
                scores[i, j] = np.corrcoef(z[:, i], a[:, j])[0, 1] ** 2
    top = np.sort(scores, axis=0)[::-1]
    return float(np.mean(top[0] - top[1]))


def scc(z: np.ndarray, a: np.ndarray, alpha: float = 0.05) -> float:
    """Spearman correlation coefficient score: |ρ(z_k, a_j)| where its p-value ≤ ``alpha`` (else 0),
    maximum over codes, mean over attributes. Needs N ≥ 3."""
    z, a = _check(z, a, 3)
    best = []
    for j in range(a.shape[1]):
        scores = [0.0]
        for i in range(z.shape[1]):
            if np.ptp(z[:, i]) and np.ptp(a[:, j]):
                result = stats.spearmanr(z[:, i], a[:, j])
                scores.append(abs(result.statistic) if result.pvalue <= alpha else 0.0)
        best.append(max(scores))
    return float(np.mean(best))


def modularity(z: np.ndarray, a: np.ndarray) -> float:
    """Modularity (Ridgeway & Mozer 2018) on the KSG MI matrix M (L × K): per code, θ = max_j M², δ =
    (Σ_j M² − θ) / (θ (K − 1)), score 1 − δ (0 for a code with no information); mean over codes. Needs
    N > 4 and K ≥ 2."""
    z, a = _check(z, a, KSG_NEIGHBOURS + 2)
    if a.shape[1] < 2:
        raise InvalidConfigError("modularity needs at least 2 attributes")
    squared = _mi_matrix(z, a) ** 2
    theta = squared.max(axis=1)
    deviation = np.divide(squared.sum(axis=1) - theta, theta * (a.shape[1] - 1),
                          out=np.ones_like(theta), where=theta > 0)
    return float(np.mean(np.where(theta > 0, 1.0 - deviation, 0.0)))


def _adjusted_r2(design: np.ndarray, y: np.ndarray) -> float:
    """Adjusted R² of the least-squares fit y ≈ design @ w + b (design (N, p)); NaN when N ≤ p + 1."""
    n, p = design.shape
    if n <= p + 1 or y.var() == 0:
        return float("nan")
    with_intercept = np.column_stack([design, np.ones(n)])
    residual = y - with_intercept @ np.linalg.lstsq(with_intercept, y, rcond=None)[0]
    r2 = 1.0 - residual.var() / y.var()
    return float(1.0 - (1.0 - r2) * (n - 1) / (n - p - 1))


def _cubic(x: np.ndarray) -> np.ndarray:
    """(N,) → (N, 3): x, x², x³ of x standardised (well-conditioned powers)."""
    x = (x - x.mean()) / (x.std() or 1.0)
    return np.column_stack([x, x**2, x**3])


def precision_and_leakage(z: np.ndarray, a: np.ndarray) -> list[dict[str, float]]:
    """Per attribute k, regularised in dim k of codes (N, L) (attributes (N, K), K ≤ L):

    * ``precision``: adjusted R² of a_k from a cubic in z_k: how precisely its own dim knows the attribute;
    * ``leakage``: the adjusted R² that every other dim (linear) adds beyond that cubic: how much of the
      attribute lives outside its dim (0 for a disentangled code, whatever its precision).

    Precision is NaN when N ≤ 4, leakage when N ≤ L + 3 (the full fit has 3 + L − 1 terms). This separates
    what KSG MIG mixes: MIG also drops when the own dim is merely imprecise.
    """
    z, a = _check(z, a, 3)
    if a.shape[1] > z.shape[1]:
        raise InvalidConfigError(f"{a.shape[1]} attributes cannot each have a dim of a {z.shape[1]}-dim code")
    results = []
    for k in range(a.shape[1]):
        own = _cubic(z[:, k])
        precision = _adjusted_r2(own, a[:, k])
        full = _adjusted_r2(np.column_stack([own, np.delete(z, k, axis=1)]), a[:, k])
        results.append({"precision": precision, "leakage": full - precision})
    return results


SUBSAMPLE_SUBJECTS = 30
"""Subjects per subsample of :func:`subsampled_scores`: about the paper's validation set, which its MIG and SAP
were most likely computed on (KSG MIG depends on N)."""


def subsampled_scores(z: np.ndarray, a: np.ndarray, size: int = SUBSAMPLE_SUBJECTS, repeats: int = 20,
                      seed: int = 0) -> dict[str, dict[str, float]]:
    """KSG MIG and SAP of codes (N, L) against attributes (N, K) on ``repeats`` random subsamples of ``size``
    subjects (without replacement, seeded): ``{"mig_ksg": {"mean", "sd"}, "sap": {...}}`` (sd with ddof 1),
    the figures to set beside a paper computed on a small validation set. Needs N ≥ ``size`` > 4."""
    z, a = _check(z, a, max(size, KSG_NEIGHBOURS + 2))
    rng = np.random.default_rng(seed)
    scores: dict[str, list[float]] = {"mig_ksg": [], "sap": []}
    for _ in range(repeats):
        chosen = rng.choice(len(z), size, replace=False)
        scores["mig_ksg"].append(mig_ksg(z[chosen], a[chosen]))
        scores["sap"].append(sap(z[chosen], a[chosen]))
    return {name: {"mean": float(np.mean(values)), "sd": float(np.std(values, ddof=1)) if repeats > 1 else 0.0}
            for name, values in scores.items()}


DISENTANGLEMENT_METRICS = {"mig_ksg": "MIG (KSG, AR-VAE)", "mig_binned": "MIG (binned, disentanglement_lib)",
                           "sap": "SAP", "scc": "SCC", "modularity": "modularity"}
"""The scores of :func:`disentanglement` and their display names, in the order reports show them."""

CEILING_SEED = 0
"""Seed of the noise dims of :func:`ground_truth_code`: the ceiling of a set of subjects is one number."""


def disentanglement(z: np.ndarray, a: np.ndarray) -> dict[str, float]:
    """MIG (KSG and binned), SAP, SCC and modularity of codes (N, L) against attributes (N, K); modularity is
    NaN with one attribute. Needs N > 4 and L ≥ 2."""
    return {"mig_ksg": mig_ksg(z, a), "mig_binned": mig_binned(z, a), "sap": sap(z, a), "scc": scc(z, a),
            "modularity": modularity(z, a) if np.ndim(a) == 2 and np.shape(a)[1] > 1 else float("nan")}


def ground_truth_code(a: np.ndarray, latent_size: int, r2: np.ndarray | None = None,
                      seed: int = CEILING_SEED) -> np.ndarray:
    """(N, L) code of a perfect model: dims 0..K−1 are the attributes (N, K) standardised, the other L − K
    dims independent standard normal noise (seeded), as a model's unregularised dims that carry none of them.

    ``r2`` (K,) in [0, 1] blurs dim k with its own noise so that its squared correlation with attribute k is
    r2[k] in expectation: a model as precise as one whose dims have those R², and otherwise perfect."""
    a = np.asarray(a, dtype=np.float64).reshape(len(a), -1)
    if latent_size < a.shape[1]:
        raise InvalidConfigError(f"a code of {latent_size} dims cannot hold {a.shape[1]} attributes")
    spread = a.std(axis=0)
    standardised = (a - a.mean(axis=0)) / np.where(spread > 0, spread, 1.0)
    rng = np.random.default_rng(seed)
    free = rng.standard_normal((len(a), latent_size - a.shape[1]))
    if r2 is not None:
        r2 = np.clip(np.asarray(r2, dtype=np.float64), 0.0, 1.0)
        standardised = np.sqrt(r2) * standardised + np.sqrt(1.0 - r2) * rng.standard_normal(a.shape)
    return np.column_stack([standardised, free])


def disentanglement_ceiling(a: np.ndarray, latent_size: int, r2: np.ndarray | None = None) -> dict[str, float]:
    """:func:`disentanglement` of :func:`ground_truth_code` (with ``r2``: at that precision): what a model that
    encodes exactly the attributes, each in its own dim, scores on these subjects. A reference, not a bound:
    correlated attributes keep its MIG, SAP and modularity below 1, a code that separated them into independent
    parts could score higher, its noise dims' chance information lowers modularity, and the KSG MIG grows with
    N and with the latent size's noise dims."""
    return disentanglement(ground_truth_code(a, latent_size, r2), a)


def dice(prediction: np.ndarray, reference: np.ndarray) -> float:
    """Dice overlap of two boolean masks; 1 when both are empty."""
    prediction, reference = np.asarray(prediction, bool), np.asarray(reference, bool)
    total = prediction.sum() + reference.sum()
    return float(2 * (prediction & reference).sum() / total) if total else 1.0


def mmd(x: np.ndarray, y: np.ndarray, bandwidth: float | None = None) -> float:
    """Unbiased squared maximum mean discrepancy (Gretton et al. 2012) between two samples (N, D) and
    (M, D) with the Gaussian kernel exp(−‖u − v‖² / (2σ²)); σ defaults to the median pairwise distance of
    the pooled samples (median heuristic). Needs at least 2 samples on each side."""
    x, y = np.asarray(x, dtype=np.float64).reshape(len(x), -1), np.asarray(y, dtype=np.float64).reshape(len(y), -1)
    if len(x) < 2 or len(y) < 2:
        raise InvalidConfigError("MMD needs at least 2 samples on each side")
    pooled = np.concatenate([x, y])
    squared = np.maximum((pooled**2).sum(1)[:, None] + (pooled**2).sum(1)[None] - 2 * pooled @ pooled.T, 0.0)
    if bandwidth is None:
        bandwidth = float(np.sqrt(np.median(squared[np.triu_indices(len(pooled), 1)]))) or 1.0
    kernel = np.exp(-squared / (2 * bandwidth**2))
    n = len(x)
    kxx, kyy, kxy = kernel[:n, :n], kernel[n:, n:], kernel[:n, n:]
    m = len(y)
    return float((kxx.sum() - np.trace(kxx)) / (n * (n - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
                 - 2 * kxy.mean())


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
