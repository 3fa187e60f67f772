"""One subject end to end, in the input image's geometry: what the Slicer module's Analyze, Attention and
Explore sections compute, on SimpleITK images (LPS mm) so that any viewer can use it.

Every output image shares the input's size, spacing, origin and direction; network-cube outputs are
resampled onto that grid (linear) and are 0 outside the cube.
"""

from __future__ import annotations

__all__ = ["SubjectAnalysis", "analyse_subject", "attention_in_source", "decode_in_source", "decodes_in_source",
           "latent_with", "traversal_codes"]

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk
import torch

from .attention import attention, maps_in_source
from .attributes import shape_attributes
from .bundle import ModelBundle
from .choices import DEFAULT_LAYER, DEFAULT_METHOD
from .codes import INTERVAL_LEVEL, attribute_estimates
from .interpretation import attribute_to_latent, decode, encode, predict, preprocess_for
from .labels import EMIDEC_SCHEME, LabelScheme
from .preprocessing import CubeGeometry, PreprocessedVolume


@dataclass
class SubjectAnalysis:
    """The model's view of one subject."""

    prepared: PreprocessedVolume
    mu: torch.Tensor  # (L,) latent mean, the subject's code
    sigma: torch.Tensor  # (L,) latent standard deviation
    probability: float  # classifier output P(infarct) in [0, 1]
    reconstruction: sitk.Image  # float32 in [0, 1] on the input grid
    measured: dict[str, float]  # attribute → value measured on the label map (NaN: not measurable, e.g. EF)
    encoded: dict[str, float]  # attribute → value its latent dim encodes, via the training fit
    intervals: dict[str, tuple[float, float]]  # attribute → (low, high) of the 95 % interval
    calibrated: dict[str, bool]  # attribute → whether its interval is calibrated (else the posterior's only)

    def table(self) -> dict[str, list]:
        """Columns of the result table: one row per attribute (measured, encoded, its 95 % interval and whether
        that interval is calibrated; None where not measurable) and a last row with P(infarct) as the encoded
        value."""
        names = list(self.encoded)
        percent = f"{100 * INTERVAL_LEVEL:g} %"
        return {"attribute": [*names, "P(infarct)"],
                "measured": [None if math.isnan(self.measured[n]) else self.measured[n] for n in names] + [None],
                "encoded": [self.encoded[n] for n in names] + [self.probability],
                f"low {percent}": [self.intervals[n][0] for n in names] + [None],
                f"high {percent}": [self.intervals[n][1] for n in names] + [None],
                "interval": ["calibrated" if self.calibrated[n] else "posterior (not calibrated)" for n in names]
                + [""]}


def analyse_subject(bundle: ModelBundle, image: sitk.Image, labels: sitk.Image,
                    scheme: LabelScheme = EMIDEC_SCHEME, name: str = "image") -> SubjectAnalysis:
    """Preprocess, encode, reconstruct and classify one subject; measure and decode its attributes.

    Raises:
        InvalidVolumeError: not a 3D scalar volume, grids differ, or the LV mask is empty.
    """
    prepared = preprocess_for(bundle, image, labels, scheme, name)
    mu, sigma = (values[0] for values in encode(bundle, prepared.volume))
    probability = float(predict(bundle, prepared.volume)[0])
    measurable = shape_attributes(labels, scheme, name=f"{name} mask")
    estimates = attribute_estimates(bundle, mu[None].cpu(), sigma[None].cpu())
    return SubjectAnalysis(
        prepared=prepared, mu=mu, sigma=sigma, probability=probability,
        reconstruction=decode_in_source(bundle, mu, prepared.geometry),
        measured={n: float(measurable.get(n, math.nan)) for n in bundle.attribute_names},
        encoded={n: float(e.encoded[0]) for n, e in estimates.items()},
        intervals={n: (float(e.low[0]), float(e.high[0])) for n, e in estimates.items()},
        calibrated={n: e.calibrated for n, e in estimates.items()},
    )


def decode_in_source(bundle: ModelBundle, z: torch.Tensor, geometry: CubeGeometry,
                     precision: str = "fp32") -> sitk.Image:
    """Decode one latent code (L,) and resample the volume onto the input grid (one slider update;
    ``precision`` as :func:`~AttriVAELib.interpretation.decode`)."""
    return decodes_in_source(bundle, z.reshape(1, -1), geometry, precision)[0]


def decodes_in_source(bundle: ModelBundle, codes: torch.Tensor, geometry: CubeGeometry,
                      precision: str = "fp32") -> list[sitk.Image]:
    """Decode (N, L) latent codes in one batch; one volume per code, on the input grid."""
    cubes = decode(bundle, codes, precision)[:, 0].cpu().numpy()
    return [geometry.to_source(cube) for cube in cubes]


def latent_with(bundle: ModelBundle, z: torch.Tensor, values: Mapping[str, float]) -> torch.Tensor:
    """A copy of code ``z`` (L,) with the dims of the named attributes set to the given attribute values
    (in the attribute's units; clamped to the training range with a warning)."""
    z = z.detach().clone().reshape(-1)
    for name, value in values.items():
        z[bundle.attribute_names.index(name)] = float(attribute_to_latent(bundle, name, [value])[0])
    return z


def traversal_codes(bundle: ModelBundle, z: torch.Tensor, attribute: str,
                    steps: int) -> tuple[list[float], torch.Tensor]:
    """Sweep one attribute of code ``z`` (L,) over its training range: the ``steps`` attribute values (in its
    units) and the (steps, L) codes, the other dims as in ``z``."""
    if attribute not in bundle.attribute_ranges():
        raise ValueError(f"{attribute!r} is not a regularised attribute of this model; "
                         f"choose one of {', '.join(bundle.attribute_ranges())}")
    if steps < 2:
        raise ValueError(f"a traversal needs at least 2 steps, not {steps}")
    low, high, _unit = bundle.attribute_ranges()[attribute]
    values = np.linspace(low, high, steps).tolist()
    return values, torch.stack([latent_with(bundle, z, {attribute: value}) for value in values])


def attention_in_source(bundle: ModelBundle, prepared: PreprocessedVolume, attributes: Sequence[str] | None = None,
                        method: str = DEFAULT_METHOD, layer: str = DEFAULT_LAYER) -> dict[str, sitk.Image]:
    """Attention maps (deterministic, from μ; see :func:`~AttriVAELib.attention.attention`) of the given
    attributes (default all), on the input grid."""
    maps = attention(bundle, prepared.volume, attributes, method=method, layer=layer, use_mean=True)
    return maps_in_source(maps, prepared.geometry)

