"""``attrivae bench``: training and inference speed of the default paths against a plain eager baseline.

Baseline: the same architecture and loss run the plain way, as an eager PyTorch port of the paper would:
default (channels-first) memory layout, float32, no autocast, no compile, the C library's default memory
allocator. It reuses the model's layer definitions (one source of truth for the architecture) but none of
the project's speed paths, which live in :class:`AttriVAELib.training.loop.Step` and
:mod:`AttriVAELib.method.acceleration`. The project's path runs as ``attrivae train`` does, after
:func:`~AttriVAELib.method.acceleration.retain_freed_memory`; because that setting alone speeds up the baseline too,
the baseline is measured again under it and the ratio to that is reported as well.

Everything runs on a small synthetic cohort with an untrained model (speed does not depend on the weights). Results:
volumes/s for both training paths and their ratio, inference latencies (encode, one slider update, attention
maps for all attributes, one full analysis), achieved GFLOP/s against a measured matmul GFLOP/s, and the peak
memory of a training step per batch size (each measured in a fresh process).
"""

from __future__ import annotations

__all__ = ["baseline_step", "default_step", "format_table", "instruction_set", "matmul_gflops", "median_seconds",
           "peak_rss_mb", "run_benchmark", "training_flops"]

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk
import torch
from torch.utils.flop_counter import FlopCounterMode

from ..config import RunConfig, TrainConfig
from ..data.prepared import PreparedData
from ..data.synthetic import synthetic_subject
from ..method.acceleration import bf16_supported, retain_freed_memory
from ..method.losses import total_loss
from ..method.model import AttriVAE
from ..modelfile.provenance import machine
from ..training.loop import Step, build_step
from .samples import run_config, synthetic_data, untrained_bundle


def median_seconds(action: Callable[[], Any], repeats: int) -> float:
    """Median wall time of ``action`` after one warm-up call."""
    action()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def matmul_gflops(dtype: torch.dtype, size: int = 1024) -> float:
    """The CPU's rate of a ``size`` × ``size`` matrix product in ``dtype``, GFLOP/s (median of 10): the peak the
    convolutions' rates are held against."""
    a, b = torch.rand(size, size, dtype=dtype), torch.rand(size, size, dtype=dtype)
    return 2 * size**3 / median_seconds(lambda: a @ b, 10) / 1e9


def baseline_step(config: RunConfig, data: PreparedData) -> Callable[[], None]:
    """One eager float32 channels-first training step: forward, loss, backward, Adam."""
    torch.manual_seed(0)
    model = AttriVAE(config.model).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=config.train.learning_rate)

    def step() -> None:
        terms = total_loss(model(data.volumes), data.volumes, data.labels, data.attributes, config.loss)
        optimizer.zero_grad(set_to_none=True)
        terms["total"].backward()
        optimizer.step()

    return step


def default_step(config: RunConfig, data: PreparedData) -> tuple[Callable[[], None], Step]:
    """One step of the project's training path (:func:`~AttriVAELib.training.loop.build_step`), and that path."""
    torch.manual_seed(0)
    step = build_step(config, torch.device("cpu"))
    batch = torch.arange(config.train.batch_size)
    return (lambda: step(batch, data, config.loss.beta)), step


def training_flops(config: RunConfig, data: PreparedData) -> float:
    """Floating-point operations of one training step (forward + backward), counted by PyTorch."""
    model = AttriVAE(config.model).train()
    with FlopCounterMode(display=False) as counter:
        total_loss(model(data.volumes), data.volumes, data.labels, data.attributes, config.loss)["total"].backward()
    return float(counter.get_total_flops())


def _inference(config: RunConfig, repeats: int, work: Path) -> dict[str, float]:
    """Median seconds of the single-subject operations the Slicer module runs (cohort for the card in ``work``)."""
    from ..interpretation.analysis import analyse_subject, attention_in_source, decode_in_source
    from ..interpretation.inference import encode

    bundle = untrained_bundle(config, work / "card-cohort")
    image, labels = synthetic_subject(seed=1, infarct=True)
    analysis = analyse_subject(bundle, image, labels)
    return {
        "encode_s": median_seconds(lambda: encode(bundle, analysis.prepared.volume), repeats),
        "slider_update_s": median_seconds(lambda: sitk.GetArrayViewFromImage(decode_in_source(
            bundle, analysis.mu, analysis.prepared.geometry, precision="auto")), repeats),
        "attention_all_s": median_seconds(lambda: attention_in_source(bundle, analysis.prepared), max(3, repeats // 4)),
        "analysis_with_attention_s": median_seconds(
            lambda: attention_in_source(bundle, analyse_subject(bundle, image, labels).prepared), max(3, repeats // 4)),
        "source_voxels": float(np.prod(image.GetSize())),
    }


def _peak_memory_mb(size: int, batch_size: int, precision: str) -> float:
    """Peak resident memory (MB) of a fresh process that runs two default training steps as ``attrivae train``
    does (freed memory retained), eagerly: compiling each batch size would take minutes."""
    code = (f"from AttriVAELib.method.acceleration import retain_freed_memory\nretain_freed_memory()\n"
            f"import tempfile\nfrom AttriVAELib.apps.benchmark import default_step, peak_rss_mb\n"
            f"from AttriVAELib.apps.samples import run_config, synthetic_data\n"
            f"config = run_config({size}, {batch_size}, precision={precision!r})\n"
            f"with tempfile.TemporaryDirectory() as work:\n"
            f"    step, _ = default_step(config, synthetic_data(config, work + '/cohort')[1])\n"
            f"    step(); step()\nprint(peak_rss_mb())")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(result.stdout.split()[-1])


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MB: VmHWM from /proc (ru_maxrss survives exec, so a child
    started by a big parent would report the parent's peak), ru_maxrss where there is no /proc."""
    if os.path.exists("/proc/self/status"):
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    scale = 1024.0 * 1024.0 if sys.platform == "darwin" else 1024.0  # bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale


def instruction_set() -> dict[str, Any]:
    """The vector instructions torch uses here: ATen's kernel level (``AVX2``, ``AVX512``, ...), oneDNN's cap
    when ``ONEDNN_MAX_CPU_ISA`` sets one (how an AVX2 CPU is reproduced on a newer one), and whether
    convolutions have native bf16 (AVX-512-BF16 or AMX)."""
    return {"aten": torch.backends.cpu.get_cpu_capability(), "onednn_max": os.environ.get("ONEDNN_MAX_CPU_ISA"),
            "native_bf16": bf16_supported(torch.device("cpu"))}


def run_benchmark(size: int = 80, batch_size: int = 16, steps: int = 5, compile_mode: str = TrainConfig.compile,
                  precision: str = TrainConfig.precision, memory_batch_sizes: tuple[int, ...] = (2, 4, 16),
                  repeats: int = 20) -> dict[str, Any]:
    """Measure everything (see the module docstring) on the CPU; returns a JSON-serialisable dict. The
    project's path uses ``precision`` and ``compile_mode`` as training would. Changes this process's memory
    allocator (:func:`~AttriVAELib.method.acceleration.retain_freed_memory`) halfway."""
    config = run_config(size, batch_size, compile_mode=compile_mode, precision=precision)
    with tempfile.TemporaryDirectory() as work:
        data = synthetic_data(config, Path(work) / "cohort")[1]
        inference = _inference(config, repeats, Path(work))  # with the allocator the Slicer module's process has
    baseline = median_seconds(baseline_step(config, data), steps)
    retained = retain_freed_memory()
    baseline_retained = median_seconds(baseline_step(config, data), steps)
    step, path = default_step(config, data)
    default = median_seconds(step, steps)
    flops = training_flops(config, data)
    peak_gflops = {"fp32": matmul_gflops(torch.float32)}
    if path.precision == torch.bfloat16:
        peak_gflops["bf16"] = matmul_gflops(torch.bfloat16)
    return {
        "machine": machine(), "instruction_set": instruction_set(), "size": size, "batch_size": batch_size,
        "default_path": {"layout": "channels_last_3d", "dtype": str(path.precision).removeprefix("torch."),
                         "compile": path.compiled, "retains_freed_memory": retained},
        "training": {"baseline_volumes_per_s": batch_size / baseline, "default_volumes_per_s": batch_size / default,
                     "ratio": baseline / default,  # = default volumes/s ÷ baseline volumes/s
                     "baseline_retained_volumes_per_s": batch_size / baseline_retained,
                     "ratio_to_retained_baseline": baseline_retained / default,
                     "gflop_per_step": flops / 1e9,
                     "baseline_gflops": flops / baseline / 1e9, "default_gflops": flops / default / 1e9,
                     "matmul_gflops": peak_gflops},
        "inference": inference,
        "peak_memory_mb": {str(b): _peak_memory_mb(size, b, precision) for b in memory_batch_sizes},
        "process_peak_rss_mb": peak_rss_mb(),
    }


def format_table(result: dict[str, Any]) -> str:
    """The benchmark as a short text table."""
    training, inference = result["training"], result["inference"]
    machine, path = result["machine"], result["default_path"]
    isa = result["instruction_set"]
    lines = [f"{machine['cpu']} ({machine['cores']} cores, {machine['threads']} threads), torch {machine['torch']}, "
             f"{isa['aten']}{' (oneDNN capped to ' + isa['onednn_max'] + ')' if isa['onednn_max'] else ''}, "
             f"{'native' if isa['native_bf16'] else 'no native'} bf16",
             f"training at {result['size']}³, batch {result['batch_size']}:",
             f"  baseline (eager float32, channels-first): {training['baseline_volumes_per_s']:8.2f} volumes/s",
             f"  AttriVAE ({path['layout']}, {path['dtype']}{', compiled' if path['compile'] else ''}"
             f"{', freed memory retained' if path['retains_freed_memory'] else ''}): "
             f"{training['default_volumes_per_s']:8.2f} volumes/s   ratio {training['ratio']:.2f}x",
             f"  baseline with the same allocator setting: {training['baseline_retained_volumes_per_s']:8.2f} "
             f"volumes/s   ratio {training['ratio_to_retained_baseline']:.2f}x",
             f"  {training['gflop_per_step']:.1f} GFLOP per step: baseline {training['baseline_gflops']:.0f}, "
             f"default {training['default_gflops']:.0f} GFLOP/s; matmul "
             + ", ".join(f"{k} {v:.0f}" for k, v in training["matmul_gflops"].items()) + " GFLOP/s",
             "inference (one subject):",
             f"  encode {inference['encode_s'] * 1e3:.1f} ms, "
             f"slider update {inference['slider_update_s'] * 1e3:.1f} ms "
             f"(decode + resample to {inference['source_voxels']:.0f} voxels), attention for all attributes "
             f"{inference['attention_all_s'] * 1e3:.0f} ms, full analysis + attention "
             f"{inference['analysis_with_attention_s'] * 1e3:.0f} ms",
             "peak memory of training (fresh process, eager): "
             + ", ".join(f"batch {b}: {mb:.0f} MB" for b, mb in result["peak_memory_mb"].items())]
    return "\n".join(lines)

