"""The torch-free vocabulary the Slicer panel reads before PyTorch exists: choice lists, units, segment roles."""

from __future__ import annotations

import subprocess
import sys

import pytest

from AttriVAELib import choices
from AttriVAELib.config import PRESETS
from AttriVAELib.data.attributes import DEFAULT_ATTRIBUTES, attribute_unit
from AttriVAELib.data.labels import EMIDEC_SCHEME, guess_segment, segment_labels


def test_choice_lists_are_the_ones_the_library_accepts() -> None:
    assert tuple(PRESETS) == choices.PRESET_NAMES
    assert choices.DEFAULT_METHOD == choices.ATTRIBUTION_METHODS[0]  # combos show the default first
    assert all(name == method.name for name, method in choices.ATTRIBUTION.items())
    described = choices.describe_methods().split("; ")  # one entry per method, the default marked
    assert [entry.split(":")[0] for entry in described] == [
        f"{name} (default)" if name == choices.DEFAULT_METHOD else name for name in choices.ATTRIBUTION_METHODS]
    assert choices.DEFAULT_LAYER in choices.ENCODER_LAYERS


@pytest.mark.slow
def test_the_panel_imports_load_neither_torch_nor_scipy() -> None:
    code = ("import sys; import AttriVAELib, AttriVAELib.choices, AttriVAELib.config, AttriVAELib.slicer.mrml, "
            "AttriVAELib.slicer.process, AttriVAELib.data.labels, AttriVAELib.data.constants; "
            "heavy = {'torch', 'scipy', 'safetensors', 'captum'} & set(sys.modules); "
            "print(sorted(heavy)); sys.exit(bool(heavy))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr


PUBLIC_NAMES = {
    "ATTRIBUTION_METHODS", "AttriVAE", "AttriVAEError", "Cohort", "CubeGeometry", "DEFAULT_METHOD", "DecodedResponse",
    "Evaluation", "InvalidConfigError", "InvalidDatasetError", "InvalidModelError", "InvalidVolumeError",
    "LossConfig", "ModelBundle", "ModelConfig", "PreprocessConfig", "PreprocessedVolume", "RunConfig", "Subject",
    "Sweep", "TrainConfig", "TrainingDivergedError", "VAEOutput", "__version__", "attention", "attention_iou",
    "attribute_to_latent", "cross_validate", "decode", "decoded_response", "encode", "evaluate_model",
    "interpolate", "latent_to_attribute", "load_cohort", "load_model", "localisation", "make_cohort",
    "maps_in_source", "metrics", "predict", "preprocess", "preprocess_for", "preset", "reconstruct", "save_model",
    "select_attributes", "sweep", "train", "traversal_fidelity", "traverse", "with_attributes"}
"""The names ``import AttriVAELib`` offers (README, docs/python.md): moving a module inside the package keeps them."""


def test_package_names_still_resolve_on_first_use() -> None:
    import AttriVAELib

    assert set(AttriVAELib.__all__) == PUBLIC_NAMES
    for name in AttriVAELib.__all__:
        assert getattr(AttriVAELib, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        AttriVAELib.nonexistent  # noqa: B018


@pytest.mark.parametrize("name, unit", [("lv_volume_ml", "mL"), ("wall_thickness_mm", "mm"),
                                        ("infarct_size_pct", "%"), ("lv_sphericity", ""), ("mass", "")])
def test_attribute_unit_from_the_name_suffix(name: str, unit: str) -> None:
    assert attribute_unit(name) == unit


def test_every_default_attribute_has_a_known_unit_or_none() -> None:
    assert [attribute_unit(n) for n in DEFAULT_ATTRIBUTES] == ["mL", "mL", "mm", "%", "%", "", "mm"]


def test_segment_roles_map_to_emidec_labels() -> None:
    labels = segment_labels({"cavity": "LV", "myocardium": "Myo", "infarct": "Scar"})
    assert labels == {EMIDEC_SCHEME.cavity[0]: "LV", 2: "Myo", 3: "Scar"}
    assert segment_labels({"cavity": "LV", "myocardium": "Myo", "infarct": None}) == {1: "LV", 2: "Myo"}
    with pytest.raises(ValueError, match="choose the myocardium segment"):
        segment_labels({"cavity": "LV", "myocardium": ""})
    with pytest.raises(ValueError, match="unknown segment role rv"):
        segment_labels({"cavity": "LV", "myocardium": "M", "rv": "R"})


def test_segment_guess_prefers_the_role_name() -> None:
    names = ["LV myocardium", "LV cavity", "Scar"]
    assert guess_segment("cavity", names) == "LV cavity"
    assert guess_segment("myocardium", names) == "LV myocardium"
    assert guess_segment("infarct", names) == "Scar"
    assert guess_segment("infarct", ["LV", "Myo"]) is None


def test_the_label_scheme_choices_are_the_schemes():
    from AttriVAELib.data.labels import SCHEMES

    assert tuple(SCHEMES) == choices.LABEL_SCHEMES
