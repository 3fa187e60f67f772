"""Which split-conformal score gives narrower 95 % intervals at the same coverage: ``absolute`` (|measured −
encoded|) or ``scaled`` (that over the posterior σ)? And how far the posterior interval μ ± 1.96σ falls short.

On one cohort the model did not train on: ``--repeats`` times, ``--calibration-subjects`` subjects drawn at
random calibrate each kind (as training calibrates on its validation split) and the other subjects score it
(coverage, mean width). Prints a table per attribute and writes JSON.

    python benchmarks/interval_kinds.py --model AttriVAE/Resources/Models/attrivae-shipped.safetensors --data H300
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from AttriVAELib import load_cohort, load_model
from AttriVAELib.data.prepared import prepare_data, with_attributes
from AttriVAELib.evaluation.evaluate import encode_all
from AttriVAELib.interpretation.codes import INTERVAL_LEVEL, interval_coverage
from AttriVAELib.interpretation.inference import encode
from AttriVAELib.modelfile.calibration import nonconformity_scores
from AttriVAELib.modelfile.card import INTERVAL_KINDS, IntervalCalibration
from AttriVAELib.modelfile.provenance import machine


def compare(model: Path, data: Path, calibration_subjects: int = 60, repeats: int = 200,
            seed: int = 0) -> dict[str, object]:
    """Per attribute and kind: mean and sd of the coverage on the held-back subjects, mean interval width."""
    bundle = load_model(model)
    prepared = prepare_data(*with_attributes(load_cohort(data), bundle.card.config))
    mu, _ = encode_all(bundle.model, prepared.volumes, "cpu")
    sigma = np.concatenate([encode(bundle, prepared.volumes[start:start + 16])[1].numpy()
                            for start in range(0, len(prepared.volumes), 16)])
    attributes = prepared.attributes.numpy().astype(np.float64)
    rng = np.random.default_rng(seed)
    draws = [rng.permutation(len(mu)) for _ in range(repeats)]
    results: dict[str, object] = {}
    for k, entry in enumerate(bundle.card.attributes):
        encoded, in_units = entry.to_attribute(mu[:, entry.dim]), sigma[:, entry.dim] / abs(entry.latent_slope)
        posterior = interval_coverage(attributes[:, k], encoded - 1.96 * in_units, encoded + 1.96 * in_units)[0]
        kinds = {}
        for kind in INTERVAL_KINDS:
            coverage, width = [], []
            for order in draws:
                held, scored = order[:calibration_subjects], order[calibration_subjects:]
                scores = nonconformity_scores(entry, attributes[held, k], mu[held, entry.dim], sigma[held, entry.dim],
                                              kind)
                half = IntervalCalibration(kind, tuple(scores)).half_width(INTERVAL_LEVEL)
                half = half * in_units[scored] if kind == "scaled" else np.full(len(scored), half)
                coverage.append(interval_coverage(attributes[scored, k], encoded[scored] - half,
                                                  encoded[scored] + half)[0])
                width.append(float(np.mean(2 * half)))
            kinds[kind] = {"coverage": float(np.mean(coverage)), "coverage_sd": float(np.std(coverage)),
                           "mean_width": float(np.mean(width))}
        results[entry.name] = {"posterior_coverage": posterior, **kinds}
    return {"subjects": len(mu), "calibration_subjects": calibration_subjects, "repeats": repeats,
            "level": INTERVAL_LEVEL, "attributes": results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="model bundle (.safetensors)")
    parser.add_argument("--data", type=Path, required=True, help="a cohort the model did not train on")
    parser.add_argument("--calibration-subjects", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    result = compare(args.model, args.data, args.calibration_subjects, args.repeats)
    print(f"{result['subjects']} subjects, {args.repeats} draws of {args.calibration_subjects} calibration subjects")
    print(f"  {'attribute':22s} {'posterior':>9s} " + " ".join(f"{kind + ' cov':>14s} {'width':>8s}"
                                                            for kind in INTERVAL_KINDS))
    for name, row in result["attributes"].items():
        print(f"  {name:22s} {row['posterior_coverage']:9.3f} " + " ".join(
            f"{row[kind]['coverage']:8.3f}±{row[kind]['coverage_sd']:.3f} {row[kind]['mean_width']:8.3g}"
            for kind in INTERVAL_KINDS))
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), **result}, indent=2))


if __name__ == "__main__":
    main()
