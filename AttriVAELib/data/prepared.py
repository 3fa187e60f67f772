"""A cohort as in-memory tensors: every subject read and preprocessed once."""

from __future__ import annotations

__all__ = ["PreparedData", "prepare_data", "with_attributes"]

import dataclasses
import warnings
from dataclasses import dataclass

import numpy as np
import torch

from ..config import RunConfig
from ..errors import InvalidConfigError
from ..progress import Progress, ProgressEvent
from .datasets import Cohort, select_attributes
from .preprocessing import CubeGeometry, preprocess
from .volumes import read_label_map, read_volume


@dataclass
class PreparedData:
    """The cohort as tensors, preprocessed once and kept in memory."""

    volumes: torch.Tensor  # (N, 1, S, S, S) float32 in [0, 1]
    labels: torch.Tensor  # (N,) float32 0/1
    attributes: torch.Tensor  # (N, K) float32 in attribute units, column k ↔ latent dim k
    attribute_names: tuple[str, ...]  # (K,) the attributes' names, column order
    subject_ids: list[str]
    lv_masks: np.ndarray  # (N, S, S, S) bool LV masks on the cubes
    cavity_masks: np.ndarray  # (N, S, S, S) bool LV blood pool on the cubes (lv_masks minus myocardium)
    infarct_masks: np.ndarray | None  # (N, S, S, S) bool, None when the labels have no infarct
    geometries: list[CubeGeometry]  # cube ↔ source image, per subject

    def indices(self, subject_ids: list[str]) -> np.ndarray:
        """(M,) int64 positions of the given subjects; KeyError for an id the data does not hold."""
        position = {subject: index for index, subject in enumerate(self.subject_ids)}
        return np.array([position[s] for s in subject_ids], dtype=np.int64)


def with_attributes(cohort: Cohort, config: RunConfig) -> tuple[Cohort, RunConfig]:
    """The cohort and ``config`` with its attributes resolved: ``config.attributes``, or with none named the
    defaults the cohort has (:func:`~AttriVAELib.data.datasets.select_attributes`, which also measures shape
    attributes a CSV lacks). ``config.attributes`` is the one carrier of the list: latent dim k ↔ attributes[k].

    Raises:
        InvalidDatasetError: an attribute the cohort cannot give (see ``select_attributes``).
    """
    cohort, names = select_attributes(cohort, config.attributes or None)
    return cohort, dataclasses.replace(config, attributes=names)


def prepare_data(cohort: Cohort, config: RunConfig, progress: Progress | None = None) -> PreparedData:
    """Read and preprocess every subject (see :func:`AttriVAELib.data.preprocessing.preprocess`), with the values of
    ``config.attributes`` (resolved: :func:`with_attributes`) as the attribute columns.

    Raises:
        InvalidConfigError: ``config`` names no attributes.
    """
    if not config.attributes:
        raise InvalidConfigError("the config names no attributes; resolve them with with_attributes first")
    attribute_names = tuple(config.attributes)
    prepared_subjects = []
    for index, subject in enumerate(cohort.subjects):
        image, mask = read_volume(subject.image, "image"), read_label_map(subject.mask, "mask")
        prepared = preprocess(image, mask, cohort.scheme, config.preprocess, config.model.input_size,
                              name=f"image {subject.image}")
        if prepared.lv_fraction_inside < 0.95:
            warnings.warn(f"{subject.subject_id}: {100 * (1 - prepared.lv_fraction_inside):.0f} % of the LV lies "
                          f"outside the {config.preprocess.field_of_view_mm:g} mm cube; raise "
                          f"preprocess.field_of_view_mm (a --config file)", stacklevel=2)
        prepared_subjects.append(prepared)
        if progress:
            progress(ProgressEvent("preprocess", done=index + 1, total=len(cohort.subjects)))
    has_infarct = all(p.infarct_mask is not None for p in prepared_subjects)
    return PreparedData(
        volumes=torch.stack([torch.from_numpy(p.volume) for p in prepared_subjects])[:, None],  # (N, 1, S, S, S)
        labels=torch.from_numpy(cohort.labels).float(),
        attributes=torch.from_numpy(cohort.attribute_matrix(attribute_names)).float(),
        attribute_names=tuple(attribute_names),
        subject_ids=[s.subject_id for s in cohort.subjects],
        lv_masks=np.stack([p.lv_mask for p in prepared_subjects]),
        cavity_masks=np.stack([p.cavity_mask for p in prepared_subjects]),
        infarct_masks=np.stack([p.infarct_mask for p in prepared_subjects]) if has_infarct else None,
        geometries=[p.geometry for p in prepared_subjects],
    )
