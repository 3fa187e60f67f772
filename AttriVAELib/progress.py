"""Progress of long operations: one typed event, what each kind of it carries, and its JSON line.

Long operations (``make_cohort``, ``prepare_data``, ``train``, ``evaluate_model``, ``encode_cohort``,
``cross_validate``) take a ``progress`` callable and call it with a :class:`ProgressEvent` per step;
``kind`` says which fields it fills:

==============  ======================================================================================
``synth``       ``done``/``total`` subjects of a synthetic cohort written
``preprocess``  ``done``/``total`` subjects read and preprocessed
``compile``     the first training steps compile the model
``batch``       ``done``/``total`` optimisation steps of epoch ``epoch``; ``losses``: the step's loss terms
``epoch``       ``done``/``total`` epochs; ``losses``: ``train_*`` and ``val_*`` terms of the finished epoch,
                ``seconds`` it took, ``best_epoch`` so far
``done``        training finished: ``model`` is the path of the model bundle
``fidelity``    ``done``/``total`` traversals (a subject and an attribute) decoded and measured
``evaluate``    ``done``/``total`` subjects whose attention maps were scored
``encode``      ``done``/``total`` subjects encoded
``crossval``    ``done``/``total`` cross-validation runs; ``text`` names the run that finished (none on
                the first event of a resumed cross-validation: ``done`` runs were kept from before)
``note``        ``text``: a line of information for the person watching
==============  ======================================================================================

:class:`~AttriVAELib.apps.console.ConsoleProgress` shows events to a person; ``attrivae train --progress json``
writes each as one JSON line (:meth:`ProgressEvent.to_json`), which the Slicer module's
:class:`~AttriVAELib.slicer.process.TrainingMonitor` reads back (:meth:`ProgressEvent.from_json`). No PyTorch here:
the Slicer module imports this before PyTorch may be installed.
"""

from __future__ import annotations

__all__ = ["KINDS", "Progress", "ProgressEvent"]

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .typed import ValueProblem, dataclass_values

KINDS = ("synth", "preprocess", "compile", "batch", "epoch", "done", "fidelity", "evaluate", "encode", "crossval",
         "note")


@dataclass(frozen=True)
class ProgressEvent:
    """One step of a long operation (the module docstring says which fields each ``kind`` fills)."""

    kind: str  # one of KINDS
    done: int = 0  # units finished in this phase (subjects, steps, epochs, runs)
    total: int = 0  # units in this phase
    epoch: int = 0  # batch: the 1-based epoch the step belongs to
    losses: Mapping[str, float] = field(default_factory=dict)  # loss terms, summed over voxels, per subject
    seconds: float = 0.0  # epoch: wall time of the epoch
    best_epoch: int | None = None  # epoch: the 1-based epoch of the best validation loss so far
    model: str = ""  # done: path of the model bundle
    text: str = ""  # note: the line to show; crossval: the run that finished

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"progress event kind {self.kind!r} is not one of {', '.join(KINDS)}")

    def to_json(self) -> dict[str, Any]:
        """``{"event": kind, ...}`` with the fields that differ from their defaults (JSON-serialisable)."""
        fields = {item.name: getattr(self, item.name) for item in dataclasses.fields(self) if item.name != "kind"}
        defaults = ProgressEvent(self.kind)
        return {"event": self.kind, **{name: dict(value) if name == "losses" else value
                                       for name, value in fields.items() if value != getattr(defaults, name)}}

    @classmethod
    def from_json(cls, data: Any) -> ProgressEvent | None:
        """The event :meth:`to_json` wrote, or None for anything else (another JSON object, wrong types)."""
        if not isinstance(data, dict) or data.get("event") not in KINDS or "kind" in data:
            return None
        fields = {"kind": data["event"], **{name: value for name, value in data.items() if name != "event"}}
        try:
            return cls(**dataclass_values(cls, fields, "event"))
        except ValueProblem:
            return None


Progress = Callable[[ProgressEvent], None]
"""Receives the progress events of a long operation."""
