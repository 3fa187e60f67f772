"""Calibrated intervals: the conformal quantile on hand-made residuals, coverage on a stand-in with known noise,
the card round trip, and every place that shows an interval saying whether it is calibrated."""

import dataclasses
import json
import math

import numpy as np
import pytest
import torch

from AttriVAELib.files import to_json
from AttriVAELib.interpretation.codes import attribute_estimates, interval_coverage
from AttriVAELib.modelfile.calibration import calibrate_card, expected_coverage, measure_line, nonconformity_scores
from AttriVAELib.modelfile.card import AttributeCard, IntervalCalibration, ModelCard

LINE = AttributeCard("lv_volume_ml", 0, "mL", mean=100.0, std=20.0, minimum=50.0, maximum=150.0, latent_slope=0.5,
                     latent_intercept=-50.0)  # μ = 0.5·v − 50: 100 mL ↔ 0


def test_the_conformal_half_width_is_the_rank_ceil_n_plus_1_times_level_score():
    calibration = IntervalCalibration("absolute", tuple(float(v) for v in range(1, 20)))  # scores 1..19
    assert calibration.half_width(0.95) == 19.0  # ⌈20 · 0.95⌉ = 19th of 19
    assert calibration.half_width(0.90) == 18.0  # ⌈18⌉ = 18th
    assert calibration.half_width(0.50) == 10.0  # ⌈10⌉ = 10th
    assert math.isinf(IntervalCalibration("absolute", (1.0, 2.0, 3.0)).half_width(0.95))  # needs 19 scores


def test_scores_are_the_residuals_of_the_encoded_value_absolute_or_in_posterior_sigmas():
    measured = np.array([100.0, 110.0, np.nan, 80.0])
    mu = np.array([0.0, 0.0, 3.0, 0.0])  # all encode 100 mL
    sigma = np.array([1.0, 2.5, 1.0, 5.0])  # 2, 5, 2 and 10 mL in attribute units
    assert nonconformity_scores(LINE, measured, mu, sigma).tolist() == [0.0, 10.0, 20.0]  # NaN left out
    assert nonconformity_scores(LINE, measured, mu, sigma, "scaled").tolist() == [0.0, 2.0, 2.0]


def test_a_calibrated_interval_covers_new_subjects_of_known_noise_at_its_level():
    rng = np.random.default_rng(0)
    true = rng.uniform(50, 150, 2400)
    mu = LINE.to_latent(true + rng.normal(0, 8.0, true.size))  # the encoder reads the attribute ± 8 mL
    sigma = np.full(true.size, 0.1)  # a posterior far narrower than the error, as the shipped model's
    calibration = IntervalCalibration("absolute", tuple(nonconformity_scores(LINE, true[:400], mu[:400], sigma)))
    assert calibration.half_width(0.95) == pytest.approx(1.96 * 8.0, rel=0.1)
    encoded = LINE.to_attribute(mu[400:])
    half = calibration.half_width(0.95)
    coverage, count = interval_coverage(true[400:], encoded - half, encoded + half)
    assert count == 2000 and coverage == pytest.approx(0.95, abs=0.02)
    posterior, _ = interval_coverage(true[400:], encoded - 1.96 * 0.2, encoded + 1.96 * 0.2)  # σ = 0.2 mL
    assert posterior < 0.1  # what an uncalibrated interval holds


def test_the_expected_coverage_range_is_the_beta_law_of_split_conformal():
    low, high = expected_coverage(60, 0.95)
    assert 0.89 < low < 0.91 and 0.98 < high < 0.99
    assert expected_coverage(10, 0.95) == (1.0, 1.0)  # too few subjects: an infinite interval


def test_the_decoded_measure_line_matches_mean_and_spread():
    cube = np.array([1.0, 2.0, 3.0, 4.0, np.nan])
    label = np.array([12.0, 14.0, 16.0, 18.0, 7.0])
    line = measure_line(cube, label)
    assert (line.slope, line.intercept, line.spearman, line.subjects) == pytest.approx((2.0, 10.0, 1.0, 4))
    assert line(np.array([2.5])) == pytest.approx([15.0])
    assert measure_line(np.array([1.0, 1.0, 1.0]), np.array([1.0, 2.0, 3.0])) is None


def test_calibration_travels_in_the_card(tiny_bundle):
    card = tiny_bundle.card
    assert all(entry.interval is not None for entry in card.attributes)  # the test bundle is calibrated
    again = ModelCard.from_dict(json.loads(to_json(card.to_dict())))  # as the model file stores it
    assert again.attributes == card.attributes


def test_estimates_use_the_calibration_and_say_when_there_is_none(tiny_bundle):
    mu, sigma = torch.zeros(3, tiny_bundle.model.config.latent_size), torch.full((3, 16), 0.1)
    entry = tiny_bundle.card.attributes[0]  # calibrated on 6 validation subjects: enough for 50 %, not for 95 %
    assert entry.calibrated_for(0.5) and not entry.calibrated_for(0.95)
    calibrated = attribute_estimates(tiny_bundle, mu, sigma, level=0.5)["lv_volume_ml"]
    half = entry.interval.half_width(0.5)
    assert calibrated.calibrated and calibrated.high - calibrated.encoded == pytest.approx([half] * 3)
    bare = dataclasses.replace(tiny_bundle, card=tiny_bundle.card.with_calibration({}, {}))
    for model, level in ((bare, 0.95), (tiny_bundle, 0.95)):  # no calibration, or too few subjects for the level
        posterior = attribute_estimates(model, mu, sigma, level)["lv_volume_ml"]
        assert not posterior.calibrated
        assert posterior.high - posterior.encoded == pytest.approx([1.96 * 0.1 / abs(entry.latent_slope)] * 3,
                                                                   rel=1e-3)


def test_calibrating_a_card_needs_the_training_line(tiny_bundle):
    card = tiny_bundle.card
    data = np.array([[entry.mean for entry in card.attributes]] * 4)
    latent = card.config.model.latent_size
    unlined = dataclasses.replace(card, attributes=tuple(dataclasses.replace(e, latent_slope=None,
                                                                             latent_intercept=None)
                                                         for e in card.attributes))
    again = calibrate_card(unlined, np.zeros((4, latent)), np.ones((4, latent)), data, np.zeros((4, 1, 1, 1)), [])
    assert all(entry.interval is None for entry in again.attributes)
