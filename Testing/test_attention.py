import numpy as np
import pytest
import torch
import torch.nn.functional as F

from AttriVAELib import AttriVAE, InvalidConfigError, ModelConfig
from AttriVAELib.choices import ATTRIBUTION, ATTRIBUTION_METHODS, DEFAULT_METHOD
from AttriVAELib.interpretation.attention import attention, maps_in_source

SIGNED_METHODS = [name for name in ATTRIBUTION_METHODS if ATTRIBUTION[name].signed]


@pytest.fixture
def bundle(tiny_bundle):
    return tiny_bundle


@pytest.fixture
def subject(tiny_subject):
    return tiny_subject


@pytest.fixture(scope="module")
def random_model() -> AttriVAE:
    torch.manual_seed(0)
    return AttriVAE(ModelConfig(input_size=32, latent_size=6)).eval()


def _masked_input() -> torch.Tensor:
    """(1, 1, 32, 32, 32) random intensities inside a ball, 0 outside (as a masked preprocessed cube)."""
    generator = torch.Generator().manual_seed(1)
    grid = torch.stack(torch.meshgrid(*[torch.arange(32.0)] * 3, indexing="ij"))
    ball = ((grid - 15.5) ** 2).sum(0) < 10.0**2
    return (torch.rand(32, 32, 32, generator=generator) * ball)[None, None]


def _mu(model: AttriVAE, x: torch.Tensor) -> torch.Tensor:
    return model.encode(x)[0]


@pytest.mark.parametrize("method", ATTRIBUTION_METHODS)
def test_maps_for_every_attribute_are_scaled_cubes(bundle, subject, method):
    maps = attention(bundle, subject[1].volume, method=method)
    assert tuple(maps) == bundle.attribute_names
    for values in maps.values():
        assert values.shape == (32, 32, 32) and values.dtype == np.float32
        assert np.abs(values).max() in (0.0, pytest.approx(1.0))
        if method not in SIGNED_METHODS:
            assert values.min() >= 0


def test_default_method_is_an_input_space_method():
    assert DEFAULT_METHOD in ATTRIBUTION_METHODS and DEFAULT_METHOD in SIGNED_METHODS


@pytest.mark.parametrize("method", ATTRIBUTION_METHODS)
def test_attention_with_the_mean_is_deterministic(bundle, subject, method):
    first = attention(bundle, subject[1].volume, ["lv_volume_ml", "ef_pct"], method=method, steps=4)
    second = attention(bundle, subject[1].volume, ["lv_volume_ml", "ef_pct"], method=method, steps=4)
    for name in first:
        assert np.array_equal(first[name], second[name])


def test_attention_with_a_sample_varies(bundle, subject):
    first = attention(bundle, subject[1].volume, [0], use_mean=False)["dim 0"]
    second = attention(bundle, subject[1].volume, [0], use_mean=False)["dim 0"]
    deterministic = attention(bundle, subject[1].volume, [0])["dim 0"]
    assert not (np.array_equal(first, deterministic) and np.array_equal(second, deterministic))


def test_gradient_x_input_matches_a_manual_computation(random_model):
    x = _masked_input()
    maps = attention(random_model, x, list(range(6)), method="gradient-x-input", normalise=False)
    for dim in range(6):
        leaf = x.clone().requires_grad_(True)
        gradient, = torch.autograd.grad(_mu(random_model, leaf)[0, dim], leaf)
        np.testing.assert_allclose(maps[f"dim {dim}"], (x * gradient)[0, 0].numpy(), atol=1e-7)


@pytest.mark.slow
def test_integrated_gradients_match_a_manual_quadrature_and_are_complete(random_model):
    x = _masked_input()
    maps = attention(random_model, x, list(range(6)), method="integrated-gradients", steps=16, normalise=False)
    nodes, weights = np.polynomial.legendre.leggauss(16)  # Gauss-Legendre on [-1, 1] → [0, 1]
    alphas, weights = torch.tensor((nodes + 1) / 2, dtype=torch.float32), torch.tensor(weights / 2)
    for dim in range(6):
        path = (alphas[:, None, None, None, None] * x).requires_grad_(True)
        gradient, = torch.autograd.grad(_mu(random_model, path)[:, dim].sum(), path)
        manual = (x * (weights[:, None, None, None, None] * gradient).sum(0, keepdim=True))[0, 0].numpy()
        np.testing.assert_allclose(maps[f"dim {dim}"], manual, atol=1e-5 * np.abs(manual).max())


def test_integrated_gradients_are_complete(bundle, subject):
    """The attributions add up to μ_k(x) − μ_k(baseline = 0), up to the quadrature's error, which shrinks with
    more steps (slowly: the network is piecewise linear, so the integrand jumps)."""
    x = torch.from_numpy(subject[1].volume)[None, None]
    with torch.no_grad():
        gained = (_mu(bundle.model, x)[0] - _mu(bundle.model, torch.zeros_like(x))[0]).numpy()[:7]  # (K,)

    def error(steps: int) -> float:
        maps = attention(bundle, x, method="integrated-gradients", steps=steps, normalise=False)
        sums = np.array([maps[name].sum() for name in bundle.attribute_names])
        return float(np.abs(sums - gained).max() / np.abs(gained).max())

    coarse, fine = error(8), error(256)
    assert fine < 0.01 and fine < coarse


@pytest.mark.parametrize("method", sorted(SIGNED_METHODS))
def test_input_space_maps_are_exactly_zero_on_the_background(random_model, method):
    x = _masked_input()
    maps = attention(random_model, x, list(range(6)), method=method, steps=4)
    background = (x[0, 0] == 0).numpy()
    for values in maps.values():
        assert np.abs(values[background]).max() == 0.0
        assert np.abs(values[~background]).max() > 0.0


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
    maps = attention(model, x, list(range(6)), method="gradcam", layer="conv4")
    non_zero = 0
    for dim in range(6):
        expected = _manual_grad_cam(model, x, dim)
        assert np.allclose(maps[f"dim {dim}"], expected, atol=1e-5)
        non_zero += expected.max() > 0
    assert non_zero >= 2


def test_earlier_layers_give_finer_maps(bundle, subject):
    coarse = attention(bundle, subject[1].volume, [0], method="gradcam", layer="conv5")["dim 0"]
    fine = attention(bundle, subject[1].volume, [0], method="gradcam", layer="conv2")["dim 0"]
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
        attention(bundle, volume, method="gradcam", layer="fc")
    with pytest.raises(InvalidConfigError, match="method 'saliency' is unknown; choose one of gradient-x-input"):
        attention(bundle, volume, method="saliency")
    with pytest.raises(InvalidConfigError, match="at least 2 steps"):
        attention(bundle, volume, method="integrated-gradients", steps=1)
    with pytest.raises(InvalidConfigError, match="not in the model"):
        attention(bundle, volume, ["heart_rate"])
    with pytest.raises(InvalidConfigError, match="one volume at a time"):
        attention(bundle, np.stack([volume, volume])[:, None])


def test_a_registered_method_without_an_implementation_is_an_error_not_another_method(bundle, subject, monkeypatch):
    from AttriVAELib.choices import AttributionMethod

    monkeypatch.setitem(ATTRIBUTION, "occlusion", AttributionMethod("occlusion", True, False, "not written yet"))
    with pytest.raises(InvalidConfigError, match="'occlusion' is registered but not implemented"):
        attention(bundle, subject[1].volume, ["lv_volume_ml"], method="occlusion")
