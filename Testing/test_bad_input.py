"""A corpus of damaged files and bad values, each run through the command line as a user would.

Every case must end in exit status 2 with one line ``attrivae: error: ...`` that names the file, column or
option at fault, no traceback, and nothing written where the command would have written.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
import torch
from conftest import ellipsoid_labels, write_pair
from test_cli import assert_one_line_error, run

from AttriVAELib.modelfile.bundle import read_safetensors, write_safetensors

SUBJECT = "sub-003"
IMAGE = f"images/{SUBJECT}_ed.nii.gz"
MASK = f"labels/{SUBJECT}_ed.nii.gz"


# ------------------------------------------------------------------------------------- damaging a cohort
def _truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * keep)])


def _replace_in_csv(data: Path, old: str, new: str) -> None:
    csv_path = data / "attributes.csv"
    text = csv_path.read_text()
    assert old in text
    csv_path.write_text(text.replace(old, new))


def _set_cell(data: Path, subject: str, column: str, value: str) -> None:
    csv_path = data / "attributes.csv"
    lines = csv_path.read_text().splitlines()
    header = lines[0].split(",")
    row = next(i for i, line in enumerate(lines) if line.startswith(subject + ","))
    cells = lines[row].split(",")
    cells[header.index(column)] = value
    lines[row] = ",".join(cells)
    csv_path.write_text("\n".join(lines) + "\n")


def truncated_gzip(data: Path) -> None:
    _truncate(data / IMAGE)


def gzip_checksum(data: Path) -> None:
    raw = bytearray((data / IMAGE).read_bytes())
    raw[-8] ^= 0xFF  # the CRC-32 of the gzip trailer
    (data / IMAGE).write_bytes(bytes(raw))


def _as_plain_nifti(data: Path) -> Path:
    """Rewrite the subject's image as an uncompressed NIfTI-1 file (the CSV points to it); returns its path."""
    path = data / "images" / "plain.nii"
    sitk.WriteImage(sitk.ReadImage(str(data / IMAGE)), str(path))
    _replace_in_csv(data, IMAGE, "images/plain.nii")
    return path


def _patch_header(path: Path, offset: int, value: np.generic) -> None:
    raw = bytearray(path.read_bytes())
    raw[offset:offset + value.nbytes] = value.tobytes()
    path.write_bytes(bytes(raw))


def truncated_nifti(data: Path) -> None:
    _truncate(_as_plain_nifti(data), 0.6)


def zero_spacing_in_the_header(data: Path) -> None:
    _patch_header(_as_plain_nifti(data), 80, np.float32(0.0))  # pixdim[1] of the NIfTI-1 header


def rank_nine_in_the_header(data: Path) -> None:
    _patch_header(_as_plain_nifti(data), 40, np.int16(9))  # dim[0] of the NIfTI-1 header: at most 7


def two_d_nifti(data: Path) -> None:
    sitk.WriteImage(sitk.GetImageFromArray(np.ones((32, 32), np.float32)), str(data / IMAGE))


def text_as_image(data: Path) -> None:
    (data / IMAGE).write_text("subject,image\nthis is not an image\n")


def empty_image(data: Path) -> None:
    (data / IMAGE).write_bytes(b"")


def png_as_image(data: Path) -> None:
    sitk.WriteImage(sitk.GetImageFromArray(np.zeros((32, 32), np.uint8)), str(data / "images" / "photo.png"))
    _replace_in_csv(data, IMAGE, "images/photo.png")


def truncated_mha(data: Path) -> None:
    sitk.WriteImage(sitk.ReadImage(str(data / IMAGE)), str(data / "images" / "scan.mha"))
    _truncate(data / "images" / "scan.mha", 0.7)
    _replace_in_csv(data, IMAGE, "images/scan.mha")


def nrrd_without_its_data(data: Path) -> None:
    sitk.WriteImage(sitk.ReadImage(str(data / IMAGE)), str(data / "images" / "scan.nhdr"))
    for detached in (data / "images").glob("scan.raw*"):
        detached.unlink()
    _replace_in_csv(data, IMAGE, "images/scan.nhdr")


def folder_as_image(data: Path) -> None:
    (data / "images" / "dicom").mkdir()
    _replace_in_csv(data, IMAGE, "images/dicom")


def nan_voxels(data: Path) -> None:
    image = sitk.ReadImage(str(data / IMAGE))
    array = sitk.GetArrayFromImage(image)
    array[3, 10, 10] = np.nan
    broken = sitk.GetImageFromArray(array)
    broken.CopyInformation(image)
    sitk.WriteImage(broken, str(data / IMAGE))


def four_d_image(data: Path) -> None:
    image = sitk.ReadImage(str(data / IMAGE))
    sitk.WriteImage(sitk.JoinSeries([image, image]), str(data / IMAGE))


def truncated_mask(data: Path) -> None:
    _truncate(data / MASK)


def image_as_mask(data: Path) -> None:
    image = sitk.ReadImage(str(data / IMAGE))
    sitk.WriteImage(sitk.Cast(sitk.RescaleIntensity(image, 0, 1000), sitk.sitkUInt16), str(data / MASK))


def empty_mask(data: Path) -> None:
    sitk.WriteImage(sitk.ReadImage(str(data / MASK)) * 0, str(data / MASK))


def mask_on_another_grid(data: Path) -> None:
    mask = sitk.ReadImage(str(data / MASK))
    mask.SetSpacing((2.0, 2.0, 8.0))
    sitk.WriteImage(mask, str(data / MASK))


def duplicate_subject_id(data: Path) -> None:
    _replace_in_csv(data, "sub-004,", "sub-003,")


def one_image_for_two_subjects(data: Path) -> None:
    _replace_in_csv(data, "images/sub-004_ed.nii.gz", IMAGE)


def semicolon_separated(data: Path) -> None:
    csv_path = data / "attributes.csv"
    csv_path.write_text(csv_path.read_text().replace(",", ";"))


def column_twice(data: Path) -> None:
    _replace_in_csv(data, "subject,image,mask,label,", "subject,image,mask,label,label,")


def ragged_row(data: Path) -> None:
    _replace_in_csv(data, f"{SUBJECT},{IMAGE}", f"{SUBJECT},{IMAGE},extra")


def infinite_attribute(data: Path) -> None:
    _set_cell(data, SUBJECT, "lv_volume_ml", "inf")


def nan_label(data: Path) -> None:
    _set_cell(data, SUBJECT, "label", "nan")


def missing_mask_column(data: Path) -> None:
    _replace_in_csv(data, "subject,image,mask,", "subject,image,segmentation,")


def csv_not_utf8(data: Path) -> None:
    csv_path = data / "attributes.csv"
    csv_path.write_bytes(csv_path.read_bytes() + "sub-999,café\n".encode("latin-1"))


Damage = Callable[[Path], None]
COHORT_CASES: list[tuple[Damage, str]] = [
    (truncated_gzip, f"{IMAGE} is truncated"),
    (gzip_checksum, f"{IMAGE} is damaged"),
    (truncated_nifti, "plain.nii is truncated"),
    (zero_spacing_in_the_header, "plain.nii has a damaged NIfTI header (voxel spacing (0.0,"),
    (rank_nine_in_the_header, "plain.nii has a damaged NIfTI header (dimensions"),
    (text_as_image, f"{IMAGE} (no image reader recognises it"),
    (empty_image, f"{IMAGE} (no image reader recognises it"),
    (png_as_image, "photo.png is 2D"),
    (two_d_nifti, f"{IMAGE} is 2D"),
    (truncated_mha, "scan.mha (the file is truncated or damaged"),
    (nrrd_without_its_data, "scan.nhdr ("),
    (folder_as_image, "images/dicom is a folder"),
    (nan_voxels, f"{IMAGE} contains NaN"),
    (four_d_image, f"{IMAGE} is 4D"),
    (truncated_mask, f"{MASK} is truncated"),
    (image_as_mask, f"{MASK} has 743 distinct values, more than a label map has"),
    (empty_mask, "has no LV voxels (labels (1, 2, 3, 4), emidec convention)"),
    (mask_on_another_grid, "do not share one voxel grid"),
    (duplicate_subject_id, "the subject id 'sub-003' appears twice (image"),
    (one_image_for_two_subjects, "appears twice (subject 'sub-003' and subject 'sub-004')"),
    (semicolon_separated, "separated by semicolons"),
    (column_twice, "column 'label' more than once"),
    (ragged_row, "line 5 has"),
    (infinite_attribute, "'lv_volume_ml'"),
    (nan_label, "label 'nan' is not 0 or 1"),
    (missing_mask_column, "lacks column(s) mask"),
    (csv_not_utf8, "cannot read"),
]


@pytest.mark.parametrize(("damage", "message"), COHORT_CASES, ids=[case.__name__ for case, _ in COHORT_CASES])
def test_a_damaged_cohort_stops_training_in_one_line(tiny_cohort, tmp_path, capsys, damage, message):
    data = tmp_path / "data"
    shutil.copytree(tiny_cohort, data)
    damage(data)
    code, _, err = run(capsys, "train", "--data", str(data), "--out", str(tmp_path / "R"), "--cube-size", "16")
    assert_one_line_error(code, err, message)
    assert not (tmp_path / "R").exists()


def test_a_csv_saved_with_a_byte_order_mark_loads(tiny_cohort, tmp_path):
    from AttriVAELib import load_cohort

    data = tmp_path / "data"
    shutil.copytree(tiny_cohort, data)
    (data / "attributes.csv").write_bytes(b"\xef\xbb\xbf" + (data / "attributes.csv").read_bytes())
    assert load_cohort(data).subjects[0].subject_id == "sub-000"


# ------------------------------------------------------------------------------------ EMIDEC and ACDC
def emidec_nan_age(root: Path) -> None:
    path = root / "Case P001.txt"
    path.write_text(path.read_text(encoding="latin-1").replace("Age : 65", "Age : nan"), encoding="latin-1")


def acdc_infinite_height(root: Path) -> None:
    info = root / "training" / "patient002" / "Info.cfg"
    info.write_text(info.read_text().replace("Height: 184.0", "Height: inf"))


def acdc_patient_twice(root: Path) -> None:
    shutil.copytree(root / "training" / "patient001", root / "testing" / "patient001")


@pytest.mark.parametrize(("dataset", "damage", "message"), [
    ("emidec_dataset", emidec_nan_age, "Case P001.txt: 'Age : nan' is not a finite number"),
    ("acdc_dataset", acdc_infinite_height, "Height 'inf' and Weight '95.0' must be finite"),
    ("acdc_dataset", acdc_patient_twice, "the subject id 'patient001' appears twice"),
], ids=["emidec_nan_age", "acdc_infinite_height", "acdc_patient_twice"])
def test_damaged_emidec_and_acdc_datasets(request, tmp_path, capsys, dataset, damage, message):
    root = request.getfixturevalue(dataset)
    damage(root)
    code, _, err = run(capsys, "train", "--data", str(root), "--out", str(tmp_path / "R"), "--cube-size", "16")
    assert_one_line_error(code, err, message)


# -------------------------------------------------------------------------------------- options, configs
def _config_file(tmp_path: Path, text: str) -> str:
    path = tmp_path / "config.json"
    path.write_text(text)
    return str(path)


OPTION_CASES: list[tuple[str, list[str], str]] = [
    ("learning_rate_nan", ["--learning-rate", "nan"], "argument --learning-rate: 'nan' is not a finite number"),
    ("learning_rate_inf", ["--learning-rate", "inf"], "argument --learning-rate: 'inf' is not a finite number"),
    ("learning_rate_text", ["--learning-rate", "fast"], "argument --learning-rate: 'fast' is not a number"),
    ("augment_nan", ["--augment", "nan"], "argument --augment: 'nan'"),
    ("epochs_zero", ["--epochs", "0"], "--epochs"),
    ("batch_of_one", ["--batch-size", "1"], "--batch-size"),
    ("negative_seed", ["--seed", "-1"], "--seed"),
    ("config_nan", ["--config", "{tmp}/config.json:" + '{"train": {"learning_rate": NaN}}'],
     "train.learning_rate (--learning-rate) = nan must be a finite number"),
    ("config_fractional_epochs", ["--config", "{tmp}/config.json:" + '{"train": {"epochs": 1.5}}'],
     "train.epochs (--epochs) = 1.5 must be a whole number"),
    ("config_size_as_text", ["--config", "{tmp}/config.json:" + '{"model": {"input_size": "80"}}'],
     "model.input_size (--cube-size) = '80' must be a whole number"),
    ("config_infinite_weight", ["--config", "{tmp}/config.json:" + '{"loss": {"gamma": Infinity}}'],
     "loss.gamma = inf must be a finite number"),
]


@pytest.mark.parametrize(("flags", "message"), [case[1:] for case in OPTION_CASES], ids=[c[0] for c in OPTION_CASES])
def test_bad_training_options_stop_in_one_line(tiny_cohort, tmp_path, capsys, flags, message):
    argv = []
    for flag in flags:
        if flag.startswith("{tmp}/config.json:"):
            flag = _config_file(tmp_path, flag.split(":", 1)[1])
        argv.append(flag)
    code, _, err = run(capsys, "train", "--data", str(tiny_cohort), "--out", str(tmp_path / "R"), "--cube-size", "16",
                       *argv)
    assert_one_line_error(code, err, message)
    assert not (tmp_path / "R").exists()


@pytest.mark.parametrize(("argv", "message"), [
    (["synth", "--subjects", "4", "--matrix", "16", "--slice-thickness", "nan"], "--slice-thickness: 'nan'"),
    (["synth", "--subjects", "4", "--matrix", "16", "--infarct-fraction", "inf"], "--infarct-fraction: 'inf'"),
    (["synth", "--subjects", "4", "--matrix", "16", "--seed", "-2"], "--seed -2"),
    (["demo", "--subjects", "12", "--matrix", "32", "--cube-size", "16"], "--subjects 12 leaves"),
    (["bench", "--cube-size", "16", "--batch-size", "2", "--steps", "0"], "--steps 0"),
    (["bench", "--cube-size", "16", "--batch-size", "1"], "--batch-size"),
    (["crossval", "--data", "{cohort}", "--folds", "1", "--cube-size", "16"], "at least 2 folds"),
], ids=["slice_thickness_nan", "infarct_fraction_inf", "synth_negative_seed", "demo_too_few_subjects",
        "bench_no_steps", "bench_batch_of_one", "crossval_one_fold"])
def test_bad_options_of_other_commands(tiny_cohort, tmp_path, capsys, argv, message):
    argv = [str(tiny_cohort) if a == "{cohort}" else a for a in argv]
    if argv[0] != "bench":
        argv += ["--out", str(tmp_path / "out")]
    code, _, err = run(capsys, *argv)
    assert_one_line_error(code, err, message)
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------------------------------ model files
def _model_copy(tiny_run: Path, tmp_path: Path) -> Path:
    path = tmp_path / "model.safetensors"
    shutil.copy(tiny_run / "model.safetensors", path)
    return path


def truncated_model(path: Path) -> None:
    _truncate(path, 0.5)


def empty_model(path: Path) -> None:
    path.write_bytes(b"")


def pickled_model(path: Path) -> None:
    torch.save({"weights": torch.zeros(3)}, path)


def model_folder(path: Path) -> None:
    path.unlink()
    path.mkdir()


def nan_weights(path: Path) -> None:
    tensors, card = read_safetensors(path)
    name = next(k for k, v in tensors.items() if v.is_floating_point())
    tensors[name] = torch.full_like(tensors[name], float("nan"))
    write_safetensors(path, tensors, card)


def card_with_text_for_a_number(path: Path) -> None:
    tensors, card = read_safetensors(path)
    card["attributes"][0]["latent_slope"] = "steep"
    write_safetensors(path, tensors, card)


def card_without_attribute_names(path: Path) -> None:
    tensors, card = read_safetensors(path)
    del card["attributes"][1]["name"]
    write_safetensors(path, tensors, card)


MODEL_CASES: list[tuple[Damage, str]] = [
    (truncated_model, "is not a readable .safetensors file"),
    (empty_model, "is not a readable .safetensors file"),
    (pickled_model, "is not a readable .safetensors file"),
    (model_folder, "is a folder"),
    (nan_weights, "holds NaN or Inf weights"),
    (card_with_text_for_a_number, "attributes[0].latent_slope = 'steep' is not a finite number"),
    (card_without_attribute_names, "attributes[1].name is missing"),
]


@pytest.mark.parametrize(("damage", "message"), MODEL_CASES, ids=[case.__name__ for case, _ in MODEL_CASES])
def test_a_damaged_model_file_stops_in_one_line(tiny_run, eval_cohort, tmp_path, capsys, damage, message):
    model = _model_copy(tiny_run, tmp_path)
    damage(model)
    code, _, err = run(capsys, "attention", "--model", str(model), "--image", str(eval_cohort / IMAGE),
                       "--mask", str(eval_cohort / MASK), "--out", str(tmp_path / "maps"))
    assert_one_line_error(code, err, message)
    assert str(model) in err
    assert not (tmp_path / "maps").exists()


@pytest.mark.parametrize("values", ["nan", "80,inf", "80,,120"])
def test_traversal_values_must_be_finite_numbers(tiny_run, eval_cohort, tmp_path, capsys, values):
    code, _, err = run(capsys, "traverse", "--model", str(tiny_run / "model.safetensors"), "--image",
                       str(eval_cohort / IMAGE), "--mask", str(eval_cohort / MASK), "--attribute", "lv_volume_ml",
                       "--values", values, "--out", str(tmp_path / "sweep"))
    assert_one_line_error(code, err, f"--values '{values}'")
    assert not (tmp_path / "sweep").exists()


# ------------------------------------------------------------------------------------ warnings, not errors
@pytest.mark.slow
def test_a_one_class_cohort_trains_with_a_warning_about_the_classifier(tmp_path, capsys):
    code, _, _ = run(capsys, "synth", "--out", str(tmp_path / "D"), "--subjects", "12", "--matrix", "32",
                     "--infarct-fraction", "0")
    assert code == 0
    code, out, err = run(capsys, "train", "--data", str(tmp_path / "D"), "--out", str(tmp_path / "R"),
                         "--cube-size", "16", "--epochs", "1")
    assert code == 0, err
    warnings = [line for line in err.splitlines() if line.startswith("attrivae: warning:")]
    assert any("every training subject is 'healthy'" in w and "--preset ar-vae" in w for w in warnings), err
    assert any("'infarct_size_pct' has one value" in w for w in warnings), err
    assert warnings and err.index(warnings[0]) < err.index("train:")  # printed when it happens, before training
    assert "AUC n/a" in out


def test_an_ed_mask_with_labels_beyond_the_scheme_is_still_a_label_map(tmp_path):
    from AttriVAELib.data.volumes import read_label_map

    labels = ellipsoid_labels()
    labels[0, 0, :5] = [5, 6, 7, 8, 9]  # other structures (RV, papillary muscles...) are allowed
    write_pair(tmp_path, "image.nii.gz", "mask.nii.gz", labels)
    assert read_label_map(tmp_path / "mask.nii.gz").GetPixelID() == sitk.sitkUInt8


@pytest.mark.parametrize("command", ["demo", "evaluate"])
def test_a_report_command_without_matplotlib_stops_before_any_work(tiny_run, eval_cohort, tmp_path, capsys,
                                                                    monkeypatch, command):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib raises ImportError
    arguments = ["--subjects", "40", "--matrix", "32"] if command == "demo" else [
        "--model", str(tiny_run / "model.safetensors"), "--data", str(eval_cohort)]
    code, _, err = run(capsys, command, "--out", str(tmp_path / "out"), *arguments)
    assert_one_line_error(code, err, "the report needs matplotlib")
    assert "pip install matplotlib" in err
    assert not (tmp_path / "out").exists() and "synthesise" not in err and "preprocess" not in err
