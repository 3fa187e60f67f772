import warnings

import numpy as np
import pytest
import torch

from AttriVAELib import InvalidConfigError
from AttriVAELib.interpretation.inference import (
    attribute_to_latent,
    decode,
    encode,
    interpolate,
    latent_to_attribute,
    predict,
    reconstruct,
)
from AttriVAELib.interpretation.traversal import sweep, traverse


@pytest.fixture
def bundle(tiny_bundle):
    return tiny_bundle


@pytest.fixture
def volume(tiny_subject):
    return tiny_subject[1].volume


def test_preprocess_for_uses_the_models_input_size(volume):
    assert volume.shape == (32, 32, 32)


def test_encode_reconstruct_predict_shapes(bundle, volume):
    batch = np.stack([volume, volume])[:, None]  # (2, 1, S, S, S)
    mu, sigma = encode(bundle, batch)
    assert mu.shape == sigma.shape == (2, 64) and (sigma > 0).all()
    assert torch.equal(mu[0], mu[1])
    recon = reconstruct(bundle, batch)
    assert recon.shape == (2, 1, 32, 32, 32) and 0 <= recon.min() and recon.max() <= 1
    probability = predict(bundle, volume)
    assert probability.shape == (1,) and 0 <= probability.item() <= 1


def test_wrong_volume_shape(bundle):
    with pytest.raises(InvalidConfigError, match="does not fit the model"):
        encode(bundle, np.zeros((16, 16, 16)))


def test_traversal_decodes_every_step_in_one_batch(bundle, volume):
    mu, _ = encode(bundle, volume)
    values = [-2.0, mu[0, 0].item(), 2.0]
    steps = traverse(bundle, mu[0], "lv_volume_ml", values)
    assert steps.shape == (3, 1, 32, 32, 32)
    assert torch.allclose(steps[1], reconstruct(bundle, volume)[0], atol=1e-5)  # its own value: the recon
    assert not torch.allclose(steps[0], steps[2])
    one_by_one = torch.cat([traverse(bundle, mu[0], 0, [v]) for v in values])
    assert torch.allclose(steps, one_by_one, atol=1e-5)


def test_traversal_in_attribute_units_is_the_sweep_users_get(bundle, volume):
    entry = bundle.card.attributes[0]
    mu, _ = encode(bundle, volume)
    values = [entry.minimum, entry.maximum]
    latent = attribute_to_latent(bundle, "lv_volume_ml", values)
    assert np.allclose(latent_to_attribute(bundle, "lv_volume_ml", latent), values)
    swept = sweep(bundle, mu[0], "lv_volume_ml", values)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an untrained decoder may draw too little to reach the requests
        by_units = traverse(bundle, mu[0], "lv_volume_ml", values, units="attribute")
    by_latent = traverse(bundle, mu[0], 0, swept.latent.tolist())
    assert torch.allclose(by_units, by_latent, atol=1e-6) and torch.allclose(by_units, swept.volumes, atol=1e-6)
    if swept.units == "encoder":  # the untrained model draws nothing measurable: the encoder's line, said so
        assert np.allclose(swept.latent, latent) and "encoder's units" in swept.notes()[-1]


def test_attributes_a_decoded_volume_does_not_show_keep_the_encoders_units(bundle, volume):
    mu, _ = encode(bundle, volume)
    entry = bundle.card.attributes[bundle.attribute_names.index("ef_pct")]
    swept = sweep(bundle, mu[0], "ef_pct", [entry.mean])
    assert swept.units == "encoder" and np.isnan(swept.measured).all()
    assert swept.latent == pytest.approx(attribute_to_latent(bundle, "ef_pct", [entry.mean]))
    assert swept.notes() == ["ef_pct: a decoded volume does not show it; values are the encoder's units (the "
                             "training line), not measured on the decoded anatomy"]


def test_out_of_range_attribute_values_are_clamped_with_a_warning(bundle):
    entry = bundle.card.attributes[0]
    with pytest.warns(UserWarning, match="clamped"):
        latent = attribute_to_latent(bundle, "lv_volume_ml", [entry.maximum * 10])
    assert latent[0] == pytest.approx(attribute_to_latent(bundle, "lv_volume_ml", [entry.maximum])[0])


def test_unknown_attribute_names_the_known_ones(bundle, volume):
    mu, _ = encode(bundle, volume)
    with pytest.raises(InvalidConfigError, match="not in the model.*lv_volume_ml"):
        traverse(bundle, mu[0], "heart_rate", [0.0])
    with pytest.raises(InvalidConfigError, match="outside 0..63"):
        traverse(bundle, mu[0], 64, [0.0])
    with pytest.raises(InvalidConfigError, match="needs a model bundle"):
        traverse(bundle.model, mu[0], "lv_volume_ml", [0.0])


def test_interpolation_is_linear_with_both_endpoints():
    z_a, z_b = torch.zeros(4), torch.arange(4.0)
    codes = interpolate(z_a, z_b, 5)
    assert codes.shape == (5, 4)
    assert torch.equal(codes[0], z_a) and torch.equal(codes[-1], z_b)
    assert torch.allclose(codes[2], (z_a + z_b) / 2)
    with pytest.raises(InvalidConfigError, match="at least 2 steps"):
        interpolate(z_a, z_b, 1)
    with pytest.raises(InvalidConfigError, match="cannot be interpolated"):
        interpolate(z_a, torch.zeros(3), 3)


def test_decoding_interpolated_codes(bundle, volume):
    mu, _ = encode(bundle, volume)
    volumes = decode(bundle, interpolate(mu[0], torch.zeros(64), 3))
    assert volumes.shape == (3, 1, 32, 32, 32)


def test_fast_decode_stays_close_to_float32(tiny_bundle) -> None:
    from AttriVAELib.interpretation.inference import decode
    from AttriVAELib.method.acceleration import bf16_supported

    z = torch.randn(3, tiny_bundle.model.config.latent_size, generator=torch.Generator().manual_seed(0))
    exact, fast = decode(tiny_bundle, z), decode(tiny_bundle, z, precision="auto")
    assert fast.dtype == torch.float32 and fast.shape == exact.shape
    if bf16_supported(torch.device("cpu")):
        assert 0 < float((fast - exact).abs().max()) < 0.02
    else:
        assert torch.equal(fast, exact)
    with pytest.raises(InvalidConfigError, match="precision 'fp16'"):
        decode(tiny_bundle, z, precision="fp16")
