"""Evaluation of a trained model on a split of prepared data."""

from __future__ import annotations

__all__ = ["Evaluation", "encode_all", "evaluate", "evaluate_split"]

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from . import metrics
from .bundle import ModelBundle
from .choices import ATTRIBUTION_METHODS, DEFAULT_LAYER
from .data import PreparedData
from .errors import InvalidDatasetError
from .fidelity import FOREGROUND_THRESHOLD, traversal_fidelity
from .localisation import localisation
from .metrics import accuracy, roc_auc, spearman
from .model import AttriVAE
from .progress import Progress

MINIMUM_SUBJECTS = metrics.KSG_NEIGHBOURS + 2


@torch.no_grad()
def _forward_all(model: AttriVAE, volumes: torch.Tensor, device: torch.device,
                 keep_reconstructions: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(N, 1, S, S, S) → μ (N, L), class-1 probabilities (N,) and, if asked, the reconstructions of μ
    (N, S, S, S); eval mode, batches of 16, one forward pass each."""
    model.eval()
    mus, probabilities, reconstructions = [], [], []
    for start in range(0, len(volumes), 16):
        output = model(volumes[start:start + 16].to(device))  # eval mode: z = μ
        mus.append(output.mu.cpu())
        probabilities.append(torch.sigmoid(output.logits).cpu())
        if keep_reconstructions:
            reconstructions.append(output.recon[:, 0].cpu())
    recon = torch.cat(reconstructions).numpy() if keep_reconstructions else None
    return torch.cat(mus).numpy(), torch.cat(probabilities).numpy(), recon


def encode_all(model: AttriVAE, volumes: torch.Tensor, device: torch.device) -> tuple[np.ndarray, np.ndarray]:
    """(N, 1, S, S, S) → μ (N, L) and class-1 probabilities (N,), in eval mode, batches of 16."""
    mu, probabilities, _ = _forward_all(model, volumes, device, keep_reconstructions=False)
    return mu, probabilities


def _order_and_class_metrics(mu: np.ndarray, attributes: np.ndarray, labels: np.ndarray,
                             probabilities: np.ndarray, attribute_names: tuple[str, ...]) -> dict[str, Any]:
    """Spearman ρ of latent dim k with attribute k, and the classifier's AUC and accuracy."""
    return {
        "spearman": {name: spearman(mu[:, k], attributes[:, k]) for k, name in enumerate(attribute_names)},
        "auc": roc_auc(labels, probabilities),
        "accuracy": accuracy(labels, probabilities),
    }


def evaluate_split(bundle: ModelBundle, data: PreparedData, indices: np.ndarray,
                   attribute_names: tuple[str, ...], device: torch.device | str = "cpu") -> dict[str, Any]:
    """Spearman ρ between latent dim k (μ) and attribute k, classifier AUC and accuracy on a split."""
    mu, probabilities = encode_all(bundle.model, data.volumes[indices], torch.device(device))
    return {"subjects": len(indices), **_order_and_class_metrics(
        mu, data.attributes[indices].numpy(), data.labels[indices].numpy(), probabilities, attribute_names)}


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


def evaluate(bundle: ModelBundle, data: PreparedData, indices: np.ndarray, attribute_names: tuple[str, ...],
             device: torch.device | str = "cpu", attribution_methods: Sequence[str] = ATTRIBUTION_METHODS,
             attention_layer: str = DEFAULT_LAYER, progress: Progress | None = None,
             fidelity: bool = True) -> Evaluation:
    """Every metric of the paper on the subjects ``indices`` of ``data``, using μ, plus the checks of the
    interpretation against ground truth: localisation of each attribution method's maps
    (:func:`~AttriVAELib.localisation.localisation`, none when ``attribution_methods`` is empty) and
    traversal fidelity (:func:`~AttriVAELib.fidelity.traversal_fidelity`, left out without ``fidelity``: it
    decodes 7 volumes per subject and attribute). Beside the disentanglement scores, ``ceiling`` holds the same
    scores of the ground-truth code of these subjects (:func:`~AttriVAELib.metrics.disentanglement_ceiling`).
    ``progress`` receives an ``evaluate`` event per subject whose attention maps were scored.

    Raises:
        InvalidDatasetError: fewer than 5 subjects (the KSG estimator needs more than k + 1 = 4).
    """
    if len(indices) < MINIMUM_SUBJECTS:
        raise InvalidDatasetError(f"evaluation needs at least {MINIMUM_SUBJECTS} subjects (KSG mutual information "
                                  f"uses {metrics.KSG_NEIGHBOURS} neighbours); this split has {len(indices)}")
    device = torch.device(device)
    volumes = data.volumes[indices]
    mu, probabilities, recon = _forward_all(bundle.model, volumes, device, keep_reconstructions=True)
    attributes = data.attributes[indices].numpy().astype(np.float64)
    labels = data.labels[indices].numpy().astype(int)
    real = volumes[:, 0].numpy()
    order_and_class = _order_and_class_metrics(mu, attributes, labels, probabilities, attribute_names)
    interpretability = metrics.interpretability(mu, attributes)
    results: dict[str, Any] = {
        "subjects": len(indices),
        "interpretability": {name: entry for name, entry in zip(attribute_names, interpretability)},
        "interpretability_mean": float(np.mean([entry["r2"] for entry in interpretability])),
        "spearman": order_and_class["spearman"],
        **metrics.disentanglement(mu, attributes),
        "ceiling": metrics.disentanglement_ceiling(attributes, mu.shape[1]),
        "reconstruction": {
            "mse": float(np.mean((recon - real) ** 2)),
            "dice": float(np.mean([metrics.dice(volume > FOREGROUND_THRESHOLD, mask)
                                   for volume, mask in zip(recon, data.lv_masks[indices])])),
            "mmd": metrics.mmd(real, recon),
        },
        "classification": {"accuracy": order_and_class["accuracy"], "auc": order_and_class["auc"]},
    }
    if fidelity:
        geometries = [data.geometries[i] for i in indices]
        results["traversal_fidelity"] = traversal_fidelity(bundle, mu, geometries, real, attributes)
    if attribution_methods:
        results["localisation"] = localisation(bundle, data, indices, attribution_methods, attention_layer, progress)
    return Evaluation([data.subject_ids[i] for i in indices], tuple(attribute_names), mu, attributes, labels,
                      probabilities, results)

