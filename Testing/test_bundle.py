import pytest
import torch
from safetensors.torch import save_file

from AttriVAELib import AttriVAE, InvalidModelError, ModelConfig, load_model, save_model
from AttriVAELib.bundle import read_safetensors, write_safetensors

CARD = {"attributes": [{"name": "lv_volume_ml", "dim": 0}], "class_names": ["healthy", "MINF"]}


def test_round_trip_keeps_weights_statistics_and_card(tmp_path):
    model = AttriVAE(ModelConfig(input_size=16, latent_size=8))
    model.encoder.conv1[1].running_mean.fill_(0.25)  # BatchNorm statistics travel too
    path = tmp_path / "model.safetensors"
    save_model(path, model, CARD)
    bundle = load_model(path)
    assert not bundle.model.training
    assert bundle.attribute_names == ["lv_volume_ml"]
    assert bundle.card["model"]["latent_size"] == 8 and bundle.card["format"] == "attrivae-model"
    for key, value in model.state_dict().items():
        assert torch.equal(bundle.model.state_dict()[key], value), key


def test_missing_file(tmp_path):
    with pytest.raises(InvalidModelError, match="does not exist"):
        load_model(tmp_path / "none.safetensors")


def test_not_a_safetensors_file(tmp_path):
    path = tmp_path / "model.safetensors"
    path.write_bytes(b"\x80\x04pickle or garbage")
    with pytest.raises(InvalidModelError, match="not a readable .safetensors"):
        load_model(path)


def test_truncated_file(tmp_path):
    path = tmp_path / "model.safetensors"
    save_model(path, AttriVAE(ModelConfig(input_size=16)), CARD)
    path.write_bytes(path.read_bytes()[:-1000])
    with pytest.raises(InvalidModelError, match="not a readable"):
        load_model(path)


def test_safetensors_without_a_model_card(tmp_path):
    path = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(2)}, str(path))
    with pytest.raises(InvalidModelError, match="no AttriVAE model card"):
        load_model(path)


def write_bundle_with_card_changes(path, **model_changes):
    """A valid bundle whose card was then edited (top-level keys, or model keys via ``model``)."""
    save_model(path, AttriVAE(ModelConfig(input_size=16)), CARD)
    tensors, card = read_safetensors(path)
    card["model"].update(model_changes.pop("model", {}))
    write_safetensors(path, tensors, {**card, **model_changes})


def test_weights_of_another_architecture(tmp_path):
    path = tmp_path / "model.safetensors"
    write_bundle_with_card_changes(path, model={"latent_size": 32})
    with pytest.raises(InvalidModelError, match="do not match the architecture"):
        load_model(path)


def test_newer_bundle_version_is_refused(tmp_path):
    path = tmp_path / "model.safetensors"
    write_bundle_with_card_changes(path, format_version=99)
    with pytest.raises(InvalidModelError, match="newer AttriVAE"):
        load_model(path)


def test_another_format_is_refused(tmp_path):
    path = tmp_path / "model.safetensors"
    write_bundle_with_card_changes(path, format="something-else")
    with pytest.raises(InvalidModelError, match="not an AttriVAE model bundle"):
        load_model(path)


def test_a_card_that_is_not_an_object(tmp_path):
    path = tmp_path / "model.safetensors"
    write_safetensors(path, {"w": torch.zeros(1)}, ["not", "a", "card"])
    with pytest.raises(InvalidModelError, match="not an AttriVAE model bundle"):
        load_model(path)
