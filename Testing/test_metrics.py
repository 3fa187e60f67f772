import numpy as np
import pytest
from scipy.linalg import hadamard
from sklearn.feature_selection import mutual_info_regression
from sklearn.linear_model import LinearRegression
from sklearn.metrics import roc_auc_score

from AttriVAELib import InvalidConfigError, metrics


def codes(aligned: bool, n: int = 400, noise: float = 0.02, seed: int = 0):
    """Attributes (n, 4) and a 16-dim code whose dims 0-3 are the attributes (+ noise), optionally rotated."""
    rng = np.random.default_rng(seed)
    a = rng.uniform(size=(n, 4))
    z = rng.normal(size=(n, 16))
    z[:, :4] = a + noise * rng.normal(size=(n, 4))
    if not aligned:  # every code an equal mix of all four attributes (orthonormal Hadamard matrix)
        z[:, :4] = z[:, :4] @ (hadamard(4) / 2.0)
    return z, a


def test_ksg_is_scikit_learns_estimator_jitter_included():
    z, a = codes(True, n=300)
    for seed in (0, 7):
        np.testing.assert_allclose(metrics.mutual_information_ksg(z[:, :6], a[:, 0], seed=seed),
                                   mutual_info_regression(z[:, :6], a[:, 0], random_state=seed), rtol=0, atol=1e-12)
    tied = np.where(a[:30, 1] > 0.5, 0.0, np.round(a[:30, 1], 1))  # an infarct size: most subjects 0, ties
    np.testing.assert_allclose(metrics.mutual_information_ksg(tied, tied),
                               mutual_info_regression(tied[:, None], tied, random_state=metrics.MI_SEED),
                               rtol=0, atol=1e-12)


def test_mig_is_the_ar_vae_recipe_on_scikit_learn():
    z, a = codes(False, n=30, noise=0.2)
    a[:, 3] = np.where(a[:, 3] > 0.6, 0.0, a[:, 3])  # ties, where the jitter matters

    def recipe(j):
        top = np.sort(mutual_info_regression(z, a[:, j], random_state=0))[::-1]
        return (top[0] - top[1]) / mutual_info_regression(a[:, [j]], a[:, j], random_state=0)[0]

    assert metrics.mig_ksg(z, a) == pytest.approx(np.mean([recipe(j) for j in range(4)]), abs=1e-12)


def test_interpretability_matches_the_scikit_learn_recipe():
    z, a = codes(False, n=200, noise=0.2)
    ours = metrics.interpretability(z, a)
    for j in range(4):
        best = int(np.argmax(mutual_info_regression(z, a[:, j], random_state=0)))
        r2 = LinearRegression().fit(z[:, [best]], a[:, j]).score(z[:, [best]], a[:, j])
        assert ours[j]["dim"] == best
        assert ours[j]["r2"] == pytest.approx(r2, rel=1e-6)


def test_roc_auc_matches_scikit_learn_with_ties():
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 2, 60)
    scores = np.round(rng.uniform(size=60) + 0.3 * labels, 1)  # rounding makes ties
    assert metrics.roc_auc(labels, scores) == pytest.approx(roc_auc_score(labels, scores))
    assert np.isnan(metrics.roc_auc(np.ones(5), np.arange(5)))


@pytest.mark.parametrize(("name", "aligned_at_least", "margin"), [
    ("interpretability", 0.99, 0.2), ("sap", 0.95, 0.2), ("scc", 0.99, 0.1),
    ("mig_ksg", 0.3, 0.2), ("mig_binned", 0.3, 0.2), ("modularity", 0.6, 0.1),
])
def test_axis_aligned_codes_score_high_and_rotated_codes_clearly_lower(name, aligned_at_least, margin):
    def score(z, a):
        value = getattr(metrics, name)(z, a)
        return float(np.mean([entry["r2"] for entry in value])) if name == "interpretability" else value

    aligned, rotated = score(*codes(True)), score(*codes(False))
    assert aligned >= aligned_at_least
    assert rotated <= aligned - margin


def test_scc_ignores_insignificant_correlations():
    rng = np.random.default_rng(0)
    assert metrics.scc(rng.normal(size=(8, 2)), rng.normal(size=(8, 1))) <= 0.8
    z = np.arange(10.0)[:, None]
    assert metrics.scc(z, z**3) == pytest.approx(1.0)


def test_sap_of_a_perfect_single_code():
    z = np.column_stack([np.arange(10.0), np.zeros(10)])
    assert metrics.sap(z, np.arange(10.0)) == pytest.approx(1.0)


def test_dice():
    a = np.array([1, 1, 0, 0], bool)
    assert metrics.dice(a, np.array([1, 0, 1, 0], bool)) == pytest.approx(0.5)
    assert metrics.dice(np.zeros(3, bool), np.zeros(3, bool)) == 1.0


def test_mmd_by_hand_and_by_distribution():
    x, y = np.array([[0.0], [1.0]]), np.array([[0.0], [2.0]])
    k = lambda d: np.exp(-(d**2) / 2)  # noqa: E731 (bandwidth 1)
    expected = (2 * k(1)) / 2 + (2 * k(2)) / 2 - 2 * (k(0) + k(2) + k(1) + k(1)) / 4
    assert metrics.mmd(x, y, bandwidth=1.0) == pytest.approx(expected)
    rng = np.random.default_rng(0)
    same = metrics.mmd(rng.normal(size=(100, 5)), rng.normal(size=(100, 5)))
    shifted = metrics.mmd(rng.normal(size=(100, 5)), rng.normal(1.0, size=(100, 5)))
    assert abs(same) < 0.02 < shifted


@pytest.mark.parametrize("name", ["interpretability", "mig_ksg", "modularity"])
def test_too_few_samples_for_ksg(name):
    z, a = codes(True, n=4)
    with pytest.raises(InvalidConfigError, match="at least 5 samples"):
        getattr(metrics, name)(z, a)


def test_mismatched_lengths():
    with pytest.raises(InvalidConfigError, match="one N"):
        metrics.sap(np.zeros((5, 2)), np.zeros((4, 1)))


def test_accuracy_and_spearman():
    assert metrics.accuracy(np.array([1, 0, 1, 0]), np.array([0.9, 0.4, 0.3, 0.5])) == 0.5
    assert metrics.spearman(np.arange(5.0), np.arange(5.0) ** 3) == pytest.approx(1.0)
    assert np.isnan(metrics.spearman(np.ones(5), np.arange(5.0)))


def test_ground_truth_code_is_the_standardised_attributes_then_noise():
    rng = np.random.default_rng(0)
    a = rng.normal(5.0, 3.0, size=(50, 2))
    code = metrics.ground_truth_code(a, 6)
    assert code.shape == (50, 6)
    np.testing.assert_allclose(code[:, :2], (a - a.mean(0)) / a.std(0))
    np.testing.assert_array_equal(code, metrics.ground_truth_code(a, 6))  # seeded: one ceiling per subject set
    with pytest.raises(InvalidConfigError, match="cannot hold 2 attributes"):
        metrics.ground_truth_code(a, 1)
    blurred = metrics.ground_truth_code(rng.normal(size=(20000, 2)), 4, r2=np.array([0.9, 0.5]))
    np.testing.assert_array_equal(blurred[:, 2:], metrics.ground_truth_code(np.zeros((20000, 2)), 4)[:, 2:])
    assert np.corrcoef(blurred.T)[0, 1] == pytest.approx(0.0, abs=0.03)  # blurred dims stay independent


def test_ceiling_is_perfect_for_independent_attributes_and_lower_for_correlated_ones():
    rng = np.random.default_rng(1)
    independent = rng.normal(size=(200, 3))
    ceiling = metrics.disentanglement_ceiling(independent, 10)
    assert ceiling["scc"] == pytest.approx(1.0)
    assert ceiling["sap"] > 0.95 and ceiling["mig_ksg"] > 0.8 and ceiling["modularity"] > 0.8
    # a second attribute that is nearly the first: its own dim and the first's carry the same information
    first = independent[:, 0]
    correlated = np.column_stack([first, first + 0.05 * rng.normal(size=200), independent[:, 2]])
    lower = metrics.disentanglement_ceiling(correlated, 10)
    assert lower["scc"] == pytest.approx(1.0)
    assert lower["sap"] < 0.7 and lower["mig_ksg"] < ceiling["mig_ksg"] - 0.3


def test_ceiling_at_a_precision_blurs_each_dim_to_its_r2():
    rng = np.random.default_rng(3)
    a = rng.normal(size=(5000, 2))
    code = metrics.ground_truth_code(a, 5, r2=np.array([0.81, 0.36]))
    assert np.corrcoef(code[:, 0], a[:, 0])[0, 1] ** 2 == pytest.approx(0.81, abs=0.02)
    assert np.corrcoef(code[:, 1], a[:, 1])[0, 1] ** 2 == pytest.approx(0.36, abs=0.03)
    assert metrics.disentanglement_ceiling(a[:300], 5, r2=np.array([0.81, 0.36]))["sap"] < \
        metrics.disentanglement_ceiling(a[:300], 5)["sap"]


def test_a_model_code_scores_no_higher_than_the_ceiling():
    rng = np.random.default_rng(2)
    a = rng.normal(size=(150, 3))
    noisy = np.column_stack([a + 0.3 * rng.normal(size=a.shape), rng.normal(size=(150, 5))])
    scores, ceiling = metrics.disentanglement(noisy, a), metrics.disentanglement_ceiling(a, 8)
    assert set(scores) == set(metrics.DISENTANGLEMENT_METRICS) == set(ceiling)
    assert all(scores[key] <= ceiling[key] + 1e-9 for key in ("mig_ksg", "sap", "scc"))


def test_the_ceiling_is_a_reference_that_a_code_separating_correlated_attributes_can_exceed():
    rng = np.random.default_rng(4)
    first = rng.normal(size=300)
    a = np.column_stack([first, 0.95 * first + np.sqrt(1 - 0.95**2) * rng.normal(size=300)])
    residual = a[:, 1] - np.polyval(np.polyfit(a[:, 0], a[:, 1], 1), a[:, 0])  # what a1 does not explain
    separating = np.column_stack([a[:, 0], residual, rng.normal(size=(300, 4))])
    assert metrics.sap(separating, a) > metrics.disentanglement_ceiling(a, 6)["sap"] + 0.3


def test_precision_and_leakage_separate_an_imprecise_dim_from_a_leaking_code():
    rng = np.random.default_rng(5)
    a = rng.normal(size=(2000, 2))
    clean = rng.normal(size=(2000, 6))
    clean[:, :2] = a + rng.normal(size=(2000, 2))  # imprecise (R² 0.5), but nothing elsewhere
    scores = metrics.precision_and_leakage(clean, a)
    assert [s["precision"] for s in scores] == pytest.approx([0.5, 0.5], abs=0.04)
    assert [s["leakage"] for s in scores] == pytest.approx([0.0, 0.0], abs=0.01)
    leaking = clean.copy()
    leaking[:, 0] = rng.normal(size=2000)  # attribute 0's own dim knows nothing...
    leaking[:, 4] = a[:, 0] + 0.75 * rng.normal(size=2000)  # ...a free dim holds it with R² 0.64
    first = metrics.precision_and_leakage(leaking, a)[0]
    assert first["precision"] == pytest.approx(0.0, abs=0.01) and first["leakage"] == pytest.approx(0.64, abs=0.03)
    few = metrics.precision_and_leakage(clean[:8], a[:8])[0]  # 8 subjects: a cubic fits, 3 + 5 terms do not
    assert np.isfinite(few["precision"]) and np.isnan(few["leakage"])


def test_subsampled_scores_are_seeded_means_over_small_subsets():
    z, a = codes(True, n=120)
    scores = metrics.subsampled_scores(z, a, size=30, repeats=5, seed=1)
    assert scores == metrics.subsampled_scores(z, a, size=30, repeats=5, seed=1)
    rng = np.random.default_rng(1)
    subsets = [rng.choice(120, 30, replace=False) for _ in range(5)]
    migs = [metrics.mig_ksg(z[s], a[s]) for s in subsets]
    assert scores["mig_ksg"]["mean"] == pytest.approx(np.mean(migs))
    assert scores["mig_ksg"]["sd"] == pytest.approx(np.std(migs, ddof=1))
    assert scores["sap"]["mean"] == pytest.approx(np.mean([metrics.sap(z[s], a[s]) for s in subsets]))
    with pytest.raises(InvalidConfigError):
        metrics.subsampled_scores(z[:20], a[:20], size=30)
