"""Which training levers make the decoder keep the anatomy it encodes? One lever at a time on top of the demo's
settings, each trained on the demo's cohort and measured on an independent cohort: decoder fidelity (per
structure Dice, infarct contrast retained), the uncalibrated traversal slope of each attribute a decoded volume
shows, own-dim precision and leakage, AUC.

    python benchmarks/decoder_levers.py --work levers --independent H300 --json levers.json
    python benchmarks/decoder_levers.py --work levers --independent H300 --variants demo,epochs-160 \\
        --baseline AttriVAE/Resources/Models/attrivae-shipped.safetensors

Resumable: each variant trains into ``WORK/<variant>`` (``WORK/<variant>-seed<k>`` for a training seed k other
than 0; an interrupted run resumes from its checkpoint) and its result is kept in that folder's ``levers.json``;
a finished run is not redone. ``--seeds 0,1,2`` trains each variant with each training seed (the split, the data
order and the weights change; the cohort stays the demo's) and prints the mean and sd over seeds. ``--baseline``
uses a model made with the demo's settings for the ``demo`` variant at seed 0 instead of training it again.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from AttriVAELib import load_cohort, load_model
from AttriVAELib.apps.demo import DemoSettings
from AttriVAELib.data.prepared import PreparedData, prepare_data, with_attributes
from AttriVAELib.data.synthetic import make_cohort
from AttriVAELib.evaluation.evaluate import evaluate_model
from AttriVAELib.evaluation.fidelity import traversal_fidelity
from AttriVAELib.files import atomic_path, to_json
from AttriVAELib.modelfile.bundle import ModelBundle
from AttriVAELib.modelfile.provenance import machine
from AttriVAELib.training.loop import CHECKPOINT, train

VARIANTS: dict[str, dict[str, dict[str, Any]]] = {
    "demo": {},
    "epochs-160": {"train": {"epochs": 160}},
    "epochs-320": {"train": {"epochs": 320}},
    "beta-0.5": {"loss": {"beta": 0.5}},
    "beta-0.5-warmup": {"loss": {"beta": 0.5, "kl_warmup_epochs": 20}},
    "mse": {"loss": {"reconstruction": "mse"}},
    "wide-decoder": {"model": {"decoder_channels": (128, 64, 32, 16, 8)}},
    "bottleneck-16": {"model": {"encoder_channels": (8, 16, 32, 64, 16)}},
    "bottleneck-64": {"model": {"encoder_channels": (8, 16, 32, 64, 64)}},
    "bottleneck-64-epochs-160": {"model": {"encoder_channels": (8, 16, 32, 64, 64)}, "train": {"epochs": 160}},
    "latent-32": {"model": {"latent_size": 32}},
    "input-48": {"model": {"input_size": 48}},
}
"""Overrides of the demo's run configuration, per section: one lever each, and the two that helped together."""
RESULT = "levers.json"


def _measure(bundle: ModelBundle, independent: PreparedData, fidelity_subjects: int) -> dict[str, Any]:
    evaluation = evaluate_model(bundle, independent, "all", attribution_methods=(), fidelity=False)
    m = evaluation.metrics
    chosen = np.arange(min(fidelity_subjects, len(evaluation.subject_ids)))
    started = time.perf_counter()
    fidelity = traversal_fidelity(bundle, evaluation.mu[chosen], [evaluation.geometries[i] for i in chosen])
    return {"best_epoch": bundle.card.training.best_epoch, "subjects": m["subjects"], "decoder": m["decoder"],
            "precision": m["precision"], "reconstruction_dice": m["reconstruction"]["dice"],
            "auc": m["classification"]["auc"],
            "interpretability_r2": {n: e["r2"] for n, e in m["interpretability"].items()},
            "encoder_slope": {name: f["encoder"] for name, f in fidelity.items()},
            "fidelity_subjects": len(chosen), "fidelity_seconds": time.perf_counter() - started}


def run_variant(name: str, seed: int, work: Path, training_data: Path, independent: Path,
                prepared: dict[int, PreparedData], fidelity_subjects: int, baseline: Path | None) -> dict[str, Any]:
    """Train (or resume, or reuse) one variant with training seed ``seed`` and measure it on ``independent``
    (prepared once per input size, kept in ``prepared``); the result is kept in its folder under ``work``."""
    folder = work / (name if seed == 0 else f"{name}-seed{seed}")
    if (folder / RESULT).is_file():
        return {"seed": 0, **json.loads((folder / RESULT).read_text())}
    overrides = VARIANTS[name]
    config = DemoSettings().run_config().with_overrides(
        {**overrides, "train": {**overrides.get("train", {}), "seed": seed}})
    started = time.perf_counter()
    if name == "demo" and seed == 0 and baseline is not None:
        model_path, minutes = baseline, None
    else:
        if not (training_data / "attributes.csv").is_file():
            make_cohort(training_data, **DemoSettings().cohort_arguments())
        model_path = train(load_cohort(training_data), config, folder, resume=(folder / CHECKPOINT).is_file())
        minutes = (time.perf_counter() - started) / 60
    bundle = load_model(model_path)
    size = bundle.card.config.model.input_size
    if size not in prepared:
        prepared[size] = prepare_data(*with_attributes(load_cohort(independent), bundle.card.config))
    result = {"variant": name, "seed": seed, "overrides": VARIANTS[name], "training_minutes": minutes,
              "model": str(model_path), **_measure(bundle, prepared[size], fidelity_subjects)}
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(folder / RESULT) as path:
        path.write_text(to_json(result, indent=2) + "\n")
    return result


def _number(value: float | None, width: int) -> str:
    """A score right-aligned in ``width`` characters; – for a missing one (NaN becomes null in JSON)."""
    return f"{'–':>{width}s}" if value is None or value != value else f"{value:{width}.3f}"


def _label(result: dict[str, Any]) -> str:
    return result["variant"] if result["seed"] == 0 else f"{result['variant']}/s{result['seed']}"


SUMMARY = {"cavity Dice": ("decoder", "dice", "cavity", "median"),
           "myo Dice": ("decoder", "dice", "myocardium", "median"),
           "infarct Dice": ("decoder", "dice", "infarct", "median"),
           "contrast": ("decoder", "infarct_contrast", "median")}
"""Figures summarised over seeds, with their path in a result; plus every precision, leakage and slope."""


def _figures(result: dict[str, Any]) -> dict[str, float]:
    figures = {}
    for label, path in SUMMARY.items():
        value: Any = result
        for key in path:
            value = value[key]
        figures[label] = value
    figures.update({f"precision {n}": p["precision"] for n, p in result["precision"].items()})
    figures["max leakage"] = max(p["leakage"] for p in result["precision"].values())
    figures.update({f"slope {n}": s["slope"] for n, s in result["encoder_slope"].items()})
    return figures


def format_seed_summary(results: list[dict[str, Any]]) -> str:
    """Mean ± sd over the seeds of each variant (NaN-free figures only), one line per figure."""
    by_variant: dict[str, list[dict[str, float]]] = {}
    for r in results:
        by_variant.setdefault(r["variant"], []).append(_figures(r))
    lines = ["mean ± sd over seeds"]
    for variant, runs in by_variant.items():
        lines.append(f"{variant} ({len(runs)} seeds)")
        for figure in runs[0]:
            values = np.array([run[figure] for run in runs if run.get(figure) is not None], dtype=float)
            lines.append(f"  {figure:24s} {values.mean():.3f} ± {values.std(ddof=1) if len(values) > 1 else 0:.3f}")
    return "\n".join(lines)


def format_table(results: list[dict[str, Any]]) -> str:
    slopes = sorted({name for r in results for name in r["encoder_slope"]})
    header = (f"{'variant':16s} {'epoch':>5s} {'min':>5s} {'cavity':>6s} {'myo':>6s} {'infarct':>7s} "
              f"{'contrast':>8s} {'AUC':>6s} " + " ".join(f"{n[:10]:>10s}" for n in slopes))
    lines = ["decoder fidelity: medians; slope: uncalibrated traversal slope (mean over subjects)", header]
    for r in results:
        d = r["decoder"]
        lines.append(f"{_label(r):16s} {r['best_epoch']:5d} {_number(r['training_minutes'], 5)} "
                     f"{_number(d['dice']['cavity']['median'], 6)} {_number(d['dice']['myocardium']['median'], 6)} "
                     f"{_number(d['dice']['infarct']['median'], 7)} {_number(d['infarct_contrast']['median'], 8)} "
                     f"{_number(r['auc'], 6)} "
                     + " ".join(_number(r["encoder_slope"].get(n, {}).get("slope"), 10) for n in slopes))
    lines += ["", "own-dim precision (adjusted R², cubic) / leakage"]
    for r in results:
        lines.append(f"{_label(r):16s} " + "  ".join(
            f"{n[:10]} {_number(p['precision'], 5)}/{_number(p['leakage'], 5)}" for n, p in r["precision"].items()))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="folder of the runs (reused: resumable)")
    parser.add_argument("--independent", type=Path, required=True, help="independent cohort folder")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated variants")
    parser.add_argument("--baseline", type=Path, help="a model made with the demo's settings, for 'demo'")
    parser.add_argument("--fidelity-subjects", type=int, default=60, help="subjects of the traversal slopes")
    parser.add_argument("--seeds", default="0", help="comma-separated training seeds, each variant with each")
    parser.add_argument("--json", type=Path, help="also write every result here")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown:
        parser.error(f"unknown variants {unknown}; known: {', '.join(VARIANTS)}")
    training_data = args.work / "data"  # the demo's cohort, synthesised when a variant first trains
    prepared: dict[int, PreparedData] = {}
    results = []
    for seed in seeds:
        for name in variants:
            results.append(run_variant(name, seed, args.work, training_data, args.independent, prepared,
                                       args.fidelity_subjects, args.baseline))
            print(format_table(results[-1:]).splitlines()[2], flush=True)
    print(format_table(results))
    if len(seeds) > 1:
        print("\n" + format_seed_summary(results))
    if args.json:
        with atomic_path(args.json) as path:
            path.write_text(to_json({"machine": machine(), "settings": DemoSettings().training_options(),
                                     "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
