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
from .progress import Progress

DICE_THRESHOLD = 0.05
"""Reconstructed voxels above this intensity count as LV for the Dice score: preprocessed cubes are 0
outside the LV and (after scaling) well above it inside, dark healthy myocardium included."""
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
             device: torch.device | str = "cpu", attention_layer: str = "conv5",
             progress: Progress | None = None) -> Evaluation:
    """Every metric of the paper (README, "Metrics") on the subjects ``indices`` of ``data``, using μ.
    ``progress`` receives an ``evaluate`` event per infarcted subject whose attention maps were scored.

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
        "classification": {"accuracy": order_and_class["accuracy"], "auc": order_and_class["auc"]},
    }
    if data.infarct_masks is not None and labels.any():
        results["attention_iou"] = _attention_iou(bundle, data, indices[labels == 1], attribute_names, attention_layer,
                                                  progress)
    return Evaluation([data.subject_ids[i] for i in indices], tuple(attribute_names), mu, attributes, labels,
                      probabilities, results)


def _attention_iou(bundle: ModelBundle, data: PreparedData, infarcted: np.ndarray,
                   attribute_names: tuple[str, ...], layer: str, progress: Progress | None) -> dict[str, float]:
    """Mean IoU of each attribute's thresholded attention map with the infarct, over infarcted subjects."""
    scores: dict[str, list[float]] = {name: [] for name in attribute_names}
    for done, index in enumerate(infarcted, start=1):
        maps = attention(bundle, data.volumes[index], list(attribute_names), layer=layer)
        for name in attribute_names:
            scores[name].append(attention_iou(maps[name], data.infarct_masks[index]))
        if progress:
            progress({"event": "evaluate", "done": done, "total": len(infarcted)})
    return {name: float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")
            for name, values in scores.items()}
