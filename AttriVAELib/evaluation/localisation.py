"""Does an attention map point at the anatomy that defines its attribute? Scores against ground truth.

Each attribute is defined by one structure of the label map (the attribute registry's
:data:`~AttriVAELib.data.attributes.STRUCTURE_OF_ATTRIBUTE`): infarct size by the infarct (+ no-reflow);
myocardial volume and wall thickness by the myocardium; LV volume, EF, sphericity and diameter by the cavity
and its border (the cavity dilated by one voxel). For one map m and its structure, on the cube:

* ``enrichment``: share of Σ|m| inside the structure ÷ the structure's share of the cube's voxels
  (1 = no better than a uniform map; 1/share = all mass inside the structure);
* ``pointing``: 1 when the voxel of largest |m| lies in the structure dilated by one voxel, else 0;
* ``outside_lv``: share of Σ|m| outside the LV mask dilated by one voxel;
* ``iou``: the official code's IoU of the thresholded map with the structure (:func:`attention_iou`).
"""

from __future__ import annotations

__all__ = ["attention_iou", "localisation", "localisation_scores", "structure_masks"]

import math
from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from ..choices import ATTRIBUTION_METHODS, DEFAULT_LAYER
from ..data.attributes import STRUCTURE_OF_ATTRIBUTE
from ..data.prepared import PreparedData
from ..interpretation.attention import attention
from ..modelfile.bundle import ModelBundle
from ..progress import Progress, ProgressEvent


def structure_masks(lv: np.ndarray, cavity: np.ndarray, infarct: np.ndarray | None) -> dict[str, np.ndarray]:
    """(S, S, S) bool masks of the scored structures: ``cavity`` (with its one-voxel border), ``myocardium``
    (LV minus cavity) and, when the labels have scar, ``infarct``."""
    masks = {"cavity": ndimage.binary_dilation(cavity), "myocardium": lv & ~cavity}
    if infarct is not None:
        masks["infarct"] = infarct
    return masks


def attention_iou(cam: np.ndarray, infarct: np.ndarray, floor: float = 0.3, threshold: float = 0.75) -> float:
    """IoU of a thresholded attention map with a structure (the infarct in the official code), as the official
    code's ``threshold_3D_GCAM`` + ``IoU_gcam_scar``: values below ``floor`` become 0, each slice (axis 0) is
    min-max scaled, then voxels ≥ ``threshold`` form the region. NaN when both regions are empty.

    cam, infarct: (S, S, S) arrays on the same grid; cam in [0, 1] (signed maps: pass |map| / max)."""
    cam = np.where(cam < floor, 0.0, cam)
    low = cam.min(axis=(1, 2), keepdims=True)
    span = cam.max(axis=(1, 2), keepdims=True) - low
    scaled = np.divide(cam - low, span, out=np.zeros_like(cam, dtype=float), where=span > 0)
    region, infarct = scaled >= threshold, np.asarray(infarct, bool)
    union = (region | infarct).sum()
    return float((region & infarct).sum() / union) if union else float("nan")


def localisation_scores(attribution: np.ndarray, structure: np.ndarray, lv: np.ndarray) -> dict[str, float]:
    """Enrichment, pointing, outside_lv and iou of one (S, S, S) map (any sign) against one structure mask.
    All NaN when the map is 0 everywhere or the structure is empty."""
    mass = np.abs(attribution).astype(np.float64)
    total = mass.sum()
    if total == 0 or not structure.any():
        return {"enrichment": math.nan, "pointing": math.nan, "outside_lv": math.nan, "iou": math.nan}
    return {
        "enrichment": float(mass[structure].sum() / total / structure.mean()),
        "pointing": float(ndimage.binary_dilation(structure).flat[np.argmax(mass)]),
        "outside_lv": float(mass[~ndimage.binary_dilation(lv)].sum() / total),
        "iou": attention_iou(mass / mass.max(), structure),
    }


def localisation(bundle: ModelBundle, data: PreparedData, indices: np.ndarray,
                 methods: Sequence[str] = ATTRIBUTION_METHODS, layer: str = DEFAULT_LAYER,
                 progress: Progress | None = None) -> dict[str, dict[str, dict[str, float]]]:
    """Localisation of every scored attribute's maps, per method, over the subjects ``indices``.

    The infarct is scored on subjects that have one. ``progress`` receives an ``evaluate`` event per subject.

    Returns:
        {method: {attribute: {"subjects", "enrichment" (mean), "pointing" (rate), "outside_lv" (mean),
        "outside_lv_max", "iou" (mean)}}}.
    """
    names = [n for n in bundle.attribute_names if n in STRUCTURE_OF_ATTRIBUTE]
    scores: dict[str, dict[str, list[dict[str, float]]]] = {m: {n: [] for n in names} for m in methods}
    for done, index in enumerate(indices, start=1):
        infarct = None if data.infarct_masks is None else data.infarct_masks[index]
        masks = structure_masks(data.lv_masks[index], data.cavity_masks[index], infarct)
        for method in methods:
            maps = attention(bundle, data.volumes[index], names, method=method, layer=layer)
            for name in names:
                structure = masks.get(STRUCTURE_OF_ATTRIBUTE[name])
                if structure is not None and structure.any():
                    scores[method][name].append(localisation_scores(maps[name], structure, data.lv_masks[index]))
        if progress:
            progress(ProgressEvent("evaluate", done=done, total=len(indices)))
    return {method: {name: _mean(entries) for name, entries in per_name.items() if entries}
            for method, per_name in scores.items()}


def _mean(entries: list[dict[str, float]]) -> dict[str, float]:
    def column(key: str) -> np.ndarray:
        return np.array([entry[key] for entry in entries], dtype=float)

    summary: dict[str, float] = {"subjects": len(entries)}
    for key in ("enrichment", "pointing", "outside_lv", "iou"):
        values = column(key)
        summary[key] = float(np.nanmean(values)) if np.isfinite(values).any() else math.nan
    outside = column("outside_lv")
    summary["outside_lv_max"] = float(np.nanmax(outside)) if np.isfinite(outside).any() else math.nan
    return summary
