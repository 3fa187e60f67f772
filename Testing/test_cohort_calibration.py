"""``attrivae calibrate``: a trained model's intervals calibrated again on a held-out cohort, checked against the
conformal half-width computed by hand, and the cohorts it must refuse."""

import hashlib
import math
import shutil

import numpy as np
import pytest

from AttriVAELib import load_cohort, load_model, save_model
from AttriVAELib.apps.cli import main
from AttriVAELib.apps.samples import run_config, untrained_bundle
from AttriVAELib.data.prepared import prepare_data, with_attributes
from AttriVAELib.interpretation.inference import encode
from AttriVAELib.training.cohort_calibration import MIN_SUBJECTS, calibrate_on_cohort, calibration_source


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A 16³ model file whose card was made on a synthetic cohort of 8 subjects (seed 0), and that cohort."""
    folder = tmp_path_factory.mktemp("calibrate")
    bundle = untrained_bundle(run_config(16), folder / "training")
    save_model(folder / "model.safetensors", bundle.model, bundle.card)
    return folder / "model.safetensors", folder / "training"


def test_the_interval_is_the_conformal_quantile_of_the_held_out_residuals(trained, tiny_cohort, tmp_path):
    model, _ = trained
    before = hashlib.sha256(model.read_bytes()).hexdigest()
    result = calibrate_on_cohort(model, tiny_cohort, tmp_path / "calibrated.safetensors", device="cpu")
    assert hashlib.sha256(model.read_bytes()).hexdigest() == before  # the input model is untouched
    original, calibrated = load_model(model), load_model(result.path)
    for name, tensor in original.model.state_dict().items():  # the weights are kept
        assert np.array_equal(tensor.numpy(), calibrated.model.state_dict()[name].numpy())

    # by hand: |measured − encoded| of every held-out subject, the ⌈(n + 1)·0.95⌉-th smallest
    cohort, config = with_attributes(load_cohort(tiny_cohort), original.card.config)
    data = prepare_data(cohort, config)
    mu, _ = encode(original, data.volumes)
    n = len(data.subject_ids)
    assert result.subjects == n == 24 >= MIN_SUBJECTS and result.cohort == tiny_cohort.name
    for k, entry in enumerate(calibrated.card.attributes):
        line = original.card.attributes[k]
        assert (entry.latent_slope, entry.latent_intercept) == (line.latent_slope, line.latent_intercept)
        encoded = (mu[:, entry.dim].numpy().astype(np.float64) - line.latent_intercept) / line.latent_slope
        scores = np.sort(np.abs(data.attributes[:, k].numpy() - encoded))
        expected = scores[math.ceil((n + 1) * 0.95) - 1]
        assert entry.interval.split == tiny_cohort.name and len(entry.interval.scores) == n
        assert entry.interval.half_width(0.95) == pytest.approx(expected, rel=1e-4)
        assert result.half_widths[entry.name] == pytest.approx(expected, rel=1e-4)
        assert calibration_source(entry) == f"the held-out cohort {tiny_cohort.name} ({n} subjects)"
        assert calibration_source(line) == f"the validation split ({len(line.interval.scores)} subjects)"


def test_it_refuses_the_training_cohort_a_cohort_sharing_its_subjects_and_too_few_subjects(trained, tmp_path):
    model, training = trained
    with pytest.raises(ValueError, match="is the cohort the model was trained on"):
        calibrate_on_cohort(model, training, tmp_path / "a.safetensors")
    real = tmp_path / "real"  # without the synthetic record, as a real cohort would be
    shutil.copytree(training, real)
    (real / "synthetic.json").unlink()
    with pytest.raises(ValueError, match="is the cohort the model was trained on"):  # it holds the test split
        calibrate_on_cohort(model, real, tmp_path / "b.safetensors")
    lines = (real / "attributes.csv").read_text().splitlines()
    train = load_model(model).card.data.split.train
    (real / "attributes.csv").write_text("\n".join([lines[0], *(line for line in lines[1:]
                                                              if line.split(",")[0] in train)]) + "\n")
    with pytest.raises(ValueError, match="shares .* subjects with the model's training or validation split"):
        calibrate_on_cohort(model, real, tmp_path / "b.safetensors")
    from AttriVAELib.data.synthetic import make_cohort

    make_cohort(tmp_path / "few", subjects=MIN_SUBJECTS - 1, size=32, seed=99)
    with pytest.raises(ValueError, match=f"holds {MIN_SUBJECTS - 1} subjects; a 95 % interval needs at least"):
        calibrate_on_cohort(model, tmp_path / "few", tmp_path / "c.safetensors")
    assert not any(tmp_path.glob("*.safetensors"))


def test_the_command_prints_the_half_widths_and_fails_in_one_line(trained, tiny_cohort, tmp_path, capsys):
    model, _ = trained
    out = tmp_path / "calibrated.safetensors"
    assert main(["calibrate", "--model", str(model), "--data", str(tiny_cohort), "--out", str(out),
                 "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    assert f"calibrated on {tiny_cohort.name}, 24 subjects" in printed and "lv_volume_ml" in printed
    assert " mL" in printed and "lv_sphericity" in printed
    assert main(["calibrate", "--model", str(model), "--data", str(tiny_cohort), "--out", str(out)]) != 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "exists; choose a new file name" in err and "Traceback" not in err


def test_the_report_names_where_the_intervals_were_calibrated(trained, tiny_cohort, tmp_path):
    from AttriVAELib.apps.report import _calibration_html
    from AttriVAELib.interpretation.codes import interval_calibration

    model, _ = trained
    bundle = load_model(calibrate_on_cohort(model, tiny_cohort, tmp_path / "calibrated.safetensors").path)
    data = prepare_data(*with_attributes(load_cohort(tiny_cohort), bundle.card.config))
    html = _calibration_html(interval_calibration(bundle, data.volumes[:, 0].numpy(), data.attributes.numpy()), bundle)
    assert html.count(f"calibrated on the held-out cohort {tiny_cohort.name} (24 subjects) (expected ") == len(
        bundle.attribute_names)


def test_the_chance_ranges_the_docs_state_are_the_beta_law_of_the_coverage():
    from pathlib import Path

    from AttriVAELib.modelfile.calibration import expected_coverage

    text = " ".join((Path(__file__).resolve().parents[1] / "docs" / "cli.md").read_text().split())
    ranges = {n: expected_coverage(n, 0.95) for n in (60, 600, 2400)}
    assert "between {:.2f} and {:.2f} by chance".format(*ranges[60]) in text
    assert "600 subjects between {:.3f} and {:.3f}, with 2400 between {:.3f} and {:.3f}".format(
        *ranges[600], *ranges[2400]) in text
    results = " ".join((Path(__file__).resolve().parents[1] / "docs" / "results.md").read_text().split())
    assert "from {:.2f}–{:.2f} to {:.3f}–{:.3f}".format(*ranges[60], *ranges[2400]) in results
