"""Cross-validation of several presets on the same folds: mean ± sd of every metric per preset.

For each seed the subjects are cut into stratified folds; every fold is once the test part, never seen by
training or model selection (which uses a validation part drawn from the other folds).
"""

from __future__ import annotations

__all__ = ["cross_validate", "summarise"]

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from .bundle import load_model
from .choices import DEFAULT_METHOD
from .config import RunConfig
from .data import PreparedData, prepare_data
from .datasets import Cohort
from .errors import InvalidConfigError
from .evaluation import evaluate
from .io import atomic_path, to_json
from .progress import Progress
from .splits import stratified_folds
from .training import resolve_device, train


def cross_validate(cohort: Cohort, attribute_names: tuple[str, ...], base: RunConfig, presets: list[str],
                   folds: int, seeds: int, out_dir: Path | str, progress: Progress | None = None) -> dict[str, Any]:
    """Train and evaluate every preset on every fold of every seed; return and write ``crossval.json``.

    Seeds are ``base.train.seed``, ``+1``, ...; each run lives in ``out_dir/runs/<preset>/seed<s>/fold<f>``.

    Raises:
        InvalidConfigError: ``out_dir`` is not empty, or no preset or seed is asked for.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise InvalidConfigError(f"cross-validation folder {out_dir} is not empty; choose a new --out")
    if not presets or seeds < 1:
        raise InvalidConfigError("cross-validation needs at least one preset and one seed")
    configs = {name: base.with_preset(name) for name in presets}
    device = resolve_device(base.train.device)
    prepared: dict[str, PreparedData] = {}  # one preprocessing per distinct preprocessing config
    runs = []
    for seed in range(base.train.seed, base.train.seed + seeds):
        splits = stratified_folds(cohort.labels, folds, base.train.val_fraction, seed)
        for name, config in configs.items():
            config = dataclasses.replace(config, train=dataclasses.replace(config.train, seed=seed))
            key = repr(config.preprocess)
            if key not in prepared:
                prepared[key] = prepare_data(cohort, attribute_names, config, progress)
            data = prepared[key]
            for fold, split in enumerate(splits):
                run_dir = out_dir / "runs" / name / f"seed{seed}" / f"fold{fold}"
                model_path = train(cohort, attribute_names, config, run_dir, data=data, split=split, progress=progress)
                evaluation = evaluate(load_model(model_path, device), data, split.test, attribute_names, device,
                                      attribution_methods=(DEFAULT_METHOD,))
                runs.append({"preset": name, "seed": seed, "fold": fold, "metrics": evaluation.metrics})
                if progress:
                    progress({"event": "crossval", "preset": name, "seed": seed, "fold": fold,
                              "done": len(runs), "total": seeds * len(configs) * folds})
    results = {"folds": folds, "seeds": seeds, "presets": presets, "attributes": list(attribute_names),
               "summary": summarise(runs), "runs": runs}
    with atomic_path(out_dir / "crossval.json") as temporary:
        temporary.write_text(to_json(results, indent=2) + "\n")
    return results


def _flatten(metrics: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """Nested metric dicts → {"a.b": value} for every number (the max-MI dims are left out)."""
    flat: dict[str, float] = {}
    for key, value in metrics.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        elif isinstance(value, (int, float)) and key not in ("dim", "subjects"):
            flat[f"{prefix}{key}"] = float(value)
    return flat


def summarise(runs: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, float]]]:
    """{preset: {metric: {"mean", "sd", "n"}}} over the runs of each preset (NaNs skipped; sd with ddof 1)."""
    summary: dict[str, dict[str, dict[str, float]]] = {}
    for preset in dict.fromkeys(run["preset"] for run in runs):
        flats = [_flatten(run["metrics"]) for run in runs if run["preset"] == preset]
        summary[preset] = {}
        for metric in flats[0]:
            values = np.array([flat.get(metric, np.nan) for flat in flats])
            values = values[np.isfinite(values)]
            summary[preset][metric] = {
                "mean": float(values.mean()) if len(values) else float("nan"),
                "sd": float(values.std(ddof=1)) if len(values) > 1 else float("nan"),
                "n": len(values),
            }
    return summary
