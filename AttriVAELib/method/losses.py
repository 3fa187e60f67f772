"""Loss terms of Attri-VAE (Cetin et al. 2023, Eq. 1): L = recon + β·KL + α·BCE + γ·Σ_k AR_k (+ L1).

All functions are pure: tensors in, scalar tensors out. B = batch, L = latent size, K = attributes.
"""

from __future__ import annotations

__all__ = [
    "attribute_regularization_loss",
    "classifier_loss",
    "kl_divergence",
    "l1_penalty",
    "reconstruction_loss",
    "total_loss",
]

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..config import LossConfig
from .model import VAEOutput


def reconstruction_loss(recon_logits: torch.Tensor, target: torch.Tensor, kind: str = "bce") -> torch.Tensor:
    """Binary cross-entropy (paper text) or squared error (official code) of sigmoid(recon_logits),
    summed over voxels and averaged over the batch.

    The BCE is computed from logits: the same value as BCE on the sigmoid output, without its
    saturation (and without CUDA's device-side assert when a diverged run produces NaN).
    recon_logits: (B, 1, S, S, S); target: (B, 1, S, S, S) in [0, 1]."""
    batch = recon_logits.shape[0]
    if kind == "bce":
        return F.binary_cross_entropy_with_logits(recon_logits, target, reduction="sum") / batch
    if kind == "mse":
        return F.mse_loss(torch.sigmoid(recon_logits), target, reduction="sum") / batch
    raise ValueError(f"reconstruction loss {kind!r} is not 'bce' or 'mse'")


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(μ, σ²) ‖ N(0, I)) = ½ Σ_l (μ² + σ² − 1 − log σ²), summed over L and averaged over B.

    mu, logvar: (B, L), logvar = log σ²."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=1).mean()


def classifier_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of the MLP output, averaged over the batch. logits, labels: (B,).

    Computed from logits (``BCEWithLogits``), which equals BCE on sigmoid probabilities but is stable."""
    return F.binary_cross_entropy_with_logits(logits, labels.float())


def attribute_regularization_loss(z: torch.Tensor, attributes: torch.Tensor, delta: float) -> torch.Tensor:
    """Attribute-regularisation loss (Pati & Lerch 2021; Cetin et al. 2023 Eq. 7–10).

    For each attribute k, with D_z[i, j] = z_i[k] − z_j[k] and D_a[i, j] = a_i[k] − a_j[k] over all
    B² ordered pairs (diagonal included), AR_k = mean |tanh(δ·D_z) − sign(D_a)|. Returns Σ_k AR_k.
    All K attributes are handled in one vectorised operation.

    Args:
        z: (B, L) latent codes; dims 0..K−1 are regularised.
        attributes: (B, K) attribute values in any units (only their order matters).
        delta: tanh sharpness δ.
    """
    num_attributes = attributes.shape[1]
    if num_attributes == 0:
        return z.new_zeros(())
    codes = z[:, :num_attributes].T  # (K, B)
    values = attributes.T.to(z.dtype)  # (K, B)
    latent_diff = codes[:, :, None] - codes[:, None, :]  # (K, B, B)
    attribute_sign = torch.sign(values[:, :, None] - values[:, None, :])  # (K, B, B)
    return (torch.tanh(delta * latent_diff) - attribute_sign).abs().mean(dim=(1, 2)).sum()


def l1_penalty(model: nn.Module) -> torch.Tensor:
    """Σ |w| over every parameter (the official code's undocumented L1 term)."""
    return sum(p.abs().sum() for p in model.parameters())  # type: ignore[return-value]


def total_loss(
    output: VAEOutput,
    target: torch.Tensor,
    labels: torch.Tensor,
    attributes: torch.Tensor,
    config: LossConfig,
    beta: float | None = None,
    model: nn.Module | None = None,
    gather: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> dict[str, torch.Tensor]:
    """All terms and their weighted sum.

    Args:
        output: the model's forward output for ``target``.
        target: (B, 1, S, S, S) input volumes in [0, 1].
        labels: (B,) class labels 0/1.
        attributes: (B, K) attribute values; latent dim k is tied to column k.
        config: loss weights.
        beta: KL weight to use instead of ``config.beta`` (for annealing).
        model: needed only when ``config.l1_weight`` > 0.
        gather: in data-parallel training, concatenates a (B, ...) tensor over all processes so that the
            pairwise attribute loss sees the whole global batch (:func:`AttriVAELib.method.distributed.gather`).

    Returns:
        ``recon``, ``kl``, ``classifier``, ``ar``, ``l1`` (unweighted) and ``total`` (weighted sum), all scalars.
    """
    terms = {
        "recon": reconstruction_loss(output.recon_logits, target, config.reconstruction),
        "kl": kl_divergence(output.mu, output.logvar),
        "classifier": classifier_loss(output.logits, labels),
        "ar": attribute_regularization_loss(*_global(output.z[:, :attributes.shape[1]], attributes, gather),
                                            config.delta),
    }
    terms["l1"] = l1_penalty(model) if config.l1_weight > 0 and model is not None else target.new_zeros(())
    kl_weight = config.beta if beta is None else beta
    terms["total"] = (
        terms["recon"] + kl_weight * terms["kl"] + config.alpha * terms["classifier"]
        + config.gamma * terms["ar"] + config.l1_weight * terms["l1"]
    )
    return terms


def _global(z: torch.Tensor, attributes: torch.Tensor,
            gather: Callable[[torch.Tensor], torch.Tensor] | None) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, K) regularised codes and (B, K) attributes, of the global batch when ``gather`` is given."""
    return (z, attributes) if gather is None else (gather(z), gather(attributes))
