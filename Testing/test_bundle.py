import copy
import dataclasses
import json
import math
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from AttriVAELib import AttriVAE, InvalidModelError, ModelBundle, load_model, save_model
from AttriVAELib.files import to_json
from AttriVAELib.modelfile.bundle import read_safetensors, write_safetensors
from AttriVAELib.modelfile.card import AttributeCard, TrainingCard

FORMAT_1_BUNDLE = Path(__file__).parent / "data" / "model-format1-0.1.0.safetensors"  # see data/README.md


@pytest.fixture
def small(untrained):
    """A copy of the session's untrained bundle (tests change its weights)."""
    return ModelBundle(copy.deepcopy(untrained.model), untrained.card)


def test_round_trip_keeps_weights_statistics_and_card(tmp_path, small):
    small.model.encoder.conv1[1].running_mean.fill_(0.25)  # BatchNorm statistics travel too
    path = tmp_path / "model.safetensors"
    save_model(path, small.model, small.card)
    bundle = load_model(path)
    assert not bundle.model.training
    assert bundle.card == small.card
    for key, value in small.model.state_dict().items():
        assert torch.equal(bundle.model.state_dict()[key], value), key


def test_the_card_is_typed_with_units(small):
    card = small.card
    assert card.attribute_names == card.config.attributes and card.attributes[0].name == "lv_volume_ml"
    assert [entry.dim for entry in card.attributes] == list(range(7))
    assert (card.attributes[0].unit, card.attributes[2].unit, card.attributes[5].unit) == ("mL", "mm", "")
    assert card.attribute(2) is card.attributes[2] and all(entry.has_line for entry in card.attributes)
    assert card.data.subjects == 8 and sorted(card.data.split.train + card.data.split.val + card.data.split.test) == [
        f"sub-{i:03d}" for i in range(8)]
    assert card.data.split.part_of(card.data.split.test[0]) == "test" and card.data.split.part_of("other") == ""
    assert card.training is None and card.test is None  # untrained
    with pytest.raises(KeyError):
        card.attribute(7)


def test_a_measured_attribute_and_its_line():
    entry = AttributeCard.measured("wall_thickness_mm", 2, [6.0, 8.0, 10.0], mu=[1.0, 2.0, 3.0])
    assert (entry.unit, entry.mean, entry.minimum, entry.maximum) == ("mm", 8.0, 6.0, 10.0)
    assert math.isclose(entry.std, (8 / 3) ** 0.5)
    assert math.isclose(entry.latent_slope, 0.5) and math.isclose(entry.latent_intercept, -2.0)
    assert entry.spearman_train == pytest.approx(1.0)
    assert not AttributeCard.measured("wall_thickness_mm", 2, [6.0, 8.0]).has_line


def test_a_bundle_of_format_1_written_before_the_typed_card_still_loads():
    bundle = load_model(FORMAT_1_BUNDLE)
    card = bundle.card
    assert card.config.preset == "paper" and card.config.model.input_size == 16 and card.config.model.latent_size == 8
    assert card.attribute_names[:2] == ("lv_volume_ml", "myo_volume_ml") and card.attributes[0].unit == "mL"
    assert card.training.epochs == 1 and card.test.subjects == 2 and card.label_scheme.name == "emidec"
    assert card.data.synthetic.seed == 5 and card.provenance.library_version == "0.1.0"
    _, raw = read_safetensors(FORMAT_1_BUNDLE)
    assert (card.config.model.architecture, card.config.model.architecture_version) == ("attrivae-conv3d", 1)
    written = json.loads(to_json(card.to_dict()))  # what saving the card again writes: the same, plus units
    architecture = {"architecture": "attrivae-conv3d", "architecture_version": 1}  # and the architecture
    model = {**architecture, **raw["model"]}
    assert written == {**raw, "attributes": [{**entry, "unit": unit} for entry, unit in zip(
        raw["attributes"], ("mL", "mL", "mm", "%", "%", "", "mm"))], "model": model,
        "config": {**raw["config"], "model": model}}


def test_save_refuses_a_card_of_another_architecture(tmp_path, small):
    other = dataclasses.replace(small.card.config.model, latent_size=32)
    with pytest.raises(ValueError, match="architecture"):
        save_model(tmp_path / "m.safetensors", AttriVAE(other), small.card)


def test_missing_file(tmp_path):
    with pytest.raises(InvalidModelError, match="does not exist"):
        load_model(tmp_path / "none.safetensors")


def test_not_a_safetensors_file(tmp_path):
    path = tmp_path / "model.safetensors"
    path.write_bytes(b"\x80\x04pickle or garbage")
    with pytest.raises(InvalidModelError, match="not a readable .safetensors"):
        load_model(path)


def test_truncated_file(tmp_path, small):
    path = tmp_path / "model.safetensors"
    save_model(path, small.model, small.card)
    path.write_bytes(path.read_bytes()[:-1000])
    with pytest.raises(InvalidModelError, match="not a readable"):
        load_model(path)


def test_safetensors_without_a_model_card(tmp_path):
    path = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(2)}, str(path))
    with pytest.raises(InvalidModelError, match="no AttriVAE model card"):
        load_model(path)


def write_bundle_with_card_changes(path, bundle, **model_changes):
    """A valid bundle whose card was then edited (top-level keys, or model keys via ``model``)."""
    save_model(path, bundle.model, bundle.card)
    tensors, card = read_safetensors(path)
    card["model"].update(model_changes.pop("model", {}))
    write_safetensors(path, tensors, {**card, **model_changes})


def test_weights_of_another_architecture(tmp_path, small):
    path = tmp_path / "model.safetensors"
    write_bundle_with_card_changes(path, small, model={"latent_size": 32})
    with pytest.raises(InvalidModelError, match="do not match the architecture"):
        load_model(path)


def test_newer_bundle_version_is_refused(tmp_path, small):
    path = tmp_path / "model.safetensors"
    write_bundle_with_card_changes(path, small, format_version=99)
    with pytest.raises(InvalidModelError, match="newer AttriVAE"):
        load_model(path)


def test_another_format_is_refused(tmp_path, small):
    path = tmp_path / "model.safetensors"
    write_bundle_with_card_changes(path, small, format="something-else")
    with pytest.raises(InvalidModelError, match="not an AttriVAE model bundle"):
        load_model(path)


def test_a_card_that_is_not_an_object(tmp_path):
    path = tmp_path / "model.safetensors"
    write_safetensors(path, {"w": torch.zeros(1)}, ["not", "a", "card"])
    with pytest.raises(InvalidModelError, match="not an AttriVAE model bundle"):
        load_model(path)


@pytest.mark.parametrize(("damage", "message"), [
    (lambda card: card.pop("data"), "data is missing"),
    (lambda card: card["data"].update(subjects="many"), "data.subjects = 'many' is not a whole number"),
    (lambda card: card["data"]["split"].pop("test"), "data.split.test is missing"),
    (lambda card: card["attributes"][0].update(dim=99), r"attributes\[0\].dim = 99 is not a latent dim below 64"),
    (lambda card: card["attributes"][1].update(min=float("inf")), r"attributes\[1\].min = None is not a finite number"),
    (lambda card: card["training"].update(best_epoch=1.5), "training.best_epoch = 1.5 is not a whole number"),
    (lambda card: card["preprocess"]["label_scheme"].update(cavity="1"),
     "label_scheme.cavity = .1. is not a list of whole numbers"),
    (lambda card: card["config"].update(preset="newest"), "unknown preset 'newest'"),
    (lambda card: card["model"].update(architecture_version=7), "version 7 is newer than this release builds"),
    (lambda card: card["model"].update(architecture="attrivae-unet"), "'attrivae-unet' is not one of"),
])
def test_a_card_that_does_not_validate_is_an_invalid_model(tmp_path, small, damage, message):
    path = tmp_path / "model.safetensors"
    card = dataclasses.replace(small.card, training=TrainingCard(epochs=2, best_epoch=1, best_val_loss=10.0))
    save_model(path, small.model, card)
    tensors, raw = read_safetensors(path)
    damage(raw)
    write_safetensors(path, tensors, raw)
    with pytest.raises(InvalidModelError, match=message):
        load_model(path)
