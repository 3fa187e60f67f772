"""AttriVAE: attribute-based interpretable representations of 3D cardiac MRI (Cetin et al. 2023).

Public API: data (``make_cohort``, ``load_cohort``, ``select_attributes``, ``with_attributes``, ``preprocess``),
training (``preset``, ``train``, ``cross_validate``), models (``AttriVAE``, ``load_model``, ``save_model``) and
interpretation (``encode``, ``traverse``, ``interpolate``, ``attention``, ``evaluate_model``, ``metrics``) and its
checks against ground truth (``localisation``, ``traversal_fidelity``).

Names are imported on first use (PEP 562), so that ``import AttriVAELib.slicer.mrml`` or ``AttriVAELib.choices``
does not load PyTorch: the Slicer module imports those before PyTorch may be installed.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_SOURCE_OF = {
    "ATTRIBUTION_METHODS": "choices", "DEFAULT_METHOD": "choices",
    "attention": "interpretation.attention", "maps_in_source": "interpretation.attention",
    "ModelBundle": "modelfile.bundle", "load_model": "modelfile.bundle", "save_model": "modelfile.bundle",
    "LossConfig": "config", "ModelConfig": "config", "PreprocessConfig": "config", "RunConfig": "config",
    "TrainConfig": "config", "preset": "config",
    "cross_validate": "training.crossval",
    "with_attributes": "data.prepared",
    "Cohort": "data.datasets", "Subject": "data.datasets", "load_cohort": "data.datasets",
    "select_attributes": "data.datasets",
    "AttriVAEError": "errors", "InvalidConfigError": "errors", "InvalidDatasetError": "errors",
    "InvalidModelError": "errors", "InvalidVolumeError": "errors", "TrainingDivergedError": "errors",
    "Evaluation": "evaluation.evaluate", "evaluate_model": "evaluation.evaluate",
    "traversal_fidelity": "evaluation.fidelity",
    "attribute_to_latent": "interpretation.inference", "decode": "interpretation.inference",
    "encode": "interpretation.inference", "interpolate": "interpretation.inference",
    "latent_to_attribute": "interpretation.inference", "predict": "interpretation.inference",
    "preprocess_for": "interpretation.inference", "reconstruct": "interpretation.inference",
    "attention_iou": "evaluation.localisation", "localisation": "evaluation.localisation",
    "AttriVAE": "method.model", "VAEOutput": "method.model",
    "CubeGeometry": "data.preprocessing", "PreprocessedVolume": "data.preprocessing",
    "preprocess": "data.preprocessing",
    "make_cohort": "data.synthetic",
    "DecodedResponse": "interpretation.traversal", "Sweep": "interpretation.traversal",
    "decoded_response": "interpretation.traversal", "sweep": "interpretation.traversal",
    "traverse": "interpretation.traversal",
    "train": "training.loop",
}
__all__ = sorted([*_SOURCE_OF, "__version__", "metrics"])


def __getattr__(name: str) -> Any:
    if name == "metrics":
        return importlib.import_module(".metrics", __name__)
    if name not in _SOURCE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_SOURCE_OF[name]}", __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return __all__

