import json
import runpy
import shutil
import sys
from pathlib import Path

import pytest
import SimpleITK as sitk

from AttriVAELib import InvalidModelError, load_model
from AttriVAELib.apps.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_other_packages_deprecations_do_not_reach_the_user(monkeypatch, capsys):
    import argparse
    import warnings

    from AttriVAELib.apps import cli

    def noisy(_args):
        for module, category in (("torch.jit._script", DeprecationWarning), ("torch.utils.mkldnn", ResourceWarning),
                                 ("AttriVAELib.apps.cli", DeprecationWarning),
                                 ("AttriVAELib.interpretation.traversal", UserWarning), ("scipy.stats", UserWarning)):
            warnings.warn_explicit(f"from {module}", category, f"{module}.py", 1, module=module)
        return 0

    def parser():
        built = argparse.ArgumentParser(prog="attrivae")
        built.add_argument("command")
        built.set_defaults(handler=noisy)
        return built

    monkeypatch.setattr(cli, "_parser", parser)
    code, _, err = run(capsys, "noisy")
    assert code == 0
    assert err.splitlines() == [f"attrivae: warning: from {module}"
                                for module in ("AttriVAELib.apps.cli", "AttriVAELib.interpretation.traversal",
                                               "scipy.stats")]


def assert_one_line_error(code, err, pattern):
    assert code == 2
    errors = [line for line in err.strip().splitlines() if line.startswith("attrivae: error:")]
    assert len(errors) == 1 and err.strip().endswith(errors[0]), err
    assert "Traceback" not in err
    assert pattern in errors[0]


@pytest.mark.slow
def test_synth_then_train_gives_a_loadable_model(tmp_path, capsys):
    code, out, _ = run(capsys, "synth", "--out", str(tmp_path / "D"), "--subjects", "12", "--matrix", "32")
    assert code == 0 and "12 subjects" in out
    code, out, _ = run(capsys, "train", "--data", str(tmp_path / "D"), "--out", str(tmp_path / "R"),
                       "--epochs", "2", "--cube-size", "32", "--attributes", "lv_volume_ml,ef_pct")
    assert code == 0, out
    bundle = load_model(tmp_path / "R" / "model.safetensors")
    assert bundle.attribute_names == ("lv_volume_ml", "ef_pct")
    assert "dim  0  lv_volume_ml" in out
    code, out, _ = run(capsys, "train", "--data", str(tmp_path / "D"), "--out", str(tmp_path / "R"),
                       "--epochs", "3", "--resume")
    assert code == 0
    assert json.loads((tmp_path / "R" / "config.json").read_text())["attributes"] == ["lv_volume_ml", "ef_pct"]
    assert load_model(tmp_path / "R" / "model.safetensors").card.training.epochs == 3


@pytest.mark.slow
def test_demo_runs_end_to_end_at_tiny_settings(tmp_path, capsys):
    code, out, err = run(capsys, "demo", "--out", str(tmp_path / "demo"), "--subjects", "36", "--matrix", "32",
                         "--epochs", "1", "--cube-size", "16")
    assert code == 0, err
    assert "AUC" in out and "lv_volume_ml" in out
    assert (tmp_path / "demo" / "run" / "model.safetensors").is_file()
    assert (tmp_path / "demo" / "report" / "report.html").is_file()
    trained = json.loads((tmp_path / "demo" / "run" / "config.json").read_text())["train"]
    assert (trained["augment_probability"], trained["precision"]) == (0.5, "fp32")  # the README's numbers


@pytest.mark.slow
@pytest.mark.skipif(not (shutil.which("c++") or shutil.which("g++")), reason="torch.compile needs a C++ compiler")
def test_train_compiled_says_so_and_finishes(tiny_cohort, tmp_path, capsys):
    code, _, err = run(capsys, "train", "--data", str(tiny_cohort), "--out", str(tmp_path / "R"), "--cube-size", "16",
                       "--epochs", "1", "--compile")
    assert code == 0 and "torch.compile: the first training steps compile" in err
    assert "failed" not in err  # no fallback to eager
    assert json.loads((tmp_path / "R" / "config.json").read_text())["train"]["compile"] == "on"
    assert load_model(tmp_path / "R" / "model.safetensors").card.test


def test_a_bare_compile_flag_means_on():
    from AttriVAELib.apps.cli import _parser

    assert _parser().parse_args(["train", "--data", "D", "--out", "R", "--compile"]).compile == "on"
    assert _parser().parse_args(["train", "--data", "D", "--out", "R"]).compile is None  # the config's: auto
    assert _parser().parse_args(["bench"]).compile == "auto"


def test_size_not_a_multiple_of_16(tiny_cohort, tmp_path, capsys):
    code, _, err = run(capsys, "train", "--data", str(tiny_cohort), "--out", str(tmp_path / "R"), "--cube-size", "40")
    assert_one_line_error(code, err, "multiple of 16")
    assert not (tmp_path / "R").exists()


def test_unknown_attribute(tiny_cohort, tmp_path, capsys):
    code, _, err = run(capsys, "train", "--data", str(tiny_cohort), "--out", str(tmp_path / "R"),
                       "--attributes", "lv_volume_ml,heart_rate")
    assert_one_line_error(code, err, "unknown attribute 'heart_rate'")


def test_missing_dataset(tmp_path, capsys):
    code, _, err = run(capsys, "train", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "R"))
    assert_one_line_error(code, err, "does not exist")


def test_bad_config_file(tiny_cohort, tmp_path, capsys):
    (tmp_path / "config.json").write_text('{"loss": {"gamma": -1}}')
    code, _, err = run(capsys, "train", "--data", str(tiny_cohort), "--out", str(tmp_path / "R"),
                       "--config", str(tmp_path / "config.json"))
    assert_one_line_error(code, err, "gamma=-1")


def test_cuda_without_a_gpu(tiny_cohort, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    code, _, err = run(capsys, "train", "--data", str(tiny_cohort), "--out", str(tmp_path / "R"),
                       "--device", "cuda", "--cube-size", "16")
    assert_one_line_error(code, err, "no CUDA GPU")


def test_synth_into_a_used_folder(tmp_path, capsys):
    (tmp_path / "D").mkdir()
    (tmp_path / "D" / "mine.txt").write_text("x")
    code, _, err = run(capsys, "synth", "--out", str(tmp_path / "D"), "--subjects", "2", "--matrix", "16")
    assert_one_line_error(code, err, "not empty")


def test_a_bad_volume_stops_before_anything_is_written(tiny_cohort, tmp_path, capsys):
    data = tmp_path / "data"
    shutil.copytree(tiny_cohort, data)
    image = sitk.ReadImage(str(data / "images" / "sub-003_ed.nii.gz"))
    sitk.WriteImage(sitk.JoinSeries([image, image]), str(data / "images" / "sub-003_ed.nii.gz"))  # now 4D
    code, _, err = run(capsys, "train", "--data", str(data), "--out", str(tmp_path / "R"), "--cube-size", "16")
    assert_one_line_error(code, err, "sub-003_ed.nii.gz is 4D")
    assert not (tmp_path / "R").exists()


@pytest.mark.slow
def test_config_file_and_preset_flags(tiny_cohort, tmp_path, capsys):
    (tmp_path / "config.json").write_text(json.dumps({"loss": {"gamma": 50.0}, "train": {"batch_size": 8}}))
    code, _, _ = run(capsys, "train", "--data", str(tiny_cohort), "--out", str(tmp_path / "A"), "--cube-size", "16",
                     "--epochs", "1", "--config", str(tmp_path / "config.json"), "--lr-schedule", "cosine",
                     "--augment", "0.25", "--compile", "off", "--precision", "fp32")
    assert code == 0
    written = json.loads((tmp_path / "A" / "config.json").read_text())
    assert (written["preset"], written["loss"]["gamma"], written["train"]["batch_size"]) == ("paper", 50.0, 8)
    assert (written["train"]["lr_schedule"], written["train"]["augment_probability"]) == ("cosine", 0.25)
    assert (written["train"]["compile"], written["train"]["precision"]) == ("off", "fp32")
    code, _, _ = run(capsys, "train", "--data", str(tiny_cohort), "--out", str(tmp_path / "B"), "--cube-size", "16",
                     "--epochs", "1", "--preset", "official-code")
    assert code == 0
    written = json.loads((tmp_path / "B" / "config.json").read_text())
    assert (written["loss"]["reconstruction"], written["loss"]["gamma"], written["preprocess"]["mode"],
            written["train"]["augment_probability"]) == ("mse", 10.0, "official-code", 0.1)
    assert (written["train"]["compile"], written["train"]["precision"]) == ("auto", "auto")  # the defaults


def test_augment_out_of_range(tiny_cohort, tmp_path, capsys):
    code, _, err = run(capsys, "train", "--data", str(tiny_cohort), "--out", str(tmp_path / "R"), "--augment", "1.5")
    assert_one_line_error(code, err, "--augment")
    assert not (tmp_path / "R").exists()


def test_demo_with_a_bad_input_size_writes_nothing(tmp_path, capsys):
    code, _, err = run(capsys, "demo", "--out", str(tmp_path / "demo"), "--cube-size", "40")
    assert_one_line_error(code, err, "multiple of 16")
    assert not (tmp_path / "demo").exists()


def test_synth_options_are_checked(tmp_path, capsys):
    for option, value in (("--slice-thickness", "0"), ("--infarct-fraction", "1.5")):
        code, _, err = run(capsys, "synth", "--out", str(tmp_path / "D"), "--subjects", "2", "--matrix", "16",
                           option, value)
        assert_one_line_error(code, err, option)
    assert not (tmp_path / "D").exists()


def test_an_unwritable_output_is_one_line(tiny_cohort, tmp_path, capsys):
    (tmp_path / "file").write_text("not a folder")
    code, _, err = run(capsys, "synth", "--out", str(tmp_path / "file" / "D"), "--subjects", "2", "--matrix", "16")
    assert code == 1 and err.startswith("attrivae: error:") and "Traceback" not in err


@pytest.mark.slow
def test_evaluate_writes_the_report_on_the_test_split(tiny_run, eval_cohort, tmp_path, capsys):
    code, out, err = run(capsys, "evaluate", "--model", str(tiny_run / "model.safetensors"), "--data",
                         str(eval_cohort), "--out", str(tmp_path / "report"))
    assert code == 0, err
    assert "test split" in err and (tmp_path / "report" / "report.html").is_file()
    metrics = json.loads((tmp_path / "report" / "metrics.json").read_text())
    assert metrics["subjects"] == len(json.loads((tiny_run / "split.json").read_text())["test"])


def test_evaluate_with_a_missing_attribute(tiny_run, csv_without_attributes, tmp_path, capsys):
    code, _, err = run(capsys, "evaluate", "--model", str(tiny_run / "model.safetensors"), "--data",
                       str(csv_without_attributes), "--out", str(tmp_path / "report"))
    assert_one_line_error(code, err, "unknown attribute 'ef_pct'")
    assert not (tmp_path / "report").exists()


@pytest.fixture
def csv_without_attributes(eval_cohort, tmp_path):
    """The evaluation cohort without ES masks, so EF cannot be measured."""
    data = tmp_path / "data"
    shutil.copytree(eval_cohort, data)
    lines = (data / "attributes.csv").read_text().splitlines()
    header = lines[0].split(",")
    keep = [i for i, name in enumerate(header) if name in ("subject", "image", "mask", "label")]
    (data / "attributes.csv").write_text("\n".join(",".join(line.split(",")[i] for i in keep) for line in lines))
    return data


def test_traverse_writes_volumes_in_the_input_geometry(tiny_run, eval_cohort, tmp_path, capsys):
    image = eval_cohort / "images" / "sub-002_ed.nii.gz"
    code, _, err = run(capsys, "traverse", "--model", str(tiny_run / "model.safetensors"), "--image", str(image),
                       "--mask", str(eval_cohort / "labels" / "sub-002_ed.nii.gz"), "--attribute", "lv_volume_ml",
                       "--values", "90,120,900", "--out", str(tmp_path / "sweep"))
    assert code == 0, err
    warning = next(line for line in err.splitlines() if "cannot be drawn" in line)  # 900 mL: beyond the training range
    assert warning.startswith("attrivae: warning: lv_volume_ml: ") and "900" in warning.split("cannot")[0]
    written = sorted((tmp_path / "sweep").glob("*.nii.gz"))
    assert [p.name for p in written] == [f"traverse_lv_volume_ml_{i:02d}.nii.gz" for i in range(3)]
    source, step = sitk.ReadImage(str(image)), sitk.ReadImage(str(written[0]))
    assert step.GetSize() == source.GetSize()
    for getter in ("GetOrigin", "GetSpacing", "GetDirection"):
        assert getattr(step, getter)() == pytest.approx(getattr(source, getter)())
    index = json.loads((tmp_path / "sweep" / "index.json").read_text())
    assert index["attribute"] == "lv_volume_ml" and index["unit"] == "mL" and index["units"] == "attribute"
    steps = index["steps"]
    assert [step["file"] for step in steps] == [p.name for p in written]
    assert [step["requested"] for step in steps] == [90.0, 120.0, 900.0]
    assert steps[2]["clamped"]
    if index["calibration"] == "decoded":  # each step says what the decoded anatomy shows
        low, high = index["reachable"]
        assert all(low - 1e-6 <= step["drawn"] <= high + 1e-6 for step in steps)
        assert all(step["measured"] is not None for step in steps)
    else:  # the tiny model draws nothing measurable: encoder units, said so and not measured
        assert "encoder's units" in err and all(step["measured"] is None for step in steps)


def test_a_warning_is_printed_before_the_error_that_ends_the_command(tiny_run, eval_cohort, tmp_path, capsys):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("not ours")
    code, _, err = run(capsys, "traverse", "--model", str(tiny_run / "model.safetensors"), "--image",
                       str(eval_cohort / "images" / "sub-002_ed.nii.gz"), "--mask",
                       str(eval_cohort / "labels" / "sub-002_ed.nii.gz"), "--attribute", "lv_volume_ml",
                       "--values", "900", "--out", str(tmp_path / "taken"))
    lines = err.strip().splitlines()
    assert code == 2 and lines[0].startswith("attrivae: warning: lv_volume_ml: ") and "cannot be drawn" in lines[0]
    assert lines[-1].startswith("attrivae: error:") and "taken" in lines[-1]
    assert (tmp_path / "taken" / "keep.txt").read_text() == "not ours"


@pytest.mark.parametrize(("method", "extra"), [("gradcam", ["--layer", "conv4"]), ("gradient-x-input", []),
                                               ("integrated-gradients", [])])
def test_attention_writes_one_map_per_attribute(tiny_run, eval_cohort, tmp_path, capsys, method, extra):
    code, _, err = run(capsys, "attention", "--model", str(tiny_run / "model.safetensors"),
                       "--image", str(eval_cohort / "images" / "sub-002_ed.nii.gz"),
                       "--mask", str(eval_cohort / "labels" / "sub-002_ed.nii.gz"), "--method", method, *extra,
                       "--attributes", "lv_volume_ml, ef_pct", "--out", str(tmp_path / "maps"))
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "maps").glob("*.nii.gz")) == [
        "attention_ef_pct.nii.gz", "attention_lv_volume_ml.nii.gz"]
    index = json.loads((tmp_path / "maps" / "index.json").read_text())
    assert index["method"] == method and index["signed"] == (method != "gradcam")
    assert index.get("layer") == ("conv4" if method == "gradcam" else None)
    values = sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "maps" / "attention_ef_pct.nii.gz")))
    assert (values.min() < 0) == (method != "gradcam")  # signed maps take both signs


def test_attention_layer_belongs_to_gradcam(tiny_run, eval_cohort, tmp_path, capsys):
    code, _, err = run(capsys, "attention", "--model", str(tiny_run / "model.safetensors"),
                       "--image", str(eval_cohort / "images" / "sub-002_ed.nii.gz"),
                       "--mask", str(eval_cohort / "labels" / "sub-002_ed.nii.gz"), "--layer", "conv4",
                       "--out", str(tmp_path / "maps"))
    assert_one_line_error(code, err, "--layer goes with a method that explains an encoder layer (gradcam)")
    assert not (tmp_path / "maps").exists()


@pytest.mark.parametrize(("extra", "message"), [
    (["--attribute", "heart_rate", "--values", "1"], "not in the model"),
    (["--attribute", "lv_volume_ml", "--values", "a,b"], "comma-separated finite numbers"),
])
def test_traverse_bad_requests(tiny_run, eval_cohort, tmp_path, capsys, extra, message):
    code, _, err = run(capsys, "traverse", "--model", str(tiny_run / "model.safetensors"),
                       "--image", str(eval_cohort / "images" / "sub-002_ed.nii.gz"),
                       "--mask", str(eval_cohort / "labels" / "sub-002_ed.nii.gz"), *extra,
                       "--out", str(tmp_path / "sweep"))
    assert_one_line_error(code, err, message)
    assert not (tmp_path / "sweep").exists()


def test_a_model_file_that_is_not_a_bundle(eval_cohort, tmp_path, capsys):
    (tmp_path / "model.safetensors").write_bytes(b"nonsense")
    code, _, err = run(capsys, "attention", "--model", str(tmp_path / "model.safetensors"),
                       "--image", str(eval_cohort / "images" / "sub-002_ed.nii.gz"),
                       "--mask", str(eval_cohort / "labels" / "sub-002_ed.nii.gz"), "--out", str(tmp_path / "maps"))
    assert_one_line_error(code, err, "not a readable .safetensors")


@pytest.mark.slow
def test_crossval_prints_mean_and_sd_per_preset(tiny_cohort, eval_cohort, tmp_path, capsys):
    code, out, err = run(capsys, "crossval", "--data", str(tiny_cohort), "--out", str(tmp_path / "cv"),
                         "--folds", "2", "--seeds", "1", "--presets", "vae,official-code", "--epochs", "1",
                         "--cube-size", "16", "--augment", "0", "--attributes", "lv_volume_ml,myo_volume_ml",
                         "--independent", str(eval_cohort))
    assert code == 0, err
    assert "vae " in out and "official-code" in out and "±" in out
    official = json.loads((tmp_path / "cv" / "crossval_settings.json").read_text())["configs"]["official-code"]
    assert official["train"]["augment_probability"] == 0.0  # the flag, although it equals paper's default
    assert official["loss"]["delta"] == 100.0 and official["model"]["input_size"] == 16  # and the preset's own
    assert "test folds:" in out and "independent cohort:" in out and out.count("\nceiling ") == 2
    assert json.loads((tmp_path / "cv" / "crossval.json").read_text())["folds"] == 2


def test_crossval_unknown_preset(tiny_cohort, tmp_path, capsys):
    code, _, err = run(capsys, "crossval", "--data", str(tiny_cohort), "--out", str(tmp_path / "cv"),
                       "--presets", "attri-vae,fast")
    assert_one_line_error(code, err, "unknown preset 'fast'")


def test_python_dash_m_runs_the_command_line(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["attrivae", "synth", "--help"])
    with pytest.raises(SystemExit) as exited:
        runpy.run_module("AttriVAELib", run_name="__main__")
    assert exited.value.code == 0 and "--subjects" in capsys.readouterr().out


def test_the_summary_of_an_unfinished_model_is_an_error_not_a_crash(untrained):
    from AttriVAELib.apps.cli import _print_summary

    with pytest.raises(InvalidModelError, match="unfinished training"):
        _print_summary(Path("run/model.safetensors"), untrained.card)


def test_renamed_options_keep_working_for_a_release_and_say_their_new_name(capsys):
    from AttriVAELib.apps.cli import _parser

    args = _parser().parse_args(["train", "--data", "d", "--out", "o", "--size", "16"])
    assert args.cube_size == 16 and args.renamed == [("--size", "--cube-size")]
    args = _parser().parse_args(["demo", "--size", "32", "--input-size", "16"])
    assert (args.matrix, args.cube_size) == (32, 16)
    assert _parser().parse_args(["synth", "--out", "D"]).matrix == 80  # the new name keeps the default
    code, _, err = run(capsys, "bench", "--size", "20")  # 20 is no multiple of 16: fails before measuring
    assert code == 2 and "attrivae: warning: --size is now --cube-size; --size stops working in the next release" in err
