"""Metric parity of the fast training path: the same run (seed, data, split, settings) in float32 eager and in
bf16 autocast (optionally compiled); held-out interpretability R² per attribute, their difference, AUC.

    python benchmarks/precision_parity.py --data attrivae-demo/data --out parity --epochs 300 --learning-rate 1e-3

Target (issue 5): every attribute's interpretability within 0.02 of the float32 run.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import torch

from AttriVAELib import load_cohort, load_model, preset, select_attributes, train
from AttriVAELib.data import prepare_data
from AttriVAELib.evaluation import evaluate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--compile", action="store_true", help="compile the bf16 run too")
    args = parser.parse_args()

    cohort, names = select_attributes(load_cohort(args.data))
    base = preset("paper")
    runs = {"fp32": {"precision": "fp32", "compile": False},
            "bf16" + ("+compile" if args.compile else ""): {"precision": "bf16", "compile": args.compile}}
    data, results = None, {}
    for label, settings in runs.items():
        config = dataclasses.replace(base, model=dataclasses.replace(base.model, input_size=args.size),
                                     train=dataclasses.replace(base.train, epochs=args.epochs, seed=0, device="cpu",
                                                               learning_rate=args.learning_rate, **settings))
        data = data or prepare_data(cohort, names, config)
        started = time.perf_counter()
        bundle = load_model(train(cohort, names, config, args.out / label, data=data))
        metrics = evaluate(bundle, data, data.indices(bundle.card["data"]["split"]["test"]), names,
                           torch.device("cpu")).metrics
        results[label] = {"seconds": time.perf_counter() - started, "best_epoch": bundle.card["training"]["best_epoch"],
                          "r2": {n: metrics["interpretability"][n]["r2"] for n in names},
                          "auc": metrics["classification"]["auc"]}
        print(f"{label:14s} {results[label]['seconds']:6.0f} s  R² "
              + " ".join(f"{results[label]['r2'][n]:.3f}" for n in names) + f"  AUC {results[label]['auc']:.3f}",
              flush=True)
    fast = results[list(runs)[1]]
    differences = {n: fast["r2"][n] - results["fp32"]["r2"][n] for n in names}
    print("difference     " + " ".join(f"{d:+.3f}" for d in differences.values())
          + f"   max |Δ| {max(map(abs, differences.values())):.3f}")
    (args.out / "parity.json").write_text(json.dumps({"attributes": names, "runs": results,
                                                      "differences": differences}, indent=2))


if __name__ == "__main__":
    main()
