"""Cross-validation of several presets on the same folds: mean ± sd of every metric per preset.

For each seed the subjects are cut into stratified folds; every fold is once the test part, never seen by
training or model selection (which uses a validation part drawn from the other folds).
"""

from __future__ import annotations

__all__ = ["RUN_RESULT", "SETTINGS", "ceiling_groups", "cross_validate", "summarise"]

import dataclasses
import json
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..choices import DEFAULT_METHOD
from ..config import RunConfig
from ..data.datasets import Cohort
from ..data.prepared import PreparedData, prepare_data, with_attributes
from ..data.splits import Split, stratified_folds
from ..errors import InvalidConfigError
from ..evaluation.evaluate import evaluate_model
from ..files import atomic_path, to_json
from ..method.acceleration import resolve_device
from ..modelfile.bundle import load_model
from ..progress import Progress, ProgressEvent
from .loop import CHECKPOINT, train

RUN_RESULT = "crossval_run.json"
"""A finished run's metrics, in its run folder; ``resume`` keeps such runs instead of training them again."""

SETTINGS = "crossval_settings.json"
"""What a cross-validation runs (folds, seeds, attributes, independent cohort, every preset's config), in its
folder: ``resume`` refuses other settings, so kept runs and new ones measure the same thing."""


def cross_validate(cohort: Cohort, base: RunConfig, presets: list[str],
                   folds: int, seeds: int, out_dir: Path | str, progress: Progress | None = None,
                   independent: Cohort | None = None, resume: bool = False,
                   overrides: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """Train and evaluate every preset on every fold of every seed; return and write ``crossval.json``.

    The regularised attributes are ``base.attributes`` (none named: the defaults the cohort has). Each preset
    runs ``base.with_preset(name)`` (its own settings plus what ``base`` changed from its preset),
    then ``overrides`` ({section: {field: value}}, e.g. the command line's flags), which apply to every preset
    even where they equal a preset's default.

    Seeds are ``base.train.seed``, ``+1``, ...; each run lives in ``out_dir/runs/<preset>/seed<s>/fold<f>``.
    Every model is evaluated on its test fold (with the default attribution method's localisation; not the
    traversal fidelity, which measures decoded volumes for about a second per subject: ``attrivae evaluate`` and
    the published interpretation results have it) and, when ``independent`` is given, on all subjects of that
    cohort (preprocessed as the model's training data; the paper's metrics only). ``resume`` continues an interrupted
    cross-validation in ``out_dir``: finished runs are kept, an interrupted one resumes from its checkpoint.

    Raises:
        InvalidConfigError: ``out_dir`` is not empty (without ``resume``) or holds a cross-validation with other
            settings (with it), or no preset or seed is asked for.
    """
    out_dir = Path(out_dir)
    if not resume and out_dir.exists() and any(out_dir.iterdir()):
        raise InvalidConfigError(f"cross-validation folder {out_dir} is not empty; choose a new --out, or --resume")
    if not presets or seeds < 1:
        raise InvalidConfigError("cross-validation needs at least one preset and one seed")
    cohort, base = with_attributes(cohort, base)
    configs = {name: base.with_preset(name).with_overrides(overrides or {}) for name in presets}
    seed_list = range(base.train.seed, base.train.seed + seeds)
    # cut every seed's folds before anything is written: bad --folds fail first
    folds_of = {seed: stratified_folds(cohort.labels, folds, base.train.val_fraction, seed) for seed in seed_list}
    _check_settings(out_dir, {"folds": folds, "seeds": seeds, "attributes": list(base.attributes),
                              "independent": None if independent is None else str(independent.root),
                              "configs": {name: config.to_dict() for name, config in configs.items()}})
    device = resolve_device(base.train.device)
    prepared: dict[tuple[str, str, int], PreparedData] = {}  # one preprocessing per cohort and preprocessing config

    def data_of(which: Cohort, config: RunConfig) -> PreparedData:
        key = (which.root.as_posix(), repr(config.preprocess), config.model.input_size)
        if key not in prepared:
            prepared[key] = prepare_data(*with_attributes(which, config), progress)
        return prepared[key]

    plan = [(name, seed, fold, split, out_dir / "runs" / name / f"seed{seed}" / f"fold{fold}")
            for seed, splits in folds_of.items() for name in configs for fold, split in enumerate(splits)]
    kept = {run_dir for *_, run_dir in plan if resume and (run_dir / RUN_RESULT).is_file()}
    finished = len(kept)
    if progress and finished:  # runs kept from before: the console's time estimate leaves them out
        progress(ProgressEvent("crossval", done=finished, total=len(plan)))
    runs = []
    for name, seed, fold, split, run_dir in plan:
        if run_dir not in kept:
            config = dataclasses.replace(configs[name], train=dataclasses.replace(configs[name].train, seed=seed))
            _train_and_evaluate(cohort, independent, config, split, run_dir, device, data_of, resume, progress)
            finished += 1
            if progress:
                progress(ProgressEvent("crossval", done=finished, total=len(plan),
                                       text=f"{name}, seed {seed}, fold {fold}"))
        runs.append({"preset": name, "seed": seed, "fold": fold, **json.loads((run_dir / RUN_RESULT).read_text())})
    results = {"folds": folds, "seeds": seeds, "presets": presets, "attributes": list(base.attributes),
               "independent": None if independent is None else str(independent.root),
               "summary": summarise(runs), "runs": runs}
    if independent is not None:
        results["summary_independent"] = summarise(runs, "independent")
    with atomic_path(out_dir / "crossval.json") as temporary:
        temporary.write_text(to_json(results, indent=2) + "\n")
    return results


def _check_settings(out_dir: Path, settings: dict[str, Any]) -> None:
    """Record what this cross-validation runs in ``out_dir/SETTINGS``; a resumed one must run the same.

    Raises:
        InvalidConfigError: ``out_dir`` holds a cross-validation started with other settings."""
    path = out_dir / SETTINGS
    written = json.loads(to_json(settings))  # as JSON holds them (tuples become lists)
    if path.is_file():
        earlier = json.loads(path.read_text())
        if earlier != written:
            changed = sorted(key for key in written if earlier.get(key) != written[key])
            raise InvalidConfigError(f"{out_dir} holds a cross-validation started with other {', '.join(changed)}; "
                                     f"resume it with the same options or choose a new --out")
        return
    with atomic_path(path) as temporary:
        temporary.write_text(to_json(settings, indent=2) + "\n")


def _train_and_evaluate(cohort: Cohort, independent: Cohort | None, config: RunConfig, split: Split,
                        run_dir: Path, device: torch.device, data_of: Callable[[Cohort, RunConfig], PreparedData],
                        resume: bool, progress: Progress | None) -> None:
    """Train one run (resuming its checkpoint when there is one and ``resume``) and write its metrics on the
    test fold (``metrics``) and the independent cohort (``independent``) into ``run_dir/RUN_RESULT``."""
    data = data_of(cohort, config)
    resume_run = resume and (run_dir / CHECKPOINT).is_file()
    if resume and run_dir.exists() and not resume_run:
        shutil.rmtree(run_dir)  # began but wrote no checkpoint: nothing to keep
    model_path = train(cohort, config, run_dir, data=data, split=None if resume_run else split,
                       progress=progress, resume=resume_run)
    bundle = load_model(model_path, device)
    result = {"metrics": evaluate_model(bundle, data, "test", device, attribution_methods=(DEFAULT_METHOD,),
                                        fidelity=False).metrics}
    if independent is not None:
        result["independent"] = evaluate_model(bundle, data_of(independent, config), "all", device,
                                               attribution_methods=(), fidelity=False).metrics
    with atomic_path(run_dir / RUN_RESULT) as temporary:
        temporary.write_text(to_json(result, indent=2) + "\n")


def _flatten(metrics: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """Nested metric dicts → {"a.b": value} for every number (the max-MI dims are left out)."""
    flat: dict[str, float] = {}
    for key, value in metrics.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        elif isinstance(value, (int, float)) and key not in ("dim", "subjects"):
            flat[f"{prefix}{key}"] = float(value)
    return flat


def summarise(runs: list[dict[str, Any]], held_out: str = "metrics") -> dict[str, dict[str, dict[str, float]]]:
    """{preset: {metric: {"mean", "sd", "n"}}} over the runs of each preset (NaNs skipped; sd with ddof 1),
    of the metrics under key ``held_out`` of each run (``metrics``: the test fold; ``independent``)."""
    summary: dict[str, dict[str, dict[str, float]]] = {}
    for preset in dict.fromkeys(run["preset"] for run in runs):
        flats = [_flatten(run[held_out]) for run in runs if run["preset"] == preset]
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


def ceiling_groups(summary: dict[str, dict[str, dict[str, float]]]) -> list[tuple[list[str], dict[str, float]]]:
    """The ground-truth code's mean scores (``ceiling.*`` of :func:`summarise`) with the presets they belong to:
    presets with as many latent dims share one, so a table needs one ceiling row per group."""
    groups: list[tuple[list[str], dict[str, float]]] = []
    for preset, metrics in summary.items():
        ceiling = {key.removeprefix("ceiling."): value["mean"] for key, value in metrics.items()
                   if key.startswith("ceiling.")}
        for presets, known in groups:
            if known == ceiling:
                presets.append(preset)
                break
        else:
            groups.append(([preset], ceiling))
    return groups
