import dataclasses
import json

import numpy as np
import pytest
from test_training import tiny_config

from AttriVAELib import InvalidConfigError, InvalidDatasetError, load_cohort, load_model, metrics
from AttriVAELib.apps.report import write_report
from AttriVAELib.config import RunConfig
from AttriVAELib.data.attributes import attribute_unit
from AttriVAELib.data.prepared import prepare_data, with_attributes
from AttriVAELib.data.splits import stratified_folds
from AttriVAELib.evaluation.evaluate import evaluate_model, select_subjects
from AttriVAELib.interpretation.codes import interval_calibration
from AttriVAELib.training.crossval import RUN_RESULT, cross_validate, summarise

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def evaluated(tiny_run, eval_cohort):
    bundle = load_model(tiny_run / "model.safetensors")
    data = prepare_data(*with_attributes(load_cohort(eval_cohort), bundle.card.config))
    test = data.indices(bundle.card.data.split.test)
    return bundle, data, test, evaluate_model(bundle, data, "test")


def test_every_metric_is_reported(evaluated):
    bundle, _, test, evaluation = evaluated
    m = evaluation.metrics
    assert m["subjects"] == len(test) == len(evaluation.subject_ids)
    assert set(m["interpretability"]) == set(bundle.attribute_names) == set(m["spearman"])
    for key in ("mig_ksg", "mig_binned", "sap", "scc", "modularity", "interpretability_mean"):
        assert np.isfinite(m[key]), key
    assert 0 <= m["reconstruction"]["dice"] <= 1 and m["reconstruction"]["mse"] >= 0
    assert np.isfinite(m["reconstruction"]["mmd"])
    assert 0 <= m["classification"]["accuracy"] <= 1
    assert set(m["localisation"]) == {"gradient-x-input", "integrated-gradients", "gradcam"}
    assert set(m["localisation"]["gradcam"]["lv_volume_ml"]) >= {"enrichment", "pointing", "outside_lv", "iou"}
    assert set(m["traversal_fidelity"]) == {"lv_volume_ml", "myo_volume_ml", "wall_thickness_mm", "lv_sphericity",
                                            "myo_max_diameter_mm"} & set(bundle.attribute_names)
    assert all(f[way]["subjects"] <= len(test) and "measure_check" in f for f in m["traversal_fidelity"].values()
               for way in ("encoder", "calibrated"))
    assert evaluation.mu.shape == (len(test), 64) and evaluation.probabilities.shape == (len(test),)
    truth = metrics.disentanglement_ceiling(evaluation.attributes, 64)  # the same subjects' ground-truth code
    assert m["ceiling"] == pytest.approx(truth) and set(m["ceiling"]) == set(metrics.DISENTANGLEMENT_METRICS)
    r2 = np.array([m["interpretability"][name]["r2"] for name in bundle.attribute_names])
    assert m["ceiling_at_precision"] == pytest.approx(metrics.disentanglement_ceiling(evaluation.attributes, 64, r2))
    assert list(m["precision"]) == list(bundle.attribute_names)  # 6 subjects: a cubic fits, 3 + 63 terms do not
    assert all(np.isfinite(p["precision"]) and np.isnan(p["leakage"]) for p in m["precision"].values())
    assert "subsampled" not in m  # fewer than 30 subjects
    assert set(m["decoder"]["dice"]) == {"cavity", "myocardium", "infarct"}
    infarcted = int(evaluation_infarcted(evaluated))
    assert m["decoder"]["infarct_contrast"]["subjects"] == infarcted
    assert all(0 <= s["median"] <= 1 for s in m["decoder"]["dice"].values() if s["subjects"])


def evaluation_infarcted(evaluated) -> int:
    _, data, test, _ = evaluated
    return int(data.infarct_masks[test].any(axis=(1, 2, 3)).sum())


def test_too_few_subjects_is_a_clear_error(evaluated):
    bundle, data, _, evaluation = evaluated
    with pytest.raises(InvalidDatasetError, match="at least 5 subjects"):
        evaluate_model(bundle, data, evaluation.subject_ids[:4])


def test_the_subjects_are_chosen_by_name_or_by_id(evaluated):
    bundle, data, test, evaluation = evaluated
    assert evaluation.subject_ids == list(bundle.card.data.split.test)
    assert list(select_subjects(bundle, data, "auto")) == list(test)  # the data hold the test split
    assert list(select_subjects(bundle, data, "all")) == list(range(len(data.subject_ids)))
    assert list(select_subjects(bundle, data, ["sub-003", "sub-001"])) == [3, 1]
    with pytest.raises(InvalidConfigError, match="no subject 'sub-999'"):
        select_subjects(bundle, data, ["sub-001", "sub-999"])
    with pytest.raises(InvalidConfigError, match="'train' is not one of auto, test, all"):
        select_subjects(bundle, data, "train")
    others = dataclasses.replace(data, subject_ids=[f"other-{i}" for i in range(len(data.subject_ids))])
    with pytest.raises(InvalidConfigError, match="do not hold the model's"):
        select_subjects(bundle, others, "test")
    assert len(select_subjects(bundle, others, "auto")) == len(data.subject_ids)  # another cohort: all of it
    reordered = dataclasses.replace(data, attribute_names=data.attribute_names[::-1])
    with pytest.raises(InvalidConfigError, match="prepare the data with the model's attributes"):
        select_subjects(bundle, reordered, "all")


def test_report_renders_with_all_figures(evaluated, tmp_path):
    bundle, data, test, evaluation = evaluated
    page = write_report(evaluation, bundle, data.volumes[test][:, 0].numpy(), tmp_path / "report", "tiny")
    files = {p.name for p in page.parent.iterdir()}
    assert {"report.html", "metrics.json", "roc.png", "attention.png", "latent_scatter.png",
            "attributes_vs_latent.png"} <= files
    assert {f"traversal_{name}.png" for name in bundle.attribute_names} <= files
    html = page.read_text()
    assert all(name in html for name in files if name.endswith(".png"))
    assert "Where the attention lands" in html and "Traversal fidelity" in html and "gradient-x-input (default)" in html
    sap, ceiling = evaluation.metrics["sap"], evaluation.metrics["ceiling"]["sap"]
    matched = evaluation.metrics["ceiling_at_precision"]["sap"]
    assert f"<tr><td>SAP</td><td>{sap:.3f}</td><td>{ceiling:.3f}</td><td>{matched:.3f}</td></tr>" in html
    contrast = evaluation.metrics["decoder"]["infarct_contrast"]
    assert "Decoder fidelity" in html and "Disentanglement per attribute" in html
    assert f"<tr><td>infarct contrast retained</td><td>{contrast['subjects']}</td>" in html
    written = json.loads((page.parent / "metrics.json").read_text())
    assert written["subjects"] == len(test)
    assert "Intervals: coverage" in html
    assert set(written["interval_coverage"]) == set(bundle.attribute_names)
    assert written["interval_coverage"] == interval_calibration(bundle, data.volumes[test][:, 0].numpy(),
                                                                evaluation.attributes)


def test_report_refuses_a_used_folder(evaluated, tmp_path):
    bundle, data, test, evaluation = evaluated
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "keep").write_text("x")
    with pytest.raises(InvalidDatasetError, match="not empty"):
        write_report(evaluation, bundle, data.volumes[test][:, 0].numpy(), tmp_path / "used", "tiny")


def test_units_from_attribute_names():
    assert [attribute_unit(n) for n in ("lv_volume_ml", "wall_thickness_mm", "ef_pct", "lv_sphericity")] == [
        "mL", "mm", "%", ""]


def test_folds_are_stratified_and_every_subject_is_tested_once():
    labels = np.array([1] * 30 + [0] * 15)
    folds = stratified_folds(labels, 5, 0.15, seed=0)
    tested = np.concatenate([fold.test for fold in folds])
    assert sorted(tested.tolist()) == list(range(45))
    for fold in folds:
        parts = [set(fold.train), set(fold.val), set(fold.test)]
        assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
        assert len(parts[0] | parts[1] | parts[2]) == 45
        assert labels[fold.test].sum() == 6


def test_cross_validation_compares_presets_on_the_same_folds(tiny_cohort, tmp_path):
    config = dataclasses.replace(tiny_config(1), attributes=("lv_volume_ml", "myo_volume_ml"))
    results = cross_validate(load_cohort(tiny_cohort), config, ["beta-vae", "attri-vae"], folds=2, seeds=1,
                             out_dir=tmp_path / "cv")
    assert [(r["preset"], r["fold"]) for r in results["runs"]] == [
        ("beta-vae", 0), ("beta-vae", 1), ("attri-vae", 0), ("attri-vae", 1)]
    assert set(results["summary"]) == {"beta-vae", "attri-vae"}
    assert results["summary"]["attri-vae"]["interpretability_mean"]["n"] == 2
    for preset in ("beta-vae", "attri-vae"):
        splits = [json.loads((tmp_path / "cv" / "runs" / preset / "seed1" / f"fold{f}" / "split.json").read_text())
                  for f in range(2)]
        assert not set(splits[0]["test"]) & set(splits[1]["test"])
        assert all(not set(s["test"]) & (set(s["train"]) | set(s["val"])) for s in splits)
    assert json.loads((tmp_path / "cv" / "crossval.json").read_text())["presets"] == ["beta-vae", "attri-vae"]


def test_cross_validation_evaluates_an_independent_cohort_and_resumes(tiny_cohort, eval_cohort, tmp_path):
    names = ("lv_volume_ml", "myo_volume_ml")
    cohort, independent = load_cohort(tiny_cohort), load_cohort(eval_cohort)

    def config(epochs: int) -> RunConfig:
        return dataclasses.replace(tiny_config(epochs), attributes=names)

    out = tmp_path / "cv"
    first = cross_validate(cohort, config(1), ["ar-vae"], folds=2, seeds=1, out_dir=out,
                           independent=independent)
    assert [run["independent"]["subjects"] for run in first["runs"]] == [40, 40]
    run = first["runs"][0]  # attention localisation on the test folds only; traversal fidelity is evaluate's
    assert "localisation" in run["metrics"] and "traversal_fidelity" not in run["metrics"]
    assert not {"localisation", "traversal_fidelity"} & set(run["independent"])
    assert first["summary_independent"]["ar-vae"]["mig_ksg"]["n"] == 2
    assert first["summary_independent"]["ar-vae"]["ceiling.sap"]["sd"] == 0  # the same 40 subjects each time
    with pytest.raises(InvalidConfigError, match="not empty; choose a new --out, or --resume"):
        cross_validate(cohort, config(1), ["ar-vae"], folds=2, seeds=1, out_dir=out)
    # interrupted: fold 1 trained but was not evaluated; fold 0 finished
    runs = out / "runs" / "ar-vae" / "seed1"
    (runs / "fold1" / RUN_RESULT).unlink()
    kept = (runs / "fold0" / "model.safetensors").stat().st_mtime_ns
    events = []
    again = cross_validate(cohort, config(1), ["ar-vae"], folds=2, seeds=1, out_dir=out,
                           independent=independent, resume=True, progress=events.append)
    runs_done = [(event.done, event.text) for event in events if event.kind == "crossval"]
    assert runs_done == [(1, ""), (2, "ar-vae, seed 1, fold 1")]  # the kept run first, unnamed
    assert (runs / "fold0" / "model.safetensors").stat().st_mtime_ns == kept  # not trained again
    assert again["summary"] == first["summary"] and (runs / "fold1" / RUN_RESULT).is_file()
    with pytest.raises(InvalidConfigError, match="started with other independent; resume it with the same"):
        cross_validate(cohort, config(1), ["ar-vae"], folds=2, seeds=1, out_dir=out, resume=True)
    with pytest.raises(InvalidConfigError, match="started with other configs, folds"):
        cross_validate(cohort, config(2), ["ar-vae"], folds=3, seeds=1, out_dir=out,
                       independent=independent, resume=True)


def test_summary_statistics():
    runs = [{"preset": "a", "metrics": {"x": 1.0, "nested": {"y": 2.0}, "subjects": 5}},
            {"preset": "a", "metrics": {"x": 3.0, "nested": {"y": float("nan")}, "subjects": 5}}]
    summary = summarise(runs)["a"]
    assert summary["x"] == {"mean": 2.0, "sd": pytest.approx(np.sqrt(2.0)), "n": 2}
    assert summary["nested.y"]["mean"] == 2.0 and summary["nested.y"]["n"] == 1
    assert "subjects" not in summary


def test_overrides_apply_to_every_preset_even_where_they_equal_its_base():
    base = RunConfig.from_dict({}).with_overrides({"model": {"input_size": 32}, "train": {"augment_probability": 0.0}})
    rebased = base.with_preset("official-code")  # augmentation 0 is the paper's: rebasing does not carry it
    assert rebased.train.augment_probability == 0.1 and rebased.model.input_size == 32
    explicit = rebased.with_overrides({"train": {"augment_probability": 0.0}, "model": {}})
    assert explicit.train.augment_probability == 0.0 and explicit.loss.delta == 100.0
    with pytest.raises(InvalidConfigError, match="augment_probability"):
        base.with_overrides({"train": {"augment_probability": 2.0}})


def test_a_cohort_with_custom_attributes_only_is_evaluated_without_localisation(tmp_path):
    """Attributes no structure of the label map defines (clinical variables, custom columns): the localisation
    step is skipped with a one-line note and the rest of the report is written."""
    from AttriVAELib.apps.samples import run_config, untrained_bundle

    config = dataclasses.replace(run_config(16), attributes=("gt_noise_sd", "gt_tilt_deg"))
    bundle = untrained_bundle(config, tmp_path / "cohort", subjects=12)
    data = prepare_data(*with_attributes(load_cohort(tmp_path / "cohort"), bundle.card.config))
    with pytest.warns(UserWarning, match="localisation skipped for gt_noise_sd, gt_tilt_deg: no structure"):
        evaluation = evaluate_model(bundle, data, "all")
    assert "localisation" not in evaluation.metrics and evaluation.metrics["traversal_fidelity"] == {}
    page = write_report(evaluation, bundle, data.volumes[:, 0].numpy(), tmp_path / "report", "custom")
    assert "Intervals: coverage" in page.read_text() and (page.parent / "metrics.json").is_file()
