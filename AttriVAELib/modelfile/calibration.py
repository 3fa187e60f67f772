"""Calibration, on subjects the model did not train on (its validation split), of what it states in units.

* **Intervals** (:class:`~AttriVAELib.modelfile.card.IntervalCalibration`): split-conformal prediction on the residual
  between each held-out subject's measured attribute and the value its latent dim encodes (through the
  training line). The posterior σ alone is far narrower than that residual. ``absolute`` scores (|residual|)
  are the default: at the same coverage they were never much wider than σ-scaled scores and much narrower for
  some attributes (``benchmarks/interval_kinds.py``, docs/interpretation.md). The conformal quantile is a few
  lines, written here rather than taken from a library (MAPIE, crepes) that would add scikit-learn for one
  sort; it is tested against hand-computed cases.
* **Decoded measures** (:class:`~AttriVAELib.modelfile.card.MeasureLine`): the attribute measured on each held-out
  subject's real input cube, segmented by intensity as decoded cubes are, against its label-map value. The
  line matches their mean and spread (reduced major axis: a change of units, not a regression towards the
  mean), so values measured on decoded anatomy are stated in the data's units.
"""

from __future__ import annotations

__all__ = ["DEFAULT_INTERVAL_KIND", "calibrate_card", "calibrate_model", "expected_coverage", "measure_line",
           "nonconformity_scores"]

import math
from collections.abc import Sequence

import numpy as np
import torch

from ..data.attributes import attribute_spec
from ..data.decoded import measure_cubes
from ..data.preprocessing import CubeGeometry
from ..errors import InvalidConfigError
from ..metrics import spearman
from .card import INTERVAL_KINDS, AttributeCard, IntervalCalibration, MeasureLine, ModelCard

DEFAULT_INTERVAL_KIND = "absolute"


def nonconformity_scores(entry: AttributeCard, measured: np.ndarray, mu: np.ndarray, sigma: np.ndarray,
                         kind: str = DEFAULT_INTERVAL_KIND) -> np.ndarray:
    """Sorted scores of the subjects whose attribute was measured: |measured − encoded| (``absolute``, attribute
    units) or that over the posterior σ in attribute units (``scaled``). All inputs (N,): measured values,
    μ and σ of the attribute's dim."""
    if kind not in INTERVAL_KINDS:
        raise InvalidConfigError(f"interval kind {kind!r} is not one of {', '.join(INTERVAL_KINDS)}")
    measured = np.asarray(measured, dtype=np.float64)
    known = np.isfinite(measured)
    residual = np.abs(measured[known] - entry.to_attribute(np.asarray(mu)[known]))
    if kind == "scaled":
        residual = residual / (np.asarray(sigma, dtype=np.float64)[known] / abs(entry.latent_slope))
    return np.sort(residual)


def expected_coverage(subjects: int, level: float, probability: float = 0.9) -> tuple[float, float]:
    """The central ``probability`` range of the coverage that a split-conformal interval of ``level``,
    calibrated on ``subjects`` held-out subjects, has on new subjects: Beta(k, n + 1 − k) with k = ⌈(n + 1)·level⌉
    (Vovk 2012; Angelopoulos & Bates 2023, §3.2); (1, 1) when n is too small for the level."""
    from scipy.stats import beta

    rank = math.ceil((subjects + 1) * level)
    if rank > subjects:
        return 1.0, 1.0
    tail = (1 - probability) / 2
    low, high = beta.ppf([tail, 1 - tail], rank, subjects + 1 - rank)
    return float(low), float(high)


def measure_line(cube_values: np.ndarray, label_values: np.ndarray) -> MeasureLine | None:
    """The reduced-major-axis line label ≈ slope · cube + intercept over subjects with both values (N,), or None
    with fewer than 3 of them or no spread in either."""
    cube_values, label_values = np.asarray(cube_values, dtype=np.float64), np.asarray(label_values, dtype=np.float64)
    known = np.isfinite(cube_values) & np.isfinite(label_values)
    cube, label = cube_values[known], label_values[known]
    if len(cube) < 3 or np.std(cube) == 0 or np.std(label) == 0:
        return None
    rho = spearman(cube, label)
    slope = math.copysign(np.std(label) / np.std(cube), rho if math.isfinite(rho) else 1.0)
    return MeasureLine(float(slope), float(label.mean() - slope * cube.mean()), rho, int(len(cube)))


def calibrate_card(card: ModelCard, mu: np.ndarray, sigma: np.ndarray, attributes: np.ndarray,
                   volumes: np.ndarray, geometries: Sequence[CubeGeometry], split: str = "val",
                   kind: str = DEFAULT_INTERVAL_KIND) -> ModelCard:
    """``card`` (which must hold the training lines) calibrated on held-out subjects: their μ and σ (N, L),
    measured attributes (N, K; column k = card attribute k; NaN: not measured), input cubes (N, S, S, S) and
    cube geometries."""
    intervals, measures = {}, {}
    for k, entry in enumerate(card.attributes):
        if not entry.has_line or entry.latent_slope == 0:
            continue
        scores = nonconformity_scores(entry, attributes[:, k], mu[:, entry.dim], sigma[:, entry.dim], kind)
        intervals[entry.name] = IntervalCalibration(kind, tuple(float(v) for v in scores), split) if len(
            scores) else None
        if attribute_spec(entry.name).decoded:
            measures[entry.name] = measure_line(measure_cubes(volumes, geometries, entry.name), attributes[:, k])
    return card.with_calibration(intervals, measures)


@torch.no_grad()
def calibrate_model(card: ModelCard, model: torch.nn.Module, volumes: torch.Tensor, attributes: np.ndarray,
                    geometries: Sequence[CubeGeometry], split: str = "val") -> ModelCard:
    """Encode held-out subjects' cubes (N, 1, S, S, S) with ``model`` (eval mode, batches of 16) and calibrate
    ``card`` on them (:func:`calibrate_card`)."""
    model.eval()
    device = next(model.parameters()).device
    coded = [model.encode(volumes[start:start + 16].to(device)) for start in range(0, len(volumes), 16)]
    mu = torch.cat([m for m, _ in coded]).float().cpu().numpy()
    sigma = torch.exp(0.5 * torch.cat([v for _, v in coded]).float()).cpu().numpy()
    return calibrate_card(card, mu, sigma, np.asarray(attributes, dtype=np.float64), volumes[:, 0].cpu().numpy(),
                          geometries, split)
