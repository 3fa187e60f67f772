"""Progress of long commands: the events the library emits and their display on a console.

Long operations (``make_cohort``, ``prepare_data``, ``train``, ``evaluate``, ``cross_validate``) take a
``progress`` callable and call it with one dict per event; ``event`` names the kind:

=============  ==================================================================================
``synth``      ``done``/``total`` subjects of a synthetic cohort written
``preprocess`` ``done``/``total`` subjects read and preprocessed
``compile``    the first training steps compile the model
``batch``      one optimisation step: ``epoch``, ``step``/``steps`` and the loss terms
``epoch``      one finished epoch: ``epoch``/``epochs``, ``train_*`` and ``val_*`` loss terms
``done``       training finished: ``model`` path and ``test`` summary
``evaluate``   ``done``/``total`` subjects whose attention maps were scored
``crossval``   ``done``/``total`` cross-validation runs: ``preset``, ``seed``, ``fold``
``note``       a line of information for the person watching: ``text``
=============  ==================================================================================

:class:`~AttriVAELib.console.ConsoleProgress` shows them to a person.
"""

from __future__ import annotations

__all__ = ["Progress"]

from collections.abc import Callable
from typing import Any

Progress = Callable[[dict[str, Any]], None]
"""Receives the progress events of a long operation (see the module docstring)."""
