"""The attributes the package knows, and their measurement on label maps in physical units.

:data:`ATTRIBUTES` is the one registry: per attribute its unit, the label-map structure that defines it, the
function that measures it on a label map, and whether one decoded end-diastolic cube shows it (then
traversals and sliders are calibrated on the decoded anatomy; else they keep the encoder's units). Every
other list of attributes is a view of it. A CSV column that is not in it is a custom attribute: its unit comes
from the name's suffix (:data:`UNIT_SUFFIXES`), it has no structure and it is never measured.

Conventions of the measures (also in docs/data.md, "Attributes"):

* ``lv_volume_ml`` / ``myo_volume_ml``: voxel count × voxel volume (= PyRadiomics ``VoxelVolume``), mL.
* ``myo_mass_g``: 1.05 g/mL × myocardial volume.
* ``wall_thickness_mm`` / ``wall_thickness_sd_mm``: mean and standard deviation of the in-slice wall
  thickness, sampled at every myocardium pixel that touches the cavity, over all slices (array axis 0 =
  acquisition slices) holding both cavity and myocardium. Thickness at a pixel = distance from its centre
  to the nearest pixel centre outside cavity ∪ myocardium.
* ``myo_max_diameter_mm``: largest in-slice distance between two myocardium pixel centres (the
  slice-wise maximum 2D diameter, measured between pixel centres like ITK's Feret diameter).
* ``lv_sphericity``: sphericity index V / (π/6 · L³) of the cavity (Kono et al. 1992), with L = 2·√(5·λ_max)
  the long-axis length of the solid ellipsoid that has the cavity's second moments (λ = eigenvalues of
  the covariance of voxel-centre positions); 1 for a sphere, smaller for an elongated cavity.
* ``infarct_size_pct``: infarct (incl. no-reflow) voxels / myocardium voxels × 100.
* ``ef_pct``: (EDV − ESV) / EDV × 100 when an end-systolic label map is given.
"""

from __future__ import annotations

__all__ = ["ATTRIBUTES", "DECODED_ATTRIBUTES", "DEFAULT_ATTRIBUTES", "MYOCARDIAL_DENSITY_G_PER_ML", "SHAPE_ATTRIBUTES",
           "STRUCTURE_OF_ATTRIBUTE", "UNIT_SUFFIXES", "AttributeSpec", "LabelMasks", "attribute_spec",
           "attribute_unit", "shape_attributes"]

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import SimpleITK as sitk
from scipy import ndimage
from scipy.spatial import ConvexHull, QhullError

from ..errors import InvalidVolumeError
from .labels import LabelScheme
from .volumes import check_same_geometry

MYOCARDIAL_DENSITY_G_PER_ML = 1.05
"""Myocardial tissue density used for mass = density × volume (as the official code)."""

UNIT_SUFFIXES = {"ml": "mL", "mm": "mm", "pct": "%", "g": "g", "cm": "cm", "kg": "kg"}
"""Unit of a custom attribute named ``<quantity>_<suffix>`` (``height_cm`` is in cm); other names are unitless."""


class LabelMasks:
    """One label map's masks (arrays (k, j, i)) and voxel geometry, from which each measure reads what it needs;
    shared intermediate results (the wall-thickness samples) are computed once."""

    def __init__(self, labels: sitk.Image, scheme: LabelScheme, es_labels: sitk.Image | None = None) -> None:
        array = sitk.GetArrayViewFromImage(labels)
        self.cavity, self.myocardium = scheme.cavity_mask(array), scheme.myocardium_mask(array)
        self.infarct = scheme.infarct_mask(array) if scheme.infarct else None
        self.spacing = tuple(labels.GetSpacing())  # (x, y, z) mm
        self.direction = np.asarray(labels.GetDirection()).reshape(3, 3)
        self.voxel_ml = float(np.prod(self.spacing)) / 1000.0
        self.es_cavity_ml = None  # end-systolic cavity volume, mL
        if es_labels is not None:
            es_cavity = scheme.cavity_mask(sitk.GetArrayViewFromImage(es_labels)).sum()
            self.es_cavity_ml = es_cavity * float(np.prod(es_labels.GetSpacing())) / 1000.0

    @cached_property
    def wall_thickness_samples(self) -> np.ndarray:
        """Thickness (mm) at each myocardium pixel touching the cavity, over all slices."""
        sampling = (self.spacing[1], self.spacing[0])  # (j, i) pixel size in mm
        samples = []
        for cavity_slice, myo_slice in zip(self.cavity, self.myocardium):
            if not cavity_slice.any() or not myo_slice.any():
                continue
            distance_to_outside = ndimage.distance_transform_edt(cavity_slice | myo_slice, sampling=sampling)
            endocardial = myo_slice & ndimage.binary_dilation(cavity_slice)
            samples.append(distance_to_outside[endocardial])
        return np.concatenate(samples) if samples else np.empty(0)


def _lv_volume(masks: LabelMasks) -> float:
    return masks.cavity.sum() * masks.voxel_ml


def _myo_volume(masks: LabelMasks) -> float:
    return masks.myocardium.sum() * masks.voxel_ml


def _myo_mass(masks: LabelMasks) -> float:
    return masks.myocardium.sum() * masks.voxel_ml * MYOCARDIAL_DENSITY_G_PER_ML


def _wall_thickness(masks: LabelMasks) -> float:
    samples = masks.wall_thickness_samples
    return float(samples.mean()) if samples.size else float("nan")


def _wall_thickness_sd(masks: LabelMasks) -> float:
    samples = masks.wall_thickness_samples
    return float(samples.std()) if samples.size else float("nan")


def _max_slice_diameter(masks: LabelMasks) -> float:
    """Largest in-slice distance (mm) between two myocardium pixel centres."""
    best = 0.0
    for myo_slice in masks.myocardium:
        points = np.argwhere(myo_slice)[:, ::-1] * np.asarray(masks.spacing[:2])  # (N, 2) as (x, y) in mm
        if len(points) < 2:
            continue
        try:
            points = points[ConvexHull(points).vertices]
        except QhullError:  # collinear pixels: every point is on the hull
            pass
        distances = np.linalg.norm(points[:, None, :] - points[None, :, :], axis=-1)
        best = max(best, float(distances.max()))
    return best


def _sphericity_index(masks: LabelMasks) -> float:
    """V / (π/6 · L³) with L = 2·√(5·λ_max) from the cavity voxel-centre covariance (mm³ / mm³)."""
    indices = np.argwhere(masks.cavity)[:, ::-1].astype(float)  # (N, 3) as (i, j, k)
    points = indices * np.asarray(masks.spacing) @ masks.direction.T  # (N, 3) physical offsets in mm
    if len(points) < 4:
        return float("nan")
    major_axis = 2.0 * np.sqrt(5.0 * np.linalg.eigvalsh(np.cov(points.T))[-1])  # solid ellipsoid: λ = a²/5
    volume = len(points) * float(np.prod(masks.spacing))
    return volume / (np.pi / 6.0 * major_axis**3)


def _infarct_size(masks: LabelMasks) -> float | None:
    return None if masks.infarct is None else 100.0 * masks.infarct.sum() / masks.myocardium.sum()


def _ejection_fraction(masks: LabelMasks) -> float | None:
    if masks.es_cavity_ml is None:
        return None
    lv_volume = _lv_volume(masks)
    return 100.0 * (lv_volume - masks.es_cavity_ml) / lv_volume


@dataclass(frozen=True)
class AttributeSpec:
    """What the package knows about one attribute."""

    name: str
    unit: str  # display unit ("" for ratios)
    structure: str | None = None  # label-map structure that defines it: cavity, myocardium or infarct
    measure: Callable[[LabelMasks], float | None] | None = None  # from label maps; None where the data lack it
    decoded: bool = False  # one decoded end-diastolic cube shows it: traversals are calibrated on the anatomy

    @property
    def traversal_units(self) -> str:
        """How a traversal in this attribute's units is calibrated: ``decoded`` (the decoded anatomy's measured
        value lands on the request) or ``encoder`` (the encoder's training line only)."""
        return "decoded" if self.decoded else "encoder"


ATTRIBUTES: dict[str, AttributeSpec] = {spec.name: spec for spec in (
    AttributeSpec("lv_volume_ml", "mL", "cavity", _lv_volume, decoded=True),
    AttributeSpec("myo_volume_ml", "mL", "myocardium", _myo_volume, decoded=True),
    AttributeSpec("myo_mass_g", "g", "myocardium", _myo_mass),
    AttributeSpec("wall_thickness_mm", "mm", "myocardium", _wall_thickness, decoded=True),
    AttributeSpec("wall_thickness_sd_mm", "mm", "myocardium", _wall_thickness_sd),
    AttributeSpec("myo_max_diameter_mm", "mm", "cavity", _max_slice_diameter, decoded=True),
    AttributeSpec("lv_sphericity", "", "cavity", _sphericity_index, decoded=True),
    AttributeSpec("infarct_size_pct", "%", "infarct", _infarct_size),  # decoded scar and blood are both bright
    AttributeSpec("ef_pct", "%", "cavity", _ejection_fraction),  # needs the end-systolic phase
)}
"""Every attribute the package knows, by name, in the column order of a synthetic cohort's table."""

DEFAULT_ATTRIBUTES = ("lv_volume_ml", "myo_volume_ml", "wall_thickness_mm", "infarct_size_pct", "ef_pct",
                      "lv_sphericity", "myo_max_diameter_mm")
"""Attributes regularised when none are named, in latent-dimension order (dim k ↔ attribute k): the
paper's shape attributes (LV and myocardial volume, wall thickness, EF, sphericity, myocardial maximum 2D
diameter) plus infarct size, the attribute LGE images show best.

Only those present in the dataset are used (EF needs an end-systolic mask, infarct size scar labels)."""

SHAPE_ATTRIBUTES = tuple(name for name, spec in ATTRIBUTES.items() if spec.measure)
"""Every attribute :func:`shape_attributes` can return."""

STRUCTURE_OF_ATTRIBUTE = {name: spec.structure for name, spec in ATTRIBUTES.items() if spec.structure}
"""The structure whose voxels define each attribute; attributes not listed are not scored by localisation."""

DECODED_ATTRIBUTES = tuple(name for name, spec in ATTRIBUTES.items() if spec.decoded)
"""Attributes measurable on one decoded end-diastolic cube."""


def attribute_spec(name: str) -> AttributeSpec:
    """The registry's entry of ``name``, or that of a custom attribute (unit from the name's suffix, no
    structure, not measured)."""
    if name in ATTRIBUTES:
        return ATTRIBUTES[name]
    suffix = name.rsplit("_", 1)[-1] if "_" in name else ""
    return AttributeSpec(name, UNIT_SUFFIXES.get(suffix, ""))


def attribute_unit(name: str) -> str:
    """Display unit of attribute ``name`` ("" for ratios and unitless custom attributes)."""
    return attribute_spec(name).unit


def shape_attributes(labels: sitk.Image, scheme: LabelScheme, es_labels: sitk.Image | None = None,
                     name: str = "mask", attributes: Iterable[str] = SHAPE_ATTRIBUTES) -> dict[str, float]:
    """Measure ``attributes`` (default every shape attribute) on one end-diastolic label map; ``ef_pct`` needs
    ``es_labels`` and ``infarct_size_pct`` a scheme with infarct labels: each is left out where its input is
    missing.

    Raises:
        InvalidVolumeError: the cavity or the myocardium is empty, an end-systolic map without cavity or on
            another grid, or a name that is not a shape attribute.
    """
    masks = LabelMasks(labels, scheme)
    if not masks.cavity.any() or not masks.myocardium.any():
        missing = "cavity" if not masks.cavity.any() else "myocardium"
        raise InvalidVolumeError(
            f"{name} has no {missing} voxels with label values {getattr(scheme, missing)} ({scheme.name} "
            f"convention); check the label values or the --format")
    if es_labels is not None:
        check_same_geometry(labels, es_labels, name, f"end-systolic mask of {name}")
        masks = LabelMasks(labels, scheme, es_labels)
        if not masks.es_cavity_ml:
            raise InvalidVolumeError(f"end-systolic mask of {name} has no cavity voxels; check its label values")
    measured = {}
    for attribute in attributes:
        measure = ATTRIBUTES[attribute].measure if attribute in ATTRIBUTES else None
        if measure is None:
            raise InvalidVolumeError(f"{attribute!r} is not measured on label maps; measurable: "
                                     f"{', '.join(SHAPE_ATTRIBUTES)}")
        value = measure(masks)
        if value is not None:
            measured[attribute] = float(value)
    return measured
