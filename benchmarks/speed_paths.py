"""What each speed path adds: training volumes/s of the plain baseline and of the project's step with each
setting (layout, precision, compile, freed-memory reuse) switched on in turn, every one in a fresh process.

    python benchmarks/speed_paths.py --cube-size 80 --batch-size 16 --json speed_paths.json

Prints a table (volumes/s and the ratio to the plain baseline) and writes JSON. The bf16 paths are skipped on a
CPU without native bf16 (listed under ``skipped``). ``attrivae bench`` measures
the first and the last row (and the inference side); this script shows where the difference comes from.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from AttriVAELib.apps.compiled_code_cache import separate_compiled_code_cache  # imports no torch

# name: (project's step or the baseline, precision, compile, freed memory retained)
PATHS = {
    "baseline: eager float32, channels-first": ("baseline", "fp32", "off", False),
    "baseline, freed memory retained": ("baseline", "fp32", "off", True),
    "channels-last, float32": ("step", "fp32", "off", False),
    "channels-last, float32, freed memory retained": ("step", "fp32", "off", True),
    "channels-last, bf16, freed memory retained": ("step", "bf16", "off", True),
    "channels-last, float32, compiled, freed memory retained (the default without bf16)": ("step", "fp32", "on", True),
    "channels-last, bf16, compiled": ("step", "bf16", "on", False),
    "channels-last, bf16, compiled, freed memory retained (the default with bf16)": ("step", "bf16", "on", True),
}


def measure(name: str, size: int, batch_size: int, steps: int) -> float:
    """Seconds per training step of one path, in this process (meant to be a fresh one)."""
    from AttriVAELib.method.acceleration import retain_freed_memory

    path, precision, compile_mode, retained = PATHS[name]
    if retained:
        retain_freed_memory()
    from AttriVAELib.apps.benchmark import baseline_step, default_step, median_seconds
    from AttriVAELib.apps.samples import run_config, synthetic_data

    config = run_config(size, batch_size, compile_mode=compile_mode, precision=precision)
    with tempfile.TemporaryDirectory() as work:
        data = synthetic_data(config, Path(work) / "cohort")[1]
    step = baseline_step(config, data) if path == "baseline" else default_step(config, data)[0]
    return median_seconds(step, steps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cube-size", type=int, default=80)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--steps", type=int, default=5, help="timed steps per path (after one warm-up step)")
    parser.add_argument("--path", action="append", choices=list(PATHS), dest="paths",
                        help="measure only this path (repeat for several; default: every path)")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--one", choices=list(PATHS), help=argparse.SUPPRESS)  # the child process's path
    args = parser.parse_args()
    separate_compiled_code_cache()  # a capped run (e.g. to AVX2) never loads code compiled uncapped
    if args.one:
        print(measure(args.one, args.cube_size, args.batch_size, args.steps))
        return

    import torch

    from AttriVAELib.method.acceleration import bf16_supported
    from AttriVAELib.modelfile.provenance import machine

    rates, skipped = {}, []
    for name in args.paths or PATHS:
        if PATHS[name][1] == "bf16" and not bf16_supported(torch.device("cpu")):
            skipped.append(name)
            print(f"{name:78s} skipped: this CPU has no native bf16", flush=True)
            continue
        child = subprocess.run([sys.executable, __file__, "--one", name, "--cube-size", str(args.cube_size),
                                "--batch-size", str(args.batch_size), "--steps", str(args.steps)],
                               capture_output=True, text=True)
        if child.returncode != 0:
            sys.exit(f"{name}: the measuring process failed:\n{child.stderr[-2000:]}")
        rates[name] = args.batch_size / float(child.stdout.split()[-1])
        baseline = rates[next(iter(PATHS))]
        print(f"{name:78s} {rates[name]:6.2f} volumes/s  {rates[name] / baseline:5.2f}x", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "size": args.cube_size, "batch_size": args.batch_size,
                                         "volumes_per_s": rates, "skipped": skipped}, indent=2) + "\n")


if __name__ == "__main__":
    main()
