"""Command-line interface: ``attrivae synth | train | demo``.

Errors caused by the user print one line (``attrivae: error: ...``) and exit with status 2; Ctrl-C
during training exits with 130 after saving a resumable checkpoint.
"""

from __future__ import annotations

__all__ = ["main"]

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm

from .config import PRESETS, RunConfig, preset
from .errors import AttriVAEError

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except AttriVAEError as err:
        print(f"attrivae: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("attrivae: interrupted; nothing was left half-written", file=sys.stderr)
        return EXIT_INTERRUPTED


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
    train.add_argument("--format", default="auto", choices=["auto", "csv", "emidec", "acdc"])
    train.add_argument("--config", type=Path, help="JSON config (as the config.json a run writes)")
    train.add_argument("--preset", choices=list(PRESETS), help="named settings; default: paper")
    train.add_argument("--epochs", type=int)
    train.add_argument("--size", type=int, help="input cube edge in voxels, a multiple of 16 (paper: 80)")
    train.add_argument("--attributes", help="comma-separated attributes; latent dim k = k-th name")
    train.add_argument("--batch-size", type=int)
    train.add_argument("--seed", type=int)
    train.add_argument("--device", choices=["auto", "cpu", "cuda"])
    train.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    train.set_defaults(handler=_train)

    demo = commands.add_parser("demo", help="synthesise a cohort, train, and summarise (about 6 min on 2 cores)")
    demo.add_argument("--out", type=Path, default=Path("attrivae-demo"), help="new demo folder")
    _add_synth_options(demo, subjects=120, size=48)
    demo.add_argument("--epochs", type=int, default=200)
    demo.add_argument("--learning-rate", type=float, default=1e-3,
                      help="Adam step size (the paper's 1e-4 needs thousands of epochs)")
    demo.add_argument("--input-size", type=int, default=32, help="network cube edge in voxels")
    demo.set_defaults(handler=_demo)
    return parser


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
    requested = args.attributes.split(",") if args.attributes else list(config.attributes) or None
    summary = _run_training(args.data, args.format, args.out, config, requested, args.resume)
    _print_summary(summary)
    return 0


def _resolve_config(args: argparse.Namespace) -> RunConfig:
    """Preset (or the run's own config.json on --resume), then --config, then flags."""
    if args.config:
        config = RunConfig.from_json(args.config)
    elif args.resume and (args.out / "config.json").is_file():
        config = RunConfig.from_json(args.out / "config.json")
    else:
        config = preset(args.preset or "paper")
    if args.preset and args.preset != config.preset:
        config = RunConfig.from_dict({**_without_preset_sections(config), "preset": args.preset})
    model = {"input_size": args.size} if args.size else {}
    train = {key: value for key, value in (("epochs", args.epochs), ("batch_size", args.batch_size),
                                            ("seed", args.seed), ("device", args.device)) if value is not None}
    return dataclasses.replace(config, model=dataclasses.replace(config.model, **model),
                               train=dataclasses.replace(config.train, **train))


def _without_preset_sections(config: RunConfig) -> dict[str, Any]:
    """Keep model and train settings when switching preset; loss and preprocessing follow the preset."""
    data = config.to_dict()
    return {"attributes": data["attributes"], "model": data["model"], "train": data["train"]}


def _run_training(data: Path, format: str, out: Path, config: RunConfig, requested: list[str] | None,
                  resume: bool) -> dict[str, Any]:
    from .bundle import load_model
    from .datasets import load_cohort, select_attributes
    from .training import TrainingInterrupted, train

    cohort, names = select_attributes(load_cohort(data, format), requested)
    print(f"{len(cohort.subjects)} subjects ({cohort.format}); attributes → latent dims: "
          + ", ".join(f"{n}→{k}" for k, n in enumerate(names)), file=sys.stderr)
    reporter = _ProgressReporter(config.train.epochs)
    try:
        model_path = train(cohort, names, config, out, resume=resume, progress=reporter)
    except TrainingInterrupted as err:
        reporter.close()
        print(f"attrivae: {err}", file=sys.stderr)
        raise SystemExit(EXIT_INTERRUPTED) from None
    reporter.close()
    card = load_model(model_path).card
    return {"model": model_path, **card["test"], "best_epoch": card["training"]["best_epoch"]}


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
    print(f"test split ({summary['subjects']} subjects): AUC {summary['auc']:.3f}, accuracy {summary['accuracy']:.3f}")
    print("Spearman ρ between latent dim k and attribute k on the test split:")
    for k, (name, rho) in enumerate(summary["spearman"].items()):
        print(f"  dim {k:2d}  {name:24s} {rho:+.3f}")


def _demo(args: argparse.Namespace) -> int:
    from .errors import InvalidConfigError
    from .synthetic import make_cohort

    if args.out.exists() and any(args.out.iterdir()):
        raise InvalidConfigError(f"demo folder {args.out} is not empty; remove it or pass --out NEW_FOLDER")
    data = args.out / "data"
    make_cohort(data, args.subjects, args.size, args.seed, args.infarct_fraction,
                slice_thickness_mm=args.slice_thickness)
    print(f"synthetic cohort: {args.subjects} subjects in {data}", file=sys.stderr)
    base = preset("paper")
    config = dataclasses.replace(base, model=dataclasses.replace(base.model, input_size=args.input_size),
                                 train=dataclasses.replace(base.train, epochs=args.epochs, seed=args.seed,
                                                           learning_rate=args.learning_rate))
    summary = _run_training(data, "csv", args.out / "run", config, None, resume=False)
    _print_summary(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
