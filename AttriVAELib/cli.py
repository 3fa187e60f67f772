"""Command-line interface: ``attrivae synth | train | evaluate | traverse | attention | crossval | bench | demo``.

Errors caused by the user print one line (``attrivae: error: ...``) and exit with status 2; Ctrl-C
during training exits with 130 after saving a resumable checkpoint.
"""

from __future__ import annotations

__all__ = ["main"]

import argparse
import dataclasses
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm

from .config import ABLATION_PRESETS, COMPILE_MODES, PRECISIONS, PRESETS, RunConfig, TrainConfig, preset
from .errors import AttriVAEError

EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UserWarning)
            code = args.handler(args)
        for warning in caught:
            print(f"attrivae: warning: {warning.message}", file=sys.stderr)
        return code
    except AttriVAEError as err:
        print(f"attrivae: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("attrivae: interrupted; nothing was left half-written", file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as err:  # permissions, a full disk, a file where a folder should be
        print(f"attrivae: error: {err.strerror or err}: {err.filename or ''}; check the path and free space",
              file=sys.stderr)
        return EXIT_FAILURE


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="attrivae", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    synth = commands.add_parser("synth", help="write a synthetic LV cohort (folder+CSV format)")
    synth.add_argument("--out", type=Path, required=True, help="new folder for the cohort")
    _add_synth_options(synth, subjects=100, size=80)
    synth.set_defaults(handler=_synth)

    train = commands.add_parser("train", help="train Attri-VAE on a dataset")
    train.add_argument("--data", type=Path, required=True, help="dataset folder or folder+CSV file")
    train.add_argument("--out", type=Path, required=True, help="run folder (new, or existing with --resume)")
    train.add_argument("--preset", choices=list(PRESETS), help="named settings; default: paper")
    _add_training_options(train)
    train.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    train.add_argument("--progress", default="text", choices=["text", "json"],
                       help="json: one JSON event per line on stdout, for programs (the Slicer module)")
    train.set_defaults(handler=_train)

    evaluate = commands.add_parser("evaluate", help="metrics and an HTML report of a model on a dataset")
    evaluate.add_argument("--model", type=Path, required=True, help="model bundle (.safetensors)")
    evaluate.add_argument("--data", type=Path, required=True, help="dataset folder or folder+CSV file")
    evaluate.add_argument("--out", type=Path, required=True, help="new report folder")
    evaluate.add_argument("--format", default="auto", choices=["auto", "csv", "emidec", "acdc"])
    evaluate.add_argument("--subjects", default="auto", choices=["auto", "test", "all"],
                          help="auto: the model's test split when the dataset holds it, else all subjects")
    evaluate.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    evaluate.set_defaults(handler=_evaluate)

    for name, handler, help_text in (("traverse", _traverse, "decode one attribute's sweep as NIfTI volumes"),
                                     ("attention", _attention, "per-attribute attention maps as NIfTI volumes")):
        command = commands.add_parser(name, help=help_text + " in the input image's geometry")
        command.add_argument("--model", type=Path, required=True, help="model bundle (.safetensors)")
        command.add_argument("--image", type=Path, required=True, help="3D image")
        command.add_argument("--mask", type=Path, required=True, help="LV label map on the image's grid")
        command.add_argument("--labels", default="emidec", choices=["emidec", "acdc"], help="label values of --mask")
        command.add_argument("--out", type=Path, required=True, help="new output folder")
        command.set_defaults(handler=handler)
        if name == "traverse":
            command.add_argument("--attribute", required=True, help="attribute name (or latent dim number)")
            command.add_argument("--values", required=True, help="comma-separated values, e.g. 80,120,160")
            command.add_argument("--units", default="attribute", choices=["attribute", "latent"])
        else:
            command.add_argument("--attributes", help="comma-separated names; default all regularised attributes")
            command.add_argument("--layer", default="conv5", help="encoder layer conv1..conv5 (paper: conv5)")

    crossval = commands.add_parser("crossval", help="cross-validate presets: mean ± sd of every metric")
    crossval.add_argument("--data", type=Path, required=True)
    crossval.add_argument("--out", type=Path, required=True, help="new folder for runs and crossval.json")
    crossval.add_argument("--folds", type=int, default=5)
    crossval.add_argument("--seeds", type=int, default=3)
    crossval.add_argument("--presets", default=",".join(ABLATION_PRESETS), help="comma-separated preset names")
    _add_training_options(crossval)
    crossval.set_defaults(handler=_crossval, resume=False, preset=None)

    bench = commands.add_parser("bench", help="training and inference speed against a plain eager baseline")
    bench.add_argument("--size", type=int, default=80, help="network cube edge in voxels")
    bench.add_argument("--batch-size", type=int, default=16)
    bench.add_argument("--steps", type=int, default=5, help="timed training steps per path")
    bench.add_argument("--precision", default=TrainConfig.precision, choices=PRECISIONS,
                       help="precision of the project's path (as train --precision; default auto)")
    bench.add_argument("--compile", nargs="?", const="on", default=TrainConfig.compile, choices=COMPILE_MODES,
                       help="torch.compile of the project's path (as train --compile; default auto)")
    bench.add_argument("--json", type=Path, help="also write the results here")
    bench.set_defaults(handler=_bench)

    demo = commands.add_parser("demo", help="synthesise a cohort, train, report (about 7½ min on 2 cores)")
    demo.add_argument("--out", type=Path, default=Path("attrivae-demo"), help="new demo folder")
    _add_synth_options(demo, subjects=400, size=48)
    demo.add_argument("--epochs", type=int, default=150)
    demo.add_argument("--learning-rate", type=float, default=1e-3,
                      help="Adam step size (the paper's 1e-4 needs thousands of epochs)")
    demo.add_argument("--input-size", type=int, default=32, help="network cube edge in voxels")
    demo.add_argument("--augment", type=float, default=0.5, metavar="P",
                      help="probability of each random in-plane flip and 90° rotation (README, Scientific result)")
    demo.set_defaults(handler=_demo)
    return parser


def _add_training_options(parser: argparse.ArgumentParser) -> None:
    """Dataset format, config file and the training flags shared by train and crossval."""
    parser.add_argument("--format", default="auto", choices=["auto", "csv", "emidec", "acdc"])
    parser.add_argument("--config", type=Path, help="JSON config (as the config.json a run writes)")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--size", type=int, help="input cube edge in voxels, a multiple of 16 (paper: 80)")
    parser.add_argument("--attributes", help="comma-separated attributes; latent dim k = k-th name")
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--learning-rate", type=float)
    parser.add_argument("--lr-schedule", choices=["constant", "cosine"], help="default constant (paper)")
    parser.add_argument("--augment", type=float, metavar="P",
                        help="probability of each random in-plane flip and 90° rotation (paper 0, code 0.1)")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--precision", choices=PRECISIONS,
                        help="forward-pass autocast; default auto: bf16 where the CPU/GPU has it, else fp32")
    parser.add_argument("--compile", nargs="?", const="on", choices=COMPILE_MODES,
                        help="torch.compile the model (bare --compile: on); default auto: from 64³ input cubes up")


def _add_synth_options(parser: argparse.ArgumentParser, subjects: int, size: int) -> None:
    parser.add_argument("--subjects", type=int, default=subjects)
    parser.add_argument("--size", type=int, default=size, help="in-plane matrix size of the images")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--infarct-fraction", type=float, default=0.6, help="probability of an infarct")
    parser.add_argument("--slice-thickness", type=float, default=8.0, help="slice spacing in mm")


def _synth(args: argparse.Namespace) -> int:
    from .synthetic import make_cohort

    csv_path = make_cohort(args.out, args.subjects, args.size, args.seed, args.infarct_fraction,
                           slice_thickness_mm=args.slice_thickness)
    print(f"wrote {args.subjects} subjects to {csv_path}")
    return 0


def _train(args: argparse.Namespace) -> int:
    config = _resolve_config(args)
    requested = _names(args.attributes) or list(config.attributes) or None
    reporter = _print_json if args.progress == "json" else _ProgressReporter(config.train.epochs)
    worker = os.environ.get("RANK", "0") != "0"  # under torchrun only rank 0 reports
    summary = _run_training(args.data, args.format, args.out, config, requested, args.resume,
                            (lambda event: None) if worker else reporter)
    if args.progress == "text" and not worker:
        _print_summary(summary)
    return 0


def _names(text: str | None) -> list[str]:
    """Comma-separated names, blanks stripped."""
    return [name.strip() for name in (text or "").split(",") if name.strip()]


def _resolve_config(args: argparse.Namespace) -> RunConfig:
    """Preset (or the run's own config.json on --resume), then --config, then flags."""
    if args.config:
        config = RunConfig.from_json(args.config)
    elif args.resume and (args.out / "config.json").is_file():
        config = RunConfig.from_json(args.out / "config.json")
    else:
        config = preset(args.preset or "paper")
    if args.preset and args.preset != config.preset:
        config = config.with_preset(args.preset)
    model = {"input_size": args.size} if args.size is not None else {}
    train = {key: value for key, value in (("epochs", args.epochs), ("batch_size", args.batch_size),
                                            ("learning_rate", args.learning_rate),
                                            ("lr_schedule", args.lr_schedule), ("seed", args.seed),
                                            ("augment_probability", args.augment),
                                            ("device", args.device), ("precision", args.precision),
                                            ("compile", args.compile)) if value is not None}
    return dataclasses.replace(config, model=dataclasses.replace(config.model, **model),
                               train=dataclasses.replace(config.train, **train))


def _run_training(data: Path, format: str, out: Path, config: RunConfig, requested: list[str] | None,
                  resume: bool, reporter: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    from .acceleration import retain_freed_memory
    from .bundle import load_model
    from .datasets import load_cohort, select_attributes
    from .training import TrainingInterrupted, train

    retain_freed_memory()  # this process is for training only
    cohort, names = select_attributes(load_cohort(data, format), requested)
    print(f"{len(cohort.subjects)} subjects ({cohort.format}); attributes → latent dims: "
          + ", ".join(f"{n}→{k}" for k, n in enumerate(names)), file=sys.stderr)
    try:
        model_path = train(cohort, names, config, out, resume=resume, progress=reporter)
    except TrainingInterrupted as err:
        _close(reporter)
        print(f"attrivae: {err}", file=sys.stderr)
        raise SystemExit(EXIT_INTERRUPTED) from None
    _close(reporter)
    card = load_model(model_path).card
    return {"model": model_path, **card["test"], "best_epoch": card["training"]["best_epoch"]}


def _print_json(event: dict[str, Any]) -> None:
    from .io import to_json

    print(to_json(event), flush=True)


def _close(reporter: Callable[[dict[str, Any]], None]) -> None:
    if isinstance(reporter, _ProgressReporter):
        reporter.close()


class _ProgressReporter:
    """Turns training events into tqdm bars (on a terminal) or periodic lines (in logs)."""

    def __init__(self, epochs: int) -> None:
        self.bar: tqdm | None = None
        self.epochs = epochs
        self.every = max(1, epochs // 10)

    def __call__(self, event: dict[str, Any]) -> None:
        kind = event["event"]
        if kind == "preprocess" and self.bar is None:
            self.bar = tqdm(total=event["total"], desc="preprocess", unit="subject", disable=None)
        if kind == "preprocess" and self.bar is not None:
            self.bar.update(1)
            if event["done"] == event["total"]:
                self.close()
                self.bar = tqdm(total=self.epochs, desc="train", unit="epoch", disable=None)
        elif kind == "compile":
            print("torch.compile: the first training steps compile the model (about a minute on 2 cores; "
                  "--compile off skips it)", file=sys.stderr)
        elif kind == "batch" and self.bar is not None:
            self.bar.set_postfix(loss=f"{event['total']:.4g}", ar=f"{event['ar']:.3f}", refresh=False)
        elif kind == "epoch":
            message = (f"epoch {event['epoch']}/{event['epochs']}: train {event['train_total']:.4g} "
                       f"(recon {event['train_recon']:.4g}, kl {event['train_kl']:.3g}, mlp {event['train_mlp']:.3f}, "
                       f"ar {event['train_ar']:.3f}), val {event['val_total']:.4g}")
            if self.bar is not None and not self.bar.disable:
                self.bar.n = event["epoch"]
                self.bar.set_postfix(train=f"{event['train_total']:.4g}", val=f"{event['val_total']:.4g}")
            elif event["epoch"] % self.every == 0 or event["epoch"] == event["epochs"]:
                print(message, file=sys.stderr)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _print_summary(summary: dict[str, Any]) -> None:
    print(f"model: {summary['model']} (best validation epoch {summary['best_epoch']})")
    print(f"test split ({summary['subjects']} subjects): AUC {_number(summary['auc'])}, "
          f"accuracy {_number(summary['accuracy'])}")
    print("Spearman ρ between latent dim k and attribute k on the test split:")
    for k, (name, rho) in enumerate(summary["spearman"].items()):
        print(f"  dim {k:2d}  {name:24s} {_number(rho, signed=True)}")


def _number(value: float | None, signed: bool = False) -> str:
    """Three decimals, or n/a for a metric that is undefined here (one class, constant code)."""
    if value is None or value != value:
        return "n/a"
    return f"{value:+.3f}" if signed else f"{value:.3f}"


def _demo(args: argparse.Namespace) -> int:
    from .io import require_new_folder
    from .synthetic import make_cohort

    require_new_folder(args.out, "demo folder")
    base = preset("paper")  # built first: a bad --input-size fails before any file is written
    config = dataclasses.replace(base, model=dataclasses.replace(base.model, input_size=args.input_size),
                                 train=dataclasses.replace(base.train, epochs=args.epochs, seed=args.seed,
                                                           learning_rate=args.learning_rate,
                                                           augment_probability=args.augment,
                                                           precision="fp32"))  # the README's numbers on any CPU
    data = args.out / "data"
    make_cohort(data, args.subjects, args.size, args.seed, args.infarct_fraction,
                slice_thickness_mm=args.slice_thickness)
    print(f"synthetic cohort: {args.subjects} subjects in {data}", file=sys.stderr)
    summary = _run_training(data, "csv", args.out / "run", config, None, False, _ProgressReporter(args.epochs))
    _print_summary(summary)
    report = _write_evaluation(summary["model"], data, "csv", args.out / "report", "test", "auto")
    print(f"report: {report}")
    return 0


def _bench(args: argparse.Namespace) -> int:
    from .benchmark import format_table, run_benchmark
    from .config import ModelConfig
    from .io import atomic_path, to_json

    ModelConfig(input_size=args.size)  # a bad size fails before minutes of measuring
    if args.batch_size < 2:
        raise AttriVAEError(f"--batch-size {args.batch_size}: training needs at least 2 volumes per batch")
    result = run_benchmark(args.size, args.batch_size, args.steps, args.compile, args.precision,
                           tuple(b for b in (2, 4, 8, 16, 32) if b < args.batch_size) + (args.batch_size,))
    print(format_table(result))
    if args.json:
        with atomic_path(args.json) as path:
            path.write_text(to_json(result, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    report = _write_evaluation(args.model, args.data, args.format, args.out, args.subjects, args.device)
    print(f"report: {report}")
    return 0


def _write_evaluation(model_path: Path, data_path: Path, format: str, out: Path, subjects: str,
                      device: str) -> Path:
    """Evaluate a bundle on a dataset (its test split when available) and write the report folder."""
    import numpy as np

    from .bundle import load_model
    from .data import prepare_data
    from .datasets import load_cohort, select_attributes
    from .errors import InvalidConfigError
    from .evaluation import evaluate
    from .io import require_new_folder
    from .report import write_report
    from .training import resolve_device

    require_new_folder(out, "report folder")  # refuse a used folder before any work
    torch_device = resolve_device(device)
    bundle = load_model(model_path, torch_device)
    cohort, names = select_attributes(load_cohort(data_path, format), bundle.attribute_names)
    data = prepare_data(cohort, names, bundle.run_config())
    test_ids = bundle.card.get("data", {}).get("split", {}).get("test", [])
    held_out = bool(test_ids) and set(test_ids) <= set(data.subject_ids)
    if subjects == "test" and not held_out:
        raise InvalidConfigError(f"--subjects test: {data_path} does not hold the model's test subjects; use all")
    use_test = subjects == "test" or (subjects == "auto" and held_out)
    indices = data.indices(test_ids) if use_test else np.arange(len(data.subject_ids))
    print(f"evaluating on {len(indices)} subjects ({'test split' if use_test else 'all'})", file=sys.stderr)
    evaluation = evaluate(bundle, data, indices, tuple(names), torch_device)
    return write_report(evaluation, bundle, data.volumes[indices][:, 0].numpy(), out,
                        f"AttriVAE evaluation of {Path(model_path).name} on {cohort.root.name}")


def _single_subject(args: argparse.Namespace) -> tuple[Any, Any]:
    """Load --model and preprocess --image/--mask as the model expects."""
    from .bundle import load_model
    from .interpretation import preprocess_for
    from .io import read_label_map, read_volume
    from .labels import ACDC_SCHEME, EMIDEC_SCHEME

    bundle = load_model(args.model)
    scheme = {"emidec": EMIDEC_SCHEME, "acdc": ACDC_SCHEME}[args.labels]
    image, mask = read_volume(args.image, "image"), read_label_map(args.mask, "mask")
    return bundle, preprocess_for(bundle, image, mask, scheme, name=f"image {args.image}")


def _traverse(args: argparse.Namespace) -> int:
    from .errors import InvalidConfigError
    from .interpretation import attribute_to_latent, encode, latent_to_attribute, traverse

    try:
        values = [float(v) for v in args.values.split(",")]
    except ValueError as err:
        raise InvalidConfigError(f"--values {args.values!r} must be comma-separated numbers") from err
    attribute: int | str = int(args.attribute) if args.attribute.isdigit() else args.attribute
    bundle, prepared = _single_subject(args)
    mu, _ = encode(bundle, prepared.volume)
    volumes = traverse(bundle, mu[0], attribute, values, units=args.units)[:, 0].cpu().numpy()
    label = args.attribute if isinstance(attribute, str) else f"dim{attribute}"
    files = {f"traverse_{label}_{step:02d}.nii.gz": volume for step, volume in enumerate(volumes)}
    if args.units == "attribute":  # the values actually decoded, after clamping to the training range
        values = latent_to_attribute(bundle, attribute, attribute_to_latent(bundle, attribute, values)).tolist()
    _write_volumes(args.out, files, prepared.geometry, {"attribute": args.attribute, "units": args.units,
                                                        "values": dict(zip(files, values))})
    return 0


def _attention(args: argparse.Namespace) -> int:
    from .attention import attention

    bundle, prepared = _single_subject(args)
    names = _names(args.attributes) or None
    maps = attention(bundle, prepared.volume, names, layer=args.layer)
    files = {f"attention_{name.replace(' ', '')}.nii.gz": cam for name, cam in maps.items()}
    _write_volumes(args.out, files, prepared.geometry, {"layer": args.layer, "maps": dict(zip(files, maps))})
    return 0


def _write_volumes(out: Path, files: dict[str, Any], geometry: Any, index: dict[str, Any]) -> None:
    """Write cube arrays resampled into the input image's geometry, plus an index.json, atomically."""
    import SimpleITK as sitk

    from .io import staged_directory, to_json

    with staged_directory(out) as folder:
        for name, array in files.items():
            sitk.WriteImage(geometry.to_source(array), str(folder / name), useCompression=True)
        (folder / "index.json").write_text(to_json(index, indent=2) + "\n")
    print(f"wrote {len(files)} volumes to {out}")


def _crossval(args: argparse.Namespace) -> int:
    from .acceleration import retain_freed_memory
    from .crossval import cross_validate
    from .datasets import load_cohort, select_attributes

    retain_freed_memory()  # this process is for training only
    config = _resolve_config(args)
    requested = _names(args.attributes) or list(config.attributes) or None
    cohort, names = select_attributes(load_cohort(args.data, args.format), requested)
    presets = _names(args.presets)
    for name in presets:
        preset(name)  # unknown names fail before any training
    results = cross_validate(cohort, names, config, presets, args.folds, args.seeds, args.out,
                             progress=_ProgressReporter(config.train.epochs))
    headline = ["interpretability_mean", "mig_ksg", "sap", "scc", "modularity", "classification.auc"]
    print(f"{'preset':12s} " + " ".join(f"{m:>22s}" for m in headline))
    for name, metrics in results["summary"].items():
        print(f"{name:12s} " + " ".join(f"{_number(metrics[m]['mean']):>12s} ± {_number(metrics[m]['sd']):<7s}"
                                        for m in headline))
    print(f"all metrics: {args.out / 'crossval.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
