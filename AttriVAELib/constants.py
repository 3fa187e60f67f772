"""Names shared across the package: label values, attribute names and file names."""

from __future__ import annotations

__all__ = [
    "ATTRIBUTES_CSV",
    "CLASS_NAMES",
    "DEFAULT_ATTRIBUTES",
    "MYOCARDIAL_DENSITY_G_PER_ML",
    "RESERVED_COLUMNS",
    "SYNTHETIC_JSON",
    "UNIT_SUFFIXES",
    "EmidecLabel",
    "AcdcLabel",
    "attribute_unit",
]

from enum import IntEnum

ATTRIBUTES_CSV = "attributes.csv"
"""File name of the folder+CSV dataset index (and of the synthetic cohort's index)."""

SYNTHETIC_JSON = "synthetic.json"
"""File beside a synthetic cohort's index that records how it was generated."""

CLASS_NAMES = ("healthy", "MINF")
"""Names of the binary classes: 0 = healthy, 1 = myocardial infarction."""

MYOCARDIAL_DENSITY_G_PER_ML = 1.05
"""Myocardial tissue density used for mass = density × volume (as the official code)."""


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


DEFAULT_ATTRIBUTES = (
    "lv_volume_ml",
    "myo_volume_ml",
    "wall_thickness_mm",
    "infarct_size_pct",
    "ef_pct",
    "lv_sphericity",
    "myo_max_diameter_mm",
)
"""Attributes regularised when none are named, in latent-dimension order (dim k ↔ attribute k): the
paper's shape attributes (LV and myocardial volume, wall thickness, EF, sphericity, myocardial maximum 2D
diameter) plus infarct size, the attribute LGE images show best.

Only those present in the dataset are used (EF needs an end-systolic mask, infarct size scar labels)."""

RESERVED_COLUMNS = ("subject", "image", "mask", "label", "image_es", "mask_es")
"""Folder+CSV columns that are never attributes."""

UNIT_SUFFIXES = {"ml": "mL", "mm": "mm", "pct": "%", "g": "g", "cm": "cm", "kg": "kg"}
"""Unit of an attribute named ``<quantity>_<suffix>`` (``lv_volume_ml`` is in mL); other names are unitless."""


def attribute_unit(name: str) -> str:
    """Display unit of attribute ``name`` from its suffix ("" when the name carries none)."""
    return UNIT_SUFFIXES.get(name.rsplit("_", 1)[-1], "") if "_" in name else ""
