"""AttriVAE: attribute-based interpretable representations of 3D cardiac MRI (Cetin et al. 2023).

Public API: data (``make_cohort``, ``load_cohort``, ``select_attributes``, ``preprocess``), training
(``preset``, ``train``, ``cross_validate``), models (``AttriVAE``, ``load_model``, ``save_model``) and
interpretation (``encode``, ``traverse``, ``interpolate``, ``attention``, ``evaluate``, ``metrics``) and its
checks against ground truth (``localisation``, ``traversal_fidelity``).
"""

from __future__ import annotations

__version__ = "0.1.0"

from . import metrics
from .attention import ATTRIBUTION_METHODS, DEFAULT_METHOD, attention, maps_in_source
from .bundle import ModelBundle, load_model, save_model
from .config import LossConfig, ModelConfig, PreprocessConfig, RunConfig, TrainConfig, preset
from .crossval import cross_validate
from .datasets import Cohort, Subject, load_cohort, select_attributes
from .errors import (
    AttriVAEError,
    InvalidConfigError,
    InvalidDatasetError,
    InvalidModelError,
    InvalidVolumeError,
    TrainingDivergedError,
)
from .evaluation import Evaluation, evaluate
from .fidelity import traversal_fidelity
from .interpretation import (
    attribute_to_latent,
    decode,
    encode,
    interpolate,
    latent_to_attribute,
    predict,
    preprocess_for,
    reconstruct,
    traverse,
)
from .localisation import attention_iou, localisation
from .model import AttriVAE, VAEOutput
from .preprocessing import CubeGeometry, PreprocessedVolume, preprocess
from .synthetic import make_cohort
from .training import train

__all__ = [
    "ATTRIBUTION_METHODS",
    "AttriVAE",
    "AttriVAEError",
    "Cohort",
    "CubeGeometry",
    "DEFAULT_METHOD",
    "Evaluation",
    "InvalidConfigError",
    "InvalidDatasetError",
    "InvalidModelError",
    "InvalidVolumeError",
    "LossConfig",
    "ModelBundle",
    "ModelConfig",
    "PreprocessConfig",
    "PreprocessedVolume",
    "RunConfig",
    "Subject",
    "TrainConfig",
    "TrainingDivergedError",
    "VAEOutput",
    "__version__",
    "attention",
    "attention_iou",
    "attribute_to_latent",
    "cross_validate",
    "decode",
    "encode",
    "evaluate",
    "interpolate",
    "latent_to_attribute",
    "load_cohort",
    "localisation",
    "load_model",
    "make_cohort",
    "maps_in_source",
    "metrics",
    "predict",
    "preprocess",
    "preprocess_for",
    "preset",
    "reconstruct",
    "save_model",
    "select_attributes",
    "train",
    "traversal_fidelity",
    "traverse",
]
