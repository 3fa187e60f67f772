"""Traversals in attribute units that land: the decoded anatomy shows the value asked for, or says why not.

The card's training line maps an attribute to its latent dim as the *encoder* reads it. The decoder's response
to that dim is weaker (a traversal by the line alone moves a decoded LV by about half the millilitres asked
for), so for each attribute a decoded cube shows (:data:`~AttriVAELib.data.attributes.DECODED_ATTRIBUTES`) a sweep
measures the subject's own decoded response and inverts it:

1. decode the subject's code with the dim set to :data:`RESPONSE_STEPS` latent values that span the training
   range's latent interval widened by :data:`RESPONSE_REACH` of its width on each side;
2. measure the attribute on each decoded cube (:func:`~AttriVAELib.data.decoded.measure_decoded`, put into the
   data's units by the card's decoded-measure line when it has one) and fit a monotone curve to it
   (isotonic regression, in the direction of the training line);
3. clamp each request to the training range (the decoder never saw other anatomy) and to the values the
   curve reaches, and read off the latent value that draws it; decode there and measure again, so that every
   step carries the value the decoded anatomy shows beside the one asked for.

Attributes a decoded cube does not show (EF, infarct size, clinical variables) keep the encoder's units
(:attr:`Sweep.units` = ``encoder``): their steps carry no measured value.
"""

from __future__ import annotations

__all__ = ["FLAT_RESPONSE", "RESPONSE_REACH", "RESPONSE_STEPS", "Aim", "DecodedResponse", "Sweep", "UnmeasurableError",
           "aim", "codes_along", "decoded_response", "measured_in_data_units", "shown_values", "sweep", "traverse"]

import dataclasses
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk
import torch
from scipy.optimize import isotonic_regression

from ..data.attributes import attribute_spec
from ..data.decoded import measure_cubes, measure_label_map
from ..data.preprocessing import CubeGeometry
from ..errors import AttriVAEError, InvalidConfigError
from ..modelfile.bundle import ModelBundle
from ..modelfile.card import AttributeCard
from .inference import ModelLike, attribute_index, card_entry, decode

RESPONSE_STEPS = 13
"""Latent values at which a subject's decoded response is measured."""
RESPONSE_REACH = 1.0
"""How far the response sweep extends beyond the training range's latent interval, in widths of it per side
(2 reached no further on the shipped model: its decoded anatomy saturates)."""
FLAT_RESPONSE = 0.01
"""A decoded response that spans less than this share of the training range is no response: the traversal
keeps the encoder's units (and says so) rather than drawing one value for every request."""


class UnmeasurableError(AttriVAEError):
    """The decoded volumes of a subject show no measurable anatomy."""


@dataclass(frozen=True)
class DecodedResponse:
    """How one subject's decoded anatomy responds to one latent dim: the attribute measured on the cube decoded
    at each latent value (attribute units), as a monotone curve."""

    attribute: str
    latent: np.ndarray  # (M,) increasing latent values
    measured: np.ndarray  # (M,) monotone fit of the measured values, attribute units

    @property
    def reachable(self) -> tuple[float, float]:
        """The lowest and highest value the decoder draws for this subject, attribute units."""
        return float(self.measured.min()), float(self.measured.max())

    def latent_for(self, values: np.ndarray) -> np.ndarray:
        """Latent values whose decoded anatomy shows ``values`` (N,), which must lie in :attr:`reachable`."""
        order = np.argsort(self.measured, kind="stable")
        levels, first = np.unique(self.measured[order], return_index=True)  # a plateau: its first latent value
        if len(levels) == 1:
            return np.full(np.shape(values), float(self.latent[order][0]))
        return np.interp(values, levels, self.latent[order][first])


@dataclass(frozen=True)
class Aim:
    """Where requests in one attribute's units land for one code: the values drawn and their latent values."""

    attribute: str
    unit: str
    units: str  # decoded: calibrated on the decoded anatomy; encoder: the training line only
    requested: np.ndarray  # (N,) attribute units, as asked
    target: np.ndarray  # (N,) the request clamped to the training range and to what the decoder reaches
    latent: np.ndarray  # (N,) latent values that draw the targets
    training_range: tuple[float, float]  # the training split's minimum and maximum, attribute units
    reachable: tuple[float, float] | None  # what the decoder draws for this subject (None: encoder units)
    reason: str  # why encoder units ("" for decoded): what the user is told

    @property
    def clamped(self) -> np.ndarray:
        """(N,) bool: requests that could not be drawn as asked."""
        return ~np.isclose(self.target, self.requested, rtol=1e-9, atol=0.0)

    def notes(self) -> list[str]:
        """One line per kind of limit, for the user (empty when every request was drawn as asked)."""
        notes = []
        if self.clamped.any():
            asked = ", ".join(f"{v:.4g}" for v in self.requested[self.clamped])
            drawn = ", ".join(f"{v:.4g}" for v in self.target[self.clamped])
            limits = f"the training range is {self.training_range[0]:.4g}–{self.training_range[1]:.4g} {self.unit}"
            if self.reachable:
                limits += (f" and this subject's decoded anatomy reaches {self.reachable[0]:.4g}–"
                           f"{self.reachable[1]:.4g} {self.unit}")
            notes.append(f"{self.attribute}: {asked} {self.unit} cannot be drawn ({limits}); drew {drawn} {self.unit}")
        if self.units == "encoder":
            notes.append(f"{self.attribute}: {self.reason}; values are the encoder's units (the training line), not "
                         f"measured on the decoded anatomy")
        return notes


@dataclass(frozen=True)
class Sweep(Aim):
    """One attribute of one subject decoded at several requested values."""

    measured: np.ndarray  # (N,) the attribute measured on each decoded volume (NaN for encoder units)
    volumes: torch.Tensor  # (N, 1, S, S, S) decoded volumes in [0, 1]


def _cube_geometry(bundle: ModelBundle, geometry: CubeGeometry | None) -> CubeGeometry:
    """The subject's cube geometry or, in physical preprocessing, the cube every subject shares (fixed spacing)."""
    if geometry is not None:
        return geometry
    config = bundle.card.config
    if config.preprocess.mode != "physical":
        raise InvalidConfigError(f"a traversal measured on the decoded anatomy of a {config.preprocess.mode!r} "
                                 f"model needs the subject's cube geometry (preprocess the subject first)")
    spacing = config.preprocess.field_of_view_mm / config.model.input_size
    grid = {"size": [config.model.input_size] * 3, "spacing": [spacing] * 3, "origin": [0.0] * 3,
            "direction": [1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0]}
    return CubeGeometry.from_dict({"cube": grid, "source": grid})


def measured_in_data_units(entry: AttributeCard, cubes: np.ndarray, geometry: CubeGeometry) -> np.ndarray:
    """(N, S, S, S) decoded cubes → (N,) the attribute of ``entry`` measured on each, in the data's units through
    the card's decoded-measure line (NaN where a cube shows no measurable anatomy)."""
    values = measure_cubes(cubes, geometry, entry.name)
    return entry.decoded_measure(values) if entry.decoded_measure else values


def codes_along(z: torch.Tensor | np.ndarray, dim: int, latent: np.ndarray) -> torch.Tensor:
    """(L,) code → (N, L) copies with dim ``dim`` set to each latent value."""
    codes = torch.as_tensor(z, dtype=torch.float32).reshape(1, -1).repeat(len(latent), 1)
    codes[:, dim] = torch.as_tensor(latent, dtype=torch.float32)
    return codes


def decoded_response(bundle: ModelBundle, z: torch.Tensor, attribute: int | str,
                     geometry: CubeGeometry | None = None, steps: int = RESPONSE_STEPS) -> DecodedResponse:
    """Measure how the decoded anatomy of code ``z`` (L,) responds to an attribute's dim (see the module
    docstring). ``geometry``: the subject's cube geometry (needed for ``official-code`` preprocessing).

    Raises:
        InvalidConfigError: the attribute is not regularised with a training line, or a decoded volume does not
            show it.
        UnmeasurableError: fewer than 2 decoded steps could be measured (a model that draws no ventricle), or
            what they show spans less than :data:`FLAT_RESPONSE` of the training range.
    """
    entry = card_entry(bundle, attribute)
    if not attribute_spec(entry.name).decoded:
        raise InvalidConfigError(f"{entry.name} cannot be measured on a decoded volume")
    ends = np.sort(entry.to_latent([entry.minimum, entry.maximum]))
    width = float(ends[1] - ends[0])
    latent = np.linspace(ends[0] - RESPONSE_REACH * width, ends[1] + RESPONSE_REACH * width, steps)
    cubes = decode(bundle, codes_along(z, entry.dim, latent))[:, 0].cpu().numpy()
    measured = measured_in_data_units(entry, cubes, _cube_geometry(bundle, geometry))
    known = np.isfinite(measured)
    if known.sum() < 2:
        raise UnmeasurableError("it could not be measured on this subject's decoded volumes")
    increasing = entry.latent_slope > 0  # the direction the encoder learned
    fitted = isotonic_regression(measured[known], increasing=increasing).x
    if np.ptp(fitted) < FLAT_RESPONSE * (entry.maximum - entry.minimum):
        raise UnmeasurableError(f"its decoded anatomy does not change measurably with its dim (it shows "
                                f"{np.median(fitted):.4g} {entry.unit} throughout)")
    return DecodedResponse(entry.name, latent[known], fitted)


def aim(bundle: ModelBundle, z: torch.Tensor, attribute: int | str, values: Sequence[float],
        geometry: CubeGeometry | None = None,
        response: DecodedResponse | UnmeasurableError | None = None) -> Aim:
    """The latent values that draw ``values`` (attribute units) of one attribute for code ``z`` (L,): through
    the subject's decoded response where a decoded volume shows the attribute and it can be measured
    (``response``: one measured before for the same code and attribute, or the error measuring it gave; else
    measured here), else through the training line (``units`` = ``encoder``, with the reason). Requests are
    clamped to the training range and to what the decoder draws.

    Raises:
        InvalidConfigError: the attribute is not regularised with a training line, or its dim does not vary.
    """
    entry = card_entry(bundle, attribute)
    requested = np.asarray(values, dtype=np.float64).reshape(-1)
    target = np.clip(requested, entry.minimum, entry.maximum)
    training = (entry.minimum, entry.maximum)
    reason = "" if attribute_spec(entry.name).decoded else "a decoded volume does not show it"
    if isinstance(response, UnmeasurableError):
        reason, response = reason or str(response), None
    if not reason and response is None:
        try:
            response = decoded_response(bundle, z, entry.dim, geometry)
        except UnmeasurableError as error:
            reason = str(error)
    if reason:
        if entry.latent_slope == 0:
            raise InvalidConfigError(f"latent dim {entry.dim} does not vary with {entry.name}; traverse it in latent "
                                     f"units")
        return Aim(entry.name, entry.unit, "encoder", requested, target, entry.to_latent(target), training, None,
                   reason)
    low, high = response.reachable
    drawable = (max(low, entry.minimum), min(high, entry.maximum))
    if drawable[0] > drawable[1]:  # nothing the decoder draws lies in the training range: the nearest it draws
        drawable = (low, high)
    target = np.clip(target, *drawable)
    return Aim(entry.name, entry.unit, "decoded", requested, target, response.latent_for(target), training,
               (low, high), "")


def sweep(bundle: ModelBundle, z: torch.Tensor, attribute: int | str, values: Sequence[float],
          geometry: CubeGeometry | None = None, response: DecodedResponse | None = None) -> Sweep:
    """Decode code ``z`` (L,) with one attribute set to each of ``values`` (attribute units), aimed by
    :func:`aim`, in one batch, and measure the attribute on each decoded volume where it can.

    Raises:
        InvalidConfigError: see :func:`aim`.
    """
    aimed = aim(bundle, z, attribute, values, geometry, response)
    entry = card_entry(bundle, aimed.attribute)
    volumes = decode(bundle, codes_along(z, entry.dim, aimed.latent))
    measured = (np.full(len(aimed.requested), math.nan) if aimed.units == "encoder" else
                measured_in_data_units(entry, volumes[:, 0].cpu().numpy(), _cube_geometry(bundle, geometry)))
    return Sweep(**{field.name: getattr(aimed, field.name) for field in dataclasses.fields(Aim)},
                 measured=measured, volumes=volumes)


def shown_values(bundle: ModelBundle, anatomy: sitk.Image) -> dict[str, float]:
    """Every regularised attribute a decoded volume shows, measured on the label map of one decoded cube
    (:func:`~AttriVAELib.data.decoded.decoded_label_map`) in the data's units (NaN where it shows no measurable
    anatomy): what the decoded anatomy shows now."""
    entries = [entry for entry in bundle.card.attributes if attribute_spec(entry.name).decoded]
    raw = measure_label_map(anatomy, [entry.name for entry in entries])
    return {entry.name: float(entry.decoded_measure(raw[entry.name]) if entry.decoded_measure else raw[entry.name])
            for entry in entries}


def traverse(model: ModelLike, z: torch.Tensor, attribute: int | str, values: Sequence[float],
             units: str = "latent", geometry: CubeGeometry | None = None) -> torch.Tensor:
    """Decode ``z`` with one latent dim set to each of ``values``, all steps in one batch.

    Args:
        model: a model, or a bundle (needed for names and attribute units).
        z: (L,) or (1, L) latent code of the subject (e.g. μ from :func:`~AttriVAELib.interpretation.inference.encode`).
        attribute: attribute name or latent dim.
        values: N values, in latent units or, with ``units="attribute"``, in the attribute's units: then the
            decoded anatomy shows them where a decoded volume can (see :func:`sweep`, which also returns what
            each step shows and which requests were clamped).
        geometry: the subject's cube geometry, for ``units="attribute"`` with ``official-code`` preprocessing.

    Returns:
        (N, 1, S, S, S) volumes in [0, 1].
    """
    if units not in ("latent", "attribute"):
        raise InvalidConfigError(f"units {units!r} is not 'latent' or 'attribute'")
    dim = attribute_index(model, attribute)
    if units == "attribute":
        if not isinstance(model, ModelBundle):
            raise InvalidConfigError("a traversal in attribute units needs a model bundle (load_model)")
        swept = sweep(model, z, dim, values, geometry)
        for note in swept.notes():
            warnings.warn(note, stacklevel=2)
        return swept.volumes
    return decode(model, codes_along(z, dim, np.asarray(values, dtype=np.float64)))
