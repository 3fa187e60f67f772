import copy

import pytest
import torch

from AttriVAELib import AttriVAE, InvalidConfigError, ModelConfig
from AttriVAELib.config import ARCHITECTURES
from AttriVAELib.method.model import BUILDERS


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


def test_depth_and_strides_follow_the_channel_lists():
    config = ModelConfig(input_size=24, encoder_channels=(4, 8, 8, 2), decoder_channels=(16, 8, 4, 4), latent_size=6)
    assert (config.depth, config.downsampling_factor, config.bottleneck_size) == (3, 8, 3)
    model = AttriVAE(config).eval()
    assert model.encoder.layer_names == ("conv1", "conv2", "conv3", "conv4")
    assert model.encoder.conv4[0].stride == (1, 1, 1) and model.encoder.conv3[0].stride == (2, 2, 2)
    assert len(model.decoder.up) == 3
    out = model(torch.rand(2, 1, 24, 24, 24))
    assert out.recon.shape == (2, 1, 24, 24, 24) and out.mu.shape == (2, 6)
    with pytest.raises(InvalidConfigError, match="multiple of 8"):
        ModelConfig(input_size=20, encoder_channels=(4, 8, 8, 2), decoder_channels=(16, 8, 4, 4))
    with pytest.raises(InvalidConfigError, match="decoder_channels as many"):
        ModelConfig(encoder_channels=(4, 8, 8, 2))


def test_the_architecture_is_named_and_versioned():
    assert (ModelConfig().architecture, ModelConfig().architecture_version) == ("attrivae-conv3d", 1)
    assert set(BUILDERS) == set(ARCHITECTURES)  # every architecture a config may name can be built
    with pytest.raises(InvalidConfigError, match="'attrivae-unet' is not one of attrivae-conv3d"):
        ModelConfig(architecture="attrivae-unet")
    with pytest.raises(InvalidConfigError, match="version 2 is newer than this release builds"):
        ModelConfig(architecture_version=2)


def test_one_volume_in_evaluation_takes_onednn_directly_with_the_same_result(monkeypatch):
    """Batch 1, no gradients, float32 on the CPU, evaluation mode: every convolution block is one fused oneDNN
    call (BatchNorm folded, ReLU fused; PyTorch itself would use its im2col fallback at this size) and the result
    equals the default path's; with gradients (attention maps), a batch, autocast or BatchNorm in training mode
    the default path runs."""
    from AttriVAELib.method import model as module

    torch.manual_seed(0)
    model = AttriVAE(ModelConfig(input_size=16, encoder_channels=(4, 8, 8, 8, 8), decoder_channels=(8, 8, 8, 4, 4),
                                 hidden_sizes=(16,), latent_size=4, classifier_sizes=(4,))).eval()
    for norm in (m for m in model.modules() if isinstance(m, torch.nn.BatchNorm3d)):  # statistics to fold
        norm.running_mean.uniform_(-0.2, 0.2), norm.running_var.uniform_(0.5, 2.0)
        norm.weight.data.uniform_(0.5, 1.5), norm.bias.data.uniform_(-0.1, 0.1)
    volume, code = torch.rand(1, 1, 16, 16, 16), torch.randn(1, 4)
    calls = []
    for name in ("_convolution_pointwise", "_convolution_transpose_pointwise"):
        op = getattr(torch.ops.mkldnn, name)
        monkeypatch.setattr(torch.ops.mkldnn, name, lambda *args, op=op: calls.append(args[-3]) or op(*args))
    with torch.no_grad():
        fast = model.decode(code), model.encode(volume)[0]
        # the decoder's conv_in, four up blocks and conv_out fused with ReLU, its head alone; the encoder's five
        assert calls == ["relu"] * 6 + ["none"] + ["relu"] * 5
        calls.clear()
        model.decode(code.repeat(2, 1))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            model.decoder.up[1](torch.rand(1, 8, 2, 2, 2))
        copy.deepcopy(model.decoder.up[1]).train()(torch.rand(1, 8, 2, 2, 2))
    model.decode(code)
    assert not calls
    monkeypatch.setattr(module, "_one_volume_for_onednn", lambda x, weight: False)
    with torch.no_grad():
        default = model.decode(code), model.encode(volume)[0]
    for mine, theirs in zip(fast, default):
        torch.testing.assert_close(mine, theirs, rtol=1e-5, atol=1e-5)
