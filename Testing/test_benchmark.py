"""`attrivae bench` on a tiny model: every number is measured and reported (speeds are not asserted)."""

from __future__ import annotations

import gc
import json
import os
import platform
import runpy
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch

from AttriVAELib import AttriVAE, ModelConfig
from AttriVAELib.apps.benchmark import baseline_step, default_step, peak_rss_mb, training_flops
from AttriVAELib.apps.cli import main
from AttriVAELib.apps.samples import run_config, synthetic_data
from AttriVAELib.method.acceleration import bf16_supported


@pytest.mark.slow
def test_bench_reports_every_measure_as_json(tmp_path: Path, capsys) -> None:
    assert main(["bench", "--cube-size", "16", "--batch-size", "4", "--steps", "1",
                 "--json", str(tmp_path / "b.json")]) == 0
    printed = capsys.readouterr().out
    assert all(words in printed for words in ("ratio", "same allocator", "slider update", "peak memory"))
    result = json.loads((tmp_path / "b.json").read_text())
    training, inference = result["training"], result["inference"]
    assert training["ratio"] == pytest.approx(training["default_volumes_per_s"] / training["baseline_volumes_per_s"])
    assert training["ratio_to_retained_baseline"] == pytest.approx(
        training["default_volumes_per_s"] / training["baseline_retained_volumes_per_s"])
    assert result["default_path"]["compile"] is False  # auto: not at 16³
    assert result["default_path"]["retains_freed_memory"] == (platform.libc_ver()[0] == "glibc")
    assert training["matmul_gflops"]["fp32"] > 0 and training["gflop_per_step"] > 0
    assert all(inference[key] > 0 for key in ("encode_s", "slider_update_s", "attention_all_s",
                                              "analysis_with_attention_s"))
    assert set(result["peak_memory_mb"]) == {"2", "4"} and result["peak_memory_mb"]["4"] > 100
    assert result["default_path"]["layout"] == "channels_last_3d"
    assert {"cpu", "cores", "threads", "torch"} <= set(result["machine"])
    isa = result["instruction_set"]
    assert isa["aten"] == torch.backends.cpu.get_cpu_capability() and isa["native_bf16"] == bf16_supported(
        torch.device("cpu"))
    assert f"torch {torch.__version__}, {isa['aten']}" in printed and "bf16" in printed.splitlines()[0]


def test_the_instruction_set_says_when_onednn_is_capped_to_avx2() -> None:
    """How CONTRIBUTING.md reproduces an AVX2-only CPU: both variables, set before torch starts."""
    code = "import json; from AttriVAELib.apps.benchmark import instruction_set; print(json.dumps(instruction_set()))"
    capped = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            env={**os.environ, "ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2"})
    assert json.loads(capped.stdout) == {"aten": "AVX2", "onednn_max": "AVX2", "native_bf16": False}


def test_peak_memory_reading_leaves_no_open_file() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert peak_rss_mb() > 0
        gc.collect()  # an unclosed file warns when collected
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]


def test_baseline_and_default_paths_train_the_same_architecture(tmp_path: Path) -> None:
    config = run_config(16, 2)
    data = synthetic_data(config, tmp_path / "cohort")[1]
    baseline_step(config, data)()
    default_step(config, data)[0]()
    parameters = sum(p.numel() for p in AttriVAE(ModelConfig(input_size=16)).parameters())
    assert parameters == sum(p.numel() for p in AttriVAE(config.model).parameters())
    assert training_flops(config, data) > 0


def test_bench_refuses_bad_sizes(capsys) -> None:
    assert main(["bench", "--cube-size", "20"]) == 2
    assert main(["bench", "--batch-size", "1"]) == 2
    assert "multiple of 16" in capsys.readouterr().err


@pytest.mark.slow
def test_speed_paths_script_measures_every_path(tmp_path: Path) -> None:
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "speed_paths.py"
    paths = list(runpy.run_path(str(script))["PATHS"])
    result = subprocess.run([sys.executable, str(script), "--cube-size", "16", "--batch-size", "2", "--steps", "1",
                             *(f"--path={name}" for name in paths), "--json", str(tmp_path / "s.json")],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    written = json.loads((tmp_path / "s.json").read_text())
    rates, skipped = written["volumes_per_s"], written["skipped"]
    bf16_paths = 3 if not bf16_supported(torch.device("cpu")) else 0  # skipped where bf16 is not native
    assert len(rates) == 8 - bf16_paths and len(skipped) == bf16_paths and all(rate > 0 for rate in rates.values())
    assert all("bf16" in name for name in skipped) and set(rates) | set(skipped) == set(paths)
    assert len(result.stdout.strip().splitlines()) == 8
    assert "(the default with bf16)" in result.stdout and "(the default without bf16)" in result.stdout


@pytest.mark.slow
@pytest.mark.skipif(not bf16_supported(torch.device("cpu")), reason="this CPU has no native bf16")
def test_precision_parity_script_pairs_seeds_and_resumes(tiny_cohort: Path, eval_cohort: Path, tmp_path: Path) -> None:
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "precision_parity.py"
    command = [sys.executable, str(script), "--data", str(eval_cohort), "--out", str(tmp_path / "p"),
               "--cube-size", "16", "--epochs", "1", "--augment", "0.5", "--seeds", "0,1",
               "--test-data", str(tiny_cohort)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    parity = json.loads((tmp_path / "p" / "parity.json").read_text())
    assert set(parity["runs"]) == {f"{p} seed {s}" for p in ("fp32", "bf16") for s in (0, 1)}
    places = ("test split", "independent")
    assert set(parity["paired_differences"]) == {f"seed {s}, {w}" for s in (0, 1) for w in places}
    r2 = {key: run["independent"]["r2"] for key, run in parity["runs"].items()}
    name = parity["attributes"][0]
    assert parity["paired_differences"]["seed 1, independent"][name] == pytest.approx(
        r2["bf16 seed 1"][name] - r2["fp32 seed 1"][name])
    assert parity["difference_of_means"]["independent"][name] == pytest.approx(
        (r2["bf16 seed 0"][name] + r2["bf16 seed 1"][name] - r2["fp32 seed 0"][name] - r2["fp32 seed 1"][name]) / 2)
    assert parity["fp32_seed_spread"]["independent"][name] == pytest.approx(
        abs(r2["fp32 seed 0"][name] - r2["fp32 seed 1"][name]))
    again = subprocess.run(command, capture_output=True, text=True, timeout=600)  # scored again, not retrained
    assert again.returncode == 0 and json.loads((tmp_path / "p" / "parity.json").read_text())["runs"] == {
        key: {**run, "seconds": None} for key, run in parity["runs"].items()}


@pytest.mark.slow
def test_interval_kinds_script_scores_both_kinds_and_the_posterior(tiny_run: Path, eval_cohort: Path,
                                                                  tmp_path: Path) -> None:
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "interval_kinds.py"
    result = subprocess.run([sys.executable, str(script), "--model", str(tiny_run / "model.safetensors"), "--data",
                             str(eval_cohort), "--calibration-subjects", "20", "--repeats", "3", "--json",
                             str(tmp_path / "k.json")], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    written = json.loads((tmp_path / "k.json").read_text())
    assert (written["subjects"], written["calibration_subjects"], written["repeats"]) == (40, 20, 3)
    for row in written["attributes"].values():
        assert 0 <= row["posterior_coverage"] <= 1
        for kind in ("absolute", "scaled"):
            assert 0 <= row[kind]["coverage"] <= 1 and row[kind]["mean_width"] > 0
    assert "absolute cov" in result.stdout


def _run_script(name: str, *arguments: str) -> subprocess.CompletedProcess:
    script = Path(__file__).resolve().parents[1] / "benchmarks" / name
    return subprocess.run([sys.executable, str(script), *arguments], capture_output=True, text=True, timeout=900)


@pytest.mark.slow
def test_localisation_script_scores_every_method_and_the_fidelity(tiny_run: Path, eval_cohort: Path,
                                                                   tmp_path: Path) -> None:
    from AttriVAELib.choices import ATTRIBUTION_METHODS

    result = _run_script("localisation.py", "--model", str(tiny_run / "model.safetensors"), "--data",
                         str(eval_cohort), "--json", str(tmp_path / "l.json"))
    assert result.returncode == 0, result.stderr[-2000:]
    written = json.loads((tmp_path / "l.json").read_text())
    assert written["subjects"] == 40 and set(written["methods"]) == set(ATTRIBUTION_METHODS)
    for entry in written["methods"].values():
        assert entry["seconds_per_subject"] > 0 and entry["scores"]
    assert written["completeness"]["subjects"] == 10
    assert {"encoder", "calibrated"} <= set(written["fidelity"]["lv_volume_ml"])
    assert "traversal fidelity" in result.stdout


@pytest.mark.slow
def test_slicer_interactive_script_times_every_panel_action(tmp_path: Path) -> None:
    result = _run_script("slicer_interactive.py", "--cube-size", "16", "--repeats", "2", "--json",
                         str(tmp_path / "s.json"))
    assert result.returncode == 0, result.stderr[-2000:]
    written = json.loads((tmp_path / "s.json").read_text())
    assert written["size"] == 16 and set(written["samples"]) == {"explore_update_s", "explore_anatomy_s",
                                                                  "analyze_s", "attention_all_s"}
    assert all(len(values) >= 2 and min(values) > 0 for values in written["samples"].values())
    assert written["summary"]["analyze_plus_attention_s"]["median"] > 0


@pytest.mark.slow
def test_decoder_levers_script_measures_a_variant_and_keeps_it(tiny_run: Path, eval_cohort: Path,
                                                              tmp_path: Path) -> None:
    arguments = ("--work", str(tmp_path / "levers"), "--independent", str(eval_cohort), "--variants", "demo",
                 "--baseline", str(tiny_run / "model.safetensors"), "--fidelity-subjects", "4")
    result = _run_script("decoder_levers.py", *arguments, "--json", str(tmp_path / "levers.json"))
    assert result.returncode == 0, result.stderr[-2000:]
    written = json.loads((tmp_path / "levers.json").read_text())
    demo = written["results"][0]
    assert demo["variant"] == "demo" and demo["subjects"] == 40 and demo["fidelity_subjects"] == 4
    assert set(demo["decoder"]["dice"]) == {"cavity", "myocardium", "infarct"}
    assert "lv_volume_ml" in demo["encoder_slope"] and "lv_volume_ml" in demo["precision"]
    assert not (tmp_path / "levers" / "data").exists()  # nothing trained: no cohort synthesised
    again = _run_script("decoder_levers.py", *arguments)  # kept: not measured again
    assert again.returncode == 0 and "demo" in again.stdout
    assert json.loads((tmp_path / "levers" / "demo" / "levers.json").read_text()) == demo


@pytest.mark.slow
def test_decoder_layers_script_times_every_block(tmp_path: Path) -> None:
    result = _run_script("decoder_layers.py", "--cube-size", "16", "--repeats", "2", "--json", str(tmp_path / "d.json"))
    assert result.returncode == 0, result.stderr[-2000:]
    written = json.loads((tmp_path / "d.json").read_text())
    blocks = [row["block"] for row in written["blocks"]]
    assert blocks == ["fc", "conv_in", "up.0", "up.1", "up.2", "up.3", "conv_out", "head", "sigmoid"]
    assert written["blocks"][-1]["output"] == [1, 16, 16, 16] and written["decode_ms"] > 0
    head = written["blocks"][-2]  # a 3³ convolution of 4 channels into 1 at 16³: 2·4·27 FLOP per voxel
    assert head["gflop"] == pytest.approx(2 * 4 * 27 * 16**3 / 1e9, rel=0.01) and head["gflop_per_s"] > 0
    assert written["matmul_gflop_per_s"] > 0 and "whole decode" in result.stdout
