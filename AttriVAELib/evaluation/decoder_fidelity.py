"""What the decoder keeps of the anatomy it encodes: the reconstruction of μ segmented as a decoded volume is
(:func:`~AttriVAELib.data.decoded.decoded_labels`), compared with the input cube segmented the same way, so that only
the decoder's loss counts, not the thresholding's:

* ``dice.cavity``: decoded bright pool against the input's bright pool (blood, and any bright scar);
* ``dice.myocardium``: decoded dark myocardium against the input's;
* ``dice.infarct``: bright voxels inside the true myocardium (the label map's, where a bright voxel is scar),
  decoded against input, on infarcted subjects;
* ``infarct_contrast``: mean decoded intensity in the true infarct ÷ the input's, on infarcted subjects
  (1 = the scar kept as bright as it was; a blur that spreads it over the wall scores less).

Each is summarised over subjects as median, 10th and 90th percentile.
"""

from __future__ import annotations

__all__ = ["decoder_fidelity", "subject_decoder_fidelity"]

import numpy as np

from ..data.decoded import decoded_labels
from ..metrics import dice

BRIGHT_POOL, MYOCARDIUM = 1, 2  # the values of decoded_labels


def subject_decoder_fidelity(decoded: np.ndarray, real: np.ndarray, myocardium: np.ndarray,
                             infarct: np.ndarray | None) -> dict[str, float]:
    """The scores of one subject: ``decoded`` and ``real`` (S, S, S) cubes in [0, 1], the true ``myocardium``
    and ``infarct`` (S, S, S) bool masks (``infarct`` None or empty: the infarct scores are NaN)."""
    ours, theirs = decoded_labels(decoded), decoded_labels(real)
    scores = {"cavity": dice(ours == BRIGHT_POOL, theirs == BRIGHT_POOL),
              "myocardium": dice(ours == MYOCARDIUM, theirs == MYOCARDIUM), "infarct": np.nan,
              "infarct_contrast": np.nan}
    if infarct is not None and infarct.any():
        scores["infarct"] = dice((ours == BRIGHT_POOL) & myocardium, (theirs == BRIGHT_POOL) & myocardium)
        scores["infarct_contrast"] = float(decoded[infarct].mean() / max(float(real[infarct].mean()), 1e-6))
    return scores


def _summary(values: list[float]) -> dict[str, float]:
    kept = np.array([v for v in values if np.isfinite(v)])
    if not len(kept):
        return {"median": float("nan"), "p10": float("nan"), "p90": float("nan"), "subjects": 0}
    p10, median, p90 = np.percentile(kept, [10, 50, 90])
    return {"median": float(median), "p10": float(p10), "p90": float(p90), "subjects": len(kept)}


def decoder_fidelity(decoded: np.ndarray, real: np.ndarray, lv: np.ndarray, cavity: np.ndarray,
                     infarct: np.ndarray | None) -> dict[str, dict]:
    """:func:`subject_decoder_fidelity` over subjects, summarised: ``decoded``, ``real`` (N, S, S, S) cubes;
    ``lv``, ``cavity``, ``infarct`` (N, S, S, S) bool masks of the label maps (``infarct`` None: no scar labels).
    Returns ``{"dice": {"cavity", "myocardium", "infarct"}, "infarct_contrast"}``, each a summary."""
    subjects = [subject_decoder_fidelity(decoded[i], real[i], lv[i] & ~cavity[i],
                                         None if infarct is None else infarct[i]) for i in range(len(real))]
    return {"dice": {name: _summary([s[name] for s in subjects]) for name in ("cavity", "myocardium", "infarct")},
            "infarct_contrast": _summary([s["infarct_contrast"] for s in subjects])}
