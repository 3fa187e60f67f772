"""Attribute-wise attention: where in the input cube one latent dimension (one attribute) is decided.

Every method explains the score μ_k (``use_mean=True``, deterministic; the paper and code use a sampled
z_k) of each requested attribute k, and is computed with Captum:

* ``gradient-x-input`` (default): x ⊙ ∂μ_k/∂x (Captum ``InputXGradient``). Signed: positive voxels raise
  the attribute, negative ones lower it. Exactly 0 where the input is 0, so nothing outside the masked LV.
* ``integrated-gradients``: (x − x₀) ⊙ the mean gradient along the straight path from the baseline x₀ = 0
  (the masked background) to x (Captum ``IntegratedGradients``, Gauss–Legendre, ``steps`` points). Signed;
  its sum over voxels is μ_k(x) − μ_k(0) (completeness); 0 where the input is 0.
* ``gradcam`` (the paper's): ReLU(Σ_c w_c A_c), A the chosen encoder layer's convolution output (before
  its BatchNorm and ReLU, as the official code hooks ``conv5_enc``) and w_c the spatial mean of ∂μ_k/∂A_c
  (Captum ``LayerGradCam``), upsampled trilinearly to the cube. Non-negative and coarse: conv5 is S/16
  voxels per axis.

How well each localises on synthetic subjects with ground truth: ``benchmarks/localisation.py`` (the table is
in docs/interpretation.md). The registry :data:`AttriVAELib.choices.ATTRIBUTION` says what each method can
do (signed maps, a layer to explain); a new method is an entry there and a branch of :func:`_attribute`. Maps
are scaled so
that max |map| = 1 (``normalise=False`` keeps raw attributions in μ_k units per voxel). All attributes of
one subject are explained in one batch: one replica of the volume per attribute, each replica's target its
own dim (integrated gradients: ``steps`` such batches, in chunks bounded by :data:`VOXELS_PER_PASS`).
"""

from __future__ import annotations

__all__ = ["attention", "maps_in_source"]

from collections.abc import Callable, Sequence

import numpy as np
import SimpleITK as sitk
import torch
from captum.attr import InputXGradient, IntegratedGradients, LayerAttribution, LayerGradCam

from ..choices import ATTRIBUTION, DEFAULT_LAYER, DEFAULT_METHOD
from ..data.preprocessing import CubeGeometry
from ..errors import InvalidConfigError
from ..method.model import AttriVAE
from ..modelfile.bundle import ModelBundle
from .inference import ModelLike, attribute_index, model_input, network

INTEGRATION_STEPS = 64
VOXELS_PER_PASS = 2**24
"""Integrated gradients differentiates at most this many input voxels at once (512 volumes of 32³, 32 of 80³)."""


def attention(model: ModelLike, volume: torch.Tensor | np.ndarray,
              attributes: Sequence[int | str] | None = None, method: str = DEFAULT_METHOD,
              layer: str = DEFAULT_LAYER, use_mean: bool = True, steps: int = INTEGRATION_STEPS,
              normalise: bool = True) -> dict[str, np.ndarray]:
    """Attribution maps of one subject for several attributes.

    Args:
        model: a model, or a bundle (for attribute names).
        volume: one preprocessed cube, (S, S, S), (1, S, S, S) or (1, 1, S, S, S).
        attributes: names or latent dims; default every regularised attribute of the bundle.
        method: a name of :data:`~AttriVAELib.choices.ATTRIBUTION`.
        layer: encoder layer a layered method explains, ``conv1`` ... ``conv5`` at the paper's depth; ignored
            by the others.
        use_mean: score μ_k (deterministic) instead of a sampled z_k.
        steps: integration points of ``integrated-gradients``.
        normalise: divide each map by its largest absolute value (maps in [-1, 1]; [0, 1] for an unsigned method).

    Returns:
        {attribute name (or ``"dim k"``): (S, S, S) float32 map, axes (k, j, i) of the cube}.

    Raises:
        InvalidConfigError: unknown method, layer or attribute, or a batch of volumes.
    """
    net = network(model)
    if method not in ATTRIBUTION:
        raise InvalidConfigError(f"attention method {method!r} is unknown; choose one of {', '.join(ATTRIBUTION)}")
    if layer not in net.encoder.layer_names:  # ENCODER_LAYERS at the paper's depth
        raise InvalidConfigError(f"layer {layer!r} is not an encoder layer; choose one of "
                                 f"{', '.join(net.encoder.layer_names)}")
    if steps < 2:
        raise InvalidConfigError(f"integrated gradients needs at least 2 steps, got {steps}")
    if attributes is None:
        if not isinstance(model, ModelBundle):
            raise InvalidConfigError("name the latent dims to explain, or pass a model bundle")
        attributes = model.attribute_names
    dims = [attribute_index(model, a) for a in attributes]
    names = [a if isinstance(a, str) else f"dim {a}" for a in attributes]
    x = model_input(net, volume)
    if x.shape[0] != 1:
        raise InvalidConfigError(f"attention explains one volume at a time, got a batch of {x.shape[0]}")
    replicas = x.expand(len(dims), -1, -1, -1, -1).clone()  # (K, 1, S, S, S): replica k explains dim k
    with torch.enable_grad():
        maps = _attribute(net, _score(net, use_mean), replicas, dims, method, layer, steps).detach()[:, 0]
    if normalise:
        peaks = maps.abs().amax(dim=(1, 2, 3), keepdim=True)
        maps = torch.where(peaks > 0, maps / peaks.clamp_min(1e-30), torch.zeros_like(maps))
    return {name: values.cpu().numpy().astype(np.float32) for name, values in zip(names, maps)}


def _score(net: AttriVAE, use_mean: bool) -> Callable[[torch.Tensor], torch.Tensor]:
    """(B, 1, S, S, S) → (B, L): the latent code that the maps explain (μ, or a sample of z)."""
    def score(x: torch.Tensor) -> torch.Tensor:
        mu, logvar = net.encode(x)
        return mu if use_mean else mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
    return score


def _attribute(net: AttriVAE, score: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, dims: list[int],
               method: str, layer: str, steps: int) -> torch.Tensor:
    """(K, 1, S, S, S) replicas → (K, 1, S, S, S) raw attributions, replica k for latent dim ``dims[k]``."""
    if method == "gradient-x-input":
        return InputXGradient(score).attribute(x.requires_grad_(True), target=dims)
    if method == "integrated-gradients":
        per_pass = max(1, VOXELS_PER_PASS // x[0].numel())
        return IntegratedGradients(score).attribute(x, baselines=torch.zeros_like(x), target=dims, n_steps=steps,
                                                    internal_batch_size=per_pass)
    if method == "gradcam":
        convolution = getattr(net.encoder, layer)[0]
        coarse = LayerGradCam(score, convolution).attribute(x, target=dims, relu_attributions=True)
        return LayerAttribution.interpolate(coarse, tuple(x.shape[2:]), interpolate_mode="trilinear")
    raise InvalidConfigError(f"attention method {method!r} is registered but not implemented")


def maps_in_source(maps: dict[str, np.ndarray], geometry: CubeGeometry) -> dict[str, sitk.Image]:
    """Resample cube maps onto the source image's grid (its origin, spacing and direction)."""
    return {name: geometry.to_source(cam) for name, cam in maps.items()}
