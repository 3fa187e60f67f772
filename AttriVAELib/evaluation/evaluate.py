"""Evaluation of a trained model on subjects of prepared data: :func:`evaluate_model` is the one entry point
(the CLI's report, cross-validation and the benchmarks use it); :func:`order_and_class_scores` is its cheap
subset that training records in the model card. Both return metrics of the same shape."""

from __future__ import annotations

__all__ = ["MINIMUM_SUBJECTS", "Evaluation", "encode_all", "evaluate_model", "order_and_class_scores",
           "select_subjects"]

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .. import metrics
from ..choices import ATTRIBUTION_METHODS, DEFAULT_LAYER, EVALUATED_SUBJECTS
from ..data.attributes import STRUCTURE_OF_ATTRIBUTE
from ..data.decoded import FOREGROUND_THRESHOLD
from ..data.prepared import PreparedData
from ..data.preprocessing import CubeGeometry
from ..errors import InvalidConfigError, InvalidDatasetError
from ..method.model import AttriVAE
from ..metrics import accuracy, roc_auc, spearman
from ..modelfile.bundle import ModelBundle
from ..progress import Progress
from .decoder_fidelity import decoder_fidelity
from .fidelity import traversal_fidelity
from .localisation import localisation

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
        "classification": {"accuracy": accuracy(labels, probabilities), "auc": roc_auc(labels, probabilities)},
    }


def select_subjects(bundle: ModelBundle, data: PreparedData, subjects: str | Sequence[str]) -> np.ndarray:
    """(M,) positions in ``data`` of the subjects to evaluate: a selection of :data:`EVALUATED_SUBJECTS` or ids.

    Raises:
        InvalidConfigError: ``test`` where the data do not hold the model's test subjects, an unknown
            selection, an id the data do not hold, or data prepared for other attributes than the model's.
    """
    if tuple(data.attribute_names) != tuple(bundle.attribute_names):
        raise InvalidConfigError(f"the data hold the attributes {data.attribute_names}, the model regularises "
                                 f"{bundle.attribute_names}; prepare the data with the model's attributes")
    test, held = bundle.card.data.split.test, bundle.card.data.split.held_by(data.subject_ids)
    if isinstance(subjects, str):
        if subjects not in EVALUATED_SUBJECTS:
            raise InvalidConfigError(f"subjects {subjects!r} is not one of {', '.join(EVALUATED_SUBJECTS)} "
                                     f"or a list of subject ids")
        if subjects == "test" and not held:
            raise InvalidConfigError(f"subjects 'test': the data do not hold the model's {len(test)} test subjects "
                                     f"(another cohort?); evaluate all")
        subjects = test if subjects == "test" or (subjects == "auto" and held) else data.subject_ids
    unknown = sorted(set(subjects) - set(data.subject_ids))
    if unknown:
        raise InvalidConfigError(f"the data hold no subject {unknown[0]!r} ({len(unknown)} unknown ids)")
    return data.indices(list(subjects))


def order_and_class_scores(bundle: ModelBundle, data: PreparedData, indices: np.ndarray,
                           device: torch.device | str = "cpu") -> dict[str, Any]:
    """Spearman ρ between latent dim k (μ) and attribute k, classifier AUC and accuracy on ``indices``: the
    ``subjects``, ``spearman`` and ``classification`` entries of :func:`evaluate_model`'s metrics, for any
    number of subjects."""
    mu, probabilities = encode_all(bundle.model, data.volumes[indices], torch.device(device))
    return {"subjects": len(indices), **_order_and_class_metrics(
        mu, data.attributes[indices].numpy(), data.labels[indices].numpy(), probabilities, bundle.attribute_names)}


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
    geometries: list[CubeGeometry]  # (N,) the subjects' cube geometries


def evaluate_model(bundle: ModelBundle, data: PreparedData, subjects: str | Sequence[str] = "auto",
                   device: torch.device | str = "cpu", attribution_methods: Sequence[str] = ATTRIBUTION_METHODS,
                   attention_layer: str = DEFAULT_LAYER, fidelity: bool = True,
                   progress: Progress | None = None) -> Evaluation:
    """Every metric of the paper on ``subjects`` of ``data`` (see :func:`select_subjects`), using μ, plus the
    checks of the interpretation against ground truth: localisation of each attribution method's maps
    (:func:`~AttriVAELib.evaluation.localisation.localisation`, none when ``attribution_methods`` is empty) and
    traversal fidelity (:func:`~AttriVAELib.evaluation.fidelity.traversal_fidelity`, left out without ``fidelity``: it
    decodes 7 volumes per subject and attribute). Beside the disentanglement scores, ``ceiling`` holds the same
    scores of the ground-truth code of these subjects (:func:`~AttriVAELib.metrics.disentanglement_ceiling`),
    ``ceiling_at_precision`` those of a code as precise as this model's (each attribute's interpretability R²)
    and otherwise perfect, ``precision`` each attribute's own-dim precision and leakage
    (:func:`~AttriVAELib.metrics.precision_and_leakage`), ``subsampled`` MIG and SAP on 30-subject subsamples
    (with at least 30 subjects) and ``decoder`` what the reconstruction keeps of the anatomy
    (:func:`~AttriVAELib.evaluation.decoder_fidelity.decoder_fidelity`).
    ``progress`` receives a ``fidelity`` event per traversal measured and an ``evaluate`` event per subject
    whose attention maps were scored.

    Raises:
        InvalidConfigError: see :func:`select_subjects`.
        InvalidDatasetError: fewer than 5 subjects (the KSG estimator needs more than k + 1 = 4).
    """
    indices = select_subjects(bundle, data, subjects)
    if len(indices) < MINIMUM_SUBJECTS:
        raise InvalidDatasetError(f"evaluation needs at least {MINIMUM_SUBJECTS} subjects (KSG mutual information "
                                  f"uses {metrics.KSG_NEIGHBOURS} neighbours); this split has {len(indices)}")
    device = torch.device(device)
    volumes = data.volumes[indices]
    mu, probabilities, recon = _forward_all(bundle.model, volumes, device, keep_reconstructions=True)
    attributes = data.attributes[indices].numpy().astype(np.float64)
    labels = data.labels[indices].numpy().astype(int)
    real = volumes[:, 0].numpy()
    names = bundle.attribute_names
    order_and_class = _order_and_class_metrics(mu, attributes, labels, probabilities, names)
    interpretability = metrics.interpretability(mu, attributes)
    results: dict[str, Any] = {
        "subjects": len(indices),
        "interpretability": {name: entry for name, entry in zip(names, interpretability)},
        "interpretability_mean": float(np.mean([entry["r2"] for entry in interpretability])),
        "spearman": order_and_class["spearman"],
        "precision": dict(zip(names, metrics.precision_and_leakage(mu, attributes))),
        **metrics.disentanglement(mu, attributes),
        "ceiling": metrics.disentanglement_ceiling(attributes, mu.shape[1]),
        "ceiling_at_precision": metrics.disentanglement_ceiling(
            attributes, mu.shape[1], np.array([entry["r2"] for entry in interpretability])),
        "reconstruction": {
            "mse": float(np.mean((recon - real) ** 2)),
            "dice": float(np.mean([metrics.dice(volume > FOREGROUND_THRESHOLD, mask)
                                   for volume, mask in zip(recon, data.lv_masks[indices])])),
            "mmd": metrics.mmd(real, recon),
        },
        "decoder": decoder_fidelity(recon, real, data.lv_masks[indices], data.cavity_masks[indices],
                                    None if data.infarct_masks is None else data.infarct_masks[indices]),
        "classification": order_and_class["classification"],
    }
    if len(indices) >= metrics.SUBSAMPLE_SUBJECTS:
        results["subsampled"] = metrics.subsampled_scores(mu, attributes)
    if fidelity:
        geometries = [data.geometries[i] for i in indices]
        results["traversal_fidelity"] = traversal_fidelity(bundle, mu, geometries, real, attributes,
                                                           progress=progress)
    unscored = [name for name in names if name not in STRUCTURE_OF_ATTRIBUTE]
    if attribution_methods and unscored:
        warnings.warn(f"attention localisation skipped for {', '.join(unscored)}: no structure of the label map "
                      f"defines {'it' if len(unscored) == 1 else 'them'}", stacklevel=2)
    if attribution_methods and len(unscored) < len(names):
        results["localisation"] = localisation(bundle, data, indices, attribution_methods, attention_layer, progress)
    return Evaluation([data.subject_ids[i] for i in indices], names, mu, attributes, labels,
                      probabilities, results, [data.geometries[i] for i in indices])

