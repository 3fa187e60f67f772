"""The model card: what a model file states about its model, as typed dataclasses.

A card travels as JSON in the ``.safetensors`` metadata (:mod:`~AttriVAELib.modelfile.bundle`). Readers use its
attributes, never string keys. :meth:`ModelCard.from_dict` validates a card read from a file (the JSON
layout of bundle format version 1, which :meth:`ModelCard.to_dict` still writes, so older AttriVAE
releases read new files); a card that does not validate raises :class:`InvalidModelError`.
:func:`build_card` is the one place a card is made, for training and for test bundles alike.
"""

from __future__ import annotations

__all__ = ["INTERVAL_KINDS", "AttributeCard", "DataCard", "IntervalCalibration", "MeasureLine", "ModelCard",
           "Provenance", "SubjectSplit", "SyntheticRecord", "TestSummary", "TrainingCard", "build_card"]

import dataclasses
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ..config import FIRST_ARCHITECTURE, RunConfig
from ..data.attributes import attribute_unit
from ..data.constants import CLASS_NAMES
from ..data.labels import LabelScheme
from ..errors import AttriVAEError, InvalidModelError
from ..metrics import spearman
from ..typed import ValueProblem, dataclass_values, field, typed
from .provenance import provenance

if TYPE_CHECKING:  # the builder's inputs; importing them here would pull torch into every card reader
    from ..data.datasets import Cohort
    from ..data.prepared import PreparedData
    from ..data.splits import Split

FORMAT = "attrivae-model"
FORMAT_VERSION = 1
"""Layout of the card's JSON; a file of a higher version is refused (written by a newer AttriVAE)."""

SPLIT_PARTS = ("train", "val", "test")


def _number(value: Any, where: str, finite: bool = True) -> float:
    """A JSON number as a float; with ``finite=False`` null, how :func:`~AttriVAELib.files.to_json` writes NaN,
    reads as NaN, and non-finite floats pass."""
    if not finite and (value is None or (type(value) is float and not math.isfinite(value))):
        return math.nan if value is None else value
    return typed(value, float, where)


@dataclass(frozen=True)
class IntervalCalibration:
    """Split-conformal calibration of an attribute's interval, from subjects the model did not train on: the
    nonconformity scores |measured − encoded| (``kind="absolute"``, attribute units) or that divided by the
    posterior σ in attribute units (``kind="scaled"``) of each held-out subject. The interval of level p is
    encoded ± the ⌈(n + 1)·p⌉-th smallest score (× σ for ``scaled``): it holds a new subject's measured value
    with probability at least p (Vovk et al. 2005; Lei et al. 2018)."""

    kind: str  # absolute or scaled
    scores: tuple[float, ...]  # sorted nonconformity scores of the held-out subjects
    split: str = "val"  # where they come from

    def half_width(self, level: float) -> float:
        """The score quantile of ``level``: half the interval in attribute units (absolute) or in posterior σ
        (scaled); infinite when there are too few scores for that level (fewer than 1/(1 − level) − 1)."""
        rank = math.ceil((len(self.scores) + 1) * level)
        return self.scores[rank - 1] if rank <= len(self.scores) else math.inf

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "split": self.split, "scores": list(self.scores)}

    @classmethod
    def from_dict(cls, entry: Any, where: str) -> IntervalCalibration:
        kind = typed(field(entry, "kind", where), Literal[INTERVAL_KINDS], f"{where}.kind")
        scores = typed(field(entry, "scores", where), tuple[float, ...], f"{where}.scores")
        return cls(kind, tuple(sorted(scores)), typed(entry.get("split", "val"), str, f"{where}.split"))


INTERVAL_KINDS = ("absolute", "scaled")


@dataclass(frozen=True)
class MeasureLine:
    """How the measurement of an attribute on a network cube (segmented by intensity, as a decoded cube is:
    :func:`~AttriVAELib.data.decoded.measure_decoded`) relates to the attribute measured on the label map, fitted
    on the real input cubes of held-out subjects: label-map value ≈ slope · cube value + intercept. It puts
    values measured on decoded anatomy into the units of the data."""

    slope: float
    intercept: float
    spearman: float  # of cube and label-map values over those subjects: how well a cube shows the attribute
    subjects: int

    def __call__(self, cube_values: Any) -> Any:
        """Cube measurements (any shape) → attribute units."""
        return self.slope * np.asarray(cube_values, dtype=np.float64) + self.intercept

    @classmethod
    def from_dict(cls, entry: Any, where: str) -> MeasureLine:
        return cls(*(_number(field(entry, key, where), f"{where}.{key}") for key in ("slope", "intercept")),
                   _number(entry.get("spearman"), f"{where}.spearman", finite=False),
                   typed(field(entry, "subjects", where), int, f"{where}.subjects"))


@dataclass(frozen=True)
class AttributeCard:
    """A regularised attribute: the latent dim that encodes it, its statistics on the training split and the
    least-squares line μ_dim ≈ latent_slope·value + latent_intercept there (attribute ↔ latent units)."""

    name: str
    dim: int  # latent dim that encodes it
    unit: str  # display unit of the values below ("" for ratios)
    mean: float  # training split, in ``unit``
    std: float
    minimum: float
    maximum: float
    latent_slope: float | None = None  # latent units per ``unit``; None until training has finished
    latent_intercept: float | None = None  # latent units
    spearman_train: float | None = None  # Spearman ρ of μ_dim with the attribute on the training split
    interval: IntervalCalibration | None = None  # None: not calibrated (models before 0.2, or too few subjects)
    decoded_measure: MeasureLine | None = None  # for attributes a decoded cube shows; None: not calibrated

    @property
    def has_line(self) -> bool:
        """Whether the card holds the training line (every finished model's card does)."""
        return self.latent_slope is not None and self.latent_intercept is not None

    def calibrated_for(self, level: float) -> bool:
        """Whether the card holds an interval calibration with enough held-out subjects for ``level``."""
        return self.interval is not None and math.isfinite(self.interval.half_width(level))

    def to_attribute(self, latent: Any) -> np.ndarray:
        """Latent values of this dim (any shape) → attribute units, through the training line."""
        return (np.asarray(latent, dtype=np.float64) - self.latent_intercept) / self.latent_slope

    def to_latent(self, values: Any) -> np.ndarray:
        """Attribute values (any shape) → latent values of this dim, through the training line."""
        return self.latent_slope * np.asarray(values, dtype=np.float64) + self.latent_intercept

    @classmethod
    def measured(cls, name: str, dim: int, values: np.ndarray, mu: np.ndarray | None = None) -> AttributeCard:
        """Statistics of ``values`` (N,) in attribute units and, given μ_dim (N,) of the same subjects, the line."""
        values = np.asarray(values, dtype=np.float64)
        line: dict[str, float] = {}
        if mu is not None:
            slope, intercept = np.polyfit(values, mu, 1) if np.ptp(values) > 0 else (0.0, float(np.mean(mu)))
            line = {"latent_slope": float(slope), "latent_intercept": float(intercept),
                    "spearman_train": spearman(mu, values)}
        return cls(name, dim, attribute_unit(name), float(values.mean()), float(values.std()), float(values.min()),
                   float(values.max()), **line)

    def to_dict(self) -> dict[str, Any]:
        entry = {"name": self.name, "dim": self.dim, "unit": self.unit, "mean": self.mean, "std": self.std,
                 "min": self.minimum, "max": self.maximum}
        if self.has_line:
            entry.update(latent_slope=self.latent_slope, latent_intercept=self.latent_intercept,
                         spearman_train=self.spearman_train)
        if self.interval:
            entry["interval"] = self.interval.to_dict()
        if self.decoded_measure:
            entry["decoded_measure"] = dataclasses.asdict(self.decoded_measure)
        return entry

    @classmethod
    def from_dict(cls, entry: Any, where: str, latent_size: int) -> AttributeCard:
        name = typed(field(entry, "name", where), str, f"{where}.name")
        dim = typed(field(entry, "dim", where), int, f"{where}.dim")
        if not 0 <= dim < latent_size:
            raise ValueProblem(f"{where}.dim", dim, f"a latent dim below {latent_size}")
        numbers = {key: _number(field(entry, json_key, where), f"{where}.{json_key}")
                   for key, json_key in (("mean", "mean"), ("std", "std"), ("minimum", "min"), ("maximum", "max"))}
        line = {}
        if "latent_slope" in entry:
            line = {key: _number(field(entry, key, where), f"{where}.{key}")
                    for key in ("latent_slope", "latent_intercept")}
            line["spearman_train"] = _number(entry.get("spearman_train"), f"{where}.spearman_train", finite=False)
        unit = typed(entry["unit"], str, f"{where}.unit") if "unit" in entry else attribute_unit(name)  # older: by name
        interval = (IntervalCalibration.from_dict(entry["interval"], f"{where}.interval")
                    if "interval" in entry else None)
        measure = (MeasureLine.from_dict(entry["decoded_measure"], f"{where}.decoded_measure")
                   if "decoded_measure" in entry else None)
        return cls(name=name, dim=dim, unit=unit, **numbers, **line, interval=interval, decoded_measure=measure)


@dataclass(frozen=True)
class SubjectSplit:
    """Subject ids of the training, validation and test splits."""

    train: tuple[str, ...]
    val: tuple[str, ...]
    test: tuple[str, ...]

    def part_of(self, subject: str) -> str:
        """``train``, ``val``, ``test``, or ``""`` for a subject in none of them."""
        return next((part for part in SPLIT_PARTS if subject in getattr(self, part)), "")

    def held_by(self, subject_ids: Iterable[str]) -> bool:
        """Whether a cohort with these subject ids holds this split's test subjects: it is then the model's
        training cohort (ids of another cohort may repeat some of them, but not its whole test split)."""
        return bool(self.test) and set(self.test) <= set(subject_ids)


@dataclass(frozen=True)
class SyntheticRecord:
    """How a synthetic cohort was made: the arguments of :func:`~AttriVAELib.data.synthetic.make_cohort` (its
    ``synthetic.json``)."""

    generator: str  # the function that made it
    library_version: str  # of the AttriVAE that made it
    subjects: int
    size: int  # in-plane pixels of the images
    seed: int
    infarct_probability: float
    field_of_view_mm: float
    slice_thickness_mm: float

    def arguments(self) -> dict[str, Any]:
        """Keyword arguments of ``make_cohort`` that make the same cohort again."""
        return {key: value for key, value in dataclasses.asdict(self).items()
                if key not in ("generator", "library_version")}

    @classmethod
    def from_record(cls, record: Any) -> SyntheticRecord | None:
        """The record of a ``synthetic.json`` (a dict), or None when it does not hold exactly these fields with
        these types: it is provenance, which a model or a cohort can do without."""
        try:
            return cls(**dataclass_values(cls, record, "synthetic"))
        except ValueProblem:
            return None


@dataclass(frozen=True)
class DataCard:
    """The cohort the model was trained on."""

    format: str  # csv, emidec, acdc
    name: str  # the cohort's folder name
    subjects: int
    class_counts: tuple[int, int]  # healthy, infarct
    split: SubjectSplit
    synthetic: SyntheticRecord | None = None  # how the cohort was made, when it is synthetic


@dataclass(frozen=True)
class TrainingCard:
    """How training went: epochs run and the model kept (the best on the validation split)."""

    epochs: int  # epochs finished
    best_epoch: int  # 1-based epoch of the saved weights
    best_val_loss: float  # total loss on the validation split at best_epoch (summed over voxels, per subject)


@dataclass(frozen=True)
class TestSummary:
    """The finished model on the test split: Spearman ρ of latent dim k with attribute k, AUC, accuracy."""

    subjects: int
    spearman: dict[str, float]  # attribute name → ρ (NaN where undefined)
    auc: float  # NaN when the test split holds one class only
    accuracy: float

    @classmethod
    def from_metrics(cls, metrics: dict[str, Any]) -> TestSummary:
        """From evaluation metrics (:func:`~AttriVAELib.evaluation.evaluate.order_and_class_scores` or
        ``evaluate_model``)."""
        return cls(metrics["subjects"], dict(metrics["spearman"]), metrics["classification"]["auc"],
                   metrics["classification"]["accuracy"])


@dataclass(frozen=True)
class Provenance:
    """What made the model: library version, fingerprint of the code that makes models, the machine."""

    library_version: str
    code: str  # provenance.code_fingerprint() of the training code
    machine: dict[str, Any]  # provenance.machine(): CPU, cores, library versions, platform


@dataclass(frozen=True)
class ModelCard:
    """Everything a model file states besides its weights."""

    config: RunConfig  # the settings it was trained with; config.model is its architecture
    attributes: tuple[AttributeCard, ...]  # regularised attributes, entry k encoded by latent dim k
    label_scheme: LabelScheme  # label values of the training data's label maps
    data: DataCard
    provenance: Provenance
    created: str  # ISO 8601 time (UTC) the card was built
    class_names: tuple[str, ...] = CLASS_NAMES  # classifier classes 0 and 1
    training: TrainingCard | None = None  # None only while the first epoch runs
    test: TestSummary | None = None  # None until training has finished

    @property
    def attribute_names(self) -> tuple[str, ...]:
        """Regularised attributes; entry k is encoded by latent dim k."""
        return tuple(entry.name for entry in self.attributes)

    def attribute(self, dim: int) -> AttributeCard:
        """The regularised attribute of latent dim ``dim``.

        Raises:
            KeyError: no regularised attribute lives in that dim.
        """
        for entry in self.attributes:
            if entry.dim == dim:
                return entry
        raise KeyError(dim)

    def with_lines(self, attributes: np.ndarray, mu: np.ndarray) -> ModelCard:
        """This card with every attribute's statistics and training line refitted on ``attributes`` (N, K) in
        attribute units (column k = ``self.attributes[k]``) and the model's posterior means ``mu`` (N, L)."""
        fitted = tuple(AttributeCard.measured(entry.name, entry.dim, attributes[:, k], mu[:, entry.dim])
                       for k, entry in enumerate(self.attributes))
        return dataclasses.replace(self, attributes=fitted)

    def with_calibration(self, intervals: dict[str, IntervalCalibration | None],
                         measures: dict[str, MeasureLine | None]) -> ModelCard:
        """This card with the attributes' interval calibrations and decoded-measure lines (by name; an
        attribute left out keeps none)."""
        calibrated = tuple(dataclasses.replace(entry, interval=intervals.get(entry.name),
                                               decoded_measure=measures.get(entry.name))
                           for entry in self.attributes)
        return dataclasses.replace(self, attributes=calibrated)

    def to_dict(self) -> dict[str, Any]:
        """The JSON layout of bundle format version 1 (duplicated settings included: older releases read them)."""
        config = self.config.to_dict()
        card: dict[str, Any] = {
            "format": FORMAT, "format_version": FORMAT_VERSION, "library_version": self.provenance.library_version,
            "created": self.created, "provenance": dataclasses.asdict(self.provenance), "config": config,
            "preset": self.config.preset, "loss": config["loss"],
            "preprocess": {**config["preprocess"], "input_size": self.config.model.input_size,
                           "label_scheme": self.label_scheme.to_dict()},
            "attributes": [entry.to_dict() for entry in self.attributes], "class_names": list(self.class_names),
            "data": dataclasses.asdict(self.data),
            "model": config["model"]}
        if self.data.synthetic is None:
            del card["data"]["synthetic"]
        if self.training:
            card["training"] = {**dataclasses.asdict(self.training), "seed": self.config.train.seed,
                                "batch_size": self.config.train.batch_size,
                                "learning_rate": self.config.train.learning_rate}
        if self.test:
            card["test"] = dataclasses.asdict(self.test)
        return card

    @classmethod
    def from_dict(cls, card: Any, path: object = "the model file") -> ModelCard:
        """Validate and type a card read from ``path``.

        Raises:
            InvalidModelError: another format, a newer format version, or a missing or ill-typed value.
        """
        if not isinstance(card, dict) or card.get("format") != FORMAT:
            found = card.get("format") if isinstance(card, dict) else type(card).__name__
            raise InvalidModelError(f"{path} is not an AttriVAE model bundle (its card says {found!r})")
        version = card.get("format_version")
        if type(version) is not int:
            raise InvalidModelError(f"{path} has a model card without an integer format_version; the file is corrupt")
        if version > FORMAT_VERSION:
            raise InvalidModelError(f"{path} was written by a newer AttriVAE (bundle version {version}); "
                                    f"upgrade with pip install -U attrivae")
        try:
            return cls._typed(card)
        except ValueProblem as problem:
            raise InvalidModelError(f"model card of {path}: {problem}; the file is damaged") from None
        except (AttriVAEError, TypeError, ValueError) as err:  # settings that make no valid RunConfig or scheme
            detail = str(err).strip().splitlines()[0]
            raise InvalidModelError(f"model card of {path} does not describe a valid model ({detail}); "
                                    f"the file is damaged") from err

    @classmethod
    def _typed(cls, card: dict[str, Any]) -> ModelCard:
        model = typed(field(card, "model", ""), dict[str, Any], "model")
        preprocess = typed(field(card, "preprocess", ""), dict[str, Any], "preprocess")
        scheme = field(preprocess, "label_scheme", "preprocess")
        settings = card.get("config") or {"preset": card.get("preset", "paper"), "loss": card.get("loss", {}),
                                          "preprocess": {k: v for k, v in preprocess.items()
                                                         if k not in ("input_size", "label_scheme")}}
        settings = typed(settings, dict[str, Any], "config")
        architecture, version = FIRST_ARCHITECTURE  # cards written before the architecture was recorded
        model = {"architecture": architecture, "architecture_version": version, **model}
        config = RunConfig.from_dict({**settings, "model": model})  # the architecture is the weights' own
        entries = typed(field(card, "attributes", ""), tuple[Any, ...], "attributes")
        attributes = tuple(AttributeCard.from_dict(entry, f"attributes[{index}]", config.model.latent_size)
                           for index, entry in enumerate(entries))
        config = dataclasses.replace(config, attributes=tuple(entry.name for entry in attributes))
        return cls(config=config, attributes=attributes, label_scheme=_label_scheme(scheme),
                   data=_data_card(field(card, "data", "")), provenance=_provenance(card),
                   created=typed(field(card, "created", ""), str, "created"),
                   class_names=typed(card.get("class_names", list(CLASS_NAMES)), tuple[str, ...], "class_names"),
                   training=_training_card(card["training"]) if "training" in card else None,
                   test=_test_summary(card["test"]) if "test" in card else None)


def _label_scheme(scheme: Any) -> LabelScheme:
    values = {part: typed(field(scheme, part, "preprocess.label_scheme"), tuple[int, ...],
                          f"preprocess.label_scheme.{part}") for part in ("cavity", "myocardium", "infarct")}
    return LabelScheme(typed(field(scheme, "name", "preprocess.label_scheme"), str, "preprocess.label_scheme.name"),
                       **values)


def _data_card(data: Any) -> DataCard:
    counts = typed(field(data, "class_counts", "data"), tuple[int, int], "data.class_counts")
    split = field(data, "split", "data")
    return DataCard(format=typed(field(data, "format", "data"), str, "data.format"),
                    name=typed(field(data, "name", "data"), str, "data.name"),
                    subjects=typed(field(data, "subjects", "data"), int, "data.subjects"),
                    class_counts=counts,
                    split=SubjectSplit(*(typed(field(split, part, "data.split"), tuple[str, ...], f"data.split.{part}")
                                         for part in SPLIT_PARTS)),
                    synthetic=SyntheticRecord.from_record(data.get("synthetic")))


def _provenance(card: dict[str, Any]) -> Provenance:
    made = card.get("provenance")
    if made is None:  # cards before provenance was recorded
        return Provenance(typed(field(card, "library_version", ""), str, "library_version"), "", {})
    machine = typed(field(made, "machine", "provenance"), dict[str, Any], "provenance.machine")
    return Provenance(typed(field(made, "library_version", "provenance"), str, "provenance.library_version"),
                      typed(field(made, "code", "provenance"), str, "provenance.code"), machine)


def _training_card(training: Any) -> TrainingCard:
    return TrainingCard(epochs=typed(field(training, "epochs", "training"), int, "training.epochs"),
                        best_epoch=typed(field(training, "best_epoch", "training"), int, "training.best_epoch"),
                        best_val_loss=_number(field(training, "best_val_loss", "training"), "training.best_val_loss",
                                              finite=False))


def _test_summary(test: Any) -> TestSummary:
    correlations = typed(field(test, "spearman", "test"), dict[str, Any], "test.spearman")
    return TestSummary(subjects=typed(field(test, "subjects", "test"), int, "test.subjects"),
                       spearman={name: _number(value, f"test.spearman.{name}", finite=False)
                                 for name, value in correlations.items()},
                       auc=_number(field(test, "auc", "test"), "test.auc", finite=False),
                       accuracy=_number(field(test, "accuracy", "test"), "test.accuracy", finite=False))


def build_card(config: RunConfig, cohort: Cohort, data: PreparedData, split: Split) -> ModelCard:
    """The card of a model about to be trained with ``config`` on ``split`` of ``data`` (loaded from ``cohort``):
    attribute statistics of the training split, no training line and no test summary yet.

    Raises:
        ValueError: ``data`` holds other attributes than ``config`` regularises (a programming error).
    """
    if tuple(data.attribute_names) != tuple(config.attributes):
        raise ValueError(f"the data hold {data.attribute_names}, the config regularises {config.attributes}")
    train = data.attributes[split.train].numpy()
    return ModelCard(
        config=config,
        attributes=tuple(AttributeCard.measured(name, k, train[:, k]) for k, name in enumerate(config.attributes)),
        label_scheme=cohort.scheme,
        data=DataCard(format=cohort.format, name=cohort.root.parent.name if cohort.root.is_file() else cohort.root.name,
                      subjects=len(cohort.subjects),
                      class_counts=tuple(np.bincount(cohort.labels, minlength=2).tolist()),  # type: ignore[arg-type]
                      split=SubjectSplit(*(tuple(data.subject_ids[i] for i in getattr(split, part))
                                           for part in SPLIT_PARTS)),
                      synthetic=SyntheticRecord.from_record(cohort.synthetic)),
        provenance=Provenance(**provenance()), created=datetime.now(timezone.utc).isoformat(timespec="seconds"))
