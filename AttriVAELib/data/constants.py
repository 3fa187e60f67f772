"""Names shared across the package: label values, class names, reserved columns and file names (attribute
names and units: :mod:`~AttriVAELib.data.attributes`)."""

from __future__ import annotations

__all__ = [
    "ATTRIBUTES_CSV",
    "CLASS_NAMES",
    "RESERVED_COLUMNS",
    "SYNTHETIC_JSON",
    "EmidecLabel",
    "AcdcLabel",
]

from enum import IntEnum

ATTRIBUTES_CSV = "attributes.csv"
"""File name of the folder+CSV dataset index (and of the synthetic cohort's index)."""

SYNTHETIC_JSON = "synthetic.json"
"""File beside a synthetic cohort's index that records how it was generated."""

CLASS_NAMES = ("healthy", "MINF")
"""Names of the binary classes: 0 = healthy, 1 = myocardial infarction."""


class EmidecLabel(IntEnum):
    """Label values of EMIDEC contours; also the convention of the folder+CSV format and the phantom."""

    BACKGROUND = 0
    CAVITY = 1
    MYOCARDIUM = 2
    INFARCT = 3
    NO_REFLOW = 4


class AcdcLabel(IntEnum):
    """Label values of ACDC ground-truth masks."""

    BACKGROUND = 0
    RV_CAVITY = 1
    MYOCARDIUM = 2
    LV_CAVITY = 3


RESERVED_COLUMNS = ("subject", "image", "mask", "label", "image_es", "mask_es")
"""Folder+CSV columns that are never attributes."""
