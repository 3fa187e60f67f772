"""From a native image + label map to the network's input cube, keeping the geometry to map back.

Steps (Cetin et al. 2023 §3.1 and the official code; docs/data.md, "Preprocessing"):

1. LV mask = cavity + myocardium (+ infarct, + no-reflow); the image is multiplied by it.
2. ``physical`` mode (default, as the paper describes): the cube is a grid of ``input_size``³ isotropic
   voxels of field_of_view_mm / input_size mm, oriented like the image and centred on the LV bounding
   box; the masked image is resampled onto it (linear). Physical scale and aspect are preserved.
   ``official-code`` mode: the LV bounding box (+ margin) is resized to the cube with area averaging,
   as MONAI ``Resize(mode="area")`` in the official code; scale and aspect ratio are lost.
3. Intensities to [0, 1]: physical mode clips to percentiles inside the LV mask; official-code mode
   min-max scales the whole cube. Then the power-law gamma (official code: 5 for EMIDEC, 1.1 for ACDC).

Coordinates: physical points are in LPS millimetres (ITK/SimpleITK); cube arrays are (k, j, i) =
(D, H, W) like ``sitk.GetArrayFromImage``; index triples are (i, j, k).
"""

from __future__ import annotations

__all__ = ["CubeGeometry", "PreprocessedVolume", "preprocess", "write_volumes_in_source"]

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk
import torch
import torch.nn.functional as F

from ..config import PreprocessConfig
from ..errors import InvalidVolumeError
from ..files import staged_directory, to_json
from .labels import LabelScheme
from .volumes import check_same_geometry

Triple = tuple[float, float, float]


@dataclass(frozen=True)
class _Grid:
    """A voxel grid: index (i, j, k) → LPS point = origin + direction · (spacing ⊙ index)."""

    size: tuple[int, int, int]
    spacing: Triple
    origin: Triple
    direction: tuple[float, ...]  # 9 values, row-major, columns = axis directions

    @classmethod
    def of(cls, image: sitk.Image) -> _Grid:
        return cls(tuple(image.GetSize()), tuple(image.GetSpacing()), tuple(image.GetOrigin()),
                   tuple(image.GetDirection()))

    @property
    def index_to_physical(self) -> np.ndarray:
        """4×4 affine from (i, j, k, 1) to LPS mm."""
        affine = np.eye(4)
        affine[:3, :3] = np.asarray(self.direction).reshape(3, 3) * np.asarray(self.spacing)
        affine[:3, 3] = self.origin
        return affine

    def reference(self) -> sitk.Image:
        image = sitk.Image([int(v) for v in self.size], sitk.sitkFloat32)
        image.SetSpacing(self.spacing)
        image.SetOrigin(self.origin)
        image.SetDirection(self.direction)
        return image


@dataclass(frozen=True)
class CubeGeometry:
    """Where the network cube lies in the source image: both grids, LPS mm.

    ``cube`` is the input_size³ grid the network sees; ``source`` the original image's grid."""

    cube: _Grid
    source: _Grid

    def cube_to_physical(self, indices: np.ndarray) -> np.ndarray:
        """(N, 3) cube indices (i, j, k), fractional allowed → (N, 3) LPS points in mm."""
        return _apply(self.cube.index_to_physical, indices)

    def physical_to_cube(self, points: np.ndarray) -> np.ndarray:
        """(N, 3) LPS points in mm → (N, 3) fractional cube indices (i, j, k)."""
        return _apply(np.linalg.inv(self.cube.index_to_physical), points)

    def source_to_physical(self, indices: np.ndarray) -> np.ndarray:
        """(N, 3) source-image indices (i, j, k) → (N, 3) LPS points in mm."""
        return _apply(self.source.index_to_physical, indices)

    def physical_to_source(self, points: np.ndarray) -> np.ndarray:
        """(N, 3) LPS points in mm → (N, 3) fractional source-image indices (i, j, k)."""
        return _apply(np.linalg.inv(self.source.index_to_physical), points)

    def cube_image(self, array: np.ndarray) -> sitk.Image:
        """Wrap a (k, j, i) cube array as a SimpleITK image in physical space."""
        image = sitk.GetImageFromArray(np.ascontiguousarray(array))
        image.SetSpacing(self.cube.spacing)
        image.SetOrigin(self.cube.origin)
        image.SetDirection(self.cube.direction)
        return image

    def to_source(self, array: np.ndarray, interpolator: int = sitk.sitkLinear) -> sitk.Image:
        """Resample a (k, j, i) cube array (network output, map) onto the source image's grid.

        Voxels of the source grid outside the cube get 0."""
        return sitk.Resample(self.cube_image(array.astype(np.float32)), self.source.reference(),
                             sitk.Transform(), interpolator, 0.0, sitk.sitkFloat32)

    def to_dict(self) -> dict[str, dict[str, object]]:
        return {"cube": asdict(self.cube), "source": asdict(self.source)}

    @classmethod
    def from_dict(cls, data: dict[str, dict[str, object]]) -> CubeGeometry:
        def grid(values: dict[str, object]) -> _Grid:
            return _Grid(*(tuple(values[key]) for key in ("size", "spacing", "origin", "direction")))  # type: ignore[arg-type]
        return cls(grid(data["cube"]), grid(data["source"]))


@dataclass
class PreprocessedVolume:
    """The network input of one subject and the geometry to map outputs back."""

    volume: np.ndarray  # (S, S, S) float32 in [0, 1], axes (k, j, i) of the cube; 0 outside the LV
    lv_mask: np.ndarray  # (S, S, S) bool, LV mask on the cube
    geometry: CubeGeometry
    lv_fraction_inside: float  # share of the source LV voxels whose centres fall inside the cube
    cavity_mask: np.ndarray  # (S, S, S) bool, LV blood pool on the cube (the rest of lv_mask is myocardium)
    infarct_mask: np.ndarray | None = None  # (S, S, S) bool infarct + no-reflow; None without scar labels


def preprocess(
    image: sitk.Image,
    labels: sitk.Image,
    scheme: LabelScheme,
    config: PreprocessConfig,
    size: int,
    name: str = "image",
) -> PreprocessedVolume:
    """Mask, crop and resample one subject to a ``size``³ cube with intensities in [0, 1].

    Raises:
        InvalidVolumeError: geometry mismatch, empty or all-foreground LV mask, constant image.
    """
    check_same_geometry(image, labels, name, f"mask of {name}")
    lv = scheme.lv_mask(sitk.GetArrayViewFromImage(labels))  # (k, j, i)
    if not lv.any():
        raise InvalidVolumeError(
            f"mask of {name} has no LV voxels (labels {scheme.cavity + scheme.myocardium}, {scheme.name} "
            f"convention); check the label values or the dataset --format")
    if lv.all():
        raise InvalidVolumeError(f"mask of {name} is foreground everywhere; give a label map of the LV only")
    masked = sitk.GetArrayFromImage(image).astype(np.float32) * lv
    if np.ptp(masked[lv]) == 0:
        raise InvalidVolumeError(f"{name} is constant inside the LV mask; check that image and mask match")
    source = _Grid.of(image)
    if config.mode == "physical":
        cube, to_cube = _physical_cube(lv, source, size, config.field_of_view_mm)
    else:
        cube, to_cube = _resized_box(lv, source, size, config.margin_mm)
    cube_mask = to_cube(lv.astype(np.float32)) >= 0.5
    cavity = scheme.cavity_mask(sitk.GetArrayViewFromImage(labels))
    infarct = scheme.infarct_mask(sitk.GetArrayViewFromImage(labels)) if scheme.infarct else None
    geometry = CubeGeometry(cube, source)
    lv_in_cube = geometry.physical_to_cube(geometry.source_to_physical(np.argwhere(lv)[:, ::-1]))
    inside = float(np.mean(np.all((lv_in_cube > -0.5) & (lv_in_cube < size - 0.5), axis=1)))
    return PreprocessedVolume(
        volume=_scale_intensity(to_cube(masked), cube_mask, config, name),
        lv_mask=cube_mask,
        geometry=geometry,
        lv_fraction_inside=inside,
        cavity_mask=(to_cube(cavity.astype(np.float32)) >= 0.5) & cube_mask,
        infarct_mask=None if infarct is None else to_cube(infarct.astype(np.float32)) >= 0.5,
    )


ToCube = Callable[[np.ndarray], np.ndarray]


def _physical_cube(lv: np.ndarray, source: _Grid, size: int, field_of_view_mm: float) -> tuple[_Grid, ToCube]:
    """Isotropic cube of field_of_view_mm, oriented like the source, centred on the LV bounding box;
    arrays move onto it by linear resampling."""
    low, high = _bounding_box(lv)  # (i, j, k) inclusive
    centre = _apply(source.index_to_physical, ((low + high) / 2.0)[None])[0]
    spacing = field_of_view_mm / size
    direction = np.asarray(source.direction).reshape(3, 3)
    origin = centre - direction @ np.full(3, spacing * (size - 1) / 2.0)
    cube = _Grid((size,) * 3, (spacing,) * 3, tuple(float(v) for v in origin), source.direction)
    return cube, lambda array: _resample(array, source, cube)


def _resized_box(lv: np.ndarray, source: _Grid, size: int, margin_mm: float) -> tuple[_Grid, ToCube]:
    """The LV bounding box (+ margin) resized to size³; arrays move onto it by cropping and area
    averaging (official code)."""
    margin = np.ceil(margin_mm / np.asarray(source.spacing)).astype(int)
    low, high = _bounding_box(lv)
    low = np.maximum(low - margin, 0)
    high = np.minimum(high + margin, np.asarray(source.size) - 1)
    box = (slice(low[2], high[2] + 1), slice(low[1], high[1] + 1), slice(low[0], high[0] + 1))  # (k, j, i)
    extent = high - low + 1  # voxels along (i, j, k)
    scale = extent / size  # source voxels per cube voxel along (i, j, k)
    # area resizing: cube voxel n covers source [n·scale, (n+1)·scale) → centre at low + (n+½)·scale − ½
    first_centre = _apply(source.index_to_physical, (low + 0.5 * scale - 0.5)[None])[0]
    cube = _Grid((size,) * 3, tuple(float(v) for v in np.asarray(source.spacing) * scale),
                 tuple(float(v) for v in first_centre), source.direction)
    return cube, lambda array: _area_resize(array[box], size)


def _area_resize(array: np.ndarray, size: int) -> np.ndarray:
    tensor = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))[None, None]  # (1, 1, k, j, i)
    return F.interpolate(tensor, size=(size,) * 3, mode="area")[0, 0].numpy()


def _resample(array: np.ndarray, source: _Grid, target: _Grid) -> np.ndarray:
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(source.spacing)
    image.SetOrigin(source.origin)
    image.SetDirection(source.direction)
    resampled = sitk.Resample(image, target.reference(), sitk.Transform(), sitk.sitkLinear, 0.0, sitk.sitkFloat32)
    return sitk.GetArrayFromImage(resampled)


def _scale_intensity(volume: np.ndarray, mask: np.ndarray, config: PreprocessConfig, name: str) -> np.ndarray:
    """Map intensities to [0, 1] (see module docstring), then apply the gamma; 0 outside the LV."""
    if config.mode == "physical":
        inside = volume[mask] if mask.any() else volume.ravel()
        low, high = np.percentile(inside, config.clip_percentiles)
    else:
        low, high = float(volume.min()), float(volume.max())
    if high <= low:
        raise InvalidVolumeError(f"{name} has no intensity range inside the LV mask after resampling; "
                                 f"check that image and mask match")
    scaled = np.clip((volume - low) / (high - low), 0.0, 1.0) ** config.gamma
    if config.mode == "physical":
        scaled = scaled * mask
    return scaled.astype(np.float32)


def _bounding_box(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inclusive (i, j, k) index bounds of a (k, j, i) mask."""
    indices = np.argwhere(mask)[:, ::-1]
    return indices.min(axis=0), indices.max(axis=0)


def _apply(affine: np.ndarray, points: np.ndarray) -> np.ndarray:
    points = np.atleast_2d(np.asarray(points, float))
    return points @ affine[:3, :3].T + affine[:3, 3]


def write_volumes_in_source(out_dir: Path | str, cubes: dict[str, np.ndarray], geometry: CubeGeometry,
                            index: dict[str, Any]) -> Path:
    """Write each (S, S, S) cube array resampled into the source image's geometry as ``out_dir/NAME`` (NIfTI,
    compressed), plus ``index.json`` holding ``index``; the folder appears complete or not at all.

    Raises:
        InvalidDatasetError: ``out_dir`` exists and is not empty.
    """
    with staged_directory(out_dir) as folder:
        for name, array in cubes.items():
            sitk.WriteImage(geometry.to_source(array), str(folder / name), useCompression=True)
        (folder / "index.json").write_text(to_json(index, indent=2) + "\n")
    return Path(out_dir)
