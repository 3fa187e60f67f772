import csv
import json

import numpy as np
import pytest
import SimpleITK as sitk

from AttriVAELib import InvalidConfigError, InvalidDatasetError, __version__, load_cohort
from AttriVAELib.data.attributes import shape_attributes
from AttriVAELib.data.labels import EMIDEC_SCHEME
from AttriVAELib.data.synthetic import (
    analytic_volumes,
    cohort_labels,
    ef_ceiling_from_ed,
    ejection_fraction,
    make_cohort,
    render_phantom,
    sample_factors,
)


def factors(seed: int, infarct_probability: float = 1.0):
    return sample_factors(np.random.default_rng(seed), infarct_probability)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_measured_volumes_match_analytic_at_1_5_mm(seed):
    f = factors(seed)
    _, labels = render_phantom(f, "ed", size=80, field_of_view_mm=120.0, slice_thickness_mm=1.5)
    measured = shape_attributes(labels, EMIDEC_SCHEME)
    truth = analytic_volumes(f, "ed")
    for name in ("lv_volume_ml", "myo_volume_ml"):
        assert measured[name] == pytest.approx(truth[name], rel=0.02)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 5])
def test_ejection_fraction_from_masks_matches_analytic(seed):
    f = factors(seed)
    labels = {phase: render_phantom(f, phase, size=80, slice_thickness_mm=1.5)[1] for phase in ("ed", "es")}
    measured = shape_attributes(labels["ed"], EMIDEC_SCHEME, labels["es"])["ef_pct"]
    ed, es = analytic_volumes(f, "ed")["lv_volume_ml"], analytic_volumes(f, "es")["lv_volume_ml"]
    assert measured == pytest.approx(100 * (ed - es) / ed, abs=1.5)  # percentage points
    assert ejection_fraction(f) == pytest.approx(100 * (ed - es) / ed)


@pytest.mark.slow
def test_an_end_diastolic_image_tells_ef_only_in_part():
    ceiling = ef_ceiling_from_ed(subjects=60, draws=16, seed=1)
    # the ED radius and the infarct explain some of EF; the contraction drawn for end-systole the rest
    assert 0.4 < ceiling["r2"] < 0.9 and 0.6 < ceiling["spearman"] < 0.95
    assert ef_ceiling_from_ed(subjects=60, draws=16, seed=1) == ceiling


def test_end_systole_contracts_less_where_infarcted():
    infarcted = factors(3, infarct_probability=1.0)
    healthy = type(infarcted)(**{**infarcted.__dict__, "infarct": False, "no_reflow": False})
    ef = {}
    for name, f in (("infarcted", infarcted), ("healthy", healthy)):
        ed, es = analytic_volumes(f, "ed"), analytic_volumes(f, "es")
        assert es["lv_volume_ml"] < ed["lv_volume_ml"]
        ef[name] = (ed["lv_volume_ml"] - es["lv_volume_ml"]) / ed["lv_volume_ml"]
    assert ef["infarcted"] < ef["healthy"]


def test_infarct_labels_only_in_infarcted_subjects():
    for seed in range(6):
        f = factors(seed, infarct_probability=0.5)
        _, labels = render_phantom(f, "ed", size=48)
        values = set(np.unique(sitk.GetArrayViewFromImage(labels)).tolist())
        assert (3 in values) == f.infarct
        assert values <= {0, 1, 2, 3, 4}


def test_rendering_is_deterministic_and_seeded():
    f = factors(4)
    image_a, labels_a = render_phantom(f, "ed", size=32, seed=5)
    image_b, labels_b = render_phantom(f, "ed", size=32, seed=5)
    image_c, _ = render_phantom(f, "ed", size=32, seed=6)
    assert np.array_equal(sitk.GetArrayViewFromImage(image_a), sitk.GetArrayViewFromImage(image_b))
    assert np.array_equal(sitk.GetArrayViewFromImage(labels_a), sitk.GetArrayViewFromImage(labels_b))
    assert not np.array_equal(sitk.GetArrayViewFromImage(image_a), sitk.GetArrayViewFromImage(image_c))


def test_lge_contrast_blood_bright_myocardium_dark_infarct_bright():
    f = factors(8)
    image, labels = render_phantom(f, "ed", size=80, slice_thickness_mm=4.0)
    values, array = sitk.GetArrayViewFromImage(image), sitk.GetArrayViewFromImage(labels)
    blood, myo, scar = (np.median(values[array == v]) for v in (1, 2, 3))
    assert scar > blood > myo


def test_short_axis_geometry(tiny_cohort):
    image = sitk.ReadImage(str(tiny_cohort / "images" / "sub-000_ed.nii.gz"))
    assert image.GetSize() == (32, 32, 15)
    assert image.GetSpacing() == pytest.approx((3.75, 3.75, 8.0))
    assert not np.allclose(np.reshape(image.GetDirection(), (3, 3)), np.eye(3))  # random oblique pose


def test_cohort_csv_has_attributes_and_ground_truth(tiny_cohort):
    with open(tiny_cohort / "attributes.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 24
    for column in ("subject", "image", "mask", "label", "lv_volume_ml", "ef_pct", "gt_lv_volume_ml",
                   "gt_infarct_transmurality", "gt_wall_thickness_mm"):
        assert column in rows[0]
    assert {row["label"] for row in rows} == {"0", "1"}
    assert all((tiny_cohort / row["mask_es"]).is_file() for row in rows)


def test_cohort_records_how_it_was_made_and_its_labels_are_known_before_rendering(tiny_cohort):
    record = json.loads((tiny_cohort / "synthetic.json").read_text())
    assert record == {"generator": "AttriVAELib.make_cohort", "library_version": __version__,
                      "subjects": 24, "size": 32, "seed": 7, "infarct_probability": 0.6, "field_of_view_mm": 120.0,
                      "slice_thickness_mm": 8.0}
    with open(tiny_cohort / "attributes.csv") as handle:
        labels = [int(row["label"]) for row in csv.DictReader(handle)]
    assert cohort_labels(24, seed=7).tolist() == labels
    assert load_cohort(tiny_cohort).synthetic == record


def test_cohort_is_deterministic_by_seed(tmp_path):
    make_cohort(tmp_path / "a", subjects=3, size=16, seed=1)
    make_cohort(tmp_path / "b", subjects=3, size=16, seed=1)
    assert (tmp_path / "a" / "attributes.csv").read_text() == (tmp_path / "b" / "attributes.csv").read_text()


@pytest.mark.slow
def test_worker_processes_write_the_same_files_and_report_subjects_in_order(tmp_path):
    """Each subject depends only on (seed, index), so two spawned workers write byte for byte what one process
    writes; progress still counts the subjects in order."""
    events = []
    make_cohort(tmp_path / "one", subjects=4, size=16, seed=3, processes=1)
    make_cohort(tmp_path / "two", subjects=4, size=16, seed=3, processes=2, progress=events.append)
    files = sorted(path.relative_to(tmp_path / "one") for path in (tmp_path / "one").rglob("*") if path.is_file())
    assert len(files) == 4 * 4 + 2  # ED and ES images and label maps, the CSV and the generation record
    assert all((tmp_path / "one" / f).read_bytes() == (tmp_path / "two" / f).read_bytes() for f in files)
    assert [(e.kind, e.done, e.total) for e in events] == [("synth", done, 4) for done in range(1, 5)]
    with pytest.raises(InvalidConfigError, match="processes=0"):
        make_cohort(tmp_path / "none", subjects=4, size=16, processes=0)


def test_cohort_refuses_a_non_empty_folder_and_leaves_it_alone(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    with pytest.raises(InvalidDatasetError, match="not empty"):
        make_cohort(tmp_path / "out", subjects=2, size=16)
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["keep.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no staging folder left behind
