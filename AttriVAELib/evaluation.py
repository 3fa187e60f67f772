"""Evaluation of a trained model on a split of prepared data."""

from __future__ import annotations

__all__ = ["encode_all", "evaluate_split"]

from typing import Any

import numpy as np
import torch

from .bundle import ModelBundle
from .data import PreparedData
from .metrics import accuracy, roc_auc, spearman
from .model import AttriVAE


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
