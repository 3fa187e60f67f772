"""Training: preprocess once, split by seed, then a plain loop with atomic per-epoch checkpoints.

Run folder layout::

    RUN/config.json             resolved RunConfig
    RUN/split.json              subject ids of train / val / test
    RUN/log.csv                 one row per epoch: train and validation losses
    RUN/checkpoint.safetensors  last finished epoch: model, optimiser, RNG (for --resume)
    RUN/model.safetensors       best model on the validation split (never chosen on test)
    RUN/summary.json            test-split evaluation of the best model
"""

from __future__ import annotations

__all__ = ["CHECKPOINT", "LOSS_TERMS", "Step", "TrainingInterrupted", "build_step", "learning_rate",
           "train"]

import contextlib
import csv
import dataclasses
import json
import math
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DistributedSampler

from .. import __version__
from ..config import RunConfig, flag_of
from ..data.constants import CLASS_NAMES
from ..data.datasets import Cohort
from ..data.prepared import PreparedData, prepare_data, with_attributes
from ..data.splits import Split, oversample_minority, stratified_split
from ..errors import InvalidConfigError, TrainingDivergedError
from ..evaluation.evaluate import encode_all, order_and_class_scores
from ..files import atomic_path, to_json
from ..method import distributed
from ..method.acceleration import as_model_input, autocast, compiled, resolve_compile, resolve_device, resolve_precision
from ..method.augmentation import random_in_plane_symmetry
from ..method.losses import total_loss
from ..method.model import AttriVAE, VAEOutput
from ..modelfile.bundle import load_model, read_safetensors, save_model, write_safetensors
from ..modelfile.calibration import calibrate_model
from ..modelfile.card import TestSummary, TrainingCard, build_card
from ..progress import Progress, ProgressEvent
from ..typed import ValueProblem, typed

LOSS_TERMS = ("total", "recon", "kl", "classifier", "ar")
CHECKPOINT = "checkpoint.safetensors"


def _ignore(event: ProgressEvent) -> None:
    """The progress of a caller that passed none, and of every process but the first under torchrun."""


class TrainingInterrupted(Exception):
    """Raised after Ctrl-C; the last finished epoch is saved in the checkpoint."""

    def __init__(self, epochs_done: int, out_dir: Path) -> None:
        super().__init__(f"training interrupted after {epochs_done} finished epoch(s); continue with "
                         f"--resume --out {out_dir}")
        self.epochs_done = epochs_done


def train(cohort: Cohort, config: RunConfig, out_dir: Path | str, resume: bool = False,
          progress: Progress | None = None, data: PreparedData | None = None, split: Split | None = None) -> Path:
    """Train Attri-VAE on ``cohort`` and return the path of the best model bundle. The regularised attributes
    are ``config.attributes`` (none named: the defaults the cohort has;
    :func:`~AttriVAELib.data.prepared.with_attributes`).

    ``data`` reuses an earlier :func:`prepare_data` of the same cohort, attributes and preprocessing;
    ``split`` replaces the seeded stratified split (cross-validation passes its folds). The global torch
    RNG and cuDNN flags are restored afterwards.

    Raises:
        InvalidConfigError: more attributes than latent dims; ``data`` prepared for other attributes;
            ``out_dir`` holds another run (without ``resume``) or no run or a run with other settings (with it).
        InvalidDatasetError: an attribute the cohort cannot give.
        TrainingInterrupted: on Ctrl-C, after the last finished epoch was checkpointed.
    """
    out_dir = Path(out_dir)
    cohort, config = with_attributes(cohort, config)
    names = config.attributes
    if len(names) > config.model.latent_size:
        raise InvalidConfigError(f"{len(names)} attributes need at least as many latent dims; "
                                 f"latent_size is {config.model.latent_size}")
    if data is not None and tuple(data.attribute_names) != tuple(names):
        raise InvalidConfigError(f"the prepared data hold the attributes {data.attribute_names}, the config "
                                 f"regularises {names}")
    with distributed.joined(resolve_device(config.train.device)) as (context, device):
        _check_run_folder(out_dir, resume)
        context.barrier()  # every process checked the folder before rank 0 writes to it
        progress = (progress or _ignore) if context.is_main else _ignore
        dims = ", ".join(f"{name}→{k}" for k, name in enumerate(names))
        progress(ProgressEvent("note", text=f"{len(cohort.subjects)} subjects ({cohort.format}); attributes → "
                                            f"latent dims: {dims}"))
        data = data or prepare_data(cohort, config, progress)
        if resume:
            split = _saved_split(out_dir, config, data)
        split = split or stratified_split(data.labels.numpy().astype(int), config.train.val_fraction,
                                          config.train.test_fraction, config.train.seed)
        if context.is_main and not resume:
            _warn_about_uninformative_data(data, split, config)
        with _torch_state(device), _out_of_memory_as_error(config, device):
            return _run(cohort, config, data, split, out_dir, resume, device, progress, context)


def _run(cohort: Cohort, config: RunConfig, data: PreparedData, split: Split, out_dir: Path, resume: bool,
         device: torch.device, progress: Progress, context: distributed.Distributed) -> Path:
    """The training loop proper (see :func:`train`); only rank 0 writes files."""
    checkpoint_path, model_path = out_dir / CHECKPOINT, out_dir / "model.safetensors"
    labels = data.labels.numpy().astype(int)
    seed = config.train.seed
    train_indices = oversample_minority(split.train, labels, seed) if config.train.oversample else split.train
    torch.manual_seed(seed)
    step = build_step(config, device, context)
    model, optimizer = step.model, step.optimizer
    state = {"epoch": 0, "best_val_loss": None, "best_epoch": None, "history": []}  # None: no epoch finished yet
    if resume:
        state = _load_checkpoint(checkpoint_path, model, optimizer)
    elif context.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
        _write_json(out_dir / "split.json", _split_ids(split, data))
        _save_checkpoint(checkpoint_path, model, optimizer, config, state)  # epoch 0: resumable from the start
    if context.is_main:
        _write_json(out_dir / "config.json", config.to_dict())
    card = build_card(config, cohort, data, split)
    if step.compiled and state["epoch"] < config.train.epochs:
        progress(ProgressEvent("compile"))  # the first steps take a while

    try:
        for epoch in range(state["epoch"], config.train.epochs):
            started = time.perf_counter()
            train_losses = _train_epoch(step, data, train_indices, epoch, progress)
            val_losses = _evaluate_losses(step, data, split.val)
            row = {"epoch": epoch + 1, **{f"train_{k}": v for k, v in train_losses.items()},
                   **{f"val_{k}": v for k, v in val_losses.items()}, "seconds": time.perf_counter() - started}
            state["epoch"] = epoch + 1
            state["history"].append(row)
            improved = state["best_val_loss"] is None or val_losses["total"] < state["best_val_loss"]
            if improved:
                state.update(best_val_loss=val_losses["total"], best_epoch=epoch + 1)
            if context.is_main:
                if improved:
                    save_model(model_path, model, dataclasses.replace(card, training=_training_card(state)))
                _save_checkpoint(checkpoint_path, model, optimizer, config, state)
                _write_log(out_dir / "log.csv", state["history"])
            progress(ProgressEvent("epoch", done=epoch + 1, total=config.train.epochs, seconds=row["seconds"],
                                   best_epoch=state["best_epoch"], losses={key: value for key, value in row.items()
                                                                           if key.startswith(("train_", "val_"))}))
    except KeyboardInterrupt:
        raise TrainingInterrupted(state["epoch"], out_dir) from None

    context.barrier()
    if not context.is_main:  # rank 0 evaluates and writes the final bundle
        context.barrier()
        return model_path
    best = load_model(model_path, device)
    summary = order_and_class_scores(best, data, split.test, device)
    test = TestSummary.from_metrics(summary)
    _write_json(out_dir / "summary.json", {"split": "test", **dataclasses.asdict(test)})
    mu, _ = encode_all(best.model, data.volumes[split.train], device)  # the training line of each attribute
    lined = best.card.with_lines(data.attributes[split.train].numpy(), mu)
    calibrated = calibrate_model(lined, best.model, data.volumes[split.val], data.attributes[split.val].numpy(),
                                 [data.geometries[i] for i in split.val])  # units checked on held-out subjects
    final_card = dataclasses.replace(calibrated, test=test, training=_training_card(state))
    save_model(model_path, best.model, final_card)
    progress(ProgressEvent("done", model=str(model_path)))
    context.barrier()
    return model_path


def _warn_about_uninformative_data(data: PreparedData, split: Split, config: RunConfig) -> None:
    """Warn when the training split cannot teach the classifier (one class) or an attribute dim (one value)."""
    classes = np.unique(data.labels[split.train].numpy()).astype(int)
    if config.loss.alpha > 0 and len(classes) < 2:
        warnings.warn(f"every training subject is {CLASS_NAMES[classes[0]]!r}: the classifier cannot learn to tell "
                      f"the classes apart and its AUC is undefined; add subjects of the other class or train "
                      f"without the classifier (--preset ar-vae)", stacklevel=3)
    spread = np.ptp(data.attributes[split.train].numpy(), axis=0)
    constant = [name for name, width in zip(config.attributes, spread) if width == 0]
    if constant:
        warnings.warn(f"attribute {constant[0]!r} has one value for every training subject: its latent dim cannot "
                      f"learn it; leave it out of --attributes", stacklevel=3)


def learning_rate(config: RunConfig, epoch: int) -> float:
    """Adam step size of an epoch (0-based): constant, or a cosine from learning_rate to 1 % of it."""
    rate = config.train.learning_rate
    if config.train.lr_schedule == "constant" or config.train.epochs == 1:
        return rate
    progress = epoch / (config.train.epochs - 1)  # 0 at the first epoch, 1 at the last
    return rate * (0.01 + 0.99 * 0.5 * (1.0 + math.cos(math.pi * progress)))


@contextlib.contextmanager
def _torch_state(device: torch.device) -> Iterator[None]:
    """Fork the global RNG and set deterministic cuDNN (bit-for-bit resume on GPUs), restoring both after."""
    flags = torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        try:
            if device.type == "cuda":
                torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
            yield
        finally:
            torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = flags


@contextlib.contextmanager
def _out_of_memory_as_error(config: RunConfig, device: torch.device) -> Iterator[None]:
    """Turn an out-of-memory failure into a one-line error that says what to change."""
    try:
        yield
    except (torch.OutOfMemoryError, RuntimeError) as err:
        text = str(err)
        if not isinstance(err, torch.OutOfMemoryError) and "can't allocate memory" not in text \
                and "out of memory" not in text.lower():
            raise
        raise InvalidConfigError(
            f"out of {device.type.upper()} memory training batches of {config.train.batch_size} volumes of "
            f"{config.model.input_size}³ voxels; use a smaller {flag_of('batch_size')} or {flag_of('input_size')} "
            f"(the last finished epoch is in the checkpoint; `attrivae bench` prints the peak memory per batch "
            f"size)") from None


def _saved_split(out_dir: Path, config: RunConfig, data: PreparedData) -> Split:
    """The split of the run being resumed, after checking that its settings match ``config``."""
    _, meta = read_safetensors(out_dir / CHECKPOINT, "checkpoint")
    saved = RunConfig.from_dict(meta["config"])
    resumable = ("epochs", "device", "precision", "compile")  # the only settings a resumed run may change
    if (saved.model, saved.preprocess, saved.loss, saved.attributes) != (
            config.model, config.preprocess, config.loss, config.attributes) or any(
            getattr(saved.train, f.name) != getattr(config.train, f.name)
            for f in dataclasses.fields(config.train) if f.name not in resumable):
        raise InvalidConfigError(f"{out_dir} was trained with other settings (only {', '.join(resumable)} may "
                                 f"change on resume); resume with its config.json or start a new --out")
    try:
        ids = typed(json.loads((out_dir / "split.json").read_text()), dict[str, tuple[str, ...]], "split")
        return Split(*(data.indices(ids[part]) for part in ("train", "val", "test")))
    except (OSError, ValueError, KeyError, ValueProblem) as err:
        raise InvalidConfigError(f"{out_dir / 'split.json'} is missing or does not match the dataset ({err}); "
                                 f"resume with the run's own data") from err


@dataclass
class Step:
    """One optimisation step of the default training path: channels-last input, the forward pass under
    autocast (bf16 where supported), float32 losses, optional compile and data-parallel gather."""

    model: AttriVAE  # the parameters (unwrapped: checkpoints and bundles save this)
    forward: Callable[[torch.Tensor], VAEOutput]  # the model, maybe wrapped by DDP and/or torch.compile
    optimizer: torch.optim.Optimizer
    config: RunConfig
    precision: torch.dtype  # autocast dtype of the forward pass (float32: none)
    device: torch.device
    gather: Callable[[torch.Tensor], torch.Tensor] | None = None  # data-parallel: concatenate over processes
    compiled: bool = False  # whether ``forward`` is wrapped by torch.compile

    def losses(self, network: Callable[[torch.Tensor], VAEOutput], batch: torch.Tensor, data: PreparedData,
               beta: float | None = None, training: bool = False) -> dict[str, torch.Tensor]:
        """Loss terms of ``batch`` (indices into ``data``) through ``network``. ``training`` adds what only the
        optimised loss has: random in-plane symmetries of the inputs, the L1 weight penalty and, under
        torchrun, the global-batch attribute loss."""
        x = as_model_input(data.volumes[batch], self.device)
        if training:
            x = random_in_plane_symmetry(x, self.config.train.augment_probability)
        with autocast(self.device, self.precision):
            output = network(x)
        output = VAEOutput(*(t.float() for t in output))  # losses in float32
        return total_loss(output, x, data.labels[batch].to(self.device), data.attributes[batch].to(self.device),
                          self.config.loss, beta=beta, model=self.model if training else None,
                          gather=self.gather if training else None)

    def __call__(self, batch: torch.Tensor, data: PreparedData, beta: float) -> dict[str, torch.Tensor]:
        """Forward, backward and update on ``batch``; returns the loss terms (before the update)."""
        terms = self.losses(self.forward, batch, data, beta, training=True)
        if not torch.isfinite(terms["total"]):
            raise TrainingDivergedError(
                f"the loss became {terms['total'].item()}; lower the learning rate or check the data "
                f"(the last finished epoch is in the checkpoint)")
        self.optimizer.zero_grad(set_to_none=True)
        terms["total"].backward()
        self.optimizer.step()
        return terms


def build_step(config: RunConfig, device: torch.device,
               context: distributed.Distributed | None = None) -> Step:
    """The default training path: the model in channels-last 3D layout (the same arithmetic, faster on
    CPUs; docs/benchmarks.md), Adam, autocast and compile as configured (by default bf16 where the hardware has
    it, then compiled from 64³ up); under torchrun (``context.enabled``) global-batch BatchNorm,
    DistributedDataParallel and the gathered attribute loss."""
    parallel = context is not None and context.enabled
    model = AttriVAE(config.model).to(device, memory_format=torch.channels_last_3d)
    if parallel:
        distributed.use_global_batch_norm(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.train.learning_rate)
    network = DistributedDataParallel(model) if parallel else model
    precision = resolve_precision(config.train.precision, device)
    compile_model = resolve_compile(config.train.compile, config.model.input_size)
    return Step(model, compiled(network, compile_model), optimizer, config, precision, device,
                distributed.gather if parallel else None, compile_model)


def _epoch_order(indices: np.ndarray, seed: int, epoch: int) -> torch.Tensor:
    """``indices`` shuffled in an order fixed by (seed, epoch), identical in every process."""
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.from_numpy(indices)[torch.randperm(len(indices), generator=generator)]


def _train_epoch(step: Step, data: PreparedData, indices: np.ndarray, epoch: int,
                 progress: Progress) -> dict[str, float]:
    """One pass over ``indices`` (this process's share of them under torchrun); returns mean loss terms."""
    config = step.config
    step.model.train()
    for group in step.optimizer.param_groups:
        group["lr"] = learning_rate(config, epoch)
    order = _epoch_order(indices, config.train.seed, epoch)
    if step.gather is not None:  # torchrun: this process's share, equal in size across processes
        order = order[list(DistributedSampler(range(len(order)), shuffle=False))]
    batches = [order[i:i + config.train.batch_size] for i in range(0, len(order), config.train.batch_size)]
    if len(batches) > 1 and len(batches[-1]) == 1:  # BatchNorm cannot normalise a batch of one
        batches = batches[:-1]
    warmup = config.loss.kl_warmup_epochs
    beta = config.loss.beta * min(1.0, (epoch + 1) / warmup) if warmup else config.loss.beta
    sums = dict.fromkeys(LOSS_TERMS, 0.0)
    for number, batch in enumerate(batches):
        try:
            terms = step(batch, data, beta)
        except TrainingDivergedError as err:
            raise TrainingDivergedError(f"epoch {epoch + 1}, step {number + 1}: {err}") from None
        for key in LOSS_TERMS:
            sums[key] += terms[key].item() * len(batch)
        progress(ProgressEvent("batch", done=number + 1, total=len(batches), epoch=epoch + 1,
                               losses={key: terms[key].item() for key in LOSS_TERMS}))
    count = sum(len(b) for b in batches)
    return {key: value / count for key, value in sums.items()}


@torch.no_grad()
def _evaluate_losses(step: Step, data: PreparedData, indices: np.ndarray) -> dict[str, float]:
    """Loss terms on a split in eval mode (z = μ, no dropout), as one batch-weighted mean; every process
    evaluates the whole split with the same weights, so all agree on the best epoch."""
    step.model.eval()
    sums = dict.fromkeys(LOSS_TERMS, 0.0)
    size = step.config.train.batch_size
    for start in range(0, len(indices), size):
        batch = torch.from_numpy(indices[start:start + size])
        terms = step.losses(step.model, batch, data)
        for key in LOSS_TERMS:
            sums[key] += terms[key].item() * len(batch)
    step.model.train()
    return {key: value / len(indices) for key, value in sums.items()}


def _split_ids(split: Split, data: PreparedData) -> dict[str, list[str]]:
    return {part: [data.subject_ids[i] for i in indices] for part, indices in split.to_dict().items()}


def _training_card(state: dict[str, Any]) -> TrainingCard:
    return TrainingCard(epochs=state["epoch"], best_epoch=state["best_epoch"], best_val_loss=state["best_val_loss"])


def _check_run_folder(out_dir: Path, resume: bool) -> None:
    checkpoint = out_dir / CHECKPOINT
    if resume and not checkpoint.is_file():
        raise InvalidConfigError(f"--resume: {checkpoint} does not exist; start a new run without --resume")
    if not resume and out_dir.exists() and any(out_dir.iterdir()):
        raise InvalidConfigError(
            f"run folder {out_dir} is not empty; pass --resume to continue it or choose a new --out")


def _save_checkpoint(path: Path, model: AttriVAE, optimizer: torch.optim.Optimizer, config: RunConfig,
                     state: dict[str, Any]) -> None:
    """Model, Adam moments, RNG and loop state in one safetensors file (nothing pickled)."""
    optimizer_state = optimizer.state_dict()
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    for index, moments in optimizer_state["state"].items():
        tensors.update({f"optimizer.{index}.{k}": torch.as_tensor(v) for k, v in moments.items()})
    tensors["rng.torch"] = torch.get_rng_state()
    if torch.cuda.is_available():
        tensors["rng.cuda"] = torch.cuda.get_rng_state()
    write_safetensors(path, tensors, {"kind": "attrivae-checkpoint", "library_version": __version__,
                                      "config": config.to_dict(), "state": state,
                                      "param_groups": optimizer_state["param_groups"]})


def _load_checkpoint(path: Path, model: AttriVAE, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    tensors, meta = read_safetensors(path, "checkpoint")
    model.load_state_dict({k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")})
    moments: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith("optimizer."):
            _, index, name = key.split(".", 2)
            moments.setdefault(int(index), {})[name] = value
    optimizer.load_state_dict({"state": moments, "param_groups": meta["param_groups"]})
    torch.set_rng_state(tensors["rng.torch"])
    if "rng.cuda" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state(tensors["rng.cuda"])
    state = meta["state"]
    for row in state["history"]:  # checkpoints of 0.1.0 called the classifier's loss term "mlp"
        for split in ("train", "val"):
            if f"{split}_mlp" in row:
                row[f"{split}_classifier"] = row.pop(f"{split}_mlp")
    return state


def _write_log(path: Path, rows: list[dict[str, Any]]) -> None:
    with atomic_path(path) as temporary, open(temporary, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({k: f"{v:.6g}" if isinstance(v, float) else v for k, v in row.items()} for row in rows)


def _write_json(path: Path, data: Any) -> None:
    with atomic_path(path) as temporary:
        temporary.write_text(to_json(data, indent=2) + "\n")
