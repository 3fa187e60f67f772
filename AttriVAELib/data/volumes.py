"""Reading volumes and checking them: NIfTI files that ITK would read wrongly, label maps, and an image and
its mask on one voxel grid."""

from __future__ import annotations

__all__ = ["GEOMETRY_TOLERANCE", "MAX_LABEL_VALUES", "as_label_map", "check_same_geometry", "check_volume",
           "read_label_map", "read_volume"]

import contextlib
import gzip
import math
import os
import sys
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import SimpleITK as sitk

from ..errors import InvalidVolumeError

if TYPE_CHECKING:
    pass

GEOMETRY_TOLERANCE = 1e-3
"""Relative tolerance on spacing/origin/direction when comparing an image with its mask."""

MAX_LABEL_VALUES = 255
"""A label map with more distinct values than this is taken for an image given as a mask (label maps hold a
few structures, images hundreds or thousands of grey values)."""


def read_volume(path: Path | str, what: str = "image") -> sitk.Image:
    """Read a 3D scalar volume and check that it is complete and usable.

    Raises:
        InvalidVolumeError: missing, unreadable, truncated or corrupt file, not 3D, multi-component, or
            NaN/Inf values; the message names the file.
    """
    path = Path(path)
    if path.is_dir():
        raise InvalidVolumeError(f"{what} {path} is a folder, not an image file; convert a DICOM series to "
                                 f"one NIfTI/NRRD file first")
    if not path.is_file():
        raise InvalidVolumeError(f"{what} file {path} does not exist; check the path")
    problem = _nifti_problem(path)  # before ITK, which fills a truncated NIfTI with zeros without a word
    if problem:
        raise InvalidVolumeError(f"{what} {path} {problem}")
    try:
        with _native_messages_held_back_on_failure():
            image = sitk.ReadImage(str(path))
    except RuntimeError as err:
        raise InvalidVolumeError(f"cannot read {what} {path} ({_itk_reason(err)}); give a 3D NIfTI, NRRD or "
                                 f"MHA image") from err
    check_volume(image, f"{what} {path}")
    return image


@contextlib.contextmanager
def _native_messages_held_back_on_failure() -> Iterator[None]:
    """Hold back what native code writes to the process's stderr (file descriptor 2) meanwhile: passed on
    when the block succeeds, dropped when it raises. ITK's MetaImage reader prints its own lines before it
    raises, and the error raised is reported in one line of ours."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no usable stderr (e.g. a GUI process without a console)
        yield
        return
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        succeeded = False
        try:
            yield
            succeeded = True
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            if succeeded:
                held.seek(0)
                os.write(2, held.read())


def _itk_reason(error: RuntimeError) -> str:
    """The cause in an ITK exception's text, in words (ITK's first line only names its source file)."""
    text = str(error)
    if "Unable to determine ImageIO reader" in text:
        return "no image reader recognises it: not an image file, or its header is damaged"
    if any(sign in text for sign in ("not read completely", "fread got only", "but received", "cannot be read")):
        return "the file is truncated or damaged"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1].split("ERROR:")[-1].strip() if lines else "unknown reason"


def check_volume(image: sitk.Image, name: str) -> None:
    """Raise :class:`InvalidVolumeError` unless ``image`` is a finite 3D scalar volume."""
    if image.GetDimension() != 3:
        fix = " (split the 4D series into 3D frames)" if image.GetDimension() > 3 else ""
        raise InvalidVolumeError(f"{name} is {image.GetDimension()}D; AttriVAE needs one 3D volume{fix}")
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise InvalidVolumeError(f"{name} has {image.GetNumberOfComponentsPerPixel()} components; give a scalar volume")
    if min(image.GetSize()) < 2:
        raise InvalidVolumeError(f"{name} has size {image.GetSize()}; a 3D volume needs at least 2 voxels per axis "
                                 f"(a single DICOM slice? convert the whole series to one NIfTI file)")
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
    values = len(np.unique(array))
    if values > MAX_LABEL_VALUES:
        raise InvalidVolumeError(f"{name} has {values} distinct values, more than a label map has; is it the image "
                                 f"instead of the mask?")
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


_NIFTI_HEADERS = {  # sizeof_hdr → offsets and types of (dim, datatype, bitpix, vox_offset, pixdim)
    348: ((40, "i2"), 70, 72, (108, "f4"), (76, "f4")),  # NIfTI-1
    540: ((16, "i8"), 12, 14, (168, "i8"), (104, "f8")),  # NIfTI-2
}
_NIFTI_FLOAT_TYPES = {16: "f4", 64: "f8"}  # NIfTI datatype codes of float32 and float64
_GZIP_MAGIC = b"\x1f\x8b"


def _nifti_problem(path: Path) -> str | None:
    """What is wrong with a single-file NIfTI (``.nii``, ``.nii.gz``), in words, or None.

    ITK's NIfTI reader fills voxels missing from a truncated file with zeros, reads a zero or non-finite
    voxel spacing as 1 mm and hands NaN voxels over as 0, so none of these reaches :func:`check_volume`:
    this decompresses the file (which checks its gzip CRC and length), checks the header's dimensions,
    spacing and data offset, compares the file's size with what the header announces and looks at the raw
    float voxels. Files of other formats, and headers it does not recognise (ITK then decides), return None."""
    if not path.name.lower().endswith((".nii", ".nii.gz")):
        return None
    try:
        with open(path, "rb") as handle:
            data = handle.read()
        if data[:2] == _GZIP_MAGIC:
            data = gzip.decompress(data)
    except EOFError:
        return "is truncated (its compressed data end early); copy or export it again"
    except (OSError, zlib.error) as err:  # gzip.BadGzipFile is an OSError
        return f"is damaged ({err}); copy or export it again"
    header = _nifti_header(data)
    if header is None:
        return None
    shape = header.dims[:header.rank]
    if not (1 <= header.rank <= 7 and min(shape) >= 1 and header.bitpix > 0 and header.bitpix % 8 == 0
            and math.isfinite(header.offset) and header.offset >= 0):
        return (f"has a damaged NIfTI header (dimensions {header.dims[:max(0, min(header.rank, 7))]} of rank "
                f"{header.rank}, {header.bitpix} bits per voxel, data at byte {header.offset:g}); export it again")
    spacing = header.spacing[:min(header.rank, 3)]
    if not all(math.isfinite(mm) and mm > 0 for mm in spacing):
        return (f"has a damaged NIfTI header (voxel spacing {tuple(round(mm, 4) for mm in spacing)} mm); export it "
                f"again with the spacing")
    start, end = int(header.offset), int(header.offset) + math.prod(shape) * header.bitpix // 8
    if len(data) < end:
        return f"is truncated ({len(data) - start:,} of {end - start:,} bytes of voxel data); copy or export it again"
    if header.datatype in _NIFTI_FLOAT_TYPES:
        voxels = np.frombuffer(data[start:end], f"{header.order}{_NIFTI_FLOAT_TYPES[header.datatype]}")
        if not np.isfinite(voxels).all():
            return "contains NaN or Inf values; clean or re-export the volume"
    return None


class _NiftiHeader(NamedTuple):
    order: str  # byte order, "<" or ">"
    rank: int  # dim[0], number of dimensions (valid: 1 to 7)
    dims: tuple[int, ...]  # dim[1..7], voxels along each dimension
    datatype: int  # NIfTI datatype code
    bitpix: int  # bits per voxel
    offset: float  # vox_offset: byte where the voxel data start (a float in NIfTI-1)
    spacing: tuple[float, ...]  # pixdim[1..7], mm along the first three dimensions


def _nifti_header(data: bytes) -> _NiftiHeader | None:
    """The fields of a NIfTI-1 or NIfTI-2 header that say how much voxel data follow, or None."""
    for size, (dim, datatype_at, bitpix_at, offset, pixdim) in _NIFTI_HEADERS.items():
        for order in ("<", ">"):
            if len(data) >= size and np.frombuffer(data, f"{order}i4", 1, 0)[0] == size:
                dims = np.frombuffer(data, f"{order}{dim[1]}", 8, dim[0])
                spacing = np.frombuffer(data, f"{order}{pixdim[1]}", 8, pixdim[0])
                return _NiftiHeader(order, int(dims[0]), tuple(int(n) for n in dims[1:]),
                                    int(np.frombuffer(data, f"{order}i2", 1, datatype_at)[0]),
                                    int(np.frombuffer(data, f"{order}i2", 1, bitpix_at)[0]),
                                    float(np.frombuffer(data, f"{order}{offset[1]}", 1, offset[0])[0]),
                                    tuple(float(mm) for mm in spacing[1:]))
    return None
