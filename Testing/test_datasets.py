import csv
import shutil
from pathlib import Path

import pytest
from conftest import ellipsoid_labels, write_pair

from AttriVAELib import InvalidDatasetError, load_cohort, select_attributes
from AttriVAELib.data.attributes import DEFAULT_ATTRIBUTES


def write_csv(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


@pytest.fixture
def csv_dataset(tmp_path):
    labels = ellipsoid_labels()
    rows = []
    for index in range(4):
        write_pair(tmp_path, f"img/s{index}.nii.gz", f"seg/s{index}.nii.gz", labels)
        rows.append({"subject": f"s{index}", "image": f"img/s{index}.nii.gz", "mask": f"seg/s{index}.nii.gz",
                     "label": index % 2, "age": 50 + index, "site": "A"})
    write_csv(tmp_path / "attributes.csv", rows)
    return tmp_path


def test_csv_loader_reads_paths_labels_and_numeric_columns(csv_dataset):
    cohort = load_cohort(csv_dataset)
    assert cohort.format == "csv" and len(cohort.subjects) == 4
    assert cohort.labels.tolist() == [0, 1, 0, 1]
    assert cohort.subjects[0].image == csv_dataset / "img/s0.nii.gz"
    assert cohort.attribute_names == ("age",)
    _, names = select_attributes(cohort, ["age"])
    assert names == ("age",)


def test_csv_shape_attributes_are_measured_on_the_masks_when_absent(csv_dataset):
    cohort, names = select_attributes(load_cohort(csv_dataset / "attributes.csv"))
    assert names == tuple(n for n in DEFAULT_ATTRIBUTES if n != "ef_pct")  # no end-systolic masks
    assert cohort.subjects[0].attributes["lv_volume_ml"] > 0


def test_synthetic_cohort_defaults_are_the_seven_attributes(tiny_cohort):
    _, names = select_attributes(load_cohort(tiny_cohort))
    assert names == DEFAULT_ATTRIBUTES


def test_csv_missing_column(csv_dataset):
    text = (csv_dataset / "attributes.csv").read_text().replace("label", "class")
    (csv_dataset / "attributes.csv").write_text(text)
    with pytest.raises(InvalidDatasetError, match="lacks column.*label"):
        load_cohort(csv_dataset)


def test_csv_missing_image_file_names_the_line(csv_dataset):
    (csv_dataset / "img/s2.nii.gz").unlink()
    with pytest.raises(InvalidDatasetError, match="line 4.*s2.nii.gz"):
        load_cohort(csv_dataset)


def test_csv_bad_label(csv_dataset):
    text = (csv_dataset / "attributes.csv").read_text().replace(",1,51,", ",MI,51,")
    (csv_dataset / "attributes.csv").write_text(text)
    with pytest.raises(InvalidDatasetError, match="label 'MI' is not 0 or 1"):
        load_cohort(csv_dataset)


def test_non_numeric_attribute_is_named(csv_dataset):
    with pytest.raises(InvalidDatasetError, match="column .site. of .* not a finite number"):
        select_attributes(load_cohort(csv_dataset), ["site"])


def test_unknown_attribute_lists_the_available_ones(csv_dataset):
    with pytest.raises(InvalidDatasetError, match="unknown attribute 'weight'.*age"):
        select_attributes(load_cohort(csv_dataset), ["weight"])


def test_unrecognised_layout(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(InvalidDatasetError, match="cannot recognise the layout"):
        load_cohort(tmp_path)


def test_missing_dataset(tmp_path):
    with pytest.raises(InvalidDatasetError, match="does not exist"):
        load_cohort(tmp_path / "nothing")


def test_emidec_layout(emidec_dataset):
    cohort = load_cohort(emidec_dataset)
    assert cohort.format == "emidec" and cohort.scheme.name == "emidec"
    assert [s.subject_id for s in cohort.subjects] == ["Case_N006", "Case_P001", "Case_P002"]
    assert cohort.labels.tolist() == [0, 1, 1]
    first = cohort.subjects[0].attributes
    assert (first["sex"], first["age"], first["tobacco"]) == (1.0, 70.0, 3.0)
    assert (first["troponin"], first["lvef_pct"]) == (1.1, 60.0)
    assert (first["arterial_hypertension"], first["diabetes"], first["ecg_st_elevation"]) == (1.0, 0.0, 1.0)
    assert {"killip_max", "nt_probnp", "overweight", "family_history_cad"} <= set(first)
    assert first["infarct_size_pct"] > 0 and first["lv_volume_ml"] > 0
    assert len([k for k in first if k not in
                ("lv_volume_ml", "myo_volume_ml", "myo_mass_g", "wall_thickness_mm", "wall_thickness_sd_mm",
                 "myo_max_diameter_mm", "lv_sphericity", "infarct_size_pct")]) == 12


def test_emidec_clinical_file_inside_the_case_folder(emidec_dataset):
    shutil.move(emidec_dataset / "Case N006.txt", emidec_dataset / "Case_N006" / "Case_N006.txt")
    assert load_cohort(emidec_dataset, "emidec").subjects[0].attributes["age"] == 70.0


def test_emidec_missing_clinical_variable(emidec_dataset):
    path = emidec_dataset / "Case P001.txt"
    path.write_text(path.read_text(encoding="latin-1").replace("FEVG : 60\n", ""), encoding="latin-1")
    with pytest.raises(InvalidDatasetError, match="Case P001.txt: missing clinical variable.*lvef_pct"):
        load_cohort(emidec_dataset)


def test_emidec_missing_contours(emidec_dataset):
    (emidec_dataset / "Case_P002/Contours/Case_P002.nii.gz").unlink()
    with pytest.raises(InvalidDatasetError, match="Case_P002.*Contours"):
        load_cohort(emidec_dataset)


def test_acdc_layout(acdc_dataset):
    cohort = load_cohort(acdc_dataset)
    assert cohort.format == "acdc" and cohort.scheme.name == "acdc"
    assert cohort.labels.tolist() == [0, 1, 0]
    subject = cohort.subjects[1]
    assert subject.image.name == "patient002_frame01.nii.gz" and subject.mask_es.name == "patient002_frame12_gt.nii.gz"
    assert subject.attributes["height_cm"] == 184.0 and subject.attributes["weight_kg"] == 95.0
    assert 0 < subject.attributes["ef_pct"] < 100
    lv_voxels = (ellipsoid_labels() == 1).sum()
    assert subject.attributes["lv_volume_ml"] == pytest.approx(lv_voxels * 1.5 * 1.25 * 8 / 1000)


def test_acdc_info_without_group(acdc_dataset):
    info = acdc_dataset / "training" / "patient003" / "Info.cfg"
    info.write_text(info.read_text().replace("Group: NOR\n", ""))
    with pytest.raises(InvalidDatasetError, match="Info.cfg lacks Group"):
        load_cohort(acdc_dataset, "acdc")


def test_unknown_format(tmp_path):
    with pytest.raises(InvalidDatasetError, match="unknown dataset format"):
        load_cohort(tmp_path, "nifti")


def test_an_lv_that_leaves_the_cube_is_a_warning_naming_the_subject(tiny_cohort):
    """Every library warning goes through ``warnings`` (the CLI prints each as one line)."""
    import dataclasses

    from AttriVAELib import preset, with_attributes
    from AttriVAELib.data.prepared import prepare_data

    cohort, config = with_attributes(load_cohort(tiny_cohort), preset("paper"))
    small = dataclasses.replace(config, model=dataclasses.replace(config.model, input_size=16),
                                preprocess=dataclasses.replace(config.preprocess, field_of_view_mm=40.0))
    one = dataclasses.replace(cohort, subjects=cohort.subjects[:1])
    name = one.subjects[0].subject_id
    with pytest.warns(UserWarning, match=rf"{name}: \d+ % of the LV lies outside the 40 mm cube"):
        prepare_data(one, small)
