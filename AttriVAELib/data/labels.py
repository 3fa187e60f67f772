"""Label-map conventions: which label values form the LV cavity, the myocardium and the infarct."""

from __future__ import annotations

__all__ = ["ACDC_SCHEME", "EMIDEC_SCHEME", "SCHEMES", "SEGMENT_ROLES", "LabelScheme", "guess_segment", "scheme_named",
           "segment_labels"]

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import InvalidConfigError, InvalidVolumeError
from .constants import AcdcLabel, EmidecLabel


@dataclass(frozen=True)
class LabelScheme:
    """Label values of each structure in a label map."""

    name: str
    cavity: tuple[int, ...]  # LV blood pool
    myocardium: tuple[int, ...]  # all myocardium, infarct and no-reflow included
    infarct: tuple[int, ...] = ()  # infarct + no-reflow; empty when the data set has no scar labels

    def __post_init__(self) -> None:
        for name in ("cavity", "myocardium", "infarct"):  # plain ints (not enum members) read well in messages
            object.__setattr__(self, name, tuple(int(value) for value in getattr(self, name)))

    def cavity_mask(self, labels: np.ndarray) -> np.ndarray:
        return np.isin(labels, self.cavity)

    def myocardium_mask(self, labels: np.ndarray) -> np.ndarray:
        return np.isin(labels, self.myocardium)

    def infarct_mask(self, labels: np.ndarray) -> np.ndarray:
        return np.isin(labels, self.infarct)

    def lv_mask(self, labels: np.ndarray) -> np.ndarray:
        """Cavity + myocardium (+ infarct): the region the network sees."""
        return np.isin(labels, self.cavity + self.myocardium)

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "cavity": list(self.cavity), "myocardium": list(self.myocardium),
                "infarct": list(self.infarct)}


EMIDEC_SCHEME = LabelScheme(
    name="emidec",
    cavity=(EmidecLabel.CAVITY,),
    myocardium=(EmidecLabel.MYOCARDIUM, EmidecLabel.INFARCT, EmidecLabel.NO_REFLOW),
    infarct=(EmidecLabel.INFARCT, EmidecLabel.NO_REFLOW),
)
"""EMIDEC contours, the folder+CSV format and the synthetic cohort: 1 cavity, 2 myo, 3 infarct, 4 no-reflow."""

ACDC_SCHEME = LabelScheme(name="acdc", cavity=(AcdcLabel.LV_CAVITY,), myocardium=(AcdcLabel.MYOCARDIUM,))
"""ACDC ground truth: 1 RV cavity (ignored), 2 myocardium, 3 LV cavity."""

SCHEMES = {scheme.name: scheme for scheme in (EMIDEC_SCHEME, ACDC_SCHEME)}
"""Every label scheme by name (:data:`AttriVAELib.choices.LABEL_SCHEMES` lists the names)."""


def scheme_named(name: str) -> LabelScheme:
    """The label scheme called ``name``.

    Raises:
        InvalidConfigError: no scheme has that name.
    """
    if name not in SCHEMES:
        raise InvalidConfigError(f"label scheme {name!r} is unknown; choose one of {', '.join(SCHEMES)}")
    return SCHEMES[name]

SEGMENT_ROLES = {"cavity": EmidecLabel.CAVITY, "myocardium": EmidecLabel.MYOCARDIUM, "infarct": EmidecLabel.INFARCT}
"""Structures a segmentation provides (one segment each; the infarct optional) → their EMIDEC label value,
so that a segmentation becomes a label map of :data:`EMIDEC_SCHEME`."""
_SEGMENT_NAME_HINTS = {"cavity": ("cavity", "lv", "blood"), "myocardium": ("myocardium", "myo"),
                       "infarct": ("infarct", "scar")}


def segment_labels(segments: Mapping[str, str | None]) -> dict[int, str]:
    """{EMIDEC label value: segment name} of ``segments`` ({role: segment name}; roles of
    :data:`SEGMENT_ROLES`, a role without a name is left out).

    Raises:
        InvalidConfigError: an unknown role.
        InvalidVolumeError: a segmentation without cavity and myocardium.
    """
    unknown = sorted(set(segments) - set(SEGMENT_ROLES))
    if unknown:
        raise InvalidConfigError(f"unknown segment role {', '.join(unknown)}; the roles are "
                                 f"{', '.join(SEGMENT_ROLES)}")
    named = {role: name for role, name in segments.items() if name}
    missing = [role for role in ("cavity", "myocardium") if role not in named]
    if missing:
        raise InvalidVolumeError(f"choose the {' and '.join(missing)} segment of the LV segmentation")
    return {int(SEGMENT_ROLES[role]): name for role, name in named.items()}


def guess_segment(role: str, names: Sequence[str]) -> str | None:
    """The first of ``names`` containing a name hint of ``role`` (case-insensitive; hints in order of
    preference, so "LV cavity" wins over "LV myocardium" for the cavity), or None."""
    return next((name for hint in _SEGMENT_NAME_HINTS[role] for name in names if hint in name.lower()), None)
