"""Peak memory of ``attrivae encode`` against the cohort's size: subjects stream through in batches, so
encoding 1,000 subjects should need no more memory than encoding one batch of them (most of a process's
memory is PyTorch itself, so the growth over the smallest size is the number to read).

Synthesises a cohort of ``--subjects`` (default 1,000; 48² in-plane as the demo's), then encodes its first
N subjects for each N in ``--sizes`` in a fresh process each and reads that process's peak resident memory
(``ru_maxrss``). Prints a table and writes JSON:

    python benchmarks/encode_memory.py --model AttriVAE/Resources/Models/attrivae-shipped.safetensors \\
        --work encode-bench --json encode_memory.json
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import time
from pathlib import Path

from AttriVAELib.data.constants import ATTRIBUTES_CSV
from AttriVAELib.modelfile.provenance import machine

CHILD = """
import resource, sys, time
from AttriVAELib import load_cohort, load_model
from AttriVAELib.interpretation.codes import encode_cohort
started = time.perf_counter()
encode_cohort(load_model(sys.argv[1]), load_cohort(sys.argv[2]), sys.argv[3])
print(time.perf_counter() - started, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""
"""Encodes one cohort and prints its seconds and peak resident memory (KiB on Linux)."""


def _first_subjects(cohort: Path, subjects: int, out: Path) -> Path:
    """A folder+CSV index of the first ``subjects`` rows of ``cohort`` (the images stay where they are)."""
    with open(cohort / ATTRIBUTES_CSV, newline="") as handle:
        rows = list(csv.DictReader(handle))[:subjects]
    for row in rows:
        for column in ("image", "mask", "image_es", "mask_es"):
            row[column] = str((cohort / row[column]).resolve())
    out.mkdir(parents=True, exist_ok=True)
    with open(out / ATTRIBUTES_CSV, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True, help="folder for the cohort (reused when present)")
    parser.add_argument("--subjects", type=int, default=1000)
    parser.add_argument("--sizes", default="16,250,1000", help="cohort sizes to encode, comma-separated; the "
                        "first is the baseline (16: one batch)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    cohort = args.work / "cohort"
    if not (cohort / ATTRIBUTES_CSV).is_file():
        from AttriVAELib.data.synthetic import make_cohort

        make_cohort(cohort, subjects=args.subjects, size=48, seed=2024)
    runs = []
    for size in (int(value) for value in args.sizes.split(",")):
        subset = _first_subjects(cohort, size, args.work / f"first{size}")
        table = args.work / f"codes{size}.csv"
        table.unlink(missing_ok=True)
        output = subprocess.run([sys.executable, "-c", CHILD, str(args.model), str(subset), str(table)],
                                check=True, stdout=subprocess.PIPE, text=True).stdout.split()
        seconds, peak_kib = float(output[0]), int(output[1])
        with open(subset / ATTRIBUTES_CSV, newline="") as handle:
            subjects = sum(1 for _ in csv.DictReader(handle))  # fewer than asked when the cohort is smaller
        runs.append({"subjects": subjects, "seconds": seconds, "peak_rss_mb": peak_kib / 1024})
        print(f"{subjects:6d} subjects: {seconds:6.1f} s, peak resident memory {peak_kib / 1024:7.1f} MB", flush=True)
    growth = runs[-1]["peak_rss_mb"] - runs[0]["peak_rss_mb"]
    result = {"runs": runs, "growth_mb": growth, "machine": machine(), "date": time.strftime("%Y-%m-%d")}
    print(f"peak memory grows by {growth:.1f} MB from {runs[0]['subjects']} to {runs[-1]['subjects']} subjects")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
