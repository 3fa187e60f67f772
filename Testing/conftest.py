"""Shared fixtures: small seeded cohorts and volumes with non-identity geometry, written to tmp folders."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from AttriVAELib import (
    ModelBundle,
    PreprocessedVolume,
    load_cohort,
    load_model,
    preprocess_for,
    preset,
    train,
)
from AttriVAELib.apps.compiled_code_cache import separate_compiled_code_cache
from AttriVAELib.apps.samples import run_config, untrained_bundle
from AttriVAELib.data.synthetic import make_cohort

separate_compiled_code_cache()  # a run capped to AVX2 (CONTRIBUTING.md) never loads code compiled uncapped

TRAINING_FIXTURES = {"tiny_run", "two_epoch_run"}
"""Fixtures that train a model: a test that uses one (directly or through another fixture) is ``slow``."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``slow`` every test that trains, through the fixtures it depends on, so ``-m "not slow"`` is the
    fast tier without anyone having to remember the marker (tests that compile or spawn processes carry it
    themselves)."""
    for item in items:
        if TRAINING_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def tiny_cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """24 synthetic subjects, 32×32 in-plane, in the folder+CSV format (read-only for tests)."""
    folder = tmp_path_factory.mktemp("cohort") / "data"
    make_cohort(folder, subjects=24, size=32, seed=7)
    return folder


@pytest.fixture(scope="session")
def eval_cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 synthetic subjects (test split of 6) for evaluation tests."""
    folder = tmp_path_factory.mktemp("eval_cohort") / "data"
    make_cohort(folder, subjects=40, size=32, seed=3)
    return folder


@pytest.fixture(scope="session")
def untrained(tmp_path_factory: pytest.TempPathFactory) -> ModelBundle:
    """An untrained 16³ model with the card the builder gives it on 8 synthetic subjects (lines fitted)."""
    return untrained_bundle(run_config(16), tmp_path_factory.mktemp("untrained") / "cohort")


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory, eval_cohort: Path) -> Path:
    """A run folder of a 32³ model trained for 2 epochs on ``eval_cohort``."""
    base = preset("paper")
    config = dataclasses.replace(base, model=dataclasses.replace(base.model, input_size=32),
                                 train=dataclasses.replace(base.train, epochs=2, seed=0))
    out = tmp_path_factory.mktemp("tiny_run") / "run"
    train(load_cohort(eval_cohort), config, out)
    return out


@pytest.fixture(scope="session")
def tiny_bundle(tiny_run: Path) -> ModelBundle:
    return load_model(tiny_run / "model.safetensors")


@pytest.fixture(scope="session")
def tiny_subject(tiny_bundle: ModelBundle, eval_cohort: Path) -> tuple[sitk.Image, PreprocessedVolume]:
    """Subject 1 of ``eval_cohort``: its source image and its preprocessed cube for ``tiny_bundle``."""
    image = sitk.ReadImage(str(eval_cohort / "images" / "sub-001_ed.nii.gz"))
    labels = sitk.ReadImage(str(eval_cohort / "labels" / "sub-001_ed.nii.gz"))
    return image, preprocess_for(tiny_bundle, image, labels)


def make_image(array: np.ndarray, spacing=(1.5, 1.25, 8.0), origin=(10.0, -20.0, 5.0),
               direction: np.ndarray | None = None) -> sitk.Image:
    """Wrap a (k, j, i) array as an oblique, anisotropic SimpleITK image."""
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(spacing)
    image.SetOrigin(origin)
    if direction is None:
        angle = np.deg2rad(30.0)
        direction = np.array([[np.cos(angle), -np.sin(angle), 0.0], [np.sin(angle), np.cos(angle), 0.0],
                              [0.0, 0.0, 1.0]])
    image.SetDirection(tuple(np.asarray(direction).ravel()))
    return image


def ellipsoid_labels(shape=(12, 40, 40), spacing=(1.5, 1.25, 8.0)) -> np.ndarray:
    """(k, j, i) EMIDEC labels: an ellipsoidal cavity (1) in a shell of myocardium (2) with infarct (3)."""
    k, j, i = np.indices(shape, dtype=float)
    centre = (np.asarray(shape) - 1) / 2
    z, y, x = ((k - centre[0]) * spacing[2], (j - centre[1]) * spacing[1], (i - centre[2]) * spacing[0])
    q = (x / 14.0) ** 2 + (y / 14.0) ** 2 + (z / 30.0) ** 2
    q_epi = (x / 22.0) ** 2 + (y / 22.0) ** 2 + (z / 38.0) ** 2
    labels = np.zeros(shape, np.uint8)
    labels[q_epi <= 1] = 2
    labels[q <= 1] = 1
    labels[(labels == 2) & (x > 8)] = 3
    return labels


@pytest.fixture
def scene():
    """:func:`slicer_app.slicer_scene`, cleared afterwards. Yields (scene, logics namespace)."""
    from slicer_app import slicer_scene

    mrml, logics = slicer_scene()
    yield mrml, logics
    mrml.Clear(1)


def ras_matrix(image: sitk.Image) -> np.ndarray:
    """IJK → RAS 4×4 of a SimpleITK (LPS) image, computed independently of the bridge."""
    lps = np.eye(4)
    lps[:3, :3] = np.array(image.GetDirection()).reshape(3, 3) @ np.diag(image.GetSpacing())
    lps[:3, 3] = image.GetOrigin()
    return np.diag([-1.0, -1.0, 1.0, 1.0]) @ lps


def write_pair(folder: Path, image_name: str, mask_name: str, labels: np.ndarray) -> None:
    (folder / image_name).parent.mkdir(parents=True, exist_ok=True)
    (folder / mask_name).parent.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(make_image((labels * 100 + 50).astype(np.float32)), str(folder / image_name))
    sitk.WriteImage(make_image(labels), str(folder / mask_name))


EMIDEC_TXT = """Case {case}

Gap between slices\xa0: 10 mm
Sex\xa0: {sex}
Age : {age}{trailing_space}
Tobacco : 3
Overweight : N
Arterial hypertension : Y
Diabetes : N
Familial history of coronary artery disease: N
ECG (ST +) : Y
Troponin : 1.1
Killip Max: 1
FEVG : 60
NTProBNP : 248
"""


@pytest.fixture
def emidec_dataset(tmp_path):
    root = tmp_path / "emidec-dataset-1.0.1"
    for case, sex, age in (("N006", "F", 70), ("P001", "M", 65), ("P002", "M", 59)):
        write_pair(root, f"Case_{case}/Images/Case_{case}.nii.gz", f"Case_{case}/Contours/Case_{case}.nii.gz",
                   ellipsoid_labels())
        text = EMIDEC_TXT.format(case=case, sex=sex, age=age, trailing_space=" ")
        (root / f"Case {case}.txt").write_bytes(text.encode("latin-1"))
    return root


@pytest.fixture
def acdc_dataset(tmp_path):
    root = tmp_path / "database" / "training"
    emidec = ellipsoid_labels()
    ed = np.select([emidec == 1, emidec >= 2], [3, 2], 0).astype(np.uint8)
    ed[:, :, :4] = np.where(ed[:, :, :4] == 0, 1, ed[:, :, :4])  # an RV-labelled strip
    es = ed.copy()
    es[(ed == 3) & (np.indices(ed.shape)[2] < 18)] = 2
    for number, group in ((1, "DCM"), (2, "MINF"), (3, "NOR")):
        patient = f"patient{number:03d}"
        folder = root / patient
        for frame, labels in ((1, ed), (12, es)):
            write_pair(folder, f"{patient}_frame{frame:02d}.nii.gz", f"{patient}_frame{frame:02d}_gt.nii.gz", labels)
        (folder / "Info.cfg").write_text(f"ED: 1\nES: 12\nGroup: {group}\nHeight: 184.0\nNbFrame: 30\nWeight: 95.0\n")
    return tmp_path / "database"
