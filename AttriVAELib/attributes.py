"""Shape attributes measured on label maps, in physical units.

Conventions (also in docs/data.md, "Attributes"):

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

__all__ = ["SHAPE_ATTRIBUTES", "shape_attributes"]

import numpy as np
import SimpleITK as sitk
from scipy import ndimage
from scipy.spatial import ConvexHull, QhullError

from .constants import MYOCARDIAL_DENSITY_G_PER_ML
from .errors import InvalidVolumeError
from .io import check_same_geometry
from .labels import LabelScheme

SHAPE_ATTRIBUTES = (
    "lv_volume_ml",
    "myo_volume_ml",
    "myo_mass_g",
    "wall_thickness_mm",
    "wall_thickness_sd_mm",
    "myo_max_diameter_mm",
    "lv_sphericity",
    "infarct_size_pct",
    "ef_pct",
)
"""Every attribute :func:`shape_attributes` can return."""


def shape_attributes(
    labels: sitk.Image, scheme: LabelScheme, es_labels: sitk.Image | None = None, name: str = "mask"
) -> dict[str, float]:
    """Measure the shape attributes of one label map (end-diastole), plus EF when ``es_labels`` is given.

    ``infarct_size_pct`` is returned only when the scheme has infarct labels.

    Raises:
        InvalidVolumeError: the cavity or the myocardium is empty.
    """
    array = sitk.GetArrayViewFromImage(labels)  # (k, j, i)
    cavity, myocardium = scheme.cavity_mask(array), scheme.myocardium_mask(array)
    if not cavity.any() or not myocardium.any():
        raise InvalidVolumeError(
            f"{name} has no {'cavity' if not cavity.any() else 'myocardium'} voxels with label values "
            f"{scheme.cavity if not cavity.any() else scheme.myocardium} ({scheme.name} convention); "
            f"check the label values or the --format"
        )
    voxel_ml = float(np.prod(labels.GetSpacing())) / 1000.0
    thickness = _wall_thickness_samples(cavity, myocardium, labels.GetSpacing()[:2])
    attributes = {
        "lv_volume_ml": cavity.sum() * voxel_ml,
        "myo_volume_ml": myocardium.sum() * voxel_ml,
        "myo_mass_g": myocardium.sum() * voxel_ml * MYOCARDIAL_DENSITY_G_PER_ML,
        "wall_thickness_mm": float(thickness.mean()) if thickness.size else float("nan"),
        "wall_thickness_sd_mm": float(thickness.std()) if thickness.size else float("nan"),
        "myo_max_diameter_mm": _max_slice_diameter(myocardium, labels.GetSpacing()[:2]),
        "lv_sphericity": _sphericity_index(cavity, labels),
    }
    if scheme.infarct:
        attributes["infarct_size_pct"] = 100.0 * scheme.infarct_mask(array).sum() / myocardium.sum()
    if es_labels is not None:
        check_same_geometry(labels, es_labels, name, f"end-systolic mask of {name}")
        es_cavity = scheme.cavity_mask(sitk.GetArrayViewFromImage(es_labels)).sum()
        if not es_cavity:
            raise InvalidVolumeError(f"end-systolic mask of {name} has no cavity voxels; check its label values")
        es_volume = es_cavity * float(np.prod(es_labels.GetSpacing())) / 1000.0
        attributes["ef_pct"] = 100.0 * (attributes["lv_volume_ml"] - es_volume) / attributes["lv_volume_ml"]
    return {key: float(value) for key, value in attributes.items()}


def _wall_thickness_samples(cavity: np.ndarray, myocardium: np.ndarray, spacing_xy: tuple[float, ...]) -> np.ndarray:
    """Thickness (mm) at each myocardium pixel touching the cavity, over all slices. Arrays (k, j, i)."""
    sampling = (spacing_xy[1], spacing_xy[0])  # (j, i) pixel size in mm
    samples = []
    for cavity_slice, myo_slice in zip(cavity, myocardium):
        if not cavity_slice.any() or not myo_slice.any():
            continue
        distance_to_outside = ndimage.distance_transform_edt(cavity_slice | myo_slice, sampling=sampling)
        endocardial = myo_slice & ndimage.binary_dilation(cavity_slice)
        samples.append(distance_to_outside[endocardial])
    return np.concatenate(samples) if samples else np.empty(0)


def _max_slice_diameter(myocardium: np.ndarray, spacing_xy: tuple[float, ...]) -> float:
    """Largest in-slice distance (mm) between two myocardium pixel centres. Array (k, j, i)."""
    best = 0.0
    for myo_slice in myocardium:
        points = np.argwhere(myo_slice)[:, ::-1] * np.asarray(spacing_xy)  # (N, 2) as (x, y) in mm
        if len(points) < 2:
            continue
        try:
            points = points[ConvexHull(points).vertices]
        except QhullError:  # collinear pixels: every point is on the hull
            pass
        distances = np.linalg.norm(points[:, None, :] - points[None, :, :], axis=-1)
        best = max(best, float(distances.max()))
    return best


def _sphericity_index(cavity: np.ndarray, labels: sitk.Image) -> float:
    """V / (π/6 · L³) with L = 2·√(5·λ_max) from the cavity voxel-centre covariance (mm³ / mm³)."""
    indices = np.argwhere(cavity)[:, ::-1].astype(float)  # (N, 3) as (i, j, k)
    direction = np.asarray(labels.GetDirection()).reshape(3, 3)
    points = indices * np.asarray(labels.GetSpacing()) @ direction.T  # (N, 3) physical offsets in mm
    if len(points) < 4:
        return float("nan")
    major_axis = 2.0 * np.sqrt(5.0 * np.linalg.eigvalsh(np.cov(points.T))[-1])  # solid ellipsoid: λ = a²/5
    volume = len(points) * float(np.prod(labels.GetSpacing()))
    return volume / (np.pi / 6.0 * major_axis**3)
