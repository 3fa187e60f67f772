"""Interpretation API: encode, reconstruct, predict, decode, interpolate; attribute ↔ latent units.

B = batch, S = cube edge in voxels, L = latent size, N = number of traversal/interpolation steps.
Volumes are network-cube tensors (B, 1, S, S, S) in [0, 1] as :func:`~AttriVAELib.data.preprocessing.preprocess`
makes them (axes (k, j, i)). Every function runs the model in eval mode without gradients.

Attribute units: a bundle's card stores, per attribute, the least-squares line μ_k ≈ slope·value +
intercept fitted on the training split, and the training range. :func:`attribute_to_latent` uses it to
read attribute units as the encoder does; values outside the training range are clamped to it with a
warning: the decoder never saw such anatomy, so extrapolated images would be fiction. Traversals whose
decoded anatomy shows the attribute value asked for: :mod:`~AttriVAELib.interpretation.traversal`.
"""

from __future__ import annotations

__all__ = [
    "attribute_index",
    "card_entry",
    "model_input",
    "network",
    "preprocess_files",
    "preprocess_for",
    "attribute_to_latent",
    "decode",
    "encode",
    "interpolate",
    "latent_to_attribute",
    "predict",
    "reconstruct",
]

import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import SimpleITK as sitk
import torch

from ..data.labels import EMIDEC_SCHEME, LabelScheme, scheme_named
from ..data.preprocessing import PreprocessedVolume, preprocess
from ..data.volumes import read_label_map, read_volume
from ..errors import InvalidConfigError
from ..method.acceleration import as_model_input, autocast, resolve_precision
from ..method.model import AttriVAE
from ..modelfile.bundle import ModelBundle
from ..modelfile.card import AttributeCard

ModelLike = AttriVAE | ModelBundle


def preprocess_for(bundle: ModelBundle, image: sitk.Image, labels: sitk.Image,
                   scheme: LabelScheme = EMIDEC_SCHEME, name: str = "image") -> PreprocessedVolume:
    """Preprocess one subject exactly as the bundle's training data were (mode, size, spacing, gamma)."""
    config = bundle.card.config
    return preprocess(image, labels, scheme, config.preprocess, config.model.input_size, name)


def preprocess_files(bundle: ModelBundle, image: Path, mask: Path, scheme: str = "emidec") -> PreprocessedVolume:
    """Read an image and its LV label map (label values of scheme ``emidec`` or ``acdc``) and preprocess them
    for the bundle.

    Raises:
        InvalidVolumeError: a file that cannot be read or used (see :func:`~AttriVAELib.data.volumes.read_volume`).
    """
    labels = scheme_named(scheme)
    return preprocess_for(bundle, read_volume(image, "image"), read_label_map(mask, "mask"), labels,
                          name=f"image {image}")


def network(model: ModelLike) -> AttriVAE:
    """The network of a bundle (or the network itself), in eval mode."""
    return (model.model if isinstance(model, ModelBundle) else model).eval()


def _device(model: AttriVAE) -> torch.device:
    return next(model.parameters()).device


def model_input(model: AttriVAE, volumes: torch.Tensor | np.ndarray) -> torch.Tensor:
    """(S, S, S), (1, S, S, S) or (B, 1, S, S, S) cubes → the (B, 1, S, S, S) float32 batch the network takes, on
    its device.

    Raises:
        InvalidConfigError: the cubes are not of the network's input size.
    """
    tensor = torch.as_tensor(volumes, dtype=torch.float32)
    while tensor.dim() < 5:
        tensor = tensor.unsqueeze(0)
    size = model.config.input_size
    if tensor.shape[1:] != (1, size, size, size):
        raise InvalidConfigError(f"volume of shape {tuple(tensor.shape)} does not fit the model's "
                                 f"(B, 1, {size}, {size}, {size}) input; preprocess it with input_size={size}")
    return as_model_input(tensor, _device(model))


@torch.no_grad()
def encode(model: ModelLike, volumes: torch.Tensor | np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Posterior mean μ and standard deviation σ, each (B, L)."""
    net = network(model)
    mu, logvar = net.encode(model_input(net, volumes))
    return mu, torch.exp(0.5 * logvar)


@torch.inference_mode()
def decode(model: ModelLike, z: torch.Tensor, precision: str = "fp32") -> torch.Tensor:
    """(N, L) latent codes → (N, 1, S, S, S) float32 volumes in [0, 1], decoded in one batch.

    ``precision="auto"`` decodes in bf16 where the hardware has it, faster and slightly less exact than float32
    (measured in docs/benchmarks.md): the Slicer module's live sliders use it. The result is float32 either way."""
    net = network(model)
    device = _device(net)
    with autocast(device, resolve_precision(precision, device)):
        volumes = net.decode(torch.as_tensor(z, dtype=torch.float32, device=device).reshape(-1, net.config.latent_size))
    return volumes.float()


@torch.no_grad()
def reconstruct(model: ModelLike, volumes: torch.Tensor | np.ndarray) -> torch.Tensor:
    """Decode the posterior mean: (B, 1, S, S, S) → (B, 1, S, S, S) in [0, 1]."""
    net = network(model)
    return net.decode(net.encode(model_input(net, volumes))[0])


@torch.no_grad()
def predict(model: ModelLike, volumes: torch.Tensor | np.ndarray) -> torch.Tensor:
    """Probability of class 1 (myocardial infarction) from the posterior mean, (B,)."""
    net = network(model)
    return torch.sigmoid(net.classify(net.encode(model_input(net, volumes))[0]))


def attribute_index(model: ModelLike, attribute: int | str) -> int:
    """Latent dim of an attribute given by name (needs a bundle) or by dim.

    Raises:
        InvalidConfigError: unknown name, or a dim outside the latent size.
    """
    if isinstance(attribute, str):
        if not isinstance(model, ModelBundle):
            raise InvalidConfigError(f"attribute {attribute!r} given by name needs a model bundle (load_model)")
        names = model.attribute_names
        if attribute not in names:
            raise InvalidConfigError(f"attribute {attribute!r} is not in the model; it encodes {', '.join(names)}")
        return names.index(attribute)
    latent_size = network(model).config.latent_size
    if not 0 <= attribute < latent_size:
        raise InvalidConfigError(f"latent dim {attribute} is outside 0..{latent_size - 1}")
    return int(attribute)


def card_entry(bundle: ModelBundle, attribute: int | str) -> AttributeCard:
    """The card entry of a regularised attribute (by name or dim) that has its training line.

    Raises:
        InvalidConfigError: see :func:`attribute_index`; the dim is not a regularised attribute with a line.
    """
    dim = attribute_index(bundle, attribute)
    try:
        entry = bundle.card.attribute(dim)
    except KeyError:
        entry = None
    if entry is None or not entry.has_line:
        raise InvalidConfigError(f"latent dim {dim} is not a regularised attribute with training statistics")
    return entry


def attribute_to_latent(bundle: ModelBundle, attribute: int | str, values: Sequence[float]) -> np.ndarray:
    """Attribute values (in the attribute's units) → latent values of its dim, via the training fit.

    Values outside the training range are clamped to it, with a warning."""
    entry = card_entry(bundle, attribute)
    values = np.asarray(values, dtype=np.float64)
    clamped = np.clip(values, entry.minimum, entry.maximum)
    if not np.array_equal(clamped, values):
        warnings.warn(f"{entry.name} values outside the training range [{entry.minimum:.4g}, "
                      f"{entry.maximum:.4g}] were clamped to it", stacklevel=2)
    if entry.latent_slope == 0:
        raise InvalidConfigError(f"latent dim {entry.dim} does not vary with {entry.name}; "
                                 f"traverse it in latent units")
    return entry.to_latent(clamped)


def latent_to_attribute(bundle: ModelBundle, attribute: int | str, latent: Sequence[float]) -> np.ndarray:
    """Latent values of an attribute's dim → attribute units (inverse of :func:`attribute_to_latent`)."""
    entry = card_entry(bundle, attribute)
    if entry.latent_slope == 0:
        raise InvalidConfigError(f"latent dim {entry.dim} does not vary with {entry.name}")
    return entry.to_attribute(latent)


def interpolate(z_a: torch.Tensor, z_b: torch.Tensor, steps: int) -> torch.Tensor:
    """``steps`` codes evenly spaced from z_a to z_b, both included: (L,) × 2 → (steps, L).

    Decode them with :func:`decode`."""
    if steps < 2:
        raise InvalidConfigError(f"interpolation needs at least 2 steps, got {steps}")
    z_a, z_b = (torch.as_tensor(z, dtype=torch.float32).reshape(-1) for z in (z_a, z_b))
    if z_a.shape != z_b.shape:
        raise InvalidConfigError(f"latent codes of sizes {z_a.numel()} and {z_b.numel()} cannot be interpolated")
    alphas = torch.linspace(0.0, 1.0, steps)[:, None]  # (steps, 1)
    return (1 - alphas) * z_a + alphas * z_b
