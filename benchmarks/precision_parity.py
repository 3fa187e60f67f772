"""Metric parity of the fast training path: the same run (seed, data, split, settings) in float32 and in bf16
autocast (optionally compiled), plus a float32 run with another seed as the yardstick of run-to-run spread;
held-out interpretability R² per attribute, the differences to the float32 run, AUC.

    python benchmarks/precision_parity.py --data attrivae-demo/data --out parity --epochs 150 \\
        --learning-rate 1e-3 --augment 0.5 --test-data INDEPENDENT_COHORT

Target (issue 5): every attribute's interpretability within 0.02 of the float32 run. ``--test-data``
scores every run on all subjects of an independent cohort (as well as on the run's own test split), so
the comparison is not limited by the noise of a 30-subject test split.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import torch

from AttriVAELib import load_cohort, load_model, preset, select_attributes, train
from AttriVAELib.data import PreparedData, prepare_data
from AttriVAELib.evaluation import evaluate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--test-data", type=Path, help="independent cohort scored in full (optional)")
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--augment", type=float, default=0.0, help="in-plane flip/rotation probability")
    parser.add_argument("--compile", action="store_true", help="compile the bf16 run too")
    args = parser.parse_args()

    cohort, names = select_attributes(load_cohort(args.data))
    base = preset("paper")
    fast = "bf16" + ("+compile" if args.compile else "")
    runs = {"fp32": ("fp32", False, 0), fast: ("bf16", args.compile, 0), "fp32 seed 1": ("fp32", False, 1)}
    data = independent = None
    results: dict[str, dict] = {}
    for label, (precision, compile_, seed) in runs.items():
        config = dataclasses.replace(base, model=dataclasses.replace(base.model, input_size=args.size),
                                     train=dataclasses.replace(base.train, epochs=args.epochs, seed=seed, device="cpu",
                                                               learning_rate=args.learning_rate, precision=precision,
                                                               compile=compile_, augment_probability=args.augment))
        data = data or prepare_data(cohort, names, config)
        if args.test_data and independent is None:
            independent = prepare_data(*select_attributes(load_cohort(args.test_data), names), config)
        started = time.perf_counter()
        bundle = load_model(train(cohort, names, config, args.out / label.replace(" ", "-"), data=data))
        seconds = time.perf_counter() - started
        scored = {"test split": (data, data.indices(bundle.card["data"]["split"]["test"]))}
        if independent is not None:
            scored["independent"] = (independent, np.arange(len(independent.subject_ids)))
        results[label] = {"seconds": seconds, "best_epoch": bundle.card["training"]["best_epoch"],
                          **{where: _scores(bundle, *subset, names) for where, subset in scored.items()}}
        for where in scored:
            print(f"{label:12s} {where:11s} {seconds:5.0f} s  R² "
                  + " ".join(f"{results[label][where]['r2'][n]:.3f}" for n in names)
                  + f"  AUC {results[label][where]['auc']:.3f}", flush=True)
    differences = {}
    for label in (fast, "fp32 seed 1"):
        for where in ("test split", "independent") if independent is not None else ("test split",):
            delta = {n: results[label][where]["r2"][n] - results["fp32"][where]["r2"][n] for n in names}
            differences[f"{label} vs fp32, {where}"] = delta
            print(f"{label} − fp32 ({where}): " + " ".join(f"{d:+.3f}" for d in delta.values())
                  + f"   max |Δ| {max(map(abs, delta.values())):.3f}")
    (args.out / "parity.json").write_text(json.dumps({"attributes": names, "runs": results,
                                                      "differences": differences}, indent=2))


def _scores(bundle, data: PreparedData, indices: np.ndarray, names: tuple[str, ...]) -> dict:
    metrics = evaluate(bundle, data, indices, names, torch.device("cpu")).metrics
    return {"r2": {n: metrics["interpretability"][n]["r2"] for n in names}, "auc": metrics["classification"]["auc"]}


if __name__ == "__main__":
    main()
