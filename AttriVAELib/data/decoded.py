"""The anatomy of a decoded (or input) network cube: segmented by intensity and measured in physical units.

A cube holds the masked image scaled to [0, 1], 0 outside the LV. On a cube:

* foreground: voxels above :data:`FOREGROUND_THRESHOLD`;
* bright pool ("cavity"): foreground voxels above the foreground's Otsu threshold (SimpleITK): LGE blood,
  and any bright scar; the rest of the foreground is dark myocardium.

The attributes are then measured on that label map with the code that measures label maps
(:func:`~AttriVAELib.data.attributes.shape_attributes`). Infarct size and EF cannot be measured this way (scar and
blood pool are both bright; one cube is one phase): the registry's
:data:`~AttriVAELib.data.attributes.DECODED_ATTRIBUTES` are those that can.
"""

from __future__ import annotations

__all__ = ["DECODED_LABELS", "FOREGROUND_THRESHOLD", "MEASURING_THREADS", "decoded_label_map", "decoded_labels",
           "measure_cubes", "measure_decoded", "measure_label_map"]

import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import SimpleITK as sitk

from ..errors import InvalidVolumeError
from .attributes import shape_attributes
from .labels import EMIDEC_SCHEME
from .preprocessing import CubeGeometry

FOREGROUND_THRESHOLD = 0.05
"""Decoded voxels above this intensity count as LV: preprocessed cubes are 0 outside the LV and (after
scaling) well above it inside, dark healthy myocardium included."""


MEASURING_THREADS = 2
"""Cubes measured side by side by :func:`measure_cubes`: the measures spend most of their time outside Python's
GIL (SimpleITK, NumPy and SciPy release it)."""

DECODED_LABELS = {1: "decoded bright pool", 2: "decoded myocardium"}
"""Label values of :func:`decoded_label_map` (EMIDEC's cavity and myocardium) and their segment names."""


def decoded_labels(volume: np.ndarray) -> np.ndarray:
    """(S, S, S) decoded (or input) cube in [0, 1] → (S, S, S) uint8 labels: 1 bright pool, 2 myocardium."""
    foreground = volume > FOREGROUND_THRESHOLD
    labels = np.zeros(volume.shape, np.uint8)
    values = volume[foreground].astype(np.float32)
    if values.size >= 2:
        # the foreground's values as one row: the same histogram as the cube under a foreground mask, so the
        # same threshold, in about half the time; one ITK thread, as callers measure cubes side by side
        otsu = sitk.OtsuThresholdImageFilter()
        otsu.SetNumberOfThreads(1)
        otsu.Execute(sitk.GetImageFromArray(values[None, :]))
        labels[foreground] = np.where(values > otsu.GetThreshold(), 1, 2)
    return labels


def decoded_label_map(volume: np.ndarray, geometry: CubeGeometry) -> sitk.Image:
    """(S, S, S) decoded cube in [0, 1] → :func:`decoded_labels` as an EMIDEC label map on the cube grid."""
    return geometry.cube_image(decoded_labels(volume))


def measure_decoded(volume: np.ndarray, geometry: CubeGeometry, attributes: Sequence[str]) -> dict[str, float]:
    """Attributes measured on a decoded (or input) cube; NaN where the segmentation has no cavity or myocardium."""
    return measure_label_map(decoded_label_map(volume, geometry), attributes)


def measure_cubes(volumes: np.ndarray | Sequence[np.ndarray], geometries: CubeGeometry | Sequence[CubeGeometry],
                  attribute: str) -> np.ndarray:
    """(N, S, S, S) decoded (or input) cubes → (N,) ``attribute`` measured on each (:func:`measure_decoded`; NaN
    where unmeasurable), :data:`MEASURING_THREADS` cubes at a time. ``geometries``: one for every cube (a
    subject's decoded sweep) or one per cube (a cohort)."""
    if isinstance(geometries, CubeGeometry):
        geometries = [geometries] * len(volumes)
    if len(geometries) != len(volumes):
        raise ValueError(f"{len(volumes)} cubes but {len(geometries)} geometries")

    def measured(volume: np.ndarray, geometry: CubeGeometry) -> float:
        return measure_decoded(volume, geometry, [attribute])[attribute]

    with ThreadPoolExecutor(MEASURING_THREADS) as pool:
        return np.array(list(pool.map(measured, volumes, geometries)), dtype=np.float64)


def measure_label_map(labels: sitk.Image, attributes: Sequence[str]) -> dict[str, float]:
    """Attributes measured on a :func:`decoded_label_map`; NaN where it has no cavity or myocardium."""
    try:
        measured = shape_attributes(labels, EMIDEC_SCHEME, name="decoded volume", attributes=attributes)
    except InvalidVolumeError:
        return {name: math.nan for name in attributes}
    return {name: measured.get(name, math.nan) for name in attributes}
