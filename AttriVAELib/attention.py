"""Attribute-wise attention: Grad-CAM of one latent dimension w.r.t. an encoder layer (paper §2.5).

For attribute k the score is μ_k (``use_mean=True``, deterministic; the paper and code use a sampled
z_k); the map is ReLU(Σ_c w_c A_c) with A the chosen layer's output (before its BatchNorm and ReLU, as the
official code hooks ``conv5_enc``) and w_c the spatial mean of ∂score/∂A_c. The coarse map is upsampled
trilinearly to the cube (the paper's order: ReLU, then upsampling) and divided by its maximum, so maps lie
in [0, 1] with 1 at the most influential voxel and 0 where no voxel raises the score. The official code
also divides gradients by their RMS first; that scales each map by one constant and changes nothing
after the normalisation, so it is left out.

Layer ``conv5`` (default) is the last encoder conv, S/16 voxels per axis (5³ at 80³); ``conv4`` ... ``conv1``
give finer maps (S/16 ... S/2).
"""

from __future__ import annotations

__all__ = ["ENCODER_LAYERS", "attention", "attention_iou", "maps_in_source"]

from collections.abc import Sequence

import numpy as np
import SimpleITK as sitk
import torch
import torch.nn.functional as F

from .bundle import ModelBundle
from .errors import InvalidConfigError
from .interpretation import ModelLike, _model, _volumes, attribute_index
from .preprocessing import CubeGeometry

ENCODER_LAYERS = ("conv1", "conv2", "conv3", "conv4", "conv5")


def attention(model: ModelLike, volume: torch.Tensor | np.ndarray,
              attributes: Sequence[int | str] | None = None, layer: str = "conv5",
              use_mean: bool = True) -> dict[str, np.ndarray]:
    """Grad-CAM maps of one subject for several attributes, in one forward and one backward pass.

    Args:
        model: a model, or a bundle (for attribute names).
        volume: one preprocessed cube, (S, S, S), (1, S, S, S) or (1, 1, S, S, S).
        attributes: names or latent dims; default every regularised attribute of the bundle.
        layer: encoder layer, one of ``conv1`` ... ``conv5``.
        use_mean: score μ_k (deterministic) instead of a sampled z_k.

    Returns:
        {attribute name (or ``"dim k"``): (S, S, S) float32 map in [0, 1], axes (k, j, i) of the cube}.
    """
    net = _model(model)
    if layer not in ENCODER_LAYERS:
        raise InvalidConfigError(f"layer {layer!r} is not an encoder layer; choose one of {', '.join(ENCODER_LAYERS)}")
    if attributes is None:
        if not isinstance(model, ModelBundle):
            raise InvalidConfigError("name the latent dims to explain, or pass a model bundle")
        attributes = model.attribute_names
    dims = [attribute_index(model, a) for a in attributes]
    names = [a if isinstance(a, str) else f"dim {a}" for a in attributes]
    x = _volumes(net, volume)
    if x.shape[0] != 1:
        raise InvalidConfigError(f"attention explains one volume at a time, got a batch of {x.shape[0]}")
    x = x.expand(len(dims), -1, -1, -1, -1)  # (K, 1, S, S, S): replica k explains dim k

    captured: list[torch.Tensor] = []
    hook = getattr(net.encoder, layer)[0].register_forward_hook(lambda module, inputs, out: captured.append(out))
    try:
        with torch.enable_grad():
            mu, logvar = net.encode(x)
            z = mu if use_mean else mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
            score = z[torch.arange(len(dims)), torch.tensor(dims)].sum()
            activations = captured[0]  # (K, C, s, s, s)
            gradients, = torch.autograd.grad(score, activations)
    finally:
        hook.remove()
    with torch.no_grad():
        weights = gradients.mean(dim=(2, 3, 4), keepdim=True)  # (K, C, 1, 1, 1)
        cams = F.relu((weights * activations).sum(dim=1, keepdim=True))  # (K, 1, s, s, s)
        cams = F.interpolate(cams, size=x.shape[2:], mode="trilinear", align_corners=False)[:, 0]  # (K, S, S, S)
        peaks = cams.amax(dim=(1, 2, 3), keepdim=True)
        cams = torch.where(peaks > 0, cams / peaks.clamp_min(1e-12), torch.zeros_like(cams))
    return {name: cam.cpu().numpy().astype(np.float32) for name, cam in zip(names, cams)}


def maps_in_source(maps: dict[str, np.ndarray], geometry: CubeGeometry) -> dict[str, sitk.Image]:
    """Resample cube maps onto the source image's grid (its origin, spacing and direction)."""
    return {name: geometry.to_source(cam) for name, cam in maps.items()}


def attention_iou(cam: np.ndarray, infarct: np.ndarray, floor: float = 0.3, threshold: float = 0.75) -> float:
    """IoU of a thresholded attention map with the infarct mask, as the official code's
    ``threshold_3D_GCAM`` + ``IoU_gcam_scar``: values below ``floor`` become 0, each slice (axis 0) is
    min-max scaled, then voxels ≥ ``threshold`` form the region. NaN when both regions are empty.

    cam, infarct: (S, S, S) arrays on the same grid."""
    cam = np.where(cam < floor, 0.0, cam)
    low = cam.min(axis=(1, 2), keepdims=True)
    span = cam.max(axis=(1, 2), keepdims=True) - low
    scaled = np.divide(cam - low, span, out=np.zeros_like(cam, dtype=float), where=span > 0)
    region, infarct = scaled >= threshold, np.asarray(infarct, bool)
    union = (region | infarct).sum()
    return float((region & infarct).sum() / union) if union else float("nan")
