"""Exceptions raised on bad user input.

Every error a user can cause derives from :class:`AttriVAEError` and from the matching built-in
exception, so callers can catch either. Messages are one line: what is wrong, where, and how to fix it.
"""

from __future__ import annotations

__all__ = [
    "AttriVAEError",
    "InvalidConfigError",
    "InvalidDatasetError",
    "InvalidModelError",
    "InvalidVolumeError",
    "TrainingDivergedError",
]


class AttriVAEError(Exception):
    """Base class of every error caused by user input."""


class InvalidVolumeError(AttriVAEError, ValueError):
    """An image or label map that cannot be used (unreadable, wrong dimension, NaN, empty mask...)."""


class InvalidDatasetError(AttriVAEError, ValueError):
    """A dataset folder or CSV that does not parse (missing files or columns, non-numeric values...)."""


class InvalidConfigError(AttriVAEError, ValueError):
    """A configuration value out of range (size not a multiple of 16, unknown preset...)."""


class InvalidModelError(AttriVAEError, ValueError):
    """A model bundle that is missing, corrupt, or not an AttriVAE model."""


class TrainingDivergedError(AttriVAEError, RuntimeError):
    """The loss became NaN or infinite during training."""
