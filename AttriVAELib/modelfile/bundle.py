"""Safe model files: weights plus a JSON model card in one ``.safetensors`` file. Nothing is unpickled.

The card (:class:`~AttriVAELib.modelfile.card.ModelCard`, stored as ``metadata["attrivae"]``) holds the settings and
architecture, attribute names → latent dims with their training statistics, the label scheme, a data summary,
the training and test summaries and what made the model.
"""

from __future__ import annotations

__all__ = ["FORMAT_VERSION", "ModelBundle", "load_model", "read_safetensors", "save_model", "write_safetensors"]

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from ..errors import InvalidModelError
from ..files import atomic_path, to_json
from ..method.model import AttriVAE
from .card import FORMAT_VERSION, ModelCard

_METADATA_KEY = "attrivae"


@dataclass
class ModelBundle:
    """A loaded model (in eval mode) and its card."""

    model: AttriVAE
    card: ModelCard

    @property
    def attribute_names(self) -> tuple[str, ...]:
        """Regularised attributes; entry k is encoded by latent dim k."""
        return self.card.attribute_names

    def attribute_ranges(self) -> dict[str, tuple[float, float, str]]:
        """Regularised attribute → (training minimum, training maximum, display unit), in attribute units."""
        return {entry.name: (entry.minimum, entry.maximum, entry.unit) for entry in self.card.attributes
                if entry.has_line}

    def describe(self) -> str:
        """The model card in a few lines for people: input, latent dims, preset, training, data."""
        card, model = self.card, self.card.config.model
        trained = (f"trained {card.training.epochs} epochs (best {card.training.best_epoch})" if card.training
                   else "not trained yet")
        return "\n".join([
            f"Input: {model.input_size}³ voxels, latent size {model.latent_size}",
            "Attributes → latent dims: " + ", ".join(f"{a.name}→{a.dim}" for a in card.attributes),
            f"Preset: {card.config.preset}; {trained}",
            f"Data: {card.data.name} ({card.data.format}), {card.data.subjects} subjects"])


def write_safetensors(path: Path | str, tensors: dict[str, torch.Tensor], metadata: dict[str, Any]) -> None:
    """Write tensors and a JSON-serialisable dict atomically."""
    with atomic_path(path) as temporary:
        contiguous = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
        save_file(contiguous, str(temporary), metadata={_METADATA_KEY: to_json(metadata)})


def read_safetensors(path: Path | str, what: str = "model file") -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read tensors and the JSON dict written by :func:`write_safetensors`.

    Raises:
        InvalidModelError: missing file, not a safetensors file, or no AttriVAE metadata.
    """
    path = Path(path)
    if path.is_dir():
        raise InvalidModelError(f"{what} {path} is a folder; give the .safetensors file inside it")
    if not path.is_file():
        raise InvalidModelError(f"{what} {path} does not exist; check the path")
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError) as err:
        raise InvalidModelError(f"{what} {path} is not a readable .safetensors file ({err}); "
                                f"was it truncated or is it another format?") from err
    if _METADATA_KEY not in metadata:
        raise InvalidModelError(f"{what} {path} has no AttriVAE model card; it was not written by AttriVAE")
    try:
        return tensors, json.loads(metadata[_METADATA_KEY])
    except json.JSONDecodeError as err:
        raise InvalidModelError(f"{what} {path} has a corrupt model card ({err})") from err


def save_model(path: Path | str, model: AttriVAE, card: ModelCard) -> None:
    """Write ``model``'s weights (parameters and BatchNorm statistics) and ``card`` atomically.

    Raises:
        ValueError: the card describes another architecture than the model's.
    """
    if card.config.model != model.config:
        raise ValueError(f"the card's architecture {card.config.model} is not the model's {model.config}")
    write_safetensors(path, model.state_dict(), card.to_dict())


def load_model(path: Path | str, device: str | torch.device = "cpu") -> ModelBundle:
    """Load a model bundle written by :func:`save_model`; the model is returned in eval mode.

    Raises:
        InvalidModelError: the file is missing, corrupt, of another format or version, or its weights do
            not match the architecture its card describes.
    """
    tensors, metadata = read_safetensors(path)
    card = ModelCard.from_dict(metadata, path)
    model = AttriVAE(card.config.model)
    damaged = next((name for name, tensor in tensors.items()
                    if tensor.is_floating_point() and not torch.isfinite(tensor).all()), None)
    if damaged:
        raise InvalidModelError(f"{path} holds NaN or Inf weights ({damaged}); it was saved from a diverged or damaged "
                                f"run, train again")
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as err:
        detail = str(err).strip().splitlines()[0]
        raise InvalidModelError(
            f"weights in {path} do not match the architecture of its model card ({detail})") from err
    return ModelBundle(model.to(device, memory_format=torch.channels_last_3d).eval(), card)  # see docs/benchmarks.md
