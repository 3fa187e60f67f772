import json

import pytest
import torch
from safetensors.torch import save_file

from AttriVAELib import AttriVAE, InvalidModelError, ModelConfig, load_model, save_model

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


def test_weights_of_another_architecture(tmp_path):
    path = tmp_path / "model.safetensors"
    save_model(path, AttriVAE(ModelConfig(input_size=16)), CARD)
    # rewrite the card so it claims another latent size
    from AttriVAELib.bundle import read_safetensors, write_safetensors
    tensors, card = read_safetensors(path)
    card["model"]["latent_size"] = 32
    write_safetensors(path, tensors, card)
    with pytest.raises(InvalidModelError, match="do not match the architecture"):
        load_model(path)


def test_newer_bundle_version_is_refused(tmp_path):
    path = tmp_path / "model.safetensors"
    save_model(path, AttriVAE(ModelConfig(input_size=16)), CARD)
    from AttriVAELib.bundle import read_safetensors, write_safetensors
    tensors, card = read_safetensors(path)
    write_safetensors(path, tensors, {**card, "format_version": 99})
    with pytest.raises(InvalidModelError, match="newer AttriVAE"):
        load_model(path)
    assert json.dumps(card)  # card stays plain JSON
