"""Calibrate a trained model again on a held-out cohort: ``attrivae calibrate``.

Training calibrates a model's intervals and decoded-measure lines on its validation split
(:mod:`~AttriVAELib.modelfile.calibration`). A split-conformal interval's coverage varies with the number n of
calibration subjects: with 60 it lands anywhere in 0.90–0.99 for a 95 % interval (90 % of draws,
:func:`~AttriVAELib.modelfile.calibration.expected_coverage`), with 600 in 0.935–0.964, with 2400 in 0.943–0.957.
Here the weights and the training lines stay, and the intervals and decoded-measure lines are computed again on
a cohort the model never saw; the result is a new model file whose card names that cohort.
"""

from __future__ import annotations

__all__ = ["MIN_SUBJECTS", "CohortCalibration", "calibrate_on_cohort", "calibration_source", "describe"]

import math
from dataclasses import dataclass
from pathlib import Path

from ..data.attributes import attribute_unit
from ..data.datasets import Cohort, load_cohort
from ..data.prepared import prepare_data, with_attributes
from ..errors import InvalidConfigError
from ..interpretation.codes import INTERVAL_LEVEL, is_training_cohort
from ..method.acceleration import resolve_device
from ..modelfile.bundle import load_model, save_model
from ..modelfile.calibration import calibrate_model
from ..modelfile.card import AttributeCard, DataCard
from ..progress import Progress

MIN_SUBJECTS = math.ceil(1 / (1 - INTERVAL_LEVEL)) - 1
"""Fewest held-out subjects that give a finite conformal interval at :data:`INTERVAL_LEVEL` (19 for 95 %)."""


@dataclass(frozen=True)
class CohortCalibration:
    """What :func:`calibrate_on_cohort` wrote: the new model file, the cohort's name and size, and per
    calibrated attribute the interval's half-width at :data:`INTERVAL_LEVEL` in the attribute's units."""

    path: Path
    cohort: str
    subjects: int
    half_widths: dict[str, float]


def calibration_source(entry: AttributeCard) -> str:
    """Where an attribute's interval was calibrated, in words: "the validation split (60 subjects)" or "the
    held-out cohort C2400 (2400 subjects)"; "" when it is not calibrated."""
    if entry.interval is None:
        return ""
    subjects = len(entry.interval.scores)
    if entry.interval.split == "val":
        return f"the validation split ({subjects} subjects)"
    return f"the held-out cohort {entry.interval.split} ({subjects} subjects)"


def _cohort_name(cohort: Cohort) -> str:
    """The cohort's folder name (its root is the folder, or the CSV file in it)."""
    return cohort.root.parent.name if cohort.root.is_file() else cohort.root.name


def _refuse_training_cohort(data: DataCard, cohort: Cohort) -> None:
    """Raise unless ``cohort`` is independent of the model's training and validation subjects. Synthetic cohorts
    all number their subjects sub-000, sub-001, …: one is the training cohort when it was made with the same
    arguments; a real cohort may not share a training or validation subject id."""
    if is_training_cohort(data, cohort):
        raise InvalidConfigError(f"{_cohort_name(cohort)} is the cohort the model was trained on; calibrate on "
                                 f"subjects it never saw, e.g. attrivae synth with another --seed")
    if data.synthetic is not None and cohort.synthetic is not None:
        return
    seen = set(data.split.train) | set(data.split.val)
    shared = sorted(seen & {subject.subject_id for subject in cohort.subjects})
    if shared:
        raise InvalidConfigError(f"{_cohort_name(cohort)} shares {len(shared)} subjects with the model's training or "
                                 f"validation split (e.g. {shared[0]}); calibrate on subjects it never saw")


def calibrate_on_cohort(model_path: Path | str, data_path: Path | str, out_path: Path | str, format: str = "auto",
                        device: str = "auto", progress: Progress | None = None) -> CohortCalibration:
    """Calibrate the model in ``model_path`` on the cohort in ``data_path`` and write it to the new file
    ``out_path`` (atomically; the input model is not modified).

    Raises:
        InvalidConfigError: ``out_path`` exists, the cohort is (or shares subjects with) the model's training
            data, or it has fewer than :data:`MIN_SUBJECTS` subjects.
        InvalidDatasetError: the cohort lacks one of the model's attributes.
    """
    out_path = Path(out_path)
    if out_path.exists():
        raise InvalidConfigError(f"--out {out_path} exists; choose a new file name")
    bundle = load_model(model_path, resolve_device(device))
    cohort, config = with_attributes(load_cohort(data_path, format), bundle.card.config)
    _refuse_training_cohort(bundle.card.data, cohort)
    if len(cohort.subjects) < MIN_SUBJECTS:
        raise InvalidConfigError(f"{data_path} holds {len(cohort.subjects)} subjects; a {100 * INTERVAL_LEVEL:g} % "
                                 f"interval needs at least {MIN_SUBJECTS} (a few hundred give a steady coverage)")
    data = prepare_data(cohort, config, progress)
    card = calibrate_model(bundle.card, bundle.model, data.volumes, data.attributes.numpy(), data.geometries,
                           split=_cohort_name(cohort))
    save_model(out_path, bundle.model, card)
    half_widths = {entry.name: entry.interval.half_width(INTERVAL_LEVEL) for entry in card.attributes
                   if entry.interval is not None and entry.interval.kind == "absolute"}
    return CohortCalibration(out_path, _cohort_name(cohort), len(cohort.subjects), half_widths)


def describe(result: CohortCalibration) -> list[str]:
    """Lines that tell the user what :func:`calibrate_on_cohort` did."""
    lines = [f"model: {result.path} (calibrated on {result.cohort}, {result.subjects} subjects)",
             f"half-width of the {100 * INTERVAL_LEVEL:g} % interval:"]
    for name, half in result.half_widths.items():
        unit = attribute_unit(name)
        lines.append(f"  {name:24s} ±{half:.3g}{' ' + unit if unit else ''}")
    return lines
