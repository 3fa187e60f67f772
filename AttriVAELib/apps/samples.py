"""Sample inputs at any size for ``attrivae bench``, the benchmarks and the tests: run settings, synthetic
cohorts prepared as tensors, and untrained model bundles whose cards come from the real card builder.

Everything here is made by the same code users run (:func:`~AttriVAELib.data.synthetic.make_cohort`,
:func:`~AttriVAELib.data.prepared.prepare_data`, :func:`~AttriVAELib.modelfile.card.build_card`), so what passes
on it holds for real runs; nothing is faked.
"""

from __future__ import annotations

__all__ = ["run_config", "synthetic_data", "untrained_bundle"]

import dataclasses
from pathlib import Path

import torch

from ..config import RunConfig, TrainConfig, preset
from ..data.attributes import DEFAULT_ATTRIBUTES
from ..data.datasets import Cohort, load_cohort
from ..data.prepared import PreparedData, prepare_data, with_attributes
from ..data.splits import stratified_split
from ..data.synthetic import make_cohort
from ..evaluation.evaluate import encode_all
from ..method.model import AttriVAE
from ..modelfile.bundle import ModelBundle
from ..modelfile.calibration import calibrate_model
from ..modelfile.card import build_card

IMAGE_SIZE = 32
"""In-plane pixels of the synthetic images (the cube is resampled to the run's input size in any case)."""


def run_config(size: int = 16, batch_size: int = 4, epochs: int = 1, preset_name: str = "paper",
               compile_mode: str = "off", precision: str = "fp32", **train: object) -> RunConfig:
    """Preset ``preset_name`` at a ``size``³ input on the CPU, with the default attributes and eager float32
    unless asked; ``train`` overrides further :class:`~AttriVAELib.config.TrainConfig` fields."""
    base = preset(preset_name)
    settings = {"epochs": epochs, "batch_size": batch_size, "device": "cpu", "compile": compile_mode,
                "precision": precision, **train}
    return dataclasses.replace(base, attributes=DEFAULT_ATTRIBUTES,
                               model=dataclasses.replace(base.model, input_size=size),
                               train=TrainConfig(**{**dataclasses.asdict(base.train), **settings}))


def synthetic_data(config: RunConfig, folder: Path | str, subjects: int | None = None,
                   seed: int = 0) -> tuple[Cohort, PreparedData]:
    """A synthetic cohort of ``subjects`` (default: one batch) written into ``folder`` (which must not exist
    yet), loaded with ``config``'s attributes and prepared for its input size."""
    subjects = subjects or config.train.batch_size
    make_cohort(folder, subjects=subjects, size=IMAGE_SIZE, seed=seed)
    cohort, config = with_attributes(load_cohort(folder, "csv"), config)
    return cohort, prepare_data(cohort, config)


def untrained_bundle(config: RunConfig, folder: Path | str, subjects: int = 8, seed: int = 0) -> ModelBundle:
    """A model with random weights (seeded) and the card training would give it on a synthetic cohort of
    ``subjects`` written into ``folder``: attribute statistics and training lines fitted on its training split
    (the lines are meaningful for the random encoder, so attribute-unit traversal works) and its calibration on
the validation split."""
    cohort, data = synthetic_data(config, folder, subjects, seed)
    config = dataclasses.replace(config, attributes=data.attribute_names)
    split = stratified_split(data.labels.numpy().astype(int), config.train.val_fraction, config.train.test_fraction,
                             config.train.seed)
    torch.manual_seed(seed)
    model = AttriVAE(config.model).to(memory_format=torch.channels_last_3d).eval()
    mu, _ = encode_all(model, data.volumes[split.train], torch.device("cpu"))
    card = build_card(config, cohort, data, split).with_lines(data.attributes[split.train].numpy(), mu)
    card = calibrate_model(card, model, data.volumes[split.val], data.attributes[split.val].numpy(),
                           [data.geometries[i] for i in split.val])
    return ModelBundle(model, card)
