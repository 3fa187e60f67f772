"""What a model encodes for every subject of a cohort, as a table for statistics (R, pandas, SPSS).

Per subject: split membership, label, P(infarct), reconstruction error, and per regularised attribute the
measured value, the value its latent dim encodes through the model card's training line μ_k ≈ slope·a +
intercept (a = (μ_k − intercept) / slope), a 95 % interval and what kind of interval it is: ``calibrated``
(split-conformal on the model's validation split, :mod:`~AttriVAELib.modelfile.calibration`, or on a held-out cohort,
:mod:`~AttriVAELib.training.cohort_calibration`: it holds the measured
value of a new subject from the training population with probability ≥ 95 %) or ``posterior`` (models
without calibration: μ_k ± 1.96σ_k through the line, far too narrow). Then the full μ and σ vectors.
:func:`interval_coverage` checks intervals against measured values.
"""

from __future__ import annotations

__all__ = ["INTERVAL_LEVEL", "UNCALIBRATED", "AttributeEstimate", "attribute_estimates", "encode_cohort",
           "interval_calibration", "interval_coverage", "is_training_cohort", "split_of_subjects"]

import csv
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist

import numpy as np
import torch

from ..choices import ENCODED_SUBJECTS
from ..data.datasets import Cohort, Subject
from ..data.volumes import read_label_map, read_volume
from ..errors import InvalidConfigError
from ..files import atomic_path
from ..modelfile.bundle import ModelBundle
from ..modelfile.card import SPLIT_PARTS, DataCard, SyntheticRecord
from ..progress import Progress, ProgressEvent
from .inference import card_entry, encode, preprocess_for

INTERVAL_LEVEL = 0.95
"""Probability of the interval that every table and the report show."""


BATCH_SIZE = 16
"""Subjects preprocessed and encoded together: memory stays constant in the cohort's size."""


@dataclass(frozen=True)
class AttributeEstimate:
    """One attribute's estimates for a batch of subjects, each (B,), in the attribute's units."""

    encoded: np.ndarray  # the value its latent dim's μ encodes
    low: np.ndarray  # lower end of the interval
    high: np.ndarray  # upper end
    calibrated: bool  # True: a conformal interval calibrated on held-out subjects; False: the posterior's only


UNCALIBRATED = ("not calibrated: the posterior interval μ ± z·σ, which counts only the encoder's σ and holds "
                "far fewer measured values than its level says")
"""What every place that shows an interval says of one that is not calibrated."""


def attribute_estimates(bundle: ModelBundle, mu: torch.Tensor | np.ndarray, sigma: torch.Tensor | np.ndarray,
                        level: float = INTERVAL_LEVEL) -> dict[str, AttributeEstimate]:
    """Encoded value and ``level`` interval of every regularised attribute, from μ and σ (B, L): the card's
    conformal calibration where it has one with enough subjects for ``level``
    (:class:`~AttriVAELib.modelfile.card.IntervalCalibration`), else the posterior interval μ ± z·σ mapped through the
    training line (``calibrated`` False).

    Raises:
        InvalidConfigError: ``level`` outside (0, 1), or the card has no training line for an attribute.
    """
    if not 0 < level < 1:
        raise InvalidConfigError(f"interval level {level} must be between 0 and 1")
    z = NormalDist().inv_cdf(0.5 + level / 2)
    mu, sigma = np.asarray(mu, dtype=np.float64), np.asarray(sigma, dtype=np.float64)
    estimates = {}
    for k, name in enumerate(bundle.attribute_names):
        entry = card_entry(bundle, k)
        encoded = entry.to_attribute(mu[:, k])
        if not entry.calibrated_for(level):
            ends = entry.to_attribute(np.stack([mu[:, k] - z * sigma[:, k], mu[:, k] + z * sigma[:, k]]))
            estimates[name] = AttributeEstimate(encoded, ends.min(axis=0), ends.max(axis=0), calibrated=False)
            continue
        half = entry.interval.half_width(level)
        if entry.interval.kind == "scaled":
            half = half * sigma[:, k] / abs(entry.latent_slope)
        estimates[name] = AttributeEstimate(encoded, encoded - half, encoded + half, calibrated=True)
    return estimates


def interval_coverage(measured: np.ndarray, low: np.ndarray, high: np.ndarray) -> tuple[float, int]:
    """Share of the finite ``measured`` values inside [low, high], and how many there were (NaN, 0: none).
    All (N,), in one attribute's units."""
    measured = np.asarray(measured, dtype=np.float64)
    known = np.isfinite(measured)
    if not known.any():
        return float("nan"), 0
    inside = (measured[known] >= np.asarray(low)[known]) & (measured[known] <= np.asarray(high)[known])
    return float(inside.mean()), int(known.sum())


def interval_calibration(bundle: ModelBundle, volumes: np.ndarray | torch.Tensor, attributes: np.ndarray,
                         level: float = INTERVAL_LEVEL) -> dict[str, dict[str, float]]:
    """Per regularised attribute: the share of measured values inside their ``level`` interval (``coverage``;
    about ``level`` when calibrated), how many subjects had a value (``subjects``), the mean interval width in
    the attribute's units (``mean_width``), whether the interval is calibrated (``calibrated``) and on how many
    held-out subjects (``calibration_subjects``, 0: not calibrated). volumes: (N, S, S, S) preprocessed cubes;
    attributes: (N, K) measured values, column k = attribute k (NaN: not measured)."""
    cubes = torch.as_tensor(np.asarray(volumes, dtype=np.float32)).reshape(len(volumes), 1, *np.shape(volumes)[-3:])
    coded = [encode(bundle, cubes[start:start + BATCH_SIZE]) for start in range(0, len(cubes), BATCH_SIZE)]
    mu, sigma = (torch.cat([batch[part] for batch in coded]).cpu() for part in (0, 1))
    estimates = attribute_estimates(bundle, mu, sigma, level)
    calibration = {}
    for k, (name, estimate) in enumerate(estimates.items()):
        coverage, subjects = interval_coverage(np.asarray(attributes)[:, k], estimate.low, estimate.high)
        interval = bundle.card.attributes[k].interval
        calibration[name] = {"coverage": coverage, "subjects": subjects,
                             "mean_width": float(np.mean(estimate.high - estimate.low)),
                             "calibrated": estimate.calibrated,
                             "calibration_subjects": len(interval.scores) if estimate.calibrated else 0}
    return calibration


def is_training_cohort(data: DataCard, cohort: Cohort) -> bool:
    """Whether ``cohort`` is the one a model with the data card ``data`` was trained on. Synthetic cohorts all
    number their subjects sub-000, sub-001, …, so one is the training cohort only when it was made with the same
    arguments; any other cohort is when it holds every subject of the model's test split."""
    if data.synthetic is not None and cohort.synthetic is not None:
        made = SyntheticRecord.from_record(cohort.synthetic)
        return made is not None and made.arguments() == data.synthetic.arguments()
    return data.split.held_by(subject.subject_id for subject in cohort.subjects)


def split_of_subjects(bundle: ModelBundle, cohort: Cohort) -> dict[str, str]:
    """Subject id → ``train``, ``val`` or ``test`` when ``cohort`` is the model's training cohort
    (:func:`is_training_cohort`), else an empty mapping: ids of another cohort may repeat them."""
    split = bundle.card.data.split
    if not is_training_cohort(bundle.card.data, cohort):
        return {}
    return {subject_id: part for part in SPLIT_PARTS for subject_id in getattr(split, part)}


def _columns(bundle: ModelBundle, level: float) -> list[str]:
    percent = f"{100 * level:g}"
    per_attribute = [f"{name}_{suffix}" for name in bundle.attribute_names
                     for suffix in ("measured", "encoded", f"low{percent}", f"high{percent}", "interval")]
    latent = range(bundle.model.config.latent_size)
    return ["subject", "split", "label", "p_infarct", "reconstruction_mse", *per_attribute,
            *(f"mu_{k}" for k in latent), *(f"sigma_{k}" for k in latent)]


def _encode_batch(bundle: ModelBundle, cohort: Cohort, subjects: Sequence[Subject]) -> dict[str, np.ndarray]:
    """Preprocess and encode a batch: μ, σ (B, L), P(infarct) and the reconstruction's voxel MSE (B,)."""
    volumes = torch.from_numpy(np.stack([
        preprocess_for(bundle, read_volume(s.image, "image"), read_label_map(s.mask, "mask"), cohort.scheme,
                       name=f"image {s.image}").volume for s in subjects])[:, None])  # (B, 1, S, S, S)
    mu, sigma = encode(bundle, volumes)
    with torch.no_grad():
        probability = torch.sigmoid(bundle.model.classify(mu))
        error = ((bundle.model.decode(mu).cpu() - volumes) ** 2).flatten(1).mean(1)
    return {"mu": mu.cpu().numpy(), "sigma": sigma.cpu().numpy(), "probability": probability.cpu().numpy(),
            "error": error.numpy()}


def encode_cohort(bundle: ModelBundle, cohort: Cohort, out_csv: Path | str, subjects: str = "all",
                  level: float = INTERVAL_LEVEL, progress: Progress | None = None) -> Path:
    """Write one CSV row per subject of ``cohort`` (see the module docstring for the columns; ``*_low95`` and
    ``*_high95`` are the interval's ends, ``*_interval`` says whether it is ``calibrated`` or only the
    ``posterior``'s, ``*_measured`` is empty where the data lack the attribute).

    Subjects stream through in batches of :data:`BATCH_SIZE`; the file appears only when complete.
    ``progress`` receives an ``encode`` event per batch.

    Raises:
        InvalidConfigError: ``subjects`` is not one of :data:`ENCODED_SUBJECTS`, or names a part of the split
            that the cohort does not hold.
    """
    if subjects not in ENCODED_SUBJECTS:
        raise InvalidConfigError(f"--subjects {subjects!r} is not one of {', '.join(ENCODED_SUBJECTS)}")
    membership = split_of_subjects(bundle, cohort)
    if subjects != "all" and not membership:
        raise InvalidConfigError(f"--subjects {subjects}: {cohort.root} is not the model's training cohort, so it "
                                 f"has no {subjects} split; use all")
    chosen = [s for s in cohort.subjects if subjects == "all" or membership.get(s.subject_id) == subjects]
    uncalibrated = [entry.name for entry in bundle.card.attributes if not entry.calibrated_for(level)]
    if uncalibrated:
        warnings.warn(f"the intervals of {', '.join(uncalibrated)} are {UNCALIBRATED} (the model's card holds no "
                      f"calibration for {100 * level:g} %: retrain it with this version, with at least "
                      f"{math.ceil(level / (1 - level))} validation subjects)", stacklevel=2)
    names = bundle.attribute_names
    with atomic_path(out_csv) as temporary, open(temporary, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(_columns(bundle, level))
        for start in range(0, len(chosen), BATCH_SIZE):
            batch = chosen[start:start + BATCH_SIZE]
            coded = _encode_batch(bundle, cohort, batch)
            estimates = attribute_estimates(bundle, coded["mu"], coded["sigma"], level)
            for i, subject in enumerate(batch):
                measured = [subject.attributes.get(name, math.nan) for name in names]
                per_attribute = [value for name, value in zip(names, measured) for value in (
                    _cell(value), _cell(estimates[name].encoded[i]), _cell(estimates[name].low[i]),
                    _cell(estimates[name].high[i]), "calibrated" if estimates[name].calibrated else "posterior")]
                writer.writerow([subject.subject_id, membership.get(subject.subject_id, ""), subject.label,
                                 _cell(coded["probability"][i]), _cell(coded["error"][i]), *per_attribute,
                                 *map(_cell, coded["mu"][i]), *map(_cell, coded["sigma"][i])])
            if progress:
                progress(ProgressEvent("encode", done=start + len(batch), total=len(chosen)))
    return Path(out_csv)


def _cell(value: float) -> str:
    """A number as the CSV shows it: 6 significant digits, empty when not finite."""
    return f"{float(value):.6g}" if math.isfinite(float(value)) else ""
