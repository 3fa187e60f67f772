"""Reading, checking and atomically writing volumes and files."""

from __future__ import annotations

__all__ = [
    "as_label_map",
    "atomic_path",
    "check_same_geometry",
    "check_volume",
    "read_label_map",
    "read_volume",
    "require_new_folder",
    "staged_directory",
    "to_json",
]

import contextlib
import gzip
import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk

from .errors import InvalidDatasetError, InvalidVolumeError

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
        with open(temporary, "rb+") as written:  # on disk before it takes the final name
            os.fsync(written.fileno())
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def require_new_folder(path: Path | str, what: str = "output folder") -> Path:
    """Return ``path`` if it does not exist or is an empty folder, else raise InvalidDatasetError."""
    path = Path(path)
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise InvalidDatasetError(f"{what} {path} is not empty; choose a new --out or empty it")
    return path


@contextlib.contextmanager
def staged_directory(path: Path | str, what: str = "output folder") -> Iterator[Path]:
    """Yield an empty staging folder beside ``path``; on success it becomes ``path`` in one rename.

    ``path`` must not exist or be empty. On error the staging folder is removed and ``path`` is left as it was.

    Raises:
        InvalidDatasetError: ``path`` exists and is not empty.
    """
    path = require_new_folder(path, what)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        yield staging
        os.chmod(staging, 0o777 & ~_umask())  # mkdtemp makes 0700
        if path.exists():
            path.rmdir()
        staging.rename(path)
    finally:
        if staging.exists():
            shutil.rmtree(staging)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


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
    if _nifti_has_non_finite(path):
        raise InvalidVolumeError(f"{what} {path} contains NaN or Inf values; clean or re-export the volume")
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
    return as_label_map(read_volume(path, what), f"{what} {path}")


def as_label_map(image: sitk.Image, name: str) -> sitk.Image:
    """``image`` as an integer label map (uint8 when the labels fit); non-integer values are an error."""
    array = sitk.GetArrayViewFromImage(image)
    if np.issubdtype(array.dtype, np.floating) and not np.array_equal(array, np.round(array)):
        raise InvalidVolumeError(f"{name} has non-integer values; give a label map, not an image")
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


_NIFTI_FLOAT_TYPES = {16: "f4", 64: "f8"}  # NIfTI-1 datatype codes of float32 and float64


def _nifti_has_non_finite(path: Path) -> bool:
    """True when a single-file float NIfTI-1 stores NaN or Inf voxels.

    ITK's NIfTI reader hands NaN voxels over as 0, so :func:`check_volume` cannot see them; this reads
    the raw voxels. Other formats and other data types return False (SimpleITK keeps their values)."""
    name = path.name.lower()
    if not name.endswith((".nii", ".nii.gz")):
        return False
    with (gzip.open(path, "rb") if name.endswith(".gz") else open(path, "rb")) as handle:
        data = handle.read()
    if len(data) < 352:
        return False
    for order in ("<", ">"):
        if np.frombuffer(data, f"{order}i4", 1, 0)[0] == 348:  # sizeof_hdr tells the byte order
            datatype = int(np.frombuffer(data, f"{order}i2", 1, 70)[0])
            offset = int(np.frombuffer(data, f"{order}f4", 1, 108)[0])
            if datatype not in _NIFTI_FLOAT_TYPES:
                return False
            voxels = np.frombuffer(data, f"{order}{_NIFTI_FLOAT_TYPES[datatype]}", offset=offset)
            return not np.isfinite(voxels).all()
    return False
