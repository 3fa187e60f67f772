import numpy as np
import pytest
import torch
import torch.nn.functional as F

from AttriVAELib import AttriVAE, InvalidConfigError, ModelConfig
from AttriVAELib.attention import attention, attention_iou, maps_in_source


@pytest.fixture
def bundle(tiny_bundle):
    return tiny_bundle


@pytest.fixture
def subject(tiny_subject):
    return tiny_subject


def test_maps_for_every_attribute_are_unit_range_cubes(bundle, subject):
    maps = attention(bundle, subject[1].volume)
    assert list(maps) == bundle.attribute_names
    for cam in maps.values():
        assert cam.shape == (32, 32, 32) and cam.dtype == np.float32
        assert cam.min() >= 0 and cam.max() in (0.0, pytest.approx(1.0))


def test_attention_with_the_mean_is_deterministic(bundle, subject):
    first = attention(bundle, subject[1].volume, ["lv_volume_ml", "ef_pct"])
    second = attention(bundle, subject[1].volume, ["lv_volume_ml", "ef_pct"])
    for name in first:
        assert np.array_equal(first[name], second[name])


def test_attention_with_a_sample_varies(bundle, subject):
    first = attention(bundle, subject[1].volume, [0], use_mean=False)["dim 0"]
    second = attention(bundle, subject[1].volume, [0], use_mean=False)["dim 0"]
    deterministic = attention(bundle, subject[1].volume, [0])["dim 0"]
    assert not (np.array_equal(first, deterministic) and np.array_equal(second, deterministic))


def _manual_grad_cam(model: AttriVAE, x: torch.Tensor, dim: int) -> np.ndarray:
    """Grad-CAM of μ_dim w.r.t. the output of encoder.conv4's convolution, written out by hand."""
    encoder = model.encoder
    features = encoder.conv3(encoder.conv2(encoder.conv1(x)))
    activation = encoder.conv4[0](features).detach().requires_grad_(True)
    rest = encoder.conv4[2](encoder.conv4[1](activation))
    mu = encoder.mu(encoder.fc(encoder.conv5(rest).flatten(1)))
    gradient, = torch.autograd.grad(mu[0, dim], activation)
    cam = F.relu((gradient.mean(dim=(2, 3, 4), keepdim=True) * activation).sum(1, keepdim=True))
    cam = F.interpolate(cam, size=x.shape[2:], mode="trilinear", align_corners=False)[0, 0].detach()
    return (cam / cam.max()).numpy() if cam.max() > 0 else cam.numpy()


def test_grad_cam_matches_a_manual_computation():
    torch.manual_seed(0)
    model = AttriVAE(ModelConfig(input_size=32, latent_size=6)).eval()
    x = torch.rand(1, 1, 32, 32, 32)
    maps = attention(model, x, list(range(6)), layer="conv4")
    non_zero = 0
    for dim in range(6):
        expected = _manual_grad_cam(model, x, dim)
        assert np.allclose(maps[f"dim {dim}"], expected, atol=1e-5)
        non_zero += expected.max() > 0
    assert non_zero >= 2


def test_earlier_layers_give_finer_maps(bundle, subject):
    coarse = attention(bundle, subject[1].volume, [0], layer="conv5")["dim 0"]
    fine = attention(bundle, subject[1].volume, [0], layer="conv2")["dim 0"]
    def detail(cam):
        """Share of the map's variance that a 4³ summary of it cannot explain."""
        tensor = torch.from_numpy(cam)[None, None]
        summary = F.interpolate(F.avg_pool3d(tensor, 8), size=cam.shape, mode="trilinear", align_corners=False)
        return float(((tensor - summary) ** 2).mean() / tensor.var())

    assert detail(fine) > 2 * detail(coarse)


def test_maps_in_source_keep_the_input_geometry(bundle, subject):
    image, prepared = subject
    maps = maps_in_source(attention(bundle, prepared.volume, ["lv_volume_ml"]), prepared.geometry)
    mapped = maps["lv_volume_ml"]
    assert mapped.GetSize() == image.GetSize()
    assert mapped.GetOrigin() == pytest.approx(image.GetOrigin())
    assert mapped.GetSpacing() == pytest.approx(image.GetSpacing())
    assert mapped.GetDirection() == pytest.approx(image.GetDirection())


def test_bad_requests(bundle, subject):
    volume = subject[1].volume
    with pytest.raises(InvalidConfigError, match="not an encoder layer"):
        attention(bundle, volume, layer="fc")
    with pytest.raises(InvalidConfigError, match="not in the model"):
        attention(bundle, volume, ["heart_rate"])
    with pytest.raises(InvalidConfigError, match="one volume at a time"):
        attention(bundle, np.stack([volume, volume])[:, None])


def test_iou_of_thresholded_maps():
    infarct = np.zeros((4, 8, 8), bool)
    infarct[1:3, 2:4, 2:4] = True
    assert attention_iou(infarct.astype(float), infarct) == 1.0
    assert attention_iou(np.zeros(infarct.shape), infarct) == 0.0
    elsewhere = np.zeros(infarct.shape)
    elsewhere[1:3, 5:7, 5:7] = 1.0
    assert attention_iou(elsewhere, infarct) == 0.0
    half = np.zeros(infarct.shape)
    half[1:3, 2:4, 2:6] = 0.9  # the infarct plus as much again
    assert attention_iou(half, infarct) == pytest.approx(0.5)
    faint = half * 0.3  # below the 0.3 floor in absolute terms: removed
    assert attention_iou(faint, infarct) == 0.0
    assert np.isnan(attention_iou(np.zeros(infarct.shape), np.zeros(infarct.shape, bool)))
