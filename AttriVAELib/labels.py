"""Label-map conventions: which label values form the LV cavity, the myocardium and the infarct."""

from __future__ import annotations

__all__ = ["ACDC_SCHEME", "EMIDEC_SCHEME", "LabelScheme"]

from dataclasses import dataclass

import numpy as np

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
