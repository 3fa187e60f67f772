"""Evaluation of a trained model on a split of prepared data."""

from __future__ import annotations

__all__ = ["DICE_THRESHOLD", "Evaluation", "encode_all", "evaluate", "evaluate_split"]

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from . import metrics
from .attention import attention, attention_iou
from .bundle import ModelBundle
from .data import PreparedData
from .errors import InvalidDatasetError
from .metrics import accuracy, roc_auc, spearman
from .model import AttriVAE

DICE_THRESHOLD = 0.05
"""Reconstructed voxels above this intensity count as LV for the Dice score: preprocessed cubes are 0
outside the LV and (after scaling) well above it inside, dark healthy myocardium included."""
MINIMUM_SUBJECTS = metrics.KSG_NEIGHBOURS + 2


@torch.no_grad()
def encode_all(model: AttriVAE, volumes: torch.Tensor, device: torch.device) -> tuple[np.ndarray, np.ndarray]:
    """(N, 1, S, S, S) → μ (N, L) and class-1 probabilities (N,), in eval mode, batches of 16."""
    model.eval()
    mus, probabilities = [], []
    for start in range(0, len(volumes), 16):
        output = model(volumes[start:start + 16].to(device))
        mus.append(output.mu.cpu())
        probabilities.append(torch.sigmoid(output.logits).cpu())
    return torch.cat(mus).numpy(), torch.cat(probabilities).numpy()


def evaluate_split(bundle: ModelBundle, data: PreparedData, indices: np.ndarray,
                   attribute_names: tuple[str, ...], device: torch.device | str = "cpu") -> dict[str, Any]:
    """Spearman ρ between latent dim k (μ) and attribute k, classifier AUC and accuracy on a split."""
    mu, probabilities = encode_all(bundle.model, data.volumes[indices], torch.device(device))
    labels = data.labels[indices].numpy()
    attributes = data.attributes[indices].numpy()
    return {
        "subjects": len(indices),
        "spearman": {name: spearman(mu[:, k], attributes[:, k]) for k, name in enumerate(attribute_names)},
        "auc": roc_auc(labels, probabilities),
        "accuracy": accuracy(labels, probabilities),
    }


@dataclass
class Evaluation:
    """Everything measured on one split: per-subject arrays for plots and the metric dictionary."""

    subject_ids: list[str]
    attribute_names: tuple[str, ...]
    mu: np.ndarray  # (N, L) posterior means
    attributes: np.ndarray  # (N, K) attribute values
    labels: np.ndarray  # (N,) 0/1
    probabilities: np.ndarray  # (N,) predicted probability of class 1
    metrics: dict[str, Any]


@torch.no_grad()
def _reconstruct_all(model: AttriVAE, volumes: torch.Tensor, device: torch.device) -> np.ndarray:
    """(N, 1, S, S, S) → (N, S, S, S) reconstructions of μ, batches of 16."""
    model.eval()
    parts = [model.decode(model.encode(volumes[i:i + 16].to(device))[0]).cpu() for i in range(0, len(volumes), 16)]
    return torch.cat(parts)[:, 0].numpy()


def evaluate(bundle: ModelBundle, data: PreparedData, indices: np.ndarray, attribute_names: tuple[str, ...],
             device: torch.device | str = "cpu", attention_layer: str = "conv5") -> Evaluation:
    """Every metric of the paper (README, "Metrics") on the subjects ``indices`` of ``data``, using μ.

    Raises:
        InvalidDatasetError: fewer than 5 subjects (the KSG estimator needs more than k + 1 = 4).
    """
    if len(indices) < MINIMUM_SUBJECTS:
        raise InvalidDatasetError(f"evaluation needs at least {MINIMUM_SUBJECTS} subjects (KSG mutual information "
                                  f"uses {metrics.KSG_NEIGHBOURS} neighbours); this split has {len(indices)}")
    device = torch.device(device)
    volumes = data.volumes[indices]
    mu, probabilities = encode_all(bundle.model, volumes, device)
    attributes = data.attributes[indices].numpy().astype(np.float64)
    labels = data.labels[indices].numpy().astype(int)
    recon = _reconstruct_all(bundle.model, volumes, device)
    real = volumes[:, 0].numpy()
    interpretability = metrics.interpretability(mu, attributes)
    results: dict[str, Any] = {
        "subjects": len(indices),
        "interpretability": {name: entry for name, entry in zip(attribute_names, interpretability)},
        "interpretability_mean": float(np.mean([entry["r2"] for entry in interpretability])),
        "spearman": {name: spearman(mu[:, k], attributes[:, k]) for k, name in enumerate(attribute_names)},
        "mig_ksg": metrics.mig_ksg(mu, attributes),
        "mig_binned": metrics.mig_binned(mu, attributes),
        "sap": metrics.sap(mu, attributes),
        "scc": metrics.scc(mu, attributes),
        "modularity": metrics.modularity(mu, attributes) if len(attribute_names) > 1 else float("nan"),
        "reconstruction": {
            "mse": float(np.mean((recon - real) ** 2)),
            "dice": float(np.mean([metrics.dice(volume > DICE_THRESHOLD, mask)
                                   for volume, mask in zip(recon, data.lv_masks[indices])])),
            "mmd": metrics.mmd(real, recon),
        },
        "classification": {"accuracy": accuracy(labels, probabilities), "auc": roc_auc(labels, probabilities)},
    }
    if data.infarct_masks is not None and labels.any():
        results["attention_iou"] = _attention_iou(bundle, data, indices[labels == 1], attribute_names, attention_layer)
    return Evaluation([data.subject_ids[i] for i in indices], tuple(attribute_names), mu, attributes, labels,
                      probabilities, results)


def _attention_iou(bundle: ModelBundle, data: PreparedData, infarcted: np.ndarray,
                   attribute_names: tuple[str, ...], layer: str) -> dict[str, float]:
    """Mean IoU of each attribute's thresholded attention map with the infarct, over infarcted subjects."""
    scores: dict[str, list[float]] = {name: [] for name in attribute_names}
    for index in infarcted:
        maps = attention(bundle, data.volumes[index], list(attribute_names), layer=layer)
        for name in attribute_names:
            scores[name].append(attention_iou(maps[name], data.infarct_masks[index]))
    return {name: float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")
            for name, values in scores.items()}
