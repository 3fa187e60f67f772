import csv
import dataclasses
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from test_cli import assert_one_line_error, run

from AttriVAELib import InvalidConfigError, ModelBundle, load_cohort
from AttriVAELib.data.prepared import prepare_data
from AttriVAELib.evaluation.evaluate import encode_all
from AttriVAELib.interpretation.codes import (
    INTERVAL_LEVEL,
    attribute_estimates,
    encode_cohort,
    interval_calibration,
    interval_coverage,
    split_of_subjects,
)

Z95 = 1.959964  # the standard normal's 97.5th percentile


@pytest.fixture
def hand_made(tiny_bundle):
    """The tiny model with a card whose lines are known, dim 0 = 2·a + 1, dim 1 = −0.5·a + 3, and no interval
    calibration (the posterior intervals of models without one)."""
    first, second, *others = tiny_bundle.card.with_calibration({}, {}).attributes
    lines = (dataclasses.replace(first, latent_slope=2.0, latent_intercept=1.0),
             dataclasses.replace(second, latent_slope=-0.5, latent_intercept=3.0))
    return ModelBundle(tiny_bundle.model, dataclasses.replace(tiny_bundle.card, attributes=(*lines, *others)))


def test_the_interval_maps_through_the_cards_line_exactly(hand_made):
    latent = hand_made.model.config.latent_size
    mu, sigma = np.zeros((2, latent)), np.ones((2, latent))
    mu[:, 0], sigma[:, 0] = [5.0, -1.0], [0.5, 0.25]
    mu[:, 1], sigma[:, 1] = [2.0, 4.0], [1.0, 0.1]
    estimates = attribute_estimates(hand_made, mu, sigma)
    first = estimates[hand_made.attribute_names[0]]
    np.testing.assert_allclose(first.encoded, [2.0, -1.0])  # (μ − 1) / 2
    np.testing.assert_allclose(first.low, [(5.0 - Z95 * 0.5 - 1) / 2, (-1.0 - Z95 * 0.25 - 1) / 2], rtol=1e-6)
    np.testing.assert_allclose(first.high, [(5.0 + Z95 * 0.5 - 1) / 2, (-1.0 + Z95 * 0.25 - 1) / 2], rtol=1e-6)
    second = estimates[hand_made.attribute_names[1]]  # negative slope: μ + 1.96σ is the low end
    np.testing.assert_allclose(second.encoded, [2.0, -2.0])  # (μ − 3) / −0.5
    np.testing.assert_allclose(second.low, [(2.0 + Z95 - 3) / -0.5, (4.0 + Z95 * 0.1 - 3) / -0.5], rtol=1e-6)
    np.testing.assert_allclose(second.high, [(2.0 - Z95 - 3) / -0.5, (4.0 - Z95 * 0.1 - 3) / -0.5], rtol=1e-6)
    narrow = attribute_estimates(hand_made, mu, sigma, level=0.5)[hand_made.attribute_names[0]]
    assert narrow.high[0] - narrow.low[0] == pytest.approx(2 * 0.674490 * 0.5 / 2, rel=1e-5)
    with pytest.raises(InvalidConfigError, match="between 0 and 1"):
        attribute_estimates(hand_made, mu, sigma, level=1.0)


def test_coverage_counts_measured_values_inside_their_interval():
    measured = np.array([1.0, 2.0, np.nan, 5.0])
    low, high = np.array([0.0, 3.0, 0.0, 5.0]), np.array([2.0, 4.0, 1.0, 6.0])
    assert interval_coverage(measured, low, high) == (pytest.approx(2 / 3), 3)  # the NaN is not counted
    coverage, count = interval_coverage(np.full(2, np.nan), low[:2], high[:2])
    assert math.isnan(coverage) and count == 0


def test_calibration_of_a_hand_made_card(hand_made, tiny_bundle, eval_cohort):
    cohort = load_cohort(eval_cohort)
    names = hand_made.attribute_names
    data = prepare_data(cohort, hand_made.card.config)
    volumes = data.volumes[:10, 0].numpy()
    mu, _ = encode_all(hand_made.model, data.volumes[:10], torch.device("cpu"))
    attributes = np.full((10, len(names)), np.nan)
    attributes[:, 0] = (mu[:, 0] - 1.0) / 2.0  # exactly the encoded values: all inside
    attributes[:4, 1] = 1e6  # far outside for 4 subjects; the other 6 not measured
    calibration = interval_calibration(hand_made, volumes, attributes)
    assert calibration[names[0]]["coverage"] == 1.0 and calibration[names[0]]["subjects"] == 10
    assert calibration[names[1]]["coverage"] == 0.0 and calibration[names[1]]["subjects"] == 4
    assert calibration[names[2]]["subjects"] == 0 and math.isnan(calibration[names[2]]["coverage"])
    assert all(entry["mean_width"] > 0 for entry in calibration.values())


def test_cohort_table_columns_units_and_values(tiny_run, tiny_bundle, eval_cohort, tmp_path):
    cohort = load_cohort(eval_cohort)
    table = encode_cohort(tiny_bundle, cohort, tmp_path / "codes.csv")
    with open(table, newline="") as handle:
        rows = list(csv.DictReader(handle))
    names, latent = tiny_bundle.attribute_names, tiny_bundle.model.config.latent_size
    percent = f"{100 * INTERVAL_LEVEL:g}"
    assert list(rows[0]) == ["subject", "split", "label", "p_infarct", "reconstruction_mse",
                             *(f"{n}_{s}" for n in names for s in ("measured", "encoded", f"low{percent}",
                                                                   f"high{percent}", "interval")),
                             *(f"mu_{k}" for k in range(latent)), *(f"sigma_{k}" for k in range(latent))]
    assert [row["subject"] for row in rows] == [s.subject_id for s in cohort.subjects]
    assert {row["subject"] for row in rows if row["split"] == "test"} == set(tiny_bundle.card.data.split.test)
    assert {row["split"] for row in rows} == {"train", "val", "test"}  # the model's own training cohort
    data = prepare_data(cohort, tiny_bundle.card.config)
    mu, probability = encode_all(tiny_bundle.model, data.volumes, torch.device("cpu"))
    for i in (0, len(rows) - 1):
        row, subject = rows[i], cohort.subjects[i]
        assert float(row["p_infarct"]) == pytest.approx(probability[i], rel=1e-4, abs=1e-6)
        np.testing.assert_allclose([float(row[f"mu_{k}"]) for k in range(latent)], mu[i], rtol=1e-4, atol=1e-5)
        assert float(row["lv_volume_ml_measured"]) == pytest.approx(subject.attributes["lv_volume_ml"], rel=1e-5)
        low, value, high = (float(row[f"lv_volume_ml_{s}"]) for s in (f"low{percent}", "encoded", f"high{percent}"))
        assert low < value < high
        assert 0 <= float(row["reconstruction_mse"]) < 1 and row["label"] in ("0", "1")
    only_test = encode_cohort(tiny_bundle, cohort, tmp_path / "test.csv", subjects="test")
    with open(only_test, newline="") as handle:
        assert sorted(row["subject"] for row in csv.DictReader(handle)) == sorted(tiny_bundle.card.data.split.test)


def test_another_cohort_has_no_split_and_refuses_a_part_of_it(tiny_bundle, tiny_cohort, tmp_path):
    cohort = load_cohort(tiny_cohort)
    assert split_of_subjects(tiny_bundle, cohort) == {}
    with pytest.raises(InvalidConfigError, match="not the model's training cohort"):
        encode_cohort(tiny_bundle, cohort, tmp_path / "codes.csv", subjects="val")
    with pytest.raises(InvalidConfigError, match="'everyone' is not one of all, train, val, test"):
        encode_cohort(tiny_bundle, cohort, tmp_path / "codes.csv", subjects="everyone")
    assert not (tmp_path / "codes.csv").exists()


def test_encode_command(tiny_run, tiny_cohort, tmp_path, capsys):
    model = str(tiny_run / "model.safetensors")
    out = tmp_path / "codes.csv"
    code, printed, err = run(capsys, "encode", "--model", model, "--data", str(tiny_cohort), "--out", str(out))
    assert code == 0, err
    assert f"codes: {out}" in printed and "encode: 24/24 subjects" in err
    with open(out, newline="") as handle:
        assert len(list(csv.DictReader(handle))) == 24
    before = out.read_bytes()
    code, _, err = run(capsys, "encode", "--model", model, "--data", str(tiny_cohort), "--out", str(out))
    assert_one_line_error(code, err, "exists; choose a new file name")
    assert out.read_bytes() == before  # never overwritten
    code, _, err = run(capsys, "encode", "--model", model, "--data", str(tiny_cohort), "--out",
                       str(tmp_path / "t.csv"), "--subjects", "test")
    assert_one_line_error(code, err, "not the model's training cohort")
    code, _, err = run(capsys, "encode", "--model", model, "--data", str(tiny_cohort), "--out",
                       str(tmp_path / "t.csv"), "--subjects", "everyone")
    assert_one_line_error(code, err, "invalid choice: 'everyone'")
    assert not (tmp_path / "t.csv").exists()



@pytest.mark.slow
def test_the_memory_benchmark_encodes_growing_cohorts_in_fresh_processes(tiny_run, tmp_path):
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "encode_memory.py"
    subprocess.run([sys.executable, str(script), "--model", str(tiny_run / "model.safetensors"), "--work",
                    str(tmp_path), "--subjects", "20", "--sizes", "3,20,30", "--json", str(tmp_path / "m.json")],
                   check=True, capture_output=True, text=True, timeout=600)
    result = json.loads((tmp_path / "m.json").read_text())
    assert [run["subjects"] for run in result["runs"]] == [3, 20, 20]  # the cohort has 20: no more are counted
    assert all(run["peak_rss_mb"] > 0 for run in result["runs"])
    assert result["growth_mb"] == pytest.approx(result["runs"][-1]["peak_rss_mb"] - result["runs"][0]["peak_rss_mb"])
    assert (tmp_path / "codes20.csv").read_text().count("\n") == 21  # header + 20 subjects, two batches


def test_a_synthetic_cohort_of_another_seed_is_not_the_training_cohort_though_it_holds_its_ids(
        tiny_bundle, eval_cohort, tmp_path):
    from AttriVAELib.data.synthetic import make_cohort
    from AttriVAELib.interpretation.codes import is_training_cohort

    data = tiny_bundle.card.data
    assert is_training_cohort(data, load_cohort(eval_cohort))
    make_cohort(tmp_path / "other", subjects=data.subjects, size=32, seed=data.synthetic.seed + 1)
    other = load_cohort(tmp_path / "other")
    assert data.split.held_by(s.subject_id for s in other.subjects)  # the same ids sub-000 … sub-039
    assert not is_training_cohort(data, other) and split_of_subjects(tiny_bundle, other) == {}
    with pytest.raises(InvalidConfigError, match="not the model's training cohort"):
        encode_cohort(tiny_bundle, other, tmp_path / "codes.csv", subjects="test")
    real = dataclasses.replace(other, synthetic=None)  # without its record it is judged by its ids
    assert is_training_cohort(data, real)


def test_evaluate_auto_takes_all_of_a_synthetic_cohort_of_another_seed_and_the_test_split_of_its_own(
        tiny_run, eval_cohort, tmp_path, monkeypatch):
    from AttriVAELib.apps import report
    from AttriVAELib.data.synthetic import make_cohort

    asked = []

    def stop(bundle, data, subjects, *args, **kwargs):
        asked.append(subjects)
        raise KeyboardInterrupt  # the choice is all this test needs

    monkeypatch.setattr(report, "evaluate_model", stop)
    model = tiny_run / "model.safetensors"
    make_cohort(tmp_path / "other", subjects=40, size=32, seed=4)  # eval_cohort's ids, another seed
    for cohort in (eval_cohort, tmp_path / "other"):
        with pytest.raises(KeyboardInterrupt):
            report.write_evaluation(model, cohort, tmp_path / f"report-{cohort.name}", subjects="auto")
    assert asked == ["test", "all"]


def test_evaluate_reuses_data_prepared_as_the_model_needs_and_refuses_other(tiny_run, eval_cohort, tiny_cohort,
                                                                             tmp_path, monkeypatch):
    """The demo prepares its cohort once for training and the report; data in other cubes or of other subjects
    are refused."""
    from AttriVAELib.apps import report
    from AttriVAELib.data.prepared import with_attributes
    from AttriVAELib.modelfile.bundle import load_model

    model = tiny_run / "model.safetensors"
    cohort, config = with_attributes(load_cohort(eval_cohort), load_model(model).card.config)
    prepared = prepare_data(cohort, config)
    evaluated = []

    def stop(bundle, data, *args, **kwargs):
        evaluated.append(data)
        raise KeyboardInterrupt  # which data it got is all this test needs

    monkeypatch.setattr(report, "evaluate_model", stop)
    monkeypatch.setattr(report, "prepare_data", lambda *args, **kwargs: pytest.fail("prepared again"))
    with pytest.raises(KeyboardInterrupt):
        report.write_evaluation(model, eval_cohort, tmp_path / "report", prepared=prepared)
    assert evaluated == [prepared]
    small = prepare_data(cohort, dataclasses.replace(config, model=dataclasses.replace(config.model, input_size=16)))
    with pytest.raises(InvalidConfigError, match=r"in 16³ cubes; the model needs .* in 32³ cubes"):
        report.write_evaluation(model, eval_cohort, tmp_path / "other", prepared=small)
    elsewhere = prepare_data(*with_attributes(load_cohort(tiny_cohort), config))
    with pytest.raises(InvalidConfigError, match="other subjects than"):
        report.write_evaluation(model, eval_cohort, tmp_path / "elsewhere", prepared=elsewhere)
