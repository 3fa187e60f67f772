"""The Attri-VAE network: a 3D convolutional β-VAE with an MLP classifier on the latent code.

Layer table: Cetin et al. 2023 §3.3 and the official code (docs/presets-and-training.md, "Model"). Shapes use
B = batch, S = input cube edge (voxels), L = latent size; volumes are (B, 1, S, S, S) with axes
(D, H, W) = (k, j, i) of the cube grid.
"""

from __future__ import annotations

__all__ = ["BUILDERS", "AttriVAE", "VAEOutput"]

from typing import NamedTuple

import torch
from torch import nn

from ..config import ModelConfig


class VAEOutput(NamedTuple):
    """Result of :meth:`AttriVAE.forward`."""

    recon: torch.Tensor  # (B, 1, S, S, S) reconstruction in [0, 1] (= sigmoid of recon_logits)
    recon_logits: torch.Tensor  # (B, 1, S, S, S) decoder output before the sigmoid (for a stable BCE)
    mu: torch.Tensor  # (B, L) posterior mean
    logvar: torch.Tensor  # (B, L) posterior log-variance log σ²
    z: torch.Tensor  # (B, L) latent code fed to decoder and classifier (sample, or μ when not sampling)
    logits: torch.Tensor  # (B,) classifier logit of class 1 (MINF)


def _one_volume_for_onednn(x: torch.Tensor, weight: torch.Tensor) -> bool:
    """Whether ``x`` is one float32 CPU volume computed without gradients and outside autocast (the slider's
    decode, a subject's analysis), which PyTorch's convolutions would send to their slow path: for batch 1 they
    use oneDNN only when N·C·D·H > 20,480 (``use_mkldnn`` in ATen's Convolution.cpp, a rule made for 2D) and
    otherwise an im2col fallback that is an order of magnitude slower on small 3D volumes."""
    return (x.shape[0] == 1 and x.device.type == "cpu" and x.dtype == weight.dtype == torch.float32
            and not torch.is_grad_enabled() and not torch.is_autocast_enabled("cpu")
            and torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled)


class _Conv3d(nn.Conv3d):
    """:class:`torch.nn.Conv3d` that calls oneDNN directly for one volume (:func:`_one_volume_for_onednn`).
    Same weights, same result to float32 rounding."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if _one_volume_for_onednn(x, self.weight):
            return torch.ops.mkldnn._convolution_pointwise(x, self.weight, self.bias, self.padding, self.stride,
                                                           self.dilation, self.groups, "none", [], "")
        return super().forward(x)


class _ConvBlock(nn.Sequential):
    """Convolution or transposed convolution (stride and padding its own), BatchNorm, ReLU; same channels in and
    out as ``conv``. For one volume in evaluation mode (:func:`_one_volume_for_onednn`) the block is one oneDNN
    call: BatchNorm folded into the convolution's weights and bias, ReLU fused into it (BatchNorm and ReLU
    at full resolution cost as much as the convolution), the same result to float32 rounding. Its parameters
    are those of ``nn.Sequential(conv, BatchNorm3d, ReLU)``, so every saved model loads."""

    def __init__(self, conv: nn.Conv3d | nn.ConvTranspose3d, channels: int) -> None:
        super().__init__(conv, nn.BatchNorm3d(channels), nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        conv, norm, _ = self
        if norm.training or not _one_volume_for_onednn(x, conv.weight):
            return super().forward(x)
        scale = norm.weight * torch.rsqrt(norm.running_var + norm.eps)  # (C_out,)
        bias = (conv.bias - norm.running_mean) * scale + norm.bias
        if isinstance(conv, nn.ConvTranspose3d):  # weight (C_in, C_out, k, k, k)
            return torch.ops.mkldnn._convolution_transpose_pointwise(
                x, conv.weight * scale.view(1, -1, 1, 1, 1), bias, conv.padding, conv.output_padding, conv.stride,
                conv.dilation, conv.groups, "relu", [], "")
        return torch.ops.mkldnn._convolution_pointwise(  # weight (C_out, C_in, k, k, k)
            x, conv.weight * scale.view(-1, 1, 1, 1, 1), bias, conv.padding, conv.stride, conv.dilation,
            conv.groups, "relu", [], "")


def _in_float32(block: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``block(x)`` in float32 even under autocast. Used for the blocks that see the S/16 bottleneck grid:
    they cost under 2 % of the arithmetic, and on CPUs oneDNN's bf16 weight gradient of a 3D convolution
    on a 2³ input has been found wrong and different from run to run (docs/benchmarks.md, "Other measurements")."""
    with torch.autocast(x.device.type, enabled=False):
        return block(x.float())


class Encoder(nn.Module):
    """(B, 1, S, S, S) → μ, log σ² of shape (B, L)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        channels = (1, *config.encoder_channels)
        strides = (2,) * config.depth + (1,)
        self.layer_names = tuple(f"conv{index}" for index in range(1, len(strides) + 1))
        for index, (name, stride) in enumerate(zip(self.layer_names, strides), start=1):
            conv = _Conv3d(channels[index - 1], channels[index], 3, stride=stride, padding=1)
            self.add_module(name, _ConvBlock(conv, channels[index]))
        self.dropout = nn.Dropout(config.dropout)
        widths = (config.flat_features, *config.hidden_sizes)
        self.fc = nn.Sequential(*[
            layer for w_in, w_out in zip(widths[:-1], widths[1:]) for layer in (nn.Linear(w_in, w_out), nn.ReLU())
        ])
        self.mu = nn.Linear(widths[-1], config.latent_size)
        self.logvar = nn.Linear(widths[-1], config.latent_size)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        *stages, bottleneck = (getattr(self, name) for name in self.layer_names)
        for stage in stages:
            x = stage(x)
        x = _in_float32(bottleneck, x)  # (B, C, s, s, s), s = S / 2^depth
        features = self.fc(self.dropout(x.flatten(1)))  # (B, C·s³) → (B, hidden[-1])
        return self.mu(features), self.logvar(features)


class Decoder(nn.Module):
    """(B, L) → (B, 1, S, S, S) logits; the reconstruction is their sigmoid."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.bottleneck_shape = (config.encoder_channels[-1], *(config.bottleneck_size,) * 3)
        self.fc = nn.Sequential(nn.Linear(config.latent_size, config.flat_features), nn.ReLU())
        c = config.decoder_channels
        self.conv_in = _ConvBlock(_Conv3d(config.encoder_channels[-1], c[0], 3, padding=1), c[0])
        up_channels = (c[0], *c[:-1])  # c0 → c0 → c1 → … → c[depth − 1]
        self.up = nn.Sequential(*[
            _ConvBlock(nn.ConvTranspose3d(c_in, c_out, 3, stride=2, padding=1, output_padding=1), c_out)
            for c_in, c_out in zip(up_channels[:-1], up_channels[1:])
        ])
        self.conv_out = _ConvBlock(_Conv3d(c[-2], c[-1], 3, padding=1), c[-1])
        self.head = _Conv3d(c[-1], 1, 3, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.fc(z).view(z.shape[0], *self.bottleneck_shape)  # (B, C, s, s, s)
        x = _in_float32(self.up[0], _in_float32(self.conv_in, x))  # the bottleneck-resolution blocks
        x = self.conv_out(self.up[1:](x))
        return self.head(x)


class Classifier(nn.Module):
    """MLP on the latent code: (B, L) → (B,) logit of class 1. Sigmoid is applied by the loss."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        widths = (config.latent_size, *config.classifier_sizes)
        layers: list[nn.Module] = []
        for w_in, w_out in zip(widths[:-1], widths[1:]):
            layers += [nn.Linear(w_in, w_out), nn.BatchNorm1d(w_out), nn.ReLU()]
        self.layers = nn.Sequential(*layers, nn.Linear(widths[-1], 1))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.layers(z).squeeze(1)


BUILDERS: dict[str, tuple[type[nn.Module], type[nn.Module]]] = {"attrivae-conv3d": (Encoder, Decoder)}
"""Encoder and decoder of each architecture of :data:`~AttriVAELib.config.ARCHITECTURES`; a builder reads
``config.architecture_version`` where versions differ in layers."""


class AttriVAE(nn.Module):
    """3D β-VAE + MLP classifier of Cetin et al. 2023 (about 341 k parameters at the paper defaults).

    The posterior is N(μ, σ²) with σ = exp(½·logvar) in sampling *and* in the KL term. (The official
    code builds ``Normal(mu, exp(logvar))``, so its "logvar" head really predicts log σ; it is
    self-consistent in training but its Grad-CAM helper re-samples with exp(½·logvar).)

    Example:
        >>> model = AttriVAE(ModelConfig(input_size=32))
        >>> out = model(torch.rand(2, 1, 32, 32, 32))  # out.recon: (2, 1, 32, 32, 32), out.mu: (2, 64)
    """

    def __init__(self, config: ModelConfig | None = None) -> None:
        super().__init__()
        self.config = config or ModelConfig()
        encoder, decoder = BUILDERS[self.config.architecture]
        self.encoder = encoder(self.config)
        self.decoder = decoder(self.config)
        self.classifier = Classifier(self.config)
        self.apply(_xavier_init)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 1, S, S, S) → (μ, log σ²), each (B, L)."""
        return self.encoder(x)

    def reparameterize(self, mu: torch.Tensor, logvar: torch.Tensor, sample: bool) -> torch.Tensor:
        """z = μ + σ·ε with σ = exp(½·logvar) when ``sample``, else μ. Shapes (B, L)."""
        if not sample:
            return mu
        return mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """(B, L) → (B, 1, S, S, S) reconstruction in [0, 1]."""
        return torch.sigmoid(self.decoder(z))

    def classify(self, z: torch.Tensor) -> torch.Tensor:
        """(B, L) → (B,) logit of class 1 (MINF); probability = sigmoid(logit)."""
        return self.classifier(z)

    def forward(self, x: torch.Tensor, sample: bool | None = None) -> VAEOutput:
        """Encode, draw z (sampled in training mode, μ in eval mode unless ``sample`` says otherwise),
        decode and classify. x: (B, 1, S, S, S) in [0, 1]."""
        mu, logvar = self.encode(x)
        z = self.reparameterize(mu, logvar, self.training if sample is None else sample)
        recon_logits = self.decoder(z)
        return VAEOutput(torch.sigmoid(recon_logits), recon_logits, mu, logvar, z, self.classify(z))


def _xavier_init(module: nn.Module) -> None:
    """Xavier-uniform weights as the paper; conv bias 0.01 and linear bias 0 as the official code.

    Unlike the official code, transposed convolutions are initialised the same way as convolutions."""
    if isinstance(module, (nn.Conv3d, nn.ConvTranspose3d)):
        nn.init.xavier_uniform_(module.weight)
        nn.init.constant_(module.bias, 0.01)
    elif isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight)
        nn.init.zeros_(module.bias)
