"""Interactive speed of the Slicer module's logic on a real MRML scene (slicer-core): one Explore slider update
(aim through the decoded response, decode, resample into the input's grid, volume and difference nodes), the
decoded anatomy that follows it (segmentation, surfaces, the values measured beside the sliders: the panel runs it
once the views show the update), a full analysis (decoded responses included), attention for every attribute.

The model is the paper's architecture at ``--cube-size`` (default 80³) with untrained weights, as ``attrivae bench``
builds it, or a trained bundle (``--model``): the decoding does not depend on training, but measuring the decoded
anatomy does (an untrained decoder draws one blob that fills the cube, the slowest case); the input is a
synthetic sample (80 × 80 × 15 voxels, oblique).

    python benchmarks/slicer_interactive.py --json slicer-interactive.json
    python benchmarks/slicer_interactive.py --model AttriVAE/Resources/Models/attrivae-shipped.safetensors
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "Testing"))
from slicer_app import load_module, slicer_scene  # noqa: E402

from AttriVAELib.apps.samples import run_config, untrained_bundle  # noqa: E402
from AttriVAELib.modelfile.bundle import load_model, save_model  # noqa: E402
from AttriVAELib.modelfile.provenance import machine  # noqa: E402


def _timed(action, repeats: int) -> list[float]:
    seconds = []
    for index in range(repeats):
        started = time.perf_counter()
        action(index)
        seconds.append(time.perf_counter() - started)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cube-size", type=int, default=80, help="network cube edge in voxels")
    parser.add_argument("--model", type=Path, help="a trained model bundle instead of the untrained --cube-size model")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args()

    import slicer

    module = load_module()
    slicer_scene()  # the scene and the module logics Slicer gives it
    logic = module.AttriVAELogic()
    with tempfile.TemporaryDirectory() as work:
        if args.model:
            logic.useModel(load_model(args.model), args.model)
        else:
            bundle = untrained_bundle(run_config(args.cube_size), Path(work) / "cohort")
            save_model(Path(work) / "untrained.safetensors", bundle.model, bundle.card)
            logic.useModel(bundle, Path(work) / "untrained.safetensors")
    warnings.simplefilter("ignore")  # what the sliders could not draw: the user's notes, not the benchmark's
    volume, segmentation = logic.generateSyntheticSample(seed=1)
    segments = {"cavity": "LV cavity", "myocardium": "Myocardium", "infarct": "Infarct"}
    low, high, _ = logic.attributeRanges()["lv_volume_ml"]
    logic.analyze(volume, segmentation, segments)  # warm-up
    results = {
        "explore_update_s": _timed(lambda i: logic.explore({"lv_volume_ml": low + (high - low) * (i % 10) / 9}),
                                   args.repeats),
        "explore_anatomy_s": _timed(lambda i: logic.showExploredAnatomy(), args.repeats),
        "analyze_s": _timed(lambda i: logic.analyze(volume, segmentation, segments), max(3, args.repeats // 10)),
        "attention_all_s": _timed(lambda i: logic.showAttention(), max(3, args.repeats // 10)),
    }
    summary = {name: {"median": statistics.median(v), "max": max(v)} for name, v in results.items()}
    summary["analyze_plus_attention_s"] = {key: summary["analyze_s"][key] + summary["attention_all_s"][key]
                                           for key in ("median", "max")}
    size = logic.bundle.model.config.input_size
    print(f"input {slicer.util.arrayFromVolume(volume).shape[::-1]} voxels, network {size}³ "
          f"({args.model or 'untrained'}), "
          f"{len(logic.attributeNames())} attributes, torch {torch.__version__}, {torch.get_num_threads()} threads")
    for name, values in summary.items():
        print(f"{name:26s} median {values['median'] * 1000:8.1f} ms   max {values['max'] * 1000:8.1f} ms")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "size": size, "model": str(args.model or "untrained"),
                                         "summary": summary,
                                         "samples": results}, indent=2))


if __name__ == "__main__":
    main()
