"""Safe model files: weights plus a JSON model card in one ``.safetensors`` file. Nothing is unpickled.

The card (``metadata["attrivae"]``) holds the architecture, attribute names → latent dims with their
training statistics, preprocessing parameters, label names, a data summary and the library version.
"""

from __future__ import annotations

__all__ = ["FORMAT_VERSION", "ModelBundle", "load_model", "read_safetensors", "save_model", "write_safetensors"]

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from .config import ModelConfig, RunConfig
from .constants import attribute_unit
from .errors import AttriVAEError, InvalidModelError
from .io import atomic_path, to_json
from .model import AttriVAE

FORMAT = "attrivae-model"
FORMAT_VERSION = 1
_METADATA_KEY = "attrivae"


@dataclass
class ModelBundle:
    """A loaded model (in eval mode) and its card."""

    model: AttriVAE
    card: dict[str, Any]

    @property
    def attribute_names(self) -> list[str]:
        """Regularised attributes; entry k is encoded by latent dim k."""
        return [entry["name"] for entry in self.card["attributes"]]

    def attribute_ranges(self) -> dict[str, tuple[float, float, str]]:
        """Regularised attribute → (training minimum, training maximum, display unit), in attribute units."""
        return {entry["name"]: (entry["min"], entry["max"], attribute_unit(entry["name"]))
                for entry in self.card["attributes"] if "latent_slope" in entry}

    def describe(self) -> str:
        """The model card in a few lines for people: input, latent dims, preset, training, data."""
        card = self.card
        return "\n".join([
            f"Input: {card['model']['input_size']}³ voxels, latent size {card['model']['latent_size']}",
            "Attributes → latent dims: " + ", ".join(f"{a['name']}→{a['dim']}" for a in card["attributes"]),
            f"Preset: {card['preset']}; trained {card['training']['epochs']} epochs "
            f"(best {card['training']['best_epoch']})",
            f"Data: {card['data']['name']} ({card['data']['format']}), {card['data']['subjects']} subjects"])

    def run_config(self) -> RunConfig:
        """The model, loss and preprocessing settings the model was trained with."""
        card_only = ("input_size", "label_scheme")  # recorded in the card, not preprocessing settings
        preprocess = {k: v for k, v in self.card.get("preprocess", {}).items() if k not in card_only}
        return RunConfig.from_dict({"preset": self.card.get("preset", "paper"), "attributes": self.attribute_names,
                                    "model": self.card["model"], "loss": self.card.get("loss", {}),
                                    "preprocess": preprocess})


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


def save_model(path: Path | str, model: AttriVAE, card: dict[str, Any]) -> None:
    """Write ``model``'s weights (parameters and BatchNorm statistics) and ``card`` atomically."""
    full_card = {"format": FORMAT, "format_version": FORMAT_VERSION, **card,
                 "model": asdict(model.config)}
    write_safetensors(path, model.state_dict(), full_card)


_ATTRIBUTE_NUMBERS = ("mean", "std", "min", "max", "latent_slope", "latent_intercept")


def _check_attribute_entries(entries: Any, latent_size: int, path: Path | str) -> None:
    """Raise :class:`InvalidModelError` unless the card's attributes are what readers rely on: a list of
    objects with a ``name``, a latent ``dim`` and finite statistics."""
    if not isinstance(entries, list):
        raise InvalidModelError(f"model card of {path}: 'attributes' is not a list; the file is damaged")
    for index, entry in enumerate(entries):
        if not (isinstance(entry, dict) and isinstance(entry.get("name"), str) and type(entry.get("dim")) is int
                and 0 <= entry["dim"] < latent_size):
            raise InvalidModelError(f"model card of {path}: attribute {index} lacks a name or a latent dim below "
                                    f"{latent_size}; the file is damaged")
        bad = [key for key in _ATTRIBUTE_NUMBERS if key in entry and not (
            isinstance(entry[key], (int, float)) and math.isfinite(entry[key]))]
        if bad:
            raise InvalidModelError(f"model card of {path}: {bad[0]} of attribute {entry['name']!r} is "
                                    f"{entry[bad[0]]!r}, not a finite number; the file is damaged")


def load_model(path: Path | str, device: str | torch.device = "cpu") -> ModelBundle:
    """Load a model bundle written by :func:`save_model`; the model is returned in eval mode.

    Raises:
        InvalidModelError: the file is missing, corrupt, of another format or version, or its weights do
            not match the architecture its card describes.
    """
    tensors, card = read_safetensors(path)
    if not isinstance(card, dict) or card.get("format") != FORMAT:
        found = card.get("format") if isinstance(card, dict) else type(card).__name__
        raise InvalidModelError(f"{path} is not an AttriVAE model bundle (its card says {found!r})")
    version = card.get("format_version")
    if not isinstance(version, int):
        raise InvalidModelError(f"{path} has a model card without an integer format_version; the file is corrupt")
    if version > FORMAT_VERSION:
        raise InvalidModelError(f"{path} was written by a newer AttriVAE (bundle version "
                                f"{card['format_version']}); upgrade with pip install -U attrivae")
    for key in ("model", "attributes"):
        if key not in card:
            raise InvalidModelError(f"model card of {path} lacks {key!r}; the file is incomplete")
    try:
        model = AttriVAE(ModelConfig(**card["model"]))
    except (AttriVAEError, TypeError) as err:  # TypeError: not a dict, or unknown keys
        detail = str(err).strip().splitlines()[0]
        raise InvalidModelError(f"model card of {path} does not describe an AttriVAE architecture ({detail}); "
                                f"the file is damaged") from err
    _check_attribute_entries(card["attributes"], model.config.latent_size, path)
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
    return ModelBundle(model.to(device, memory_format=torch.channels_last_3d).eval(), card)  # see README, "Speed"
