"""Configuration dataclasses and the named presets of the method.

The paper and the official code disagree on several settings (docs/presets-and-training.md, "Losses and
presets"); both are offered as presets and ``paper`` is the default. The ablation presets of the paper's
Tables 2–3 (``vae``, ``beta-vae``, ``ar-vae``, ``attri-vae``) sit on top of the paper settings.
"""

from __future__ import annotations

__all__ = [
    "ABLATION_PRESETS",
    "COMPILE_AUTO_MIN_SIZE",
    "COMPILE_MODES",
    "LossConfig",
    "ModelConfig",
    "PreprocessConfig",
    "PRECISIONS",
    "PRESETS",
    "RunConfig",
    "TRAINING_OPTIONS",
    "TrainConfig",
    "TrainingOption",
    "flag_of",
    "preset",
]

import dataclasses
import json
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .choices import DEVICES
from .errors import InvalidConfigError
from .typed import ValueProblem, typed

PRECISIONS = ("auto", "fp32", "bf16")
"""Forward-pass precisions of training and decoding: bf16 where the hardware has it, float32, bfloat16."""

COMPILE_MODES = ("auto", "on", "off")
"""torch.compile of the training step: from COMPILE_AUTO_MIN_SIZE³ up (auto), always, never."""

COMPILE_AUTO_MIN_SIZE = 64
"""Smallest input cube edge (voxels) that ``compile="auto"`` compiles (bf16 and float32 steps): compiling costs a
fixed time at the first steps and then saves a share of every step, which repays it from 64³ but not on small
cubes (docs/experiments.md)."""

ARCHITECTURES = {"attrivae-conv3d": 1}
"""Network architectures this release builds (:mod:`~AttriVAELib.method.model`) and the newest version of each: a card
records the name and version its weights were made with, and a change to the layers that old weights no longer
fit bumps the version (old versions stay buildable)."""
FIRST_ARCHITECTURE = ("attrivae-conv3d", 1)
"""What a card written before architectures were recorded holds."""


@dataclass(frozen=True)
class TrainingOption:
    """A setting of a training run that the command line (``attrivae train``, ``crossval``), the Slicer panel's
    training process and the config's error messages name: its flag and the config field it sets."""

    flag: str
    section: Literal["model", "train"]  # the RunConfig section of the field
    field: str
    kind: type  # int, float or str: how the flag's value is read
    help: str
    choices: tuple[str, ...] = ()
    bare: str | None = None  # the value of the flag given without one (None: a value is required)
    renamed_from: tuple[str, ...] = ()  # earlier flags that still work for one release, with a warning


TRAINING_OPTIONS = (
    TrainingOption("--epochs", "train", "epochs", int, "passes over the training split (the paper's: 10000)"),
    TrainingOption("--cube-size", "model", "input_size", int,
                   "network input cube edge in voxels, a multiple of 16 (paper: 80)", renamed_from=("--size",)),
    TrainingOption("--batch-size", "train", "batch_size", int, "subjects per optimisation step"),
    TrainingOption("--learning-rate", "train", "learning_rate", float, "Adam step size"),
    TrainingOption("--lr-schedule", "train", "lr_schedule", str, "default constant (paper)",
                   choices=("constant", "cosine")),
    TrainingOption("--augment", "train", "augment_probability", float,
                   "probability of each random in-plane flip and 90° rotation (paper 0, code 0.1)"),
    TrainingOption("--seed", "train", "seed", int, "seeds the split, the data order and the weights"),
    TrainingOption("--device", "train", "device", str, "auto: CUDA when available", choices=DEVICES),
    TrainingOption("--precision", "train", "precision", str,
                   "forward-pass autocast; default auto: bf16 where the CPU/GPU has it, else fp32", choices=PRECISIONS),
    TrainingOption("--compile", "train", "compile", str,
                   "torch.compile the model (bare --compile: on); default auto: from 64³ input cubes up",
                   choices=COMPILE_MODES, bare="on"),
)
"""Every training setting with a flag, in the order the CLI lists them."""


_FLAGS = {option.field: option.flag for option in TRAINING_OPTIONS}


def flag_of(name: str) -> str:
    """The command-line flag of config field ``name`` of :data:`TRAINING_OPTIONS` (``input_size`` →
    ``--cube-size``)."""
    return _FLAGS[name]


def _check_value_types(section: Any) -> None:
    """Raise :class:`InvalidConfigError` unless every field of a config dataclass holds its type (a JSON config
    can hold 1.5 epochs, "80" or NaN, and a command-line float can be nan or inf): whole numbers where ints
    belong, finite numbers where floats do, true/false and text where those do, lists of the right length where
    tuples do (choices are text here; each section checks its own). Numbers become Python ints and floats,
    lists become tuples."""
    hints = typing.get_type_hints(type(section))
    for item in dataclasses.fields(section):
        hint = str if typing.get_origin(hints[item.name]) is Literal else hints[item.name]
        try:
            setattr(section, item.name, typed(getattr(section, item.name), hint, item.name))
        except ValueProblem as problem:
            option = f" ({_FLAGS[item.name]})" if item.name in _FLAGS else ""
            where = type(section).__name__.removesuffix("Config").lower()  # the section of a config file
            raise InvalidConfigError(f"{where}.{item.name}{option} = {problem.value!r} must be "
                                     f"{problem.expected}") from None


@dataclass
class ModelConfig:
    """Architecture of the 3D convolutional β-VAE and its MLP classifier (paper defaults)."""

    architecture: str = "attrivae-conv3d"  # a name of ARCHITECTURES (model.py builds it)
    architecture_version: int = 1  # of the architecture: which layer layout the weights fit
    input_size: int = 80  # edge of the input cube in voxels; multiple of 2^depth (paper: 80)
    encoder_channels: tuple[int, ...] = (8, 16, 32, 64, 2)  # depth stride-2 convs, then 1 stride-1 conv
    decoder_channels: tuple[int, ...] = (64, 32, 16, 8, 4)  # conv, depth up-convs (c0,c0,c1,…), conv; as many
    hidden_sizes: tuple[int, ...] = (128, 96)  # fully connected layers between conv stack and latent
    latent_size: int = 64  # number of latent dimensions (paper: 64)
    classifier_sizes: tuple[int, ...] = (32, 16)  # hidden widths of the MLP classifier
    dropout: float = 0.25  # dropout on the flattened encoder features (official code)

    def __post_init__(self) -> None:
        _check_value_types(self)
        newest = ARCHITECTURES.get(self.architecture)
        if newest is None:
            raise InvalidConfigError(f"architecture {self.architecture!r} is not one of {', '.join(ARCHITECTURES)} "
                                     f"(made by another AttriVAE release?)")
        if not 1 <= self.architecture_version <= newest:
            raise InvalidConfigError(f"{self.architecture} version {self.architecture_version} is newer than this "
                                     f"release builds ({newest}); upgrade with pip install -U attrivae")
        if len(self.encoder_channels) < 2 or len(self.decoder_channels) != len(self.encoder_channels):
            raise InvalidConfigError("encoder_channels needs at least 2 entries and decoder_channels as many: "
                                     "one per stride-2 stage plus the bottleneck")
        if self.input_size <= 0 or self.input_size % self.downsampling_factor:
            raise InvalidConfigError(
                f"input size {self.input_size} is not a positive multiple of {self.downsampling_factor}; "
                f"use e.g. {', '.join(str(self.downsampling_factor * k) for k in (2, 3, 4, 5))}"
            )
        widths = self.encoder_channels + self.decoder_channels + self.hidden_sizes + self.classifier_sizes
        if any(c <= 0 for c in widths) or self.latent_size <= 0:
            raise InvalidConfigError("channel and layer widths and the latent size must be positive")
        if not 0.0 <= self.dropout < 1.0:
            raise InvalidConfigError(f"dropout {self.dropout} must be in [0, 1)")

    @property
    def depth(self) -> int:
        """Number of stride-2 stages of the encoder (and up-convolutions of the decoder): 4 at the paper's."""
        return len(self.encoder_channels) - 1

    @property
    def downsampling_factor(self) -> int:
        """How many times smaller the bottleneck's edge is than the input's: 2^depth (16 at the paper's)."""
        return 2**self.depth

    @property
    def bottleneck_size(self) -> int:
        """Edge of the encoder's last feature cube in voxels (input_size / 2^depth)."""
        return self.input_size // self.downsampling_factor

    @property
    def flat_features(self) -> int:
        """Number of features after flattening the last encoder conv (paper: 2 × 5³ = 250)."""
        return self.encoder_channels[-1] * self.bottleneck_size**3


@dataclass
class LossConfig:
    """Weights of L = recon + β·KL + α·BCE_classifier + γ·Σ_k AR_k (+ λ_L1·Σ|w|), paper Eq. 1."""

    reconstruction: Literal["bce", "mse"] = "bce"  # summed over voxels, averaged over the batch
    beta: float = 2.0  # KL weight β
    kl_warmup_epochs: int = 0  # β ramps linearly from 0 over this many epochs (0 = off, as the paper)
    alpha: float = 1.0  # classifier BCE weight α (not stated in the paper; 1 in the code)
    gamma: float = 200.0  # attribute-regularisation weight γ (paper 200, code 10)
    delta: float = 10.0  # tanh sharpness δ of the AR loss (paper 10, code 100)
    l1_weight: float = 0.0  # λ of an L1 penalty on all weights (code 5e-5, paper none)

    def __post_init__(self) -> None:
        _check_value_types(self)
        if self.reconstruction not in ("bce", "mse"):
            raise InvalidConfigError(f"reconstruction loss {self.reconstruction!r} is not 'bce' or 'mse'")
        for name in ("beta", "alpha", "gamma", "delta", "l1_weight", "kl_warmup_epochs"):
            if getattr(self, name) < 0:
                raise InvalidConfigError(f"loss weight {name}={getattr(self, name)} must be >= 0")


@dataclass
class PreprocessConfig:
    """How a native image + label map becomes the network's input cube (see ``preprocessing.py``)."""

    mode: Literal["physical", "official-code"] = "physical"  # resample at fixed spacing vs resize box
    field_of_view_mm: float = 120.0  # physical mode: cube edge in mm (spacing = fov / input_size)
    margin_mm: float = 0.0  # official-code mode: margin added around the LV bounding box (code: 0)
    gamma: float = 1.0  # power-law contrast applied to the [0, 1]-scaled cube (official code: 5 for EMIDEC)
    clip_percentiles: tuple[float, float] = (0.5, 99.5)  # intensity window inside the LV mask

    def __post_init__(self) -> None:
        _check_value_types(self)
        if self.mode not in ("physical", "official-code"):
            raise InvalidConfigError(f"preprocessing mode {self.mode!r} is not 'physical' or 'official-code'")
        if self.field_of_view_mm <= 0 or self.margin_mm < 0 or self.gamma <= 0:
            raise InvalidConfigError("field_of_view_mm and gamma must be > 0 and margin_mm >= 0")
        low, high = self.clip_percentiles
        if not 0 <= low < high <= 100:
            raise InvalidConfigError(f"clip_percentiles {self.clip_percentiles} must satisfy 0 <= low < high <= 100")


@dataclass
class TrainConfig:
    """Optimisation and data-split settings (paper: Adam 1e-4, batch 16, 70/30 stratified split)."""

    epochs: int = 100  # passes over the (oversampled) training split; the paper trains 10000 (--epochs)
    batch_size: int = 16  # subjects per optimisation step
    learning_rate: float = 1e-4  # Adam step size
    lr_schedule: Literal["constant", "cosine"] = "constant"  # cosine: decays to 1 % of learning_rate (paper: constant)
    seed: int = 0  # seeds the split, the oversampling, the data order and the weights
    val_fraction: float = 0.15  # share of subjects for model selection
    test_fraction: float = 0.15  # share of subjects never seen until the final report
    oversample: bool = True  # duplicate minority-class training subjects until classes balance
    augment_probability: float = 0.0  # chance of each random in-plane flip (2 axes) and 90° rotation (code 0.1)
    device: str = "auto"  # auto | cpu | cuda
    precision: str = "auto"  # auto (bf16 where the hardware has it) | fp32 | bf16: autocast of the forward pass
    compile: str = "auto"  # auto (from 64³ up) | on | off: torch.compile (falls back to eager, warning)

    def __post_init__(self) -> None:
        if isinstance(self.compile, bool):  # config.json files written before "auto" hold true/false
            self.compile = "on" if self.compile else "off"
        _check_value_types(self)
        if self.epochs < 1:
            raise InvalidConfigError(f"epochs ({flag_of('epochs')}) {self.epochs} must be at least 1")
        if self.batch_size < 2:
            raise InvalidConfigError(f"batch size ({flag_of('batch_size')}) {self.batch_size} must be at least 2: "
                                     f"batch normalisation needs two volumes per step")
        if self.seed < 0:
            raise InvalidConfigError(f"seed ({flag_of('seed')}) {self.seed} must be 0 or more")
        if self.learning_rate <= 0:
            raise InvalidConfigError(f"learning rate {self.learning_rate} must be > 0")
        if self.lr_schedule not in ("constant", "cosine"):
            raise InvalidConfigError(f"lr_schedule {self.lr_schedule!r} is not 'constant' or 'cosine'")
        if not (0 < self.val_fraction < 1 and 0 < self.test_fraction < 1
                and self.val_fraction + self.test_fraction < 1):
            raise InvalidConfigError("val and test fractions must be in (0, 1) and sum to less than 1")
        if not 0.0 <= self.augment_probability <= 1.0:
            raise InvalidConfigError(f"augment_probability ({flag_of('augment_probability')}) "
                                     f"{self.augment_probability} must be in [0, 1]")
        if self.precision not in PRECISIONS:
            raise InvalidConfigError(f"precision {self.precision!r} is not one of {', '.join(PRECISIONS)}")
        if self.compile not in COMPILE_MODES:
            raise InvalidConfigError(f"compile {self.compile!r} is not one of {', '.join(COMPILE_MODES)}")
        if self.device not in DEVICES and not self.device.startswith("cuda:"):
            raise InvalidConfigError(f"device {self.device!r} is not auto, cpu or cuda")


@dataclass
class RunConfig:
    """Everything that defines a training run; written as ``config.json`` into the run folder."""

    preset: str = "paper"
    attributes: tuple[str, ...] = ()  # regularised attributes, latent dim k ↔ attributes[k]; () = defaults
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        """Build from a (possibly partial) nested dict; unknown keys are an error."""
        sections = {"model": ModelConfig, "loss": LossConfig, "preprocess": PreprocessConfig, "train": TrainConfig}
        unknown = set(data) - set(sections) - {"preset", "attributes"}
        if unknown:
            raise InvalidConfigError(f"unknown config keys {sorted(unknown)}; expected {sorted(sections)}")
        base = preset(data.get("preset", "paper"))
        attributes = data.get("attributes", [])
        if not isinstance(attributes, (list, tuple)) or not all(isinstance(a, str) for a in attributes):
            raise InvalidConfigError(f"config 'attributes' must be a list of names, not {attributes!r}")
        kwargs: dict[str, Any] = {"preset": base.preset, "attributes": tuple(attributes)}
        for name, section_cls in sections.items():
            current = dataclasses.asdict(getattr(base, name))
            overrides = data.get(name, {})
            if not isinstance(overrides, dict):
                raise InvalidConfigError(f"config section {name!r} must be a JSON object, not {overrides!r}")
            bad = set(overrides) - set(current)
            if bad:
                raise InvalidConfigError(f"unknown {name} config keys {sorted(bad)}; expected {sorted(current)}")
            try:
                kwargs[name] = section_cls(**{**current, **overrides})
            except TypeError as err:  # e.g. "input_size": "80"
                raise InvalidConfigError(f"config section {name!r} has a value of the wrong type ({err})") from err
        return cls(**kwargs)

    def with_preset(self, name: str) -> RunConfig:
        """Preset ``name`` with the same attributes and every setting this config changed from its own preset
        (so ``--cube-size 32 --epochs 150`` carry over, and each preset keeps what it sets itself)."""
        own, mine = preset(self.preset).to_dict(), self.to_dict()
        changed = {section: {key: value for key, value in mine[section].items() if value != own[section][key]}
                   for section in ("model", "loss", "preprocess", "train")}
        return RunConfig.from_dict({"preset": name, "attributes": mine["attributes"], **changed})

    def with_overrides(self, overrides: Mapping[str, Mapping[str, Any]]) -> RunConfig:
        """This config with the given fields replaced, per section ({"model": {"input_size": 32}, "train": {...}});
        every section validates its new values (:class:`InvalidConfigError`)."""
        return dataclasses.replace(self, **{section: dataclasses.replace(getattr(self, section), **fields)
                                            for section, fields in overrides.items() if fields})

    @classmethod
    def from_json(cls, path: Path) -> RunConfig:
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise InvalidConfigError(f"cannot read config file {path}: {err}") from err
        if not isinstance(data, dict):
            raise InvalidConfigError(f"config file {path} must hold a JSON object")
        return cls.from_dict(data)


PRESETS: dict[str, dict[str, Any]] = {
    # Cetin et al. 2023, §3.1 and §3.3: β 2, γ 200, δ 10, BCE reconstruction, crop + pad to the cube.
    "paper": {},
    # iremcetin/Attri-VAE training_main.py: γ 10, δ 100, MSE, L1 5e-5, box resized to the cube, gamma 5,
    # MONAI RandFlip (axes 0, 1) and RandRotate90 with p = 0.1.
    "official-code": {
        "loss": {"reconstruction": "mse", "gamma": 10.0, "delta": 100.0, "l1_weight": 5e-5},
        "preprocess": {"mode": "official-code", "gamma": 5.0},
        "train": {"augment_probability": 0.1},
    },
    # This project's recipe for small inputs (docs/presets-and-training.md; docs/experiments.md, "Disentanglement
    # levers"): at 32³ the encoder's flattened
    # features are only 16 numbers, so the official code's dropout on them blurs every attribute dim; and with
    # 57 free dims the attributes leak into dims nobody regularised. No dropout, 16 latent dims (9 free).
    "attri-vae-compact": {"model": {"latent_size": 16, "dropout": 0.0}},
    # attri-vae-compact with a 64-channel bottleneck instead of 2 (docs/experiments.md, "Decoder levers"): the
    # decoder starts from 64·s³ numbers, not 2·s³, and keeps the infarct; the demo's and the shipped model's.
    "attri-vae-wide": {"model": {"latent_size": 16, "dropout": 0.0, "encoder_channels": (8, 16, 32, 64, 64)}},
    # The ablations of the paper's Tables 2–3, on top of the paper settings.
    "attri-vae": {},  # the full method (= paper)
    "ar-vae": {"loss": {"alpha": 0.0}},  # no classifier
    "beta-vae": {"loss": {"alpha": 0.0, "gamma": 0.0}},  # no classifier, no attribute regularisation
    "vae": {"loss": {"alpha": 0.0, "gamma": 0.0, "beta": 1.0}},  # plain VAE
}
ABLATION_PRESETS = ("vae", "beta-vae", "ar-vae", "attri-vae")


def preset(name: str) -> RunConfig:
    """Return the :class:`RunConfig` of a named preset (``paper`` or ``official-code``)."""
    if name not in PRESETS:
        raise InvalidConfigError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    overrides = PRESETS[name]
    return RunConfig(
        preset=name,
        model=ModelConfig(**overrides.get("model", {})),
        loss=LossConfig(**overrides.get("loss", {})),
        preprocess=PreprocessConfig(**overrides.get("preprocess", {})),
        train=TrainConfig(**overrides.get("train", {})),
    )
