"""Interpretation against ground truth on an independent synthetic cohort: where each attribution method's
maps land (per attribute, against the structure that defines it), what each costs, integrated gradients'
completeness, and traversal fidelity (the attribute measured on decoded volumes against the slider's value, by
the encoder's line alone and calibrated as the tool does it).

    python benchmarks/localisation.py --model AttriVAE/Resources/Models/attrivae-shipped.safetensors \\
        --data H300 --json localisation.json

Without ``--data`` it synthesises the cohort (the demo's settings, ``--subjects`` subjects, seed ``--seed``)
in a temporary folder. Prints one table per method and writes every number as JSON.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from AttriVAELib import load_cohort, load_model
from AttriVAELib.apps.demo import DemoSettings
from AttriVAELib.choices import ATTRIBUTION_METHODS, DEFAULT_METHOD
from AttriVAELib.data.attributes import STRUCTURE_OF_ATTRIBUTE
from AttriVAELib.data.prepared import PreparedData, prepare_data, with_attributes
from AttriVAELib.data.synthetic import make_cohort
from AttriVAELib.evaluation.evaluate import encode_all
from AttriVAELib.evaluation.fidelity import traversal_fidelity
from AttriVAELib.evaluation.localisation import localisation
from AttriVAELib.files import atomic_path, to_json
from AttriVAELib.interpretation.attention import INTEGRATION_STEPS, VOXELS_PER_PASS, attention
from AttriVAELib.modelfile.provenance import machine

COMPLETENESS_SUBJECTS = 10


def _passes(method: str, attributes: int, size: int, steps: int = INTEGRATION_STEPS) -> int:
    """Forward + backward passes per subject (all attributes of a subject share each pass)."""
    if method != "integrated-gradients":
        return 1
    return -(-attributes * steps // max(1, VOXELS_PER_PASS // size**3))


def _completeness(bundle: Any, data: PreparedData, count: int) -> dict[str, float]:
    """|Σ attributions − (μ_k(x) − μ_k(0))| / max_k |μ_k(x) − μ_k(0)|, over the first ``count`` subjects."""
    errors = []
    for index in range(min(count, len(data.subject_ids))):
        x = data.volumes[index:index + 1]
        maps = attention(bundle, x, method="integrated-gradients", normalise=False)
        with torch.no_grad():
            gained = (bundle.model.encode(x)[0] - bundle.model.encode(torch.zeros_like(x))[0])[0].numpy()
        sums = np.array([maps[name].sum() for name in bundle.attribute_names])
        changes = gained[:len(sums)]
        errors.append(float(np.abs(sums - changes).max() / np.abs(changes).max()))
    return {"subjects": len(errors), "mean": float(np.mean(errors)), "max": float(np.max(errors))}


def run(model: Path, data_path: Path) -> dict[str, Any]:
    bundle = load_model(model)
    data = prepare_data(*with_attributes(load_cohort(data_path), bundle.card.config))
    names = data.attribute_names
    everyone = np.arange(len(data.subject_ids))
    methods: dict[str, Any] = {}
    for method in ATTRIBUTION_METHODS:
        started = time.perf_counter()
        scores = localisation(bundle, data, everyone, [method])[method]
        seconds = (time.perf_counter() - started) / len(everyone)
        methods[method] = {"seconds_per_subject": seconds, "attributes": len(names),
                           "passes_per_subject": _passes(method, len(names), bundle.card.config.model.input_size),
                           "scores": scores}
    mu, _ = encode_all(bundle.model, data.volumes, torch.device("cpu"))
    started = time.perf_counter()
    fidelity = traversal_fidelity(bundle, mu, data.geometries, data.volumes[:, 0].numpy(), data.attributes.numpy())
    return {"model": str(model), "subjects": len(everyone),
            "infarcted": int(data.infarct_masks.any(axis=(1, 2, 3)).sum()) if data.infarct_masks is not None else 0,
            "default_method": DEFAULT_METHOD, "methods": methods,
            "completeness": _completeness(bundle, data, COMPLETENESS_SUBJECTS),
            "fidelity": fidelity, "fidelity_seconds_per_subject": (time.perf_counter() - started) / len(everyone),
            "machine": machine()}


def format_tables(result: dict[str, Any]) -> str:
    lines = [f"{result['subjects']} subjects ({result['infarcted']} infarcted), {result['model']}"]
    for method, entry in result["methods"].items():
        lines += ["", f"{method}{' (default)' if method == result['default_method'] else ''}: "
                      f"{entry['seconds_per_subject'] * 1e3:.0f} ms per subject for {entry['attributes']} attributes "
                      f"({entry['passes_per_subject']} forward+backward passes)",
                  f"  {'attribute':22s} {'structure':11s} {'N':>4s} {'enrichment':>10s} {'pointing':>8s} "
                  f"{'outside LV':>10s} {'(max)':>7s} {'IoU':>6s}"]
        for name, s in entry["scores"].items():
            lines.append(f"  {name:22s} {STRUCTURE_OF_ATTRIBUTE[name]:11s} {s['subjects']:4d} {s['enrichment']:10.2f} "
                         f"{s['pointing']:8.2f} {s['outside_lv']:10.4f} {s['outside_lv_max']:7.4f} {s['iou']:6.3f}")
    c = result["completeness"]
    lines += ["", f"integrated gradients completeness error (|Σ − Δμ| / max |Δμ|) over {c['subjects']} subjects: "
                  f"mean {c['mean']:.3f}, max {c['max']:.3f}",
              "", f"traversal fidelity ({result['fidelity_seconds_per_subject'] * 1e3:.0f} ms per subject)",
              f"  {'attribute':22s} {'N':>4s} {'way':>10s} {'rho':>6s} {'slope':>6s} {'p10':>6s} {'p90':>6s} "
              f"{'clamped':>7s} {'check rho':>9s} {'check slope':>11s}"]
    for name, f in result["fidelity"].items():
        check = f["measure_check"]
        for way in ("encoder", "calibrated"):
            s = f[way]
            lines.append(f"  {name:22s} {s['subjects']:4d} {way:>10s} {s['spearman']:6.3f} {s['slope']:6.3f} "
                         f"{s['slope_p10']:6.3f} {s['slope_p90']:6.3f} {s.get('clamped', 0.0):7.2f} "
                         f"{check['spearman']:9.3f} {check['slope']:11.3f}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="model bundle (.safetensors)")
    parser.add_argument("--data", type=Path, help="cohort folder; default: synthesise one")
    parser.add_argument("--subjects", type=int, default=300, help="subjects to synthesise without --data")
    parser.add_argument("--seed", type=int, default=12345, help="seed of the synthesised cohort")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        data = args.data
        if data is None:
            data = Path(temporary) / "cohort"
            make_cohort(data, **{**DemoSettings().cohort_arguments(), "subjects": args.subjects, "seed": args.seed})
        result = run(args.model, data)
    print(format_tables(result))
    if args.json:
        with atomic_path(args.json) as path:
            path.write_text(to_json(result, indent=2) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
