"""Traversal fidelity: does the decoded anatomy move by what the attribute slider asks for?

A traversal sets one regularised latent dim to values of its attribute (in the attribute's units, through
the card's training fit) and decodes. Here each decoded cube is segmented and the attribute is measured on
it with the same code that measures label maps (:func:`~AttriVAELib.attributes.shape_attributes`):

* foreground: voxels above :data:`FOREGROUND_THRESHOLD` (the network input is 0 outside the LV mask);
* bright pool ("cavity"): foreground voxels above the foreground's Otsu threshold (SimpleITK): LGE blood,
  and any bright scar; the rest of the foreground is dark myocardium.

Per subject, over a sweep of the training range: Spearman ρ between requested and measured values, and
the slope of the least-squares line measured ≈ slope · requested + b (1 = the decoded anatomy moves by what
the slider says). The same measurement on the subjects' real input cubes against their recorded
attribute values (``measure_check``) shows what the measurement itself can resolve at the cube's
resolution. Only attributes that a decoded end-diastolic cube shows are measured (not EF, not infarct
size: scar and blood pool are both bright).
"""

from __future__ import annotations

__all__ = ["FOREGROUND_THRESHOLD", "decoded_label_map", "measure_decoded",
           "traversal_fidelity"]

import math
from collections.abc import Sequence

import numpy as np
import SimpleITK as sitk
import torch

from .attributes import DECODED_ATTRIBUTES, shape_attributes
from .bundle import ModelBundle
from .errors import InvalidVolumeError
from .labels import EMIDEC_SCHEME
from .metrics import spearman
from .preprocessing import CubeGeometry

FOREGROUND_THRESHOLD = 0.05
"""Decoded voxels above this intensity count as LV: preprocessed cubes are 0 outside the LV and (after
scaling) well above it inside, dark healthy myocardium included."""
TRAVERSAL_STEPS = 7


def decoded_label_map(volume: np.ndarray, geometry: CubeGeometry) -> sitk.Image:
    """(S, S, S) decoded cube in [0, 1] → EMIDEC label map on the cube grid (1 bright pool, 2 myocardium)."""
    foreground = volume > FOREGROUND_THRESHOLD
    labels = np.zeros(volume.shape, np.uint8)
    if foreground.sum() >= 2:
        otsu = sitk.OtsuThresholdImageFilter()
        otsu.SetMaskValue(1)
        otsu.Execute(sitk.GetImageFromArray(volume.astype(np.float32)),
                     sitk.GetImageFromArray(foreground.astype(np.uint8)))
        labels[foreground] = np.where(volume[foreground] > otsu.GetThreshold(), 1, 2)
    return geometry.cube_image(labels)


def measure_decoded(volume: np.ndarray, geometry: CubeGeometry, attributes: Sequence[str]) -> dict[str, float]:
    """Attributes measured on a decoded (or input) cube; NaN where the segmentation has no cavity or myocardium."""
    try:
        measured = shape_attributes(decoded_label_map(volume, geometry), EMIDEC_SCHEME, name="decoded volume")
    except InvalidVolumeError:
        return {name: math.nan for name in attributes}
    return {name: float(measured[name]) for name in attributes}


def _line(requested: np.ndarray, measured: np.ndarray) -> tuple[float, float]:
    """Spearman ρ and least-squares slope of measured against requested (ρ = 0 when the measurement does not
    move); NaN when fewer than 3 steps could be measured."""
    keep = np.isfinite(measured)
    if keep.sum() < 3 or np.ptp(requested[keep]) == 0:
        return math.nan, math.nan
    rho = spearman(requested[keep], measured[keep]) if np.ptp(measured[keep]) > 0 else 0.0
    return rho, float(np.polyfit(requested[keep], measured[keep], 1)[0])


def _summary(rhos: list[float], slopes: list[float]) -> dict[str, float]:
    rho, slope = np.array(rhos, dtype=float), np.array(slopes, dtype=float)
    finite = np.isfinite(rho) & np.isfinite(slope)
    if not finite.any():
        return {"subjects": 0, "spearman": math.nan, "slope": math.nan, "slope_p10": math.nan, "slope_p90": math.nan}
    return {"subjects": int(finite.sum()), "spearman": float(rho[finite].mean()), "slope": float(slope[finite].mean()),
            "slope_p10": float(np.percentile(slope[finite], 10)), "slope_p90": float(np.percentile(slope[finite], 90))}


def traversal_fidelity(bundle: ModelBundle, mu: np.ndarray, geometries: Sequence[CubeGeometry],
                       volumes: np.ndarray | None = None, attributes: np.ndarray | None = None,
                       steps: int = TRAVERSAL_STEPS) -> dict[str, dict[str, float]]:
    """Fidelity of every regularised attribute in :data:`~AttriVAELib.attributes.DECODED_ATTRIBUTES`.

    Args:
        bundle: the model; its card gives each attribute's training range and latent fit.
        mu: (N, L) codes of the subjects whose traversals are measured.
        geometries: the N subjects' cube geometries (voxel size in mm).
        volumes, attributes: (N, S, S, S) input cubes and (N, K) recorded values (column k ↔ attribute k);
            given both, each entry also holds ``measure_check``: the measurement on the inputs against the
            records, as a line over subjects.
        steps: values per sweep, evenly over the training range.

    Returns:
        {attribute: {"subjects", "spearman" (mean ρ per subject), "slope" (mean), "slope_p10", "slope_p90",
        "requested": [steps values], "measure_check": {"spearman", "slope"}}}.
    """
    from .interpretation import traverse

    results: dict[str, dict[str, float]] = {}
    for entry in bundle.card.attributes:
        name = entry.name
        if name not in DECODED_ATTRIBUTES or not entry.latent_slope:
            continue
        requested = np.linspace(entry.minimum, entry.maximum, steps)
        rhos, slopes = [], []
        for code, geometry in zip(mu, geometries):
            decoded = traverse(bundle, torch.as_tensor(code), name, requested, units="attribute")[:, 0].cpu().numpy()
            measured = np.array([measure_decoded(volume, geometry, [name])[name] for volume in decoded])
            rho, slope = _line(requested, measured)
            rhos.append(rho)
            slopes.append(slope)
        results[name] = {**_summary(rhos, slopes), "requested": requested.tolist()}
        if volumes is not None and attributes is not None:
            on_input = np.array([measure_decoded(v, g, [name])[name] for v, g in zip(volumes, geometries)])
            rho, slope = _line(attributes[:, entry.dim], on_input)
            results[name]["measure_check"] = {"spearman": rho, "slope": slope}
    return results
