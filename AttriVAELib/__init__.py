"""AttriVAE: attribute-based interpretable representations of 3D cardiac MRI (Cetin et al. 2023).

Public API::

    from AttriVAELib import load_model, make_cohort, load_cohort, train, AttriVAE
"""

from __future__ import annotations

__version__ = "0.1.0"

from .bundle import ModelBundle, load_model, save_model
from .config import LossConfig, ModelConfig, PreprocessConfig, RunConfig, TrainConfig, preset
from .datasets import Cohort, Subject, load_cohort, select_attributes
from .errors import (
    AttriVAEError,
    InvalidConfigError,
    InvalidDatasetError,
    InvalidModelError,
    InvalidVolumeError,
    TrainingDivergedError,
)
from .model import AttriVAE, VAEOutput
from .preprocessing import CubeGeometry, PreprocessedVolume, preprocess
from .synthetic import make_cohort
from .training import train

__all__ = [
    "AttriVAE",
    "AttriVAEError",
    "Cohort",
    "CubeGeometry",
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
    "load_cohort",
    "load_model",
    "make_cohort",
    "preprocess",
    "preset",
    "save_model",
    "select_attributes",
    "train",
]
