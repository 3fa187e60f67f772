"""Every named choice the library, its CLI and the Slicer panel offer, in one torch-free place: the lists,
and the attention methods' registry with what each can do (from which the CLI's help, the panel's combo and
tooltip, the report and the docs' table are made).

Standard library only and importable on the Python of any Slicer (the Slicer module reads it at load time to
build its parameter node, before PyTorch is installed). Each list is in display order, the default first
unless a ``DEFAULT_*`` says otherwise.
"""

from __future__ import annotations

__all__ = [
    "ATTRIBUTION",
    "ATTRIBUTION_METHODS",
    "AttributionMethod",
    "DATA_FORMATS",
    "DEFAULT_LAYER",
    "DEFAULT_METHOD",
    "DEVICES",
    "ENCODED_SUBJECTS",
    "ENCODER_LAYERS",
    "EVALUATED_SUBJECTS",
    "LABEL_SCHEMES",
    "PRESET_NAMES",
    "describe_methods",
]

from dataclasses import dataclass

PRESET_NAMES = ("paper", "official-code", "attri-vae-compact", "attri-vae-wide", "attri-vae", "ar-vae", "beta-vae",
                "vae")
"""Named training settings (:data:`AttriVAELib.config.PRESETS` defines each)."""


@dataclass(frozen=True)
class AttributionMethod:
    """An attention (attribution) method of :func:`AttriVAELib.interpretation.attention.attention` and what a
    viewer needs to know of it."""

    name: str
    signed: bool  # its maps take both signs: shown with a diverging colour table centred on 0
    layered: bool  # it explains one encoder layer (ENCODER_LAYERS), so a layer is chosen with it
    summary: str  # one line for the CLI help, the panel's tooltip and the docs' table (no semicolon: they join)


ATTRIBUTION = {method.name: method for method in (
    AttributionMethod("gradient-x-input", signed=True, layered=False,
                      summary="x ⊙ ∂μ_k/∂x: voxel-sharp, one backward pass, red where a voxel raises the "
                              "attribute and blue where it lowers it"),
    AttributionMethod("integrated-gradients", signed=True, layered=False,
                      summary="x ⊙ the mean gradient on the path from a zero baseline: sums to μ_k(x) − μ_k(0), "
                              "one backward pass per integration step"),
    AttributionMethod("gradcam", signed=False, layered=True,
                      summary="the paper's Grad-CAM: non-negative, at the resolution of the chosen encoder layer"),
)}
"""Every attention method, in display order, by name."""
ATTRIBUTION_METHODS = tuple(ATTRIBUTION)
DEFAULT_METHOD = "gradient-x-input"


def describe_methods() -> str:
    """Every method's name and summary, the default marked: the help of a method choice."""
    return "; ".join(f"{name}{' (default)' if name == DEFAULT_METHOD else ''}: {method.summary}"
                     for name, method in ATTRIBUTION.items())


ENCODER_LAYERS = ("conv1", "conv2", "conv3", "conv4", "conv5")
"""Encoder layers Grad-CAM can explain, finest first."""
DEFAULT_LAYER = "conv5"
"""The paper's Grad-CAM layer (the last, coarsest)."""

DATA_FORMATS = ("auto", "csv", "emidec", "acdc")
"""Dataset layouts of :func:`AttriVAELib.data.datasets.load_cohort` (``auto``: detect)."""
LABEL_SCHEMES = ("emidec", "acdc")
"""Label-value conventions of segmentation masks."""
DEVICES = ("auto", "cpu", "cuda")
"""Where to train or evaluate (``auto``: CUDA when available)."""
EVALUATED_SUBJECTS = ("auto", "test", "all")
"""Subjects :func:`AttriVAELib.evaluation.evaluate.evaluate_model` scores: the model's test split when the data
hold it, else all (auto); the test split; all."""
ENCODED_SUBJECTS = ("all", "train", "val", "test")
"""Subjects :func:`AttriVAELib.interpretation.codes.encode_cohort` writes: all, or one part of the model's split."""
