"""Train every combination of presets, epoch counts and learning rates on one seeded split of a dataset
and print the held-out metrics side by side (interpretability R² per attribute, AUC).

Used to choose the demo's training settings; meant for a GPU, runs anywhere:

    python benchmarks/settings_sweep.py --data attrivae-demo/data --out sweep --cube-size 32 \\
        --presets attri-vae,beta-vae --epochs 200,400 --learning-rates 1e-3
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import time
from pathlib import Path

import torch

from AttriVAELib import load_cohort, load_model, preset, select_attributes, train
from AttriVAELib.config import PRECISIONS, TrainConfig
from AttriVAELib.data.prepared import prepare_data
from AttriVAELib.evaluation.evaluate import evaluate_model
from AttriVAELib.method.acceleration import resolve_device, retain_freed_memory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--cube-size", type=int, default=32)
    parser.add_argument("--presets", default="attri-vae,beta-vae")
    parser.add_argument("--epochs", default="200")
    parser.add_argument("--learning-rates", default="1e-3")
    parser.add_argument("--lr-schedule", default="constant", choices=["constant", "cosine"])
    parser.add_argument("--augment", type=float, default=0.0, help="in-plane flip/rotation probability")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default=TrainConfig.precision, choices=PRECISIONS,
                        help="as train --precision (docs/experiments.md's table: fp32)")
    args = parser.parse_args()

    retain_freed_memory()  # as attrivae train

    cohort, names = select_attributes(load_cohort(args.data))
    device = resolve_device(args.device)
    results, data = [], None
    for name, epochs, rate in itertools.product(args.presets.split(","), map(int, args.epochs.split(",")),
                                                map(float, args.learning_rates.split(","))):
        base = preset(name)
        config = dataclasses.replace(
            base, attributes=names, model=dataclasses.replace(base.model, input_size=args.cube_size),
            train=dataclasses.replace(base.train, epochs=epochs, learning_rate=rate, seed=args.seed,
                                      lr_schedule=args.lr_schedule, augment_probability=args.augment,
                                      device=str(device), precision=args.precision))
        data = data or prepare_data(cohort, config)
        started = time.perf_counter()
        run = f"{name}-e{epochs}-lr{rate:g}-{args.lr_schedule}-aug{args.augment:g}"
        model_path = train(cohort, config, args.out / run, data=data)
        bundle = load_model(model_path, device)
        metrics = evaluate_model(bundle, data, "test", device).metrics
        best_epoch = bundle.card.training.best_epoch
        results.append({"preset": name, "epochs": epochs, "learning_rate": rate, "best_epoch": best_epoch,
                         "seconds": time.perf_counter() - started, "metrics": metrics})
        r2 = " ".join(f"{metrics['interpretability'][n]['r2']:.2f}" for n in names)
        print(f"{name:10s} e{epochs:<5d} lr{rate:<7g} best e{best_epoch:<5d} R² [{r2}] "
              f"mean {metrics['interpretability_mean']:.3f} "
              f"AUC {metrics['classification']['auc']:.3f} ({time.perf_counter() - started:.0f} s)", flush=True)
    (args.out / "sweep.json").write_text(json.dumps({"attributes": list(names), "device": str(device),
                                                     "torch": torch.__version__, "results": results}, indent=2))


if __name__ == "__main__":
    main()
