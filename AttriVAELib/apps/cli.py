"""Command line: ``attrivae synth | train | evaluate | encode | traverse | attention | crossval | bench | demo``.

Errors caused by the user print one line (``attrivae: error: ...``) and exit with status 2; Ctrl-C
during training exits with 130 after saving a resumable checkpoint. Warnings print as they happen; long
commands show their progress with elapsed time and an estimate of the remaining time
(:class:`~AttriVAELib.apps.console.ConsoleProgress`). Every subcommand and option is documented in docs/cli.md
(``Testing/test_docs.py`` checks that it matches the parser).
"""

from __future__ import annotations

__all__ = ["main"]

import argparse
import dataclasses
import math
import os
import signal
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from ..choices import (
    ATTRIBUTION,
    ATTRIBUTION_METHODS,
    DATA_FORMATS,
    DEFAULT_LAYER,
    DEFAULT_METHOD,
    DEVICES,
    ENCODED_SUBJECTS,
    ENCODER_LAYERS,
    EVALUATED_SUBJECTS,
    LABEL_SCHEMES,
    PRESET_NAMES,
    describe_methods,
)
from ..config import ABLATION_PRESETS, TRAINING_OPTIONS, RunConfig, TrainConfig, TrainingOption, preset
from ..errors import AttriVAEError, InvalidConfigError, InvalidModelError
from .compiled_code_cache import separate_compiled_code_cache
from .console import ConsoleProgress, format_metric
from .demo import DemoSettings

if TYPE_CHECKING:  # the CLI imports torch only inside the commands that need it
    from ..modelfile.card import ModelCard
    from ..progress import Progress, ProgressEvent

EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
    except SystemExit as done:  # --help, or a usage error already printed in one line
        return int(done.code or 0)
    separate_compiled_code_cache()  # before anything compiles
    with warnings.catch_warnings():
        _show_warnings()
        for old, new in getattr(args, "renamed", []):
            warnings.warn(f"{old} is now {new}; {old} stops working in the next release", FutureWarning,
                          stacklevel=1)
        try:
            return args.handler(args)
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


def _show_warnings() -> None:
    """While a command runs, print each warning once per place, as one line (:func:`_print_warning`), except
    other packages' deprecation and resource warnings (e.g. PyTorch deprecating one of its own functions): they
    are for those packages' authors, and the user can do nothing about them."""
    warnings.simplefilter("default")
    for category in (DeprecationWarning, PendingDeprecationWarning, ResourceWarning):
        warnings.filterwarnings("ignore", category=category)
        warnings.filterwarnings("default", category=category, module=r"AttriVAELib(\.|$)")
    warnings.showwarning = _print_warning


def _print_warning(message: Warning | str, *_: Any, **__: Any) -> None:
    """Replaces :func:`warnings.showwarning` while a command runs: one line, as it happens."""
    print(f"attrivae: warning: {message}", file=sys.stderr, flush=True)


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors in one line, like every other error of the command."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"attrivae: error: {message} (see {self.prog} --help)\n")


def _for_training_only() -> None:
    """Settings of a process that exists to train (``train``, ``crossval``, ``demo``): freed memory is kept for
    reuse, and an interrupt (Ctrl-C, the Slicer module's Cancel) stops training with a resumable checkpoint
    even when the process inherited an ignored SIGINT, as jobs that a shell script starts in the background
    do (Python then leaves SIGINT ignored, and only a kill would stop training)."""
    from ..method.acceleration import retain_freed_memory

    retain_freed_memory()
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _stop_on_cancel_request() -> None:
    """Watch stdin for the parent's cancel request (:data:`AttriVAELib.slicer.process.CANCEL_REQUEST`) and turn it
    into a Ctrl-C in the main thread: training then stops with a resumable checkpoint. A closed stdin is a
    request only under :data:`~AttriVAELib.slicer.process.STOP_WITH_PARENT` (the parent ended; a program may start
    the command with no input at all)."""
    import _thread
    import threading

    from ..slicer.process import CANCEL_REQUEST, STOP_WITH_PARENT

    def watch() -> None:
        for line in sys.stdin:
            if line.strip() == CANCEL_REQUEST:
                _thread.interrupt_main()
                return
        if os.environ.get(STOP_WITH_PARENT) == "1":
            _discard_output()
            _thread.interrupt_main()

    threading.Thread(target=watch, name="attrivae-cancel-watch", daemon=True).start()


def _discard_output() -> None:
    """Send standard output and error, where they are pipes, to the null device: whoever read them has ended,
    and a write into a pipe nobody reads fails (BrokenPipeError) while training saves its checkpoint. Files
    and terminals keep what follows."""
    import stat

    null = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        if stat.S_ISFIFO(os.fstat(stream.fileno()).st_mode):
            os.dup2(null, stream.fileno())
    os.close(null)


def _finite(text: str) -> float:
    """argparse type of a float option: a finite number (float() also accepts nan and inf)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="attrivae", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    for add in (_add_synth, _add_train, _add_evaluate, _add_calibrate, _add_encode, _add_traverse, _add_attention,
                _add_crossval, _add_bench, _add_demo):
        add(commands)
    return parser


class _Renamed(argparse.Action):
    """An earlier name of an option, kept for one release: it sets the option and records the rename, which
    :func:`main` reports as a warning."""

    def __init__(self, option_strings: list[str], dest: str, renamed_to: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, default=argparse.SUPPRESS, help=f"renamed {renamed_to}", **kwargs)
        self.renamed_to = renamed_to

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        setattr(namespace, self.dest, values)
        namespace.renamed = [*getattr(namespace, "renamed", []), (option_string, self.renamed_to)]


def _add_option(parser: argparse.ArgumentParser, flag: str, *renamed_from: str, **kwargs: Any) -> None:
    """``parser.add_argument(flag, **kwargs)``, and each earlier name of it as :class:`_Renamed`."""
    parser.add_argument(flag, **kwargs)
    for old in renamed_from:
        options = {key: kwargs[key] for key in ("type", "choices", "nargs", "const", "metavar") if key in kwargs}
        parser.add_argument(old, action=_Renamed, dest=flag[2:].replace("-", "_"), renamed_to=flag, **options)


def _add_training_option(parser: argparse.ArgumentParser, option: TrainingOption, **kwargs: Any) -> None:
    """One flag of :data:`~AttriVAELib.config.TRAINING_OPTIONS` (``kwargs``: e.g. another default or help)."""
    settings: dict[str, Any] = {"type": _finite if option.kind is float else option.kind, "help": option.help}
    if option.choices:
        settings["choices"] = option.choices
    if option.bare is not None:
        settings.update(nargs="?", const=option.bare)
    _add_option(parser, option.flag, *option.renamed_from, **{**settings, **kwargs})


def _add_training_options(parser: argparse.ArgumentParser) -> None:
    """Dataset format, config file, attributes and every training flag: those of train and crossval."""
    parser.add_argument("--format", default="auto", choices=DATA_FORMATS)
    parser.add_argument("--config", type=Path, help="JSON config (as the config.json a run writes)")
    parser.add_argument("--attributes", help="comma-separated attributes; latent dim k = k-th name")
    for option in TRAINING_OPTIONS:
        _add_training_option(parser, option)


def _add_synth_options(parser: argparse.ArgumentParser, subjects: int, matrix: int) -> None:
    defaults = DemoSettings()
    parser.add_argument("--subjects", type=int, default=subjects)
    _add_option(parser, "--matrix", "--size", type=int, default=matrix,
                help="in-plane matrix of the synthetic images in pixels (over a 120 mm field of view)")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--infarct-fraction", type=_finite, default=defaults.infarct_fraction,
                        help="probability of an infarct")
    parser.add_argument("--slice-thickness", type=_finite, default=defaults.slice_thickness,
                        help="slice spacing in mm")


def _names(text: str | None) -> list[str]:
    """Comma-separated names, blanks stripped."""
    return [name.strip() for name in (text or "").split(",") if name.strip()]


# ------------------------------------------------------------------------------------------------- synth
def _add_synth(commands: Any) -> None:
    synth = commands.add_parser("synth", help="write a synthetic LV cohort (folder+CSV format)")
    synth.add_argument("--out", type=Path, required=True, help="new folder for the cohort")
    _add_synth_options(synth, subjects=100, matrix=80)
    synth.set_defaults(handler=_synth)


def _synth(args: argparse.Namespace) -> int:
    from ..data.synthetic import make_cohort

    csv_path = make_cohort(args.out, args.subjects, args.matrix, args.seed, args.infarct_fraction,
                           slice_thickness_mm=args.slice_thickness, progress=ConsoleProgress())
    print(f"wrote {args.subjects} subjects to {csv_path}")
    return 0


# ------------------------------------------------------------------------------------------------- train
def _add_train(commands: Any) -> None:
    train = commands.add_parser("train", help="train Attri-VAE on a dataset")
    train.add_argument("--data", type=Path, required=True, help="dataset folder or folder+CSV file")
    train.add_argument("--out", type=Path, required=True, help="run folder (new, or existing with --resume)")
    train.add_argument("--preset", choices=PRESET_NAMES, help="named settings; default: paper")
    _add_training_options(train)
    train.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    train.add_argument("--progress", default="text", choices=["text", "json"],
                       help="json: one JSON event per line on stdout, for programs (the Slicer module)")
    train.set_defaults(handler=_train)


def _train(args: argparse.Namespace) -> int:
    from ..modelfile.bundle import load_model
    from ..training.loop import TrainingInterrupted, train

    config = _resolve_config(args)
    worker = os.environ.get("RANK", "0") != "0"  # under torchrun only rank 0 reports
    progress: Progress = (
        (lambda event: None) if worker else _print_json if args.progress == "json" else ConsoleProgress())
    _for_training_only()
    if args.progress == "json":
        _stop_on_cancel_request()
    try:
        model_path = train(_cohort(args), _with_requested_attributes(args, config), args.out, resume=args.resume,
                           progress=progress)
    except TrainingInterrupted as err:
        if isinstance(progress, ConsoleProgress):
            progress.close()
        print(f"attrivae: {err}", file=sys.stderr)
        return EXIT_INTERRUPTED
    if args.progress == "text" and not worker:
        _print_summary(model_path, load_model(model_path).card)
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
        config = config.with_preset(args.preset)
    return config.with_overrides(_flag_overrides(args))


def _cohort(args: argparse.Namespace) -> Any:
    """--data in --format."""
    from ..data.datasets import load_cohort

    return load_cohort(args.data, args.format)


def _with_requested_attributes(args: argparse.Namespace, config: RunConfig) -> RunConfig:
    """The attributes to regularise: --attributes, else the config's (none: the defaults the data have)."""
    requested = _names(args.attributes)
    return dataclasses.replace(config, attributes=tuple(requested)) if requested else config


def _flag_overrides(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """The config fields the training flags set, per section (flags left out set nothing)."""
    overrides: dict[str, dict[str, Any]] = {"model": {}, "train": {}}
    for option in TRAINING_OPTIONS:
        value = getattr(args, option.flag[2:].replace("-", "_"))
        if value is not None:
            overrides[option.section][option.field] = value
    return overrides


def _print_json(event: ProgressEvent) -> None:
    """One progress event as a JSON line; when nobody reads them any more (the parent ended), stop as on
    Ctrl-C: training keeps a resumable checkpoint."""
    from ..files import to_json

    try:
        print(to_json(event.to_json()), flush=True)
    except BrokenPipeError:
        _discard_output()
        raise KeyboardInterrupt from None


def _print_summary(model_path: Path, card: ModelCard) -> None:
    """The model's test-split summary (from its card): AUC, accuracy, Spearman ρ per regularised dim."""
    summary, training = card.test, card.training
    if summary is None or training is None:
        raise InvalidModelError(f"{model_path} holds an unfinished training (no test summary in its card); "
                                f"continue it with attrivae train --resume")
    print(f"model: {model_path} (best validation epoch {training.best_epoch})")
    print(f"test split ({summary.subjects} subjects): AUC {format_metric(summary.auc)}, "
          f"accuracy {format_metric(summary.accuracy)}")
    print("Spearman ρ between latent dim k and attribute k on the test split:")
    for k, (name, rho) in enumerate(summary.spearman.items()):
        print(f"  dim {k:2d}  {name:24s} {format_metric(rho, signed=True)}")


# ------------------------------------------------------------------------------- evaluate, calibrate, encode
def _add_model_and_cohort_options(command: argparse.ArgumentParser, out: str,
                                  data: str = "dataset folder or folder+CSV file") -> None:
    """A model bundle applied to a cohort in a dataset format, on a device, into a new ``--out``."""
    command.add_argument("--model", type=Path, required=True, help="model bundle (.safetensors)")
    command.add_argument("--data", type=Path, required=True, help=data)
    command.add_argument("--out", type=Path, required=True, help=out)
    command.add_argument("--format", default="auto", choices=DATA_FORMATS)
    command.add_argument("--device", default="auto", choices=DEVICES)


def _add_evaluate(commands: Any) -> None:
    evaluate = commands.add_parser("evaluate", help="metrics and an HTML report of a model on a dataset")
    _add_model_and_cohort_options(evaluate, out="new report folder")
    evaluate.add_argument("--subjects", default="auto", choices=EVALUATED_SUBJECTS,
                          help="auto: the model's test split when the dataset holds it, else all subjects")
    evaluate.set_defaults(handler=_evaluate)


def _evaluate(args: argparse.Namespace) -> int:
    from .report import write_evaluation

    report = write_evaluation(args.model, args.data, args.out, args.format, args.subjects, args.device,
                              progress=ConsoleProgress())
    print(f"report: {report}")
    return 0


def _add_calibrate(commands: Any) -> None:
    calibrate = commands.add_parser("calibrate", help="calibrate a model's 95 %% intervals and decoded measures "
                                                      "again on a held-out cohort, into a new model file")
    _add_model_and_cohort_options(calibrate, out="new model file (.safetensors)",
                                  data="held-out cohort (folder or folder+CSV): subjects the model never saw")
    calibrate.set_defaults(handler=_calibrate)


def _calibrate(args: argparse.Namespace) -> int:
    from ..training.cohort_calibration import calibrate_on_cohort, describe

    result = calibrate_on_cohort(args.model, args.data, args.out, args.format, args.device,
                                 progress=ConsoleProgress())
    print("\n".join(describe(result)))
    return 0


def _add_encode(commands: Any) -> None:
    encode = commands.add_parser("encode", help="per-subject codes, attribute estimates with 95 %% intervals and "
                                                "P(infarct) to a CSV table")
    _add_model_and_cohort_options(encode, out="new CSV file")
    encode.add_argument("--subjects", default="all", choices=ENCODED_SUBJECTS,
                        help="all, or train, val or test: one part of the model's split (its training cohort only)")
    encode.set_defaults(handler=_encode)


def _encode(args: argparse.Namespace) -> int:
    from ..data.datasets import load_cohort
    from ..interpretation.codes import encode_cohort
    from ..method.acceleration import resolve_device
    from ..modelfile.bundle import load_model

    if args.out.exists():
        raise InvalidConfigError(f"--out {args.out} exists; choose a new file name")
    bundle = load_model(args.model, resolve_device(args.device))
    table = encode_cohort(bundle, load_cohort(args.data, args.format), args.out, args.subjects,
                          progress=ConsoleProgress())
    print(f"codes: {table}")
    return 0


# ---------------------------------------------------------------------------------- traverse, attention
def _add_single_subject_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--model", type=Path, required=True, help="model bundle (.safetensors)")
    command.add_argument("--image", type=Path, required=True, help="3D image")
    command.add_argument("--mask", type=Path, required=True, help="LV label map on the image's grid")
    command.add_argument("--labels", default="emidec", choices=LABEL_SCHEMES, help="label values of --mask")
    command.add_argument("--out", type=Path, required=True, help="new output folder")


def _single_subject(args: argparse.Namespace) -> tuple[Any, Any]:
    """--model, and --image/--mask preprocessed as it expects."""
    from ..interpretation.inference import preprocess_files
    from ..modelfile.bundle import load_model

    bundle = load_model(args.model)
    return bundle, preprocess_files(bundle, args.image, args.mask, args.labels)


def _add_traverse(commands: Any) -> None:
    command = commands.add_parser("traverse", help="decode one attribute's sweep as NIfTI volumes in the input "
                                                   "image's geometry")
    _add_single_subject_options(command)
    command.add_argument("--attribute", required=True, help="attribute name (or latent dim number)")
    command.add_argument("--values", required=True, help="comma-separated values, e.g. 80,120,160")
    command.add_argument("--units", default="attribute", choices=["attribute", "latent"])
    command.set_defaults(handler=_traverse)


def _traverse(args: argparse.Namespace) -> int:
    from ..interpretation.inference import encode
    from ..interpretation.traversal import sweep, traverse

    try:
        values = [_finite(v) for v in args.values.split(",")]
    except argparse.ArgumentTypeError as err:
        raise InvalidConfigError(f"--values {args.values!r}: {err}; give comma-separated finite numbers") from None
    attribute: int | str = int(args.attribute) if args.attribute.isdigit() else args.attribute
    bundle, prepared = _single_subject(args)
    mu, _ = encode(bundle, prepared.volume)
    label = args.attribute if isinstance(attribute, str) else f"dim{attribute}"
    names = [f"traverse_{label}_{step:02d}.nii.gz" for step in range(len(values))]
    if args.units == "latent":
        volumes = traverse(bundle, mu[0], attribute, values)[:, 0].cpu().numpy()
        steps = [{"file": name, "latent": value} for name, value in zip(names, values)]
        index = {"attribute": args.attribute, "units": "latent", "steps": steps}
    else:
        swept = sweep(bundle, mu[0], attribute, values, prepared.geometry)
        for note in swept.notes():
            warnings.warn(note, stacklevel=1)
        volumes = swept.volumes[:, 0].cpu().numpy()
        steps = [{"file": name, "requested": float(asked), "drawn": float(target), "clamped": bool(clamped),
                  "measured": float(shown) if math.isfinite(shown) else None, "latent": float(latent)}
                 for name, asked, target, clamped, shown, latent in zip(
                     names, swept.requested, swept.target, swept.clamped, swept.measured, swept.latent)]
        index = {"attribute": swept.attribute, "unit": swept.unit, "units": "attribute", "calibration": swept.units,
                 "reachable": list(swept.reachable) if swept.reachable else None, "steps": steps}
    _write_volumes(args.out, dict(zip(names, volumes)), prepared.geometry, index)
    return 0


def _add_attention(commands: Any) -> None:
    command = commands.add_parser("attention", help="per-attribute attention maps as NIfTI volumes in the input "
                                                    "image's geometry")
    _add_single_subject_options(command)
    command.add_argument("--attributes", help="comma-separated names; default all regularised attributes")
    command.add_argument("--method", default=DEFAULT_METHOD, choices=ATTRIBUTION_METHODS, help=describe_methods())
    layered = ", ".join(name for name, method in ATTRIBUTION.items() if method.layered)
    command.add_argument("--layer", help=f"encoder layer {ENCODER_LAYERS[0]}..{ENCODER_LAYERS[-1]} of --method "
                                         f"{layered} (default {DEFAULT_LAYER}, the paper's)")
    command.set_defaults(handler=_attention)


def _attention(args: argparse.Namespace) -> int:
    from ..interpretation.attention import attention

    method = ATTRIBUTION[args.method]
    if args.layer and not method.layered:
        layered = ", ".join(name for name, entry in ATTRIBUTION.items() if entry.layered)
        raise InvalidConfigError(f"--layer goes with a method that explains an encoder layer ({layered}); "
                                 f"{args.method} explains the input voxels")
    layer = args.layer or DEFAULT_LAYER
    bundle, prepared = _single_subject(args)
    names = _names(args.attributes) or None
    maps = attention(bundle, prepared.volume, names, method=args.method, layer=layer)
    files = {f"attention_{name.replace(' ', '')}.nii.gz": cam for name, cam in maps.items()}
    index = {"method": args.method, "signed": method.signed, "maps": dict(zip(files, maps))}
    if method.layered:
        index["layer"] = layer
    _write_volumes(args.out, files, prepared.geometry, index)
    return 0


def _write_volumes(out: Path, files: dict[str, Any], geometry: Any, index: dict[str, Any]) -> None:
    from ..data.preprocessing import write_volumes_in_source

    write_volumes_in_source(out, files, geometry, index)
    print(f"wrote {len(files)} volumes to {out}")


# ---------------------------------------------------------------------------------------------- crossval
def _add_crossval(commands: Any) -> None:
    crossval = commands.add_parser("crossval", help="cross-validate presets: mean ± sd of every metric")
    crossval.add_argument("--data", type=Path, required=True)
    crossval.add_argument("--out", type=Path, required=True, help="new folder for runs and crossval.json")
    crossval.add_argument("--folds", type=int, default=5)
    crossval.add_argument("--seeds", type=int, default=3)
    crossval.add_argument("--presets", default=",".join(ABLATION_PRESETS), help="comma-separated preset names")
    crossval.add_argument("--independent", type=Path,
                          help="also evaluate every model on all subjects of this dataset (same --format)")
    crossval.add_argument("--resume", action="store_true",
                          help="continue an interrupted cross-validation in --out: keep finished runs")
    _add_training_options(crossval)
    crossval.set_defaults(handler=_crossval, preset=None)


def _crossval(args: argparse.Namespace) -> int:
    from ..data.datasets import load_cohort
    from ..data.prepared import with_attributes
    from ..training.crossval import cross_validate

    _for_training_only()
    cohort, config = with_attributes(_cohort(args), _with_requested_attributes(args, _resolve_config(args)))
    presets = _names(args.presets)
    for name in presets:
        preset(name)  # unknown names fail before any training
    independent = None
    if args.independent is not None:  # the same attributes, measured where a CSV lacks them, before any training
        independent, _ = with_attributes(load_cohort(args.independent, args.format), config)
    results = cross_validate(cohort, config, presets, args.folds, args.seeds, args.out,
                             progress=ConsoleProgress(), independent=independent, resume=args.resume,
                             overrides=_flag_overrides(args))
    for title, key in (("test folds", "summary"), ("independent cohort", "summary_independent")):
        if key in results:
            print(f"{title}:")
            _print_crossval_summary(results[key])
    print(f"all metrics: {args.out / 'crossval.json'}")
    return 0


def _print_crossval_summary(summary: dict[str, dict[str, dict[str, float]]]) -> None:
    """Mean ± sd of the headline metrics per preset, and the ground-truth code's scores (one row per latent size)."""
    from ..training.crossval import ceiling_groups

    headline = ["interpretability_mean", "mig_ksg", "sap", "scc", "modularity", "classification.auc"]
    width = max(len(name) for name in [*summary, "ceiling"])
    print(f"{'preset':{width}s} " + " ".join(f"{m:>22s}" for m in headline))
    for name, metrics in summary.items():
        print(f"{name:{width}s} " + " ".join(
            f"{format_metric(metrics[m]['mean']):>12s} ± {format_metric(metrics[m]['sd']):<7s}" for m in headline))
    for presets, ceiling in ceiling_groups(summary):
        print(f"{'ceiling':{width}s} " + " ".join(f"{format_metric(ceiling[m]) if m in ceiling else '':>12s}          "
                                                 for m in headline) + f"  ({', '.join(presets)})")


# ------------------------------------------------------------------------------------------------- bench
def _add_bench(commands: Any) -> None:
    bench = commands.add_parser("bench", help="training and inference speed against a plain eager baseline")
    options = {option.field: option for option in TRAINING_OPTIONS}
    _add_training_option(bench, options["input_size"], default=80)
    _add_training_option(bench, options["batch_size"], default=16)
    bench.add_argument("--steps", type=int, default=5, help="timed training steps per path")
    _add_training_option(bench, options["precision"], default=TrainConfig.precision,
                         help="precision of the project's path (as train --precision; default auto)")
    _add_training_option(bench, options["compile"], default=TrainConfig.compile,
                         help="torch.compile of the project's path (as train --compile; default auto)")
    bench.add_argument("--json", type=Path, help="also write the results here")
    bench.set_defaults(handler=_bench)


def _bench(args: argparse.Namespace) -> int:
    from ..config import ModelConfig
    from ..files import atomic_path, to_json
    from .benchmark import format_table, run_benchmark

    ModelConfig(input_size=args.cube_size)  # a bad size fails before minutes of measuring
    TrainConfig(batch_size=args.batch_size)
    if args.steps < 1:
        raise InvalidConfigError(f"--steps {args.steps}: time at least 1 training step")
    result = run_benchmark(args.cube_size, args.batch_size, args.steps, args.compile, args.precision,
                           tuple(b for b in (2, 4, 8, 16, 32) if b < args.batch_size) + (args.batch_size,))
    print(format_table(result))
    if args.json:
        with atomic_path(args.json) as path:
            path.write_text(to_json(result, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


# -------------------------------------------------------------------------------------------------- demo
def _add_demo(commands: Any) -> None:
    defaults = DemoSettings()
    demo = commands.add_parser("demo", help="synthesise a cohort, train, report (README, Demo result)")
    demo.add_argument("--out", type=Path, default=Path("attrivae-demo"), help="new demo folder")
    demo.add_argument("--preset", default=defaults.preset, choices=PRESET_NAMES)
    _add_synth_options(demo, subjects=defaults.subjects, matrix=defaults.matrix)
    options = {option.field: option for option in TRAINING_OPTIONS}
    _add_training_option(demo, options["epochs"], default=defaults.epochs)
    _add_training_option(demo, options["learning_rate"], default=defaults.learning_rate,
                         help="Adam step size (the paper's 1e-4 needs thousands of epochs)")
    # the demo's earlier --size is the image matrix (--matrix), so its cube's earlier name is --input-size
    _add_option(demo, "--cube-size", "--input-size", type=int, default=defaults.cube_size,
                help=options["input_size"].help)
    _add_training_option(demo, options["augment_probability"], default=defaults.augment)
    demo.set_defaults(handler=_demo)


def _demo(args: argparse.Namespace) -> int:
    from ..training.loop import TrainingInterrupted
    from .demo import run_demo

    settings = DemoSettings(**{field.name: getattr(args, field.name) for field in dataclasses.fields(DemoSettings)})
    _for_training_only()
    progress = ConsoleProgress()
    try:
        result = run_demo(args.out, settings, progress=progress)
    except TrainingInterrupted as err:
        progress.close()
        print(f"attrivae: {err}", file=sys.stderr)
        return EXIT_INTERRUPTED
    _print_summary(result.model, result.card)
    print(f"report: {result.report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
