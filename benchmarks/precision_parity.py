"""Metric parity of the fast training path: for each seed, the same run (seed, data, split, settings) in
float32 and in bf16 autocast (optionally compiled); held-out interpretability R² per attribute and AUC, the
paired bf16 − fp32 difference per seed, the difference of the means over seeds, and the float32 spread
across seeds (the yardstick: a difference smaller than it is indistinguishable from changing the seed).

    python benchmarks/precision_parity.py --data attrivae-demo/data --out parity --epochs 150 \\
        --learning-rate 1e-3 --augment 0.5 --seeds 0,1,2 --test-data INDEPENDENT_COHORT

Target (issue 5): every attribute's interpretability within 0.02 of the float32 run. ``--test-data``
scores every run on all subjects of an independent cohort (as well as on the run's own test split), so
the comparison is not limited by the noise of a small test split. A run folder that already holds a
finished run (its ``summary.json``) is scored again, not retrained, so an interrupted comparison resumes.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from AttriVAELib import load_cohort, load_model, preset, train
from AttriVAELib.data.prepared import PreparedData, prepare_data, with_attributes
from AttriVAELib.evaluation.evaluate import evaluate_model
from AttriVAELib.method.acceleration import retain_freed_memory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--test-data", type=Path, help="independent cohort scored in full (optional)")
    parser.add_argument("--seeds", default="0,1", help="comma-separated training seeds")
    parser.add_argument("--cube-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=150)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--augment", type=float, default=0.0, help="in-plane flip/rotation probability")
    parser.add_argument("--compile", action="store_true", help="compile the bf16 runs too")
    args = parser.parse_args()
    retain_freed_memory()  # as attrivae train

    cohort, base = with_attributes(load_cohort(args.data), preset("paper"))
    names = base.attributes
    seeds = [int(seed) for seed in args.seeds.split(",")]
    fast = "bf16" + ("+compile" if args.compile else "")
    data = independent = None
    runs: dict[str, dict] = {}
    for seed in seeds:
        for label, precision, compile_ in (("fp32", "fp32", "off"), (fast, "bf16", "on" if args.compile else "off")):
            config = dataclasses.replace(base, model=dataclasses.replace(base.model, input_size=args.cube_size),
                                         train=dataclasses.replace(base.train, epochs=args.epochs, seed=seed,
                                                                   device="cpu", learning_rate=args.learning_rate,
                                                                   precision=precision, compile=compile_,
                                                                   augment_probability=args.augment))
            data = data or prepare_data(cohort, config)
            if args.test_data and independent is None:
                independent = prepare_data(*with_attributes(load_cohort(args.test_data), config))
            folder = args.out / f"{label}-seed-{seed}"
            started = time.perf_counter()
            finished = (folder / "summary.json").is_file()
            bundle = load_model(folder / "model.safetensors" if finished else train(cohort, config, folder,
                                                                                  data=data))
            scored = {"test split": (data, "test")}
            if independent is not None:
                scored["independent"] = (independent, "all")
            runs[f"{label} seed {seed}"] = run = {
                "precision": label, "seed": seed, "best_epoch": bundle.card.training.best_epoch,
                "seconds": None if finished else time.perf_counter() - started,
                **{where: _scores(bundle, *subset, names) for where, subset in scored.items()}}
            for where in scored:
                scores = " ".join(f"{run[where]['r2'][n]:.3f}" for n in names)
                print(f"{label:12s} seed {seed}  {where:11s} R² {scores}  AUC {run[where]['auc']:.3f}", flush=True)
    summary = _compare(runs, names, seeds, fast, ["test split"] + (["independent"] if independent is not None else []))
    (args.out / "parity.json").write_text(json.dumps({"attributes": names, "seeds": seeds, "runs": runs, **summary},
                                                     indent=2))


def _scores(bundle, data: PreparedData, subjects: str, names: tuple[str, ...]) -> dict:
    metrics = evaluate_model(bundle, data, subjects).metrics
    return {"r2": {n: metrics["interpretability"][n]["r2"] for n in names}, "auc": metrics["classification"]["auc"]}


def _compare(runs: dict[str, dict], names: tuple[str, ...], seeds: list[int], fast: str,
             places: list[str]) -> dict[str, dict]:
    """Paired differences per seed, difference of the means, float32 spread across seeds; printed too."""
    paired, of_means, spread = {}, {}, {}
    for where in places:
        r2 = {(label, seed): runs[f"{label} seed {seed}"][where]["r2"] for label in ("fp32", fast) for seed in seeds}
        for seed in seeds:
            paired[f"seed {seed}, {where}"] = {n: r2[fast, seed][n] - r2["fp32", seed][n] for n in names}
        mean = {label: {n: float(np.mean([r2[label, s][n] for s in seeds])) for n in names} for label in ("fp32", fast)}
        of_means[where] = {n: mean[fast][n] - mean["fp32"][n] for n in names}
        spread[where] = {n: float(np.ptp([r2["fp32", s][n] for s in seeds])) for n in names}
        for title, values in ((f"{fast} − fp32, mean over seeds", of_means[where]),
                              ("fp32 spread across seeds (max − min)", spread[where])):
            print(f"{title} ({where}): " + " ".join(f"{v:+.3f}" for v in values.values())
                  + f"   max |·| {max(map(abs, values.values())):.3f}")
    return {"paired_differences": paired, "difference_of_means": of_means, "fp32_seed_spread": spread}


if __name__ == "__main__":
    main()
