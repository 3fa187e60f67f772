"""Reading, checking and atomically writing volumes and files."""

from __future__ import annotations

__all__ = ["atomic_path", "check_same_geometry", "read_label_map", "read_volume", "to_json", "write_volume"]

import contextlib
import json
import math
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk

from .errors import InvalidVolumeError

GEOMETRY_TOLERANCE = 1e-3
"""Relative tolerance on spacing/origin/direction when comparing an image with its mask."""


@contextlib.contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` in one rename.

    On error the temporary file is removed and ``path`` is left untouched."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + "".join(path.suffixes),
                                         dir=path.parent)
    os.close(handle)
    try:
        yield Path(temporary)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def read_volume(path: Path | str, what: str = "image") -> sitk.Image:
    """Read a 3D scalar volume and check that it is usable.

    Raises:
        InvalidVolumeError: missing or unreadable file, not 3D, multi-component, or NaN/Inf values.
    """
    path = Path(path)
    if not path.is_file():
        raise InvalidVolumeError(f"{what} file {path} does not exist; check the path")
    try:
        image = sitk.ReadImage(str(path))
    except RuntimeError as err:
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else "unknown reason"
        raise InvalidVolumeError(f"cannot read {what} {path} ({first_line}); give a NIfTI/NRRD/MHA file") from err
    check_volume(image, f"{what} {path}")
    return image


def check_volume(image: sitk.Image, name: str) -> None:
    """Raise :class:`InvalidVolumeError` unless ``image`` is a finite 3D scalar volume."""
    if image.GetDimension() != 3:
        raise InvalidVolumeError(
            f"{name} is {image.GetDimension()}D; AttriVAE needs one 3D volume (split 4D series into frames)"
        )
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise InvalidVolumeError(f"{name} has {image.GetNumberOfComponentsPerPixel()} components; give a scalar volume")
    if min(image.GetSize()) < 2:
        raise InvalidVolumeError(f"{name} has size {image.GetSize()}; a 3D volume needs at least 2 voxels per axis")
    array = sitk.GetArrayViewFromImage(image)
    if np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
        raise InvalidVolumeError(f"{name} contains NaN or Inf values; clean or re-export the volume")


def read_label_map(path: Path | str, what: str = "mask") -> sitk.Image:
    """Read a 3D label map; non-integer values are an error."""
    image = read_volume(path, what)
    array = sitk.GetArrayViewFromImage(image)
    if np.issubdtype(array.dtype, np.floating) and not np.array_equal(array, np.round(array)):
        raise InvalidVolumeError(f"{what} {path} has non-integer values; give a label map, not an image")
    fits_in_a_byte = array.min() >= 0 and array.max() < 256
    return sitk.Cast(image, sitk.sitkUInt8 if fits_in_a_byte else sitk.sitkInt32)


def check_same_geometry(image: sitk.Image, mask: sitk.Image, image_name: str, mask_name: str) -> None:
    """Raise :class:`InvalidVolumeError` unless image and mask share size, spacing, origin and direction."""
    problems = []
    if image.GetSize() != mask.GetSize():
        problems.append(f"size {image.GetSize()} vs {mask.GetSize()}")
    for label, a, b in (("spacing", image.GetSpacing(), mask.GetSpacing()),
                        ("origin", image.GetOrigin(), mask.GetOrigin()),
                        ("direction", image.GetDirection(), mask.GetDirection())):
        scale = max(1.0, float(np.max(np.abs(a))))
        if not np.allclose(a, b, atol=GEOMETRY_TOLERANCE * scale):
            problems.append(f"{label} {tuple(round(v, 4) for v in a)} vs {tuple(round(v, 4) for v in b)}")
    if problems:
        raise InvalidVolumeError(
            f"{image_name} and {mask_name} do not share one voxel grid ({'; '.join(problems)}); "
            f"resample the mask onto the image"
        )


def write_volume(image: sitk.Image, path: Path | str) -> None:
    """Write a volume atomically (compressed when the extension says so)."""
    with atomic_path(path) as temporary:
        sitk.WriteImage(image, str(temporary), useCompression=True)


def to_json(data: Any, indent: int | None = None) -> str:
    """JSON text in which NaN and ±Inf become null (standard JSON has no non-finite numbers)."""
    return json.dumps(_finite(data), indent=indent, allow_nan=False)


def _finite(data: Any) -> Any:
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {key: _finite(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [_finite(value) for value in data]
    return data
