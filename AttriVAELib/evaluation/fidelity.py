"""Traversal fidelity: does the decoded anatomy move by what the attribute slider asks for?

Per subject and per attribute a decoded cube shows (:data:`~AttriVAELib.data.attributes.DECODED_ATTRIBUTES`),
over a sweep of the training range, the attribute is measured on each decoded cube
(:func:`~AttriVAELib.data.decoded.measure_decoded`, in the data's units through the card's decoded-measure line
when it has one) and compared with the value asked for, two ways:

* ``encoder``: the dim set through the training line alone (how the decoder responds to the encoder's units);
* ``calibrated``: the traversal users get (:func:`~AttriVAELib.interpretation.traversal.sweep`: the decoded response
  measured and inverted), scored on the steps it could draw (at least 3), with the share of steps it had to
  clamp (reported to the user as such).

Each gives the Spearman ρ between requested and measured values and the slope of the least-squares line
measured ≈ slope · requested + b (1 = the decoded anatomy moves by what the slider says), mean and 10th–90th
percentile over subjects. The same measurement on the subjects' real input cubes against their recorded
values (``measure_check``) shows what the measurement itself resolves at the cube's resolution.
"""

from __future__ import annotations

__all__ = ["TRAVERSAL_STEPS", "traversal_fidelity"]

import math
from collections.abc import Sequence

import numpy as np
import torch

from ..data.attributes import DECODED_ATTRIBUTES
from ..data.decoded import measure_cubes
from ..data.preprocessing import CubeGeometry
from ..interpretation.inference import decode
from ..interpretation.traversal import codes_along, measured_in_data_units, sweep
from ..metrics import spearman
from ..modelfile.bundle import ModelBundle
from ..progress import Progress, ProgressEvent

TRAVERSAL_STEPS = 7


def _line(requested: np.ndarray, measured: np.ndarray) -> tuple[float, float]:
    """Spearman ρ and least-squares slope of measured against requested (ρ = 0 when the measurement does not
    move); NaN when fewer than 3 steps could be measured."""
    keep = np.isfinite(measured)
    if keep.sum() < 3 or np.ptp(requested[keep]) == 0:
        return math.nan, math.nan
    rho = spearman(requested[keep], measured[keep]) if np.ptp(measured[keep]) > 0 else 0.0
    return rho, float(np.polyfit(requested[keep], measured[keep], 1)[0])


def _summary(lines: list[tuple[float, float]]) -> dict[str, float]:
    rho, slope = (np.array(column, dtype=float) for column in zip(*lines)) if lines else (np.empty(0),) * 2
    finite = np.isfinite(rho) & np.isfinite(slope)
    if not finite.any():
        return {"subjects": 0, "spearman": math.nan, "slope": math.nan, "slope_p10": math.nan, "slope_p90": math.nan}
    return {"subjects": int(finite.sum()), "spearman": float(rho[finite].mean()), "slope": float(slope[finite].mean()),
            "slope_p10": float(np.percentile(slope[finite], 10)), "slope_p90": float(np.percentile(slope[finite], 90))}


def traversal_fidelity(bundle: ModelBundle, mu: np.ndarray, geometries: Sequence[CubeGeometry],
                       volumes: np.ndarray | None = None, attributes: np.ndarray | None = None,
                       steps: int = TRAVERSAL_STEPS, progress: Progress | None = None) -> dict[str, dict[str, object]]:
    """Fidelity of every regularised attribute a decoded cube shows.

    Args:
        bundle: the model; its card gives each attribute's training range and latent fit.
        mu: (N, L) codes of the subjects whose traversals are measured.
        geometries: the N subjects' cube geometries (voxel size in mm).
        volumes, attributes: (N, S, S, S) input cubes and (N, K) recorded values (column k ↔ attribute k);
            given both, each entry also holds ``measure_check``: the measurement on the inputs against the
            records, as a line over subjects.
        steps: values per sweep, evenly over the training range.
        progress: receives a ``fidelity`` event per subject and attribute measured.

    Returns:
        {attribute: {"requested": [steps values], "encoder": summary, "calibrated": {**summary, "clamped":
        share of steps clamped}, "measure_check": {"spearman", "slope"}}}; a summary holds "subjects",
        "spearman" (mean ρ per subject), "slope" (mean), "slope_p10" and "slope_p90".
    """
    results: dict[str, dict[str, object]] = {}
    entries = [entry for entry in bundle.card.attributes if entry.name in DECODED_ATTRIBUTES and entry.latent_slope]
    for number, entry in enumerate(entries):
        name = entry.name
        requested = np.linspace(entry.minimum, entry.maximum, steps)
        encoder, calibrated, clamped = [], [], []
        for subject, (code, geometry) in enumerate(zip(mu, geometries), start=1):
            codes = codes_along(code, entry.dim, entry.to_latent(requested))
            encoder.append(_line(requested, measured_in_data_units(entry, decode(bundle, codes)[:, 0].cpu().numpy(),
                                                                         geometry)))
            swept = sweep(bundle, torch.as_tensor(code), name, requested, geometry)
            drawn = ~swept.clamped  # clamped steps are reported as such, not scored as misses
            calibrated.append(_line(requested[drawn], swept.measured[drawn]))
            clamped.append(swept.clamped.mean())
            if progress:
                progress(ProgressEvent("fidelity", done=number * len(mu) + subject, total=len(entries) * len(mu)))
        results[name] = {"requested": requested.tolist(), "encoder": _summary(encoder),
                         "calibrated": {**_summary(calibrated), "clamped": float(np.mean(clamped))}}
        if volumes is not None and attributes is not None:
            on_input = measure_cubes(volumes, geometries, name)
            rho, slope = _line(attributes[:, entry.dim], on_input)
            results[name]["measure_check"] = {"spearman": rho, "slope": slope}
    return results
