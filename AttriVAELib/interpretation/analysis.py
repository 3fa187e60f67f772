"""One subject end to end, in the input image's geometry: what the Slicer module's Analyze, Attention and
Explore sections compute, on SimpleITK images (LPS mm) so that any viewer can use it.

Every output image shares the input's size, spacing, origin and direction; network-cube outputs are
resampled onto that grid (linear) and are 0 outside the cube.
"""

from __future__ import annotations

__all__ = ["ExploreCode", "SubjectAnalysis", "analyse_subject", "attention_in_source", "decode_in_source",
           "decoded_responses", "decodes_in_source", "explore_code", "traversal_codes"]

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk
import torch

from ..choices import DEFAULT_LAYER, DEFAULT_METHOD
from ..data.attributes import attribute_spec, shape_attributes
from ..data.decoded import decoded_label_map
from ..data.labels import EMIDEC_SCHEME, LabelScheme
from ..data.preprocessing import CubeGeometry, PreprocessedVolume
from ..errors import InvalidConfigError
from ..modelfile.bundle import ModelBundle
from .attention import attention, maps_in_source
from .codes import INTERVAL_LEVEL, attribute_estimates
from .inference import decode, encode, predict, preprocess_for
from .traversal import Aim, DecodedResponse, UnmeasurableError, aim, decoded_response, shown_values


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
    responses: dict[str, DecodedResponse | UnmeasurableError]  # attribute → its decoded response around μ, or why
    # it has none (attributes a decoded cube shows)
    shown: dict[str, float]  # attribute → measured on the reconstruction (those a decoded cube shows; NaN: not)

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
    own = decode(bundle, mu.reshape(1, -1))[0, 0].cpu().numpy()
    return SubjectAnalysis(
        prepared=prepared, mu=mu, sigma=sigma, probability=probability,
        reconstruction=prepared.geometry.to_source(own),
        measured={n: float(measurable.get(n, math.nan)) for n in bundle.attribute_names},
        encoded={n: float(e.encoded[0]) for n, e in estimates.items()},
        intervals={n: (float(e.low[0]), float(e.high[0])) for n, e in estimates.items()},
        calibrated={n: e.calibrated for n, e in estimates.items()},
        responses=decoded_responses(bundle, mu, prepared.geometry),
        shown=shown_values(bundle, decoded_label_map(own, prepared.geometry)),
    )


def decoded_responses(bundle: ModelBundle, z: torch.Tensor,
                      geometry: CubeGeometry) -> dict[str, DecodedResponse | UnmeasurableError]:
    """The decoded response of code ``z`` (L,) to each regularised attribute a decoded volume shows, or the error
    that says why it has none: what lets sliders land on the decoded anatomy."""
    responses: dict[str, DecodedResponse | UnmeasurableError] = {}
    for name in bundle.attribute_names:
        if attribute_spec(name).decoded:
            try:
                responses[name] = decoded_response(bundle, z, name, geometry)
            except UnmeasurableError as error:
                responses[name] = error
    return responses


def decode_in_source(bundle: ModelBundle, z: torch.Tensor, geometry: CubeGeometry,
                     precision: str = "fp32") -> sitk.Image:
    """Decode one latent code (L,) and resample the volume onto the input grid (one slider update;
    ``precision`` as :func:`~AttriVAELib.interpretation.inference.decode`)."""
    return decodes_in_source(bundle, z.reshape(1, -1), geometry, precision)[0]


def decodes_in_source(bundle: ModelBundle, codes: torch.Tensor, geometry: CubeGeometry,
                      precision: str = "fp32") -> list[sitk.Image]:
    """Decode (N, L) latent codes in one batch; one volume per code, on the input grid."""
    cubes = decode(bundle, codes, precision)[:, 0].cpu().numpy()
    return [geometry.to_source(cube) for cube in cubes]


@dataclass(frozen=True)
class ExploreCode:
    """A subject's code with some attributes set, and where each request landed."""

    code: torch.Tensor  # (L,)
    aims: dict[str, Aim]  # attribute → its aim (one value): drawn value, clamping, units; notes() for the user


def explore_code(bundle: ModelBundle, analysis: SubjectAnalysis, z: torch.Tensor,
                 values: Mapping[str, float]) -> ExploreCode:
    """A copy of code ``z`` (L,) with the named attributes set to the given values (attribute units), aimed
    through the subject's decoded responses (:func:`~AttriVAELib.interpretation.traversal.aim`): the decoded
    anatomy shows them where it can, and each aim says what was drawn instead where it cannot."""
    z = z.detach().clone().reshape(-1)
    aims = {}
    for name, value in values.items():
        aims[name] = aim(bundle, z, name, [value], analysis.prepared.geometry, analysis.responses.get(name))
        z[bundle.attribute_names.index(name)] = float(aims[name].latent[0])
    return ExploreCode(z, aims)


def traversal_codes(bundle: ModelBundle, analysis: SubjectAnalysis, z: torch.Tensor, attribute: str,
                    steps: int) -> tuple[Aim, torch.Tensor]:
    """Sweep one attribute of code ``z`` (L,) over its training range, aimed as :func:`explore_code`: the aim
    of the ``steps`` values and the (steps, L) codes, the other dims as in ``z``."""
    if attribute not in bundle.attribute_ranges():
        raise InvalidConfigError(f"{attribute!r} is not a regularised attribute of this model; "
                                 f"choose one of {', '.join(bundle.attribute_ranges())}")
    if steps < 2:
        raise InvalidConfigError(f"a traversal needs at least 2 steps, not {steps}")
    low, high, _unit = bundle.attribute_ranges()[attribute]
    aimed = aim(bundle, z, attribute, np.linspace(low, high, steps), analysis.prepared.geometry,
                analysis.responses.get(attribute))
    codes = z.detach().reshape(1, -1).repeat(steps, 1)
    codes[:, bundle.attribute_names.index(attribute)] = torch.as_tensor(aimed.latent, dtype=codes.dtype)
    return aimed, codes


def attention_in_source(bundle: ModelBundle, prepared: PreprocessedVolume, attributes: Sequence[str] | None = None,
                        method: str = DEFAULT_METHOD, layer: str = DEFAULT_LAYER) -> dict[str, sitk.Image]:
    """Attention maps (deterministic, from μ; see :func:`~AttriVAELib.interpretation.attention.attention`) of the given
    attributes (default all), on the input grid."""
    maps = attention(bundle, prepared.volume, attributes, method=method, layer=layer, use_mean=True)
    return maps_in_source(maps, prepared.geometry)

