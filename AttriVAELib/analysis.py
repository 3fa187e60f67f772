"""One subject end to end, in the input image's geometry: what the Slicer module's Analyze, Attention and
Explore sections compute, on SimpleITK images (LPS mm) so that any viewer can use it.

Every output image shares the input's size, spacing, origin and direction; network-cube outputs are
resampled onto that grid (linear) and are 0 outside the cube.
"""

from __future__ import annotations

__all__ = ["SubjectAnalysis", "analyse_subject", "attention_in_source", "decode_in_source", "latent_with"]

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import SimpleITK as sitk
import torch

from .attention import DEFAULT_METHOD, attention, maps_in_source
from .attributes import shape_attributes
from .bundle import ModelBundle
from .interpretation import attribute_to_latent, decode, encode, latent_to_attribute, predict, preprocess_for
from .labels import EMIDEC_SCHEME, LabelScheme
from .preprocessing import CubeGeometry, PreprocessedVolume


@dataclass
class SubjectAnalysis:
    """The model's view of one subject."""

    prepared: PreprocessedVolume
    mu: torch.Tensor  # (L,) latent mean, the subject's code
    probability: float  # classifier output P(infarct) in [0, 1]
    reconstruction: sitk.Image  # float32 in [0, 1] on the input grid
    measured: dict[str, float]  # attribute → value measured on the label map (NaN: not measurable, e.g. EF)
    encoded: dict[str, float]  # attribute → value its latent dim encodes, via the training fit


def analyse_subject(bundle: ModelBundle, image: sitk.Image, labels: sitk.Image,
                    scheme: LabelScheme = EMIDEC_SCHEME, name: str = "image") -> SubjectAnalysis:
    """Preprocess, encode, reconstruct and classify one subject; measure and decode its attributes.

    Raises:
        InvalidVolumeError: not a 3D scalar volume, grids differ, or the LV mask is empty.
    """
    prepared = preprocess_for(bundle, image, labels, scheme, name)
    mu = encode(bundle, prepared.volume)[0][0]
    probability = float(predict(bundle, prepared.volume)[0])
    measurable = shape_attributes(labels, scheme, name=f"{name} mask")
    names = bundle.attribute_names
    return SubjectAnalysis(
        prepared=prepared, mu=mu, probability=probability,
        reconstruction=decode_in_source(bundle, mu, prepared.geometry),
        measured={n: float(measurable.get(n, math.nan)) for n in names},
        encoded={n: float(latent_to_attribute(bundle, n, [float(mu[k])])[0]) for k, n in enumerate(names)},
    )


def decode_in_source(bundle: ModelBundle, z: torch.Tensor, geometry: CubeGeometry,
                     precision: str = "fp32") -> sitk.Image:
    """Decode one latent code (L,) and resample the volume onto the input grid (one slider update;
    ``precision`` as :func:`~AttriVAELib.interpretation.decode`)."""
    cube = decode(bundle, z.reshape(1, -1), precision)[0, 0].cpu().numpy()
    return geometry.to_source(cube)


def latent_with(bundle: ModelBundle, z: torch.Tensor, values: Mapping[str, float]) -> torch.Tensor:
    """A copy of code ``z`` (L,) with the dims of the named attributes set to the given attribute values
    (in the attribute's units; clamped to the training range with a warning)."""
    z = z.detach().clone().reshape(-1)
    for name, value in values.items():
        z[bundle.attribute_names.index(name)] = float(attribute_to_latent(bundle, name, [value])[0])
    return z


def attention_in_source(bundle: ModelBundle, prepared: PreprocessedVolume, attributes: Sequence[str] | None = None,
                        method: str = DEFAULT_METHOD, layer: str = "conv5") -> dict[str, sitk.Image]:
    """Attention maps (deterministic, from μ; see :func:`~AttriVAELib.attention.attention`) of the given
    attributes (default all), on the input grid."""
    maps = attention(bundle, prepared.volume, attributes, method=method, layer=layer, use_mean=True)
    return maps_in_source(maps, prepared.geometry)

