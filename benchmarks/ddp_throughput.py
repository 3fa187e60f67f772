"""Data-parallel training throughput: the project's training step (AttriVAELib.training.loop.Step with the
gathered attribute loss and global-batch BatchNorm) in every torchrun process, on random volumes.

Meant for GPU machines; runs on CPUs with gloo too:

    torchrun --standalone --nproc_per_node 1 benchmarks/ddp_throughput.py --cube-size 80 --precision bf16
    torchrun --standalone --nproc_per_node 8 benchmarks/ddp_throughput.py --cube-size 80 --precision bf16 \\
        --json out.json

Rank 0 prints the global volumes/s (all processes together) and writes JSON; compare runs with 1 and N
processes for the scaling efficiency.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from pathlib import Path

import torch

from AttriVAELib.apps.samples import run_config, synthetic_data
from AttriVAELib.config import COMPILE_MODES, PRECISIONS, TrainConfig
from AttriVAELib.method import distributed
from AttriVAELib.method.acceleration import resolve_device, retain_freed_memory
from AttriVAELib.modelfile.provenance import machine
from AttriVAELib.training.loop import build_step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cube-size", type=int, default=80)
    parser.add_argument("--batch-size", type=int, default=16, help="volumes per process and step")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--precision", default=TrainConfig.precision, choices=PRECISIONS)
    parser.add_argument("--compile", nargs="?", const="on", default=TrainConfig.compile, choices=COMPILE_MODES)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    retain_freed_memory()  # as attrivae train
    with distributed.joined(resolve_device(args.device)) as (context, device):
        config = run_config(args.cube_size, args.batch_size, compile_mode=args.compile, precision=args.precision,
                            device=str(device))
        with tempfile.TemporaryDirectory() as work:
            data = synthetic_data(config, Path(work) / "cohort")[1]
        data = dataclasses.replace(data, volumes=data.volumes.to(device), labels=data.labels.to(device),
                                   attributes=data.attributes.to(device))
        torch.manual_seed(0)
        step = build_step(config, device, context)
        batch = torch.arange(args.batch_size)
        for _ in range(3):  # warm-up (and compilation)
            step(batch, data, 1.0)
        context.barrier()
        if device.type == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        for _ in range(args.steps):
            step(batch, data, 1.0)
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds = (time.perf_counter() - started) / args.steps
        context.barrier()
        if context.is_main:
            result = {"machine": machine(), "device": str(device), "processes": context.world, "size": args.cube_size,
                      "batch_per_process": args.batch_size, "precision": str(step.precision).removeprefix("torch."),
                      "compile": step.compiled,
                      "seconds_per_step": seconds, "global_volumes_per_s": context.world * args.batch_size / seconds,
                      "peak_gpu_memory_mb":
                          torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda" else None}
            print(f"{context.world} process(es) on {device}: {result['global_volumes_per_s']:.1f} volumes/s "
                  f"({seconds * 1000:.0f} ms per step of {context.world} × {args.batch_size} volumes at "
                  f"{args.cube_size}³, {result['precision']}{', compiled' if result['compile'] else ''})")
            if args.json:
                args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
