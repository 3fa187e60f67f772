"""Every list of named choices the library, its CLI and the Slicer panel offer, in one torch-free place.

Standard library only and importable on the Python of any Slicer (the Slicer module reads it at load time to
build its parameter node, before PyTorch is installed). Each list is in display order, the default first
unless a ``DEFAULT_*`` says otherwise.
"""

from __future__ import annotations

__all__ = [
    "ATTRIBUTION_METHODS",
    "DATA_FORMATS",
    "DEFAULT_LAYER",
    "DEFAULT_METHOD",
    "DEVICES",
    "ENCODED_SUBJECTS",
    "ENCODER_LAYERS",
    "EVALUATED_SUBJECTS",
    "LABEL_SCHEMES",
    "PRESET_NAMES",
    "SIGNED_METHODS",
]

PRESET_NAMES = ("paper", "official-code", "attri-vae-compact", "attri-vae-wide", "attri-vae", "ar-vae", "beta-vae",
                "vae")
"""Named training settings (:data:`AttriVAELib.config.PRESETS` defines each)."""

ATTRIBUTION_METHODS = ("gradient-x-input", "integrated-gradients", "gradcam")
"""Attention (attribution) methods of :func:`AttriVAELib.interpretation.attention.attention`."""
DEFAULT_METHOD = "gradient-x-input"
SIGNED_METHODS = frozenset({"gradient-x-input", "integrated-gradients"})
"""Methods whose maps take both signs; show them with a diverging colour table centred on 0."""

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
