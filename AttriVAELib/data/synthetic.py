"""Synthetic LV cohort with known ground truth: LGE-like images, EMIDEC label maps, ED and ES phases.

The LV is a truncated prolate spheroid (the cardiac-mechanics benchmark geometry): in LV coordinates
(mm; long axis z, apex at z = −c, base plane z = h) the cavity is r²/a(φ)² + z²/c² ≤ 1, z ≤ h, and the
epicardium the same with R(φ) and C. Every such region has the analytic volume

    V = π · mean_φ(R(φ)²) · [(h + C) − (h³ + C³) / (3C²)],

so attributes measured on the voxelised label maps can be checked against exact values. An infarct is a
sector of the myocardium (location, angular extent, apical fraction, transmurality; optional no-reflow
core); at end-systole the cavity contracts less where the wall is infarcted, so EF is a real attribute.
"""

from __future__ import annotations

__all__ = ["PhantomFactors", "analytic_volumes", "cohort_labels", "ef_ceiling_from_ed", "ejection_fraction",
           "make_cohort", "render_phantom", "sample_factors", "synthetic_subject"]

import contextlib
import csv
import dataclasses
import functools
import math
import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import SimpleITK as sitk
from scipy import stats
from scipy.spatial.transform import Rotation

from .. import __version__
from ..errors import InvalidConfigError
from ..files import staged_directory, to_json
from ..progress import Progress, ProgressEvent
from .attributes import SHAPE_ATTRIBUTES, shape_attributes
from .constants import ATTRIBUTES_CSV, SYNTHETIC_JSON, EmidecLabel
from .labels import EMIDEC_SCHEME

Phase = Literal["ed", "es"]
_ANGLES = np.linspace(0.0, 2.0 * np.pi, 7200, endpoint=False)  # quadrature grid for mean_φ(R(φ)²)
_INFARCT_EDGE_RAD = math.radians(15.0)  # width of the smooth edge of the hypokinetic sector


@dataclass(frozen=True)
class PhantomFactors:
    """Ground-truth factors of one synthetic subject (lengths in mm, angles in degrees)."""

    cavity_radius_mm: float  # a: ED endocardial short-axis semi-axis
    cavity_length_mm: float  # c: ED endocardial long semi-axis (equator to apex)
    base_height_mm: float  # h: base plane above the equator
    wall_thickness_mm: float  # t0: mean equatorial wall thickness at ED
    thickness_modulation: float  # A: relative amplitude of the angular thickness variation
    thickness_phase_deg: float  # azimuth of the thickest wall
    apical_thickness_mm: float  # C − c: wall thickness at the apex
    radial_shortening: float  # fraction of the endocardial radius lost at ES (healthy wall)
    longitudinal_shortening: float  # fraction of the cavity length lost at ES
    infarct: bool  # class label: 1 = myocardial infarction
    infarct_location_deg: float  # azimuth of the sector centre
    infarct_extent_deg: float  # angular width of the sector
    infarct_apical_fraction: float  # sector spans from the apex up to this fraction of the LV length
    infarct_transmurality: float  # fraction of the wall depth (from the endocardium) that is scar
    no_reflow: bool  # dark subendocardial core inside the infarct (label 4)
    tilt_deg: float  # angle between the LV long axis and the slice-stack axis
    tilt_azimuth_deg: float
    spin_deg: float  # rotation of the LV about its own long axis
    shift_mm: tuple[float, float, float]  # LV centre offset from the field-of-view centre (grid axes)
    blood_intensity: float  # LGE-like intensities in [0, 1] before bias field and noise
    myocardium_intensity: float
    infarct_intensity: float
    noise_sd: float  # Rician noise level relative to intensity 1
    bias_amplitude: float  # strength of the smooth multiplicative bias field


def sample_factors(rng: np.random.Generator, infarct_probability: float = 0.6) -> PhantomFactors:
    """Draw the factors of one subject from plausible adult ranges."""
    length = rng.uniform(44.0, 58.0)
    thickness = rng.uniform(6.0, 13.0)
    infarct = bool(rng.random() < infarct_probability)
    radius = rng.uniform(22.0, 32.0)
    return PhantomFactors(
        cavity_radius_mm=radius,
        cavity_length_mm=length,
        base_height_mm=length * rng.uniform(0.15, 0.35),
        wall_thickness_mm=thickness,
        thickness_modulation=rng.uniform(0.0, 0.3),
        thickness_phase_deg=rng.uniform(0.0, 360.0),
        apical_thickness_mm=thickness * rng.uniform(0.5, 0.9),
        **_contraction(rng, radius),
        infarct=infarct,
        infarct_location_deg=rng.uniform(0.0, 360.0),
        infarct_extent_deg=rng.uniform(60.0, 150.0),
        infarct_apical_fraction=rng.uniform(0.5, 1.0),
        infarct_transmurality=rng.uniform(0.4, 1.0),
        no_reflow=bool(infarct and rng.random() < 0.4),
        tilt_deg=rng.uniform(0.0, 20.0),
        tilt_azimuth_deg=rng.uniform(0.0, 360.0),
        spin_deg=rng.uniform(0.0, 360.0),
        shift_mm=tuple(float(v) for v in rng.uniform(-5.0, 5.0, size=3)),  # type: ignore[arg-type]
        blood_intensity=rng.uniform(0.4, 0.6),
        myocardium_intensity=rng.uniform(0.08, 0.2),
        infarct_intensity=rng.uniform(0.8, 1.0),
        noise_sd=rng.uniform(0.02, 0.05),
        bias_amplitude=rng.uniform(0.0, 0.2),
    )


def _contraction(rng: np.random.Generator, cavity_radius_mm: float) -> dict[str, float]:
    """The factors that shape only the end-systolic phase: an end-diastolic image does not show them."""
    return {  # dilated ventricles contract less (as in dilated cardiomyopathy), so EF shows in ED shape too
        "radial_shortening": rng.uniform(0.26, 0.38) - 0.1 * (cavity_radius_mm - 22.0) / 10.0,
        "longitudinal_shortening": rng.uniform(0.05, 0.15),
    }


def ejection_fraction(factors: PhantomFactors) -> float:
    """Exact EF (%) of the phantom: 100 · (V_ED − V_ES) / V_ED of the LV cavity."""
    ed, es = analytic_volumes(factors, "ed")["lv_volume_ml"], analytic_volumes(factors, "es")["lv_volume_ml"]
    return 100.0 * (ed - es) / ed


def ef_ceiling_from_ed(subjects: int = 300, draws: int = 64, seed: int = 0) -> dict[str, float]:
    """How well any model of the end-diastolic image alone can know EF in cohorts this module draws.

    For ``subjects`` drawn subjects, the best estimate from everything an ED image shows is E[EF | ED factors],
    the mean EF over ``draws`` redraws of the contraction factors that only end-systole shows. Returns its R²
    (squared Pearson correlation) and Spearman ρ with the true EF: the ceilings of EF's interpretability R²
    and of its term in SCC for models that see one ED volume."""
    rng = np.random.default_rng(seed)
    true, best = [], []
    for _ in range(subjects):
        factors = sample_factors(rng)
        true.append(ejection_fraction(factors))
        redrawn = [dataclasses.replace(factors, **_contraction(rng, factors.cavity_radius_mm)) for _ in range(draws)]
        best.append(np.mean([ejection_fraction(other) for other in redrawn]))
    return {"r2": float(np.corrcoef(true, best)[0, 1] ** 2), "spearman": float(stats.spearmanr(true, best).statistic)}


@dataclass(frozen=True)
class _Shape:
    """The LV geometry at one cardiac phase."""

    factors: PhantomFactors
    phase: Phase

    def _hypokinesia(self, phi: np.ndarray) -> np.ndarray:
        """1 where the wall is infarcted (full sector), tapering to 0 over 15° outside it. phi in rad."""
        f = self.factors
        if not f.infarct:
            return np.zeros_like(phi)
        offset = np.abs(_wrap(phi - math.radians(f.infarct_location_deg))) - math.radians(f.infarct_extent_deg) / 2
        return np.clip(1.0 - offset / _INFARCT_EDGE_RAD, 0.0, 1.0)

    def cavity_radius(self, phi: np.ndarray) -> np.ndarray:
        f = self.factors
        if self.phase == "ed":
            return np.full_like(phi, f.cavity_radius_mm)
        shortening = f.radial_shortening * (1.0 - f.infarct_transmurality * self._hypokinesia(phi))
        return f.cavity_radius_mm * (1.0 - shortening)

    def epicardial_radius(self, phi: np.ndarray) -> np.ndarray:
        f = self.factors
        ed = f.cavity_radius_mm + f.wall_thickness_mm * (
            1.0 + f.thickness_modulation * np.cos(phi - math.radians(f.thickness_phase_deg)))
        if self.phase == "ed":
            return ed
        # keep the equatorial wall area of every angular wedge: the wall thickens as the cavity shrinks
        return np.sqrt(self.cavity_radius(phi) ** 2 + ed**2 - f.cavity_radius_mm**2)

    @property
    def cavity_length(self) -> float:
        f = self.factors
        return f.cavity_length_mm * (1.0 - (f.longitudinal_shortening if self.phase == "es" else 0.0))

    @property
    def epicardial_length(self) -> float:
        thickening = 1.15 if self.phase == "es" else 1.0
        return self.cavity_length + self.factors.apical_thickness_mm * thickening

    @property
    def base_height(self) -> float:
        return self.factors.base_height_mm

    def labels(self, points: np.ndarray) -> np.ndarray:
        """EMIDEC labels of points given in LV coordinates, (N, 3) mm → (N,) uint8."""
        f = self.factors
        x, y, z = points.T
        phi = np.arctan2(y, x)
        radial2 = x * x + y * y
        below_base = z <= self.base_height
        q_endo2 = radial2 / self.cavity_radius(phi) ** 2 + z * z / self.cavity_length**2
        q_epi2 = radial2 / self.epicardial_radius(phi) ** 2 + z * z / self.epicardial_length**2
        cavity = below_base & (q_endo2 <= 1.0)
        myocardium = below_base & (q_epi2 <= 1.0) & ~cavity
        labels = np.where(cavity, EmidecLabel.CAVITY, np.where(myocardium, EmidecLabel.MYOCARDIUM, 0))
        if f.infarct:
            q_endo, q_epi = np.sqrt(q_endo2), np.sqrt(q_epi2)
            depth = (q_endo - 1.0) / np.maximum((q_endo - 1.0) + (1.0 - q_epi), 1e-9)  # 0 endo … 1 epi
            angle = np.abs(_wrap(phi - math.radians(f.infarct_location_deg)))
            half_extent = math.radians(f.infarct_extent_deg) / 2
            top = -self.epicardial_length + f.infarct_apical_fraction * (self.base_height + self.epicardial_length)
            infarct = myocardium & (angle <= half_extent) & (z <= top) & (depth <= f.infarct_transmurality)
            labels[infarct] = EmidecLabel.INFARCT
            if f.no_reflow:
                core = infarct & (depth <= 0.4 * f.infarct_transmurality) & (angle <= 0.3 * half_extent)
                labels[core] = EmidecLabel.NO_REFLOW
        return labels.astype(np.uint8)

    def bounding_radius(self) -> float:
        """Radius (mm) of a sphere about the LV-coordinate point (0, 0, mid) that holds the whole LV."""
        half_length = (self.base_height + self.epicardial_length) / 2
        return math.hypot(float(self.epicardial_radius(_ANGLES).max()), half_length)

    @property
    def mid_height(self) -> float:
        return (self.base_height - self.epicardial_length) / 2


def _wrap(angle: np.ndarray) -> np.ndarray:
    """Wrap radians to (−π, π]."""
    return np.angle(np.exp(1j * angle))


def _truncated_spheroid_volume(radius: np.ndarray, length: float, base: float) -> float:
    """Volume (mm³) of {r ≤ R(φ)·√(1 − z²/C²), −C ≤ z ≤ h} with R sampled on ``_ANGLES``."""
    return float(np.pi * np.mean(radius**2) * ((base + length) - (base**3 + length**3) / (3 * length**2)))


def analytic_volumes(factors: PhantomFactors, phase: Phase = "ed") -> dict[str, float]:
    """Exact LV cavity and myocardial volumes (mL) of the phantom at ``phase``."""
    shape = _Shape(factors, phase)
    cavity = _truncated_spheroid_volume(shape.cavity_radius(_ANGLES), shape.cavity_length, shape.base_height)
    epicardium = _truncated_spheroid_volume(
        shape.epicardial_radius(_ANGLES), shape.epicardial_length, shape.base_height)
    return {"lv_volume_ml": cavity / 1000.0, "myo_volume_ml": (epicardium - cavity) / 1000.0}


def render_phantom(
    factors: PhantomFactors,
    phase: Phase,
    size: int = 80,
    field_of_view_mm: float = 120.0,
    slice_thickness_mm: float = 8.0,
    direction: np.ndarray | None = None,
    seed: int = 0,
    supersampling: tuple[int, int, int] = (2, 2, 4),
) -> tuple[sitk.Image, sitk.Image]:
    """Voxelise one phase of one subject on a short-axis-like grid.

    The grid has ``size`` × ``size`` pixels of field_of_view_mm / size mm in-plane and slices of
    ``slice_thickness_mm`` covering the same field of view along the stack axis. Labels are taken at
    voxel centres; intensities average ``supersampling`` (i, j, k) sub-voxel samples (partial volume),
    then get a bias field and Rician noise (seeded by ``seed``).

    Returns:
        (image, labels) as SimpleITK images on the same grid; ``direction`` (3×3, columns = grid axes in
        LPS) orients it, identity by default. The field-of-view centre is the physical origin (0, 0, 0).
    """
    shape = _Shape(factors, phase)
    in_plane = field_of_view_mm / size
    spacing = np.array([in_plane, in_plane, slice_thickness_mm])
    grid_size = np.array([size, size, max(2, math.ceil(field_of_view_mm / slice_thickness_mm))])
    centres = _grid_coordinates(grid_size, spacing)  # (N, 3) grid-aligned mm, field-of-view centre at 0
    rotation = Rotation.from_euler("ZYZ", [factors.tilt_azimuth_deg, factors.tilt_deg, factors.spin_deg],
                                   degrees=True).as_matrix()  # LV axes → grid axes

    def to_lv(points: np.ndarray) -> np.ndarray:
        return (points - np.asarray(factors.shift_mm)) @ rotation + np.array([0.0, 0.0, shape.mid_height])

    near = np.linalg.norm(centres - np.asarray(factors.shift_mm), axis=1) <= (
        shape.bounding_radius() + np.linalg.norm(spacing))
    labels = np.zeros(len(centres), np.uint8)
    labels[near] = shape.labels(to_lv(centres[near]))

    class_intensity = np.array([0.0, factors.blood_intensity, factors.myocardium_intensity,
                                factors.infarct_intensity, 0.8 * factors.myocardium_intensity])
    intensity = _background(centres, seed)
    offsets = _subvoxel_offsets(supersampling, spacing)
    heart = np.zeros(near.sum())
    outside = np.zeros(near.sum())
    for offset in offsets:
        sub_labels = shape.labels(to_lv(centres[near] + offset))
        heart += class_intensity[sub_labels]
        outside += sub_labels == 0
    intensity[near] = (heart + outside * intensity[near]) / len(offsets)

    rng = np.random.default_rng(seed)
    intensity *= _bias_field(centres, factors.bias_amplitude, field_of_view_mm, rng)
    noise = rng.normal(0.0, factors.noise_sd, size=(2, len(intensity)))
    intensity = np.hypot(intensity + noise[0], noise[1])  # Rician magnitude

    direction = np.eye(3) if direction is None else np.asarray(direction, float)
    origin = -direction @ (spacing * (grid_size - 1) / 2)
    array_shape = tuple(int(v) for v in grid_size[::-1])  # (k, j, i)
    return (_to_image((1000.0 * intensity).astype(np.float32).reshape(array_shape), spacing, origin, direction),
            _to_image(labels.reshape(array_shape), spacing, origin, direction))


def _grid_coordinates(grid_size: np.ndarray, spacing: np.ndarray) -> np.ndarray:
    """Voxel-centre coordinates (N, 3) in mm along the grid axes (i, j, k), centred, in (k, j, i) order."""
    axes = [(np.arange(n) - (n - 1) / 2) * s for n, s in zip(grid_size, spacing)]
    k, j, i = np.meshgrid(axes[2], axes[1], axes[0], indexing="ij")
    return np.stack([i.ravel(), j.ravel(), k.ravel()], axis=1)


def _subvoxel_offsets(counts: tuple[int, int, int], spacing: np.ndarray) -> np.ndarray:
    """Regular sub-voxel sample offsets (M, 3) in mm, symmetric about the voxel centre."""
    axes = [((np.arange(n) + 0.5) / n - 0.5) * s for n, s in zip(counts, spacing)]
    return np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)


def _background(points: np.ndarray, seed: int) -> np.ndarray:
    """Smooth surrounding-tissue intensity in [0.1, 0.4] (sum of random low-frequency waves)."""
    rng = np.random.default_rng([seed, 1])
    field = np.zeros(len(points))
    for _ in range(4):
        wave = rng.normal(size=3) * 0.05  # rad/mm: wavelengths of a few cm
        field += np.cos(points @ wave + rng.uniform(0, 2 * np.pi))
    return 0.25 + 0.15 * field / 4


def _bias_field(points: np.ndarray, amplitude: float, extent: float, rng: np.random.Generator) -> np.ndarray:
    """Multiplicative coil-like bias: 1 + amplitude·(linear gradient + quadratic term), points in mm."""
    gradient = rng.normal(size=3)
    gradient /= np.linalg.norm(gradient)
    scaled = points / extent
    return 1.0 + amplitude * (scaled @ gradient + 0.5 * (scaled**2).sum(axis=1))


def _to_image(array: np.ndarray, spacing: np.ndarray, origin: np.ndarray, direction: np.ndarray) -> sitk.Image:
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(tuple(float(v) for v in spacing))
    image.SetOrigin(tuple(float(v) for v in origin))
    image.SetDirection(tuple(float(v) for v in direction.ravel()))
    return image


def make_cohort(
    out_dir: Path | str,
    subjects: int = 100,
    size: int = 80,
    seed: int = 0,
    infarct_probability: float = 0.6,
    field_of_view_mm: float = 120.0,
    slice_thickness_mm: float = 8.0,
    progress: Progress | None = None,
    processes: int | None = None,
) -> Path:
    """Write a synthetic cohort in the folder+CSV format and return the CSV path.

    ``out_dir`` gets ``images/`` and ``labels/`` (NIfTI, ED and ES), ``attributes.csv`` with the
    measured attributes (see :mod:`AttriVAELib.data.attributes`) and the ground-truth factors (``gt_*``
    columns, including analytic volumes), and ``synthetic.json`` with this function's arguments (a model
    trained on the cohort records them in its card). Subject i depends only on (seed, i), so the files are
    the same for any number of ``processes`` (None: one per available core, one per
    :data:`SUBJECTS_PER_PROCESS` subjects at most). The folder appears only when complete. ``progress``
    receives a ``synth`` event per subject, in subject order.
    """
    out_dir = Path(out_dir)
    if subjects < 2:
        raise InvalidConfigError(f"--subjects {subjects} is too small; a cohort needs at least 2 subjects")
    if size < 16:
        raise InvalidConfigError(f"a matrix of {size} pixels (--matrix) is too small; use at least 16 pixels "
                                 f"in-plane")
    if not (math.isfinite(slice_thickness_mm) and math.isfinite(field_of_view_mm)
            and slice_thickness_mm > 0 and field_of_view_mm > 0):
        raise InvalidConfigError(f"--slice-thickness {slice_thickness_mm} and the field of view {field_of_view_mm} "
                                 f"must be finite and positive (mm)")
    if seed < 0:
        raise InvalidConfigError(f"--seed {seed} must be 0 or more")
    if not 0.0 <= infarct_probability <= 1.0:
        raise InvalidConfigError(f"--infarct-fraction {infarct_probability} must be a probability in [0, 1]")
    if processes is not None and processes < 1:
        raise InvalidConfigError(f"processes={processes} must be 1 or more")
    parameters = {"subjects": subjects, "size": size, "seed": seed, "infarct_probability": infarct_probability,
                  "field_of_view_mm": field_of_view_mm, "slice_thickness_mm": slice_thickness_mm}
    with staged_directory(out_dir) as staging:
        write = functools.partial(_write_subject, staging, seed=seed, size=size,
                                  infarct_probability=infarct_probability, field_of_view_mm=field_of_view_mm,
                                  slice_thickness_mm=slice_thickness_mm)
        rows = []
        with _subject_map(subjects, processes) as mapped:
            for row in mapped(write, range(subjects)):
                rows.append(row)
                if progress:
                    progress(ProgressEvent("synth", done=len(rows), total=subjects))
        with open(staging / ATTRIBUTES_CSV, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        (staging / SYNTHETIC_JSON).write_text(to_json({"generator": "AttriVAELib.make_cohort",
                                                       "library_version": __version__, **parameters}, indent=2))
    return out_dir / ATTRIBUTES_CSV


SUBJECTS_PER_PROCESS = 25
"""Fewest subjects worth a process of their own: starting one (a fresh interpreter that imports this module)
costs about as long as rendering a few subjects."""


@contextlib.contextmanager
def _subject_map(subjects: int, processes: int | None) -> Iterator[Callable[..., Iterator[Any]]]:
    """The ``map`` that renders :func:`make_cohort`'s subjects, results in order: worker processes', or this
    process's own. Workers are spawned, not forked: a fork copies the caller's threads' locks (PyTorch's,
    SimpleITK's) in whatever state they are."""
    if processes is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        processes = min(cores, subjects // SUBJECTS_PER_PROCESS)
    if processes <= 1:
        yield map
        return
    pool = ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn"))
    try:
        yield pool.map
    finally:  # after an error or Ctrl-C, subjects not started are dropped rather than awaited
        pool.shutdown(cancel_futures=True)


def cohort_labels(subjects: int, seed: int = 0, infarct_probability: float = 0.6) -> np.ndarray:
    """(subjects,) int class labels that :func:`make_cohort` with these arguments gives, without rendering."""
    return np.array([int(_draw_subject(np.random.default_rng([seed, index]), infarct_probability)[0].infarct)
                     for index in range(subjects)], dtype=np.int64)


def synthetic_subject(seed: int = 0, infarct: bool | None = None, size: int = 80,
                      slice_thickness_mm: float = 8.0) -> tuple[sitk.Image, sitk.Image]:
    """One end-diastolic subject as :func:`make_cohort` draws them: (LGE-like image, EMIDEC label map) on an
    oblique grid of ``size``² pixels (120 mm field of view). ``infarct`` forces the class (None: 60 % chance)."""
    rng = np.random.default_rng(seed)
    factors, direction = _draw_subject(rng, 0.6 if infarct is None else float(infarct))
    return render_phantom(factors, "ed", size, slice_thickness_mm=slice_thickness_mm, direction=direction,
                          seed=int(rng.integers(2**31)))


def _draw_subject(rng: np.random.Generator, infarct_probability: float) -> tuple[PhantomFactors, np.ndarray]:
    """Factors and an oblique "scanner" orientation (3×3 rotation) of one subject."""
    factors = sample_factors(rng, infarct_probability)
    return factors, Rotation.random(random_state=rng).as_matrix()


def _write_subject(folder: Path, index: int, *, seed: int, size: int, infarct_probability: float,
                   field_of_view_mm: float, slice_thickness_mm: float) -> dict[str, object]:
    rng = np.random.default_rng([seed, index])
    factors, direction = _draw_subject(rng, infarct_probability)
    subject = f"sub-{index:03d}"
    paths, label_maps = {}, {}
    for phase in ("ed", "es"):
        image, labels = render_phantom(factors, phase, size, field_of_view_mm, slice_thickness_mm, direction,
                                       seed=int(rng.integers(2**31)))
        paths[phase] = (f"images/{subject}_{phase}.nii.gz", f"labels/{subject}_{phase}.nii.gz")
        for relative, volume in zip(paths[phase], (image, labels)):
            (folder / relative).parent.mkdir(exist_ok=True)
            sitk.WriteImage(volume, str(folder / relative), useCompression=True)
        label_maps[phase] = labels
    measured = shape_attributes(label_maps["ed"], EMIDEC_SCHEME, label_maps["es"], name=paths["ed"][1])
    ed = analytic_volumes(factors, "ed")
    truth = {f"gt_{key}": value for key, value in dataclasses.asdict(factors).items() if key != "shift_mm"}
    truth.update({f"gt_shift_{axis}_mm": value for axis, value in zip("ijk", factors.shift_mm)})
    truth.update({"gt_lv_volume_ml": ed["lv_volume_ml"], "gt_myo_volume_ml": ed["myo_volume_ml"],
                  "gt_ef_pct": ejection_fraction(factors)})
    row: dict[str, object] = {"subject": subject, "image": paths["ed"][0], "mask": paths["ed"][1],
                              "label": int(factors.infarct), "image_es": paths["es"][0], "mask_es": paths["es"][1]}
    row.update({name: _round(measured[name]) for name in SHAPE_ATTRIBUTES if name in measured})
    row.update({key: int(value) if isinstance(value, bool) else _round(value) for key, value in truth.items()})
    return row


def _round(value: float) -> float:
    return float(f"{value:.6g}")
