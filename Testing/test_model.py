import pytest
import torch

from AttriVAELib import AttriVAE, InvalidConfigError, ModelConfig


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_paper_architecture_has_the_published_parameter_count():
    model = AttriVAE()
    # encoder 133,542 + decoder 204,411 + MLP 2,721, from the layer table (docs/presets-and-training.md, "Model")
    assert (count(model.encoder), count(model.decoder), count(model.classifier)) == (133_542, 204_411, 2_721)
    assert count(model) == 340_674


@pytest.mark.parametrize(("size", "flat"), [(16, 2), (32, 16), (48, 54), (80, 250)])
def test_shapes_for_each_input_size(size, flat):
    model = AttriVAE(ModelConfig(input_size=size, latent_size=8)).eval()
    assert model.config.flat_features == flat
    out = model(torch.rand(2, 1, size, size, size))
    assert out.recon.shape == (2, 1, size, size, size)
    assert out.mu.shape == out.logvar.shape == out.z.shape == (2, 8)
    assert out.logits.shape == (2,)
    assert 0.0 <= out.recon.min() and out.recon.max() <= 1.0


def test_eval_mode_uses_the_mean_and_training_mode_samples():
    model = AttriVAE(ModelConfig(input_size=16)).eval()
    x = torch.rand(3, 1, 16, 16, 16)
    out = model(x)
    assert torch.equal(out.z, out.mu)
    sampled = model(x, sample=True)
    assert not torch.equal(sampled.z, sampled.mu)


def test_sampling_uses_half_logvar_as_log_sigma():
    model = AttriVAE(ModelConfig(input_size=16))
    mu, logvar = torch.zeros(20000, 1), torch.full((20000, 1), 2.0 * torch.log(torch.tensor(3.0)))
    z = model.reparameterize(mu, logvar, sample=True)
    assert z.std().item() == pytest.approx(3.0, rel=0.03)


@pytest.mark.parametrize("size", [0, 20, 33, -16])
def test_input_size_must_be_a_multiple_of_16(size):
    with pytest.raises(InvalidConfigError, match="multiple of 16"):
        ModelConfig(input_size=size)
