"""The demo: a synthetic cohort, Attri-VAE trained on it with settings that finish in minutes on a CPU, and
the evaluation report of the test split.

:class:`DemoSettings` holds the defaults that made the README's *Demo result* and the model shipped with
the Slicer module; that model's card records them (``config`` and ``data.synthetic``), which the test
suite compares with these defaults.
"""

from __future__ import annotations

__all__ = ["DemoResult", "DemoSettings", "run_demo"]

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import RunConfig, preset
from ..data.splits import stratified_split
from ..errors import InvalidConfigError
from ..evaluation.evaluate import MINIMUM_SUBJECTS
from ..files import require_new_folder
from ..modelfile.card import ModelCard
from ..progress import Progress, ProgressEvent


@dataclass(frozen=True)
class DemoSettings:
    """What ``attrivae demo`` does by default; every field is a command-line option of the same name."""

    preset: str = "attri-vae-wide"  # the method's settings (docs/presets-and-training.md)
    subjects: int = 400  # synthetic subjects
    matrix: int = 48  # in-plane matrix of the synthetic images (120 mm field of view: 2.5 mm pixels)
    seed: int = 0  # seeds the cohort and the training
    infarct_fraction: float = 0.6  # probability that a subject has an infarct
    slice_thickness: float = 8.0  # slice spacing in mm
    epochs: int = 80
    learning_rate: float = 1e-3  # the paper's 1e-4 needs thousands of epochs
    cube_size: int = 32  # network input cube edge in voxels
    augment: float = 0.5  # probability of each random in-plane flip and 90° rotation

    def cohort_arguments(self) -> dict[str, Any]:
        """Keyword arguments of :func:`~AttriVAELib.data.synthetic.make_cohort` for the demo's cohort."""
        return {"subjects": self.subjects, "size": self.matrix, "seed": self.seed,
                "infarct_probability": self.infarct_fraction, "slice_thickness_mm": self.slice_thickness}

    def training_options(self) -> str:
        """The demo's training settings as options of ``attrivae train`` and ``crossval`` (without the preset)."""
        return (f"--cube-size {self.cube_size} --epochs {self.epochs} --learning-rate {self.learning_rate:g} "
                f"--augment {self.augment:g} --precision fp32")

    def run_config(self) -> RunConfig:
        """The demo's preset with the demo's training settings, in float32 so that the demo's numbers are the
        same on CPUs with and without bf16."""
        base = preset(self.preset)
        return dataclasses.replace(
            base, model=dataclasses.replace(base.model, input_size=self.cube_size),
            train=dataclasses.replace(base.train, epochs=self.epochs, seed=self.seed,
                                      learning_rate=self.learning_rate, augment_probability=self.augment,
                                      precision="fp32"))


@dataclass(frozen=True)
class DemoResult:
    """Where the demo wrote its outputs, and its model's card (test summary in ``card.test``)."""

    data: Path  # the synthetic cohort
    model: Path  # the best model bundle of the run folder
    report: Path  # report.html of the test split
    card: ModelCard


def run_demo(out_dir: Path | str, settings: DemoSettings = DemoSettings(),
             progress: Progress | None = None) -> DemoResult:
    """Synthesise ``out_dir/data``, train into ``out_dir/run``, write the report into ``out_dir/report``.

    Every check that can fail on the arguments or the environment runs before any work.

    Raises:
        InvalidConfigError: a bad setting, or a cohort whose test split is too small for the report.
        InvalidDatasetError: ``out_dir`` is not empty.
        AttriVAEError: matplotlib, which draws the report, cannot be imported.
    """
    from ..data.datasets import load_cohort
    from ..data.prepared import prepare_data, with_attributes
    from ..data.synthetic import cohort_labels, make_cohort
    from ..modelfile.bundle import load_model
    from ..training.loop import train
    from .report import require_plotting, write_evaluation

    out_dir = require_new_folder(out_dir, "demo folder")
    config = settings.run_config()
    require_plotting()
    labels = cohort_labels(settings.subjects, settings.seed, settings.infarct_fraction)
    test = stratified_split(labels, config.train.val_fraction, config.train.test_fraction, settings.seed).test
    if len(test) < MINIMUM_SUBJECTS:
        raise InvalidConfigError(f"--subjects {settings.subjects} leaves {len(test)} test subjects; the report needs "
                                 f"at least {MINIMUM_SUBJECTS}: use --subjects 40 or more")
    data = out_dir / "data"
    make_cohort(data, progress=progress, **settings.cohort_arguments())
    if progress:
        progress(ProgressEvent("note", text=f"synthetic cohort: {settings.subjects} subjects in {data}"))
    cohort, config = with_attributes(load_cohort(data, "csv"), config)
    prepared = prepare_data(cohort, config, progress)  # once, for training and the report
    model = train(cohort, config, out_dir / "run", progress=progress, data=prepared)
    report = write_evaluation(model, data, out_dir / "report", "csv", "test", progress=progress, prepared=prepared)
    return DemoResult(data, model, report, load_model(model).card)
