"""Speed paths: compile modes and their fallback, the compiled step's arithmetic, the retained-memory allocator."""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import pytest
import torch

from AttriVAELib.apps.compiled_code_cache import CAP_VARIABLES, separate_compiled_code_cache
from AttriVAELib.config import RunConfig
from AttriVAELib.errors import InvalidConfigError
from AttriVAELib.method import acceleration
from AttriVAELib.method.acceleration import compiled, resolve_compile


def test_compile_auto_means_from_64_cubed_in_every_precision() -> None:
    assert [resolve_compile("auto", size) for size in (16, 48, 64, 80)] == [False, False, True, True]
    assert resolve_compile("on", 16) and not resolve_compile("off", 80)
    with pytest.raises(InvalidConfigError, match="compile 'yes' is not one of auto, on, off"):
        resolve_compile("yes", 80)


def test_the_float32_training_step_is_compiled_from_64_cubed() -> None:
    """A CPU without native bf16 trains in float32: ``auto`` compiles that step too from 64³ (measured faster on
    AVX2 and AVX-512 CPUs, docs/experiments.md), and leaves it eager on smaller cubes."""
    from AttriVAELib.training.loop import build_step

    for size, compiled_expected in ((32, False), (64, True)):
        config = RunConfig()
        config = dataclasses.replace(config, model=dataclasses.replace(config.model, input_size=size),
                                     train=dataclasses.replace(config.train, precision="fp32", compile="auto"))
        step = build_step(config, torch.device("cpu"))
        assert (step.precision, step.compiled) == (torch.float32, compiled_expected)


def test_config_files_with_a_boolean_compile_still_load() -> None:
    assert RunConfig.from_dict({"train": {"compile": True}}).train.compile == "on"
    assert RunConfig.from_dict({"train": {"compile": False}}).train.compile == "off"
    with pytest.raises(InvalidConfigError, match="compile 'fast'"):
        RunConfig.from_dict({"train": {"compile": "fast"}})


def test_a_failing_compiler_warns_once_and_runs_eagerly(monkeypatch) -> None:
    calls = []

    def broken_compile(function):
        def call(*args):
            calls.append("compiled")
            raise RuntimeError("no C++ compiler found")
        return call

    monkeypatch.setattr(torch, "compile", broken_compile)
    double = compiled(lambda x: 2 * x, True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert [double(1), double(2)] == [2, 4]
    assert calls == ["compiled"]  # tried once, eager from then on
    assert [str(w.message) for w in caught] == [
        "torch.compile failed (RuntimeError: no C++ compiler found); running without it"]


@pytest.mark.slow
@pytest.mark.skipif(not (shutil.which("c++") or shutil.which("g++")), reason="torch.compile needs a C++ compiler")
def test_the_compiled_training_step_computes_the_eager_losses(tmp_path) -> None:
    from AttriVAELib.apps.samples import run_config, synthetic_data
    from AttriVAELib.training.loop import build_step

    config = run_config(16)
    config = dataclasses.replace(config, model=dataclasses.replace(config.model, dropout=0.0))
    data, batch, losses = synthetic_data(config, tmp_path / "cohort")[1], torch.arange(4), {}
    for mode in ("off", "on"):
        torch.manual_seed(0)
        step = build_step(dataclasses.replace(config, train=dataclasses.replace(config.train, compile=mode)),
                          torch.device("cpu"))
        with warnings.catch_warnings(record=True) as caught, torch._inductor.config.patch(fallback_random=True):
            warnings.simplefilter("always")  # fallback_random: the compiled code draws eager's z samples
            losses[mode] = [step(batch, data, 1.0)["total"].item() for _ in range(2)]  # the 2nd after an update
        assert not [w for w in caught if "torch.compile failed" in str(w.message)]  # really compiled
    assert losses["on"] == pytest.approx(losses["off"], rel=1e-4)


def test_a_run_capped_to_other_instructions_compiles_into_a_cache_of_its_own(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert separate_compiled_code_cache(uncapped := {}) is None and uncapped == {}  # inductor's default folder
    avx2 = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"}
    folder = separate_compiled_code_cache(avx2)
    assert folder == avx2["TORCHINDUCTOR_CACHE_DIR"] and Path(folder).parent == tmp_path
    assert Path(folder).name.startswith("torchinductor_") and Path(folder).name.endswith("_aten-avx2_onednn-avx2")
    aten_only = {"ATEN_CPU_CAPABILITY": "avx2"}
    assert separate_compiled_code_cache(aten_only) != folder
    chosen = {**avx2, "TORCHINDUCTOR_CACHE_DIR": "/the/users/own"}
    assert separate_compiled_code_cache(chosen) is None and chosen["TORCHINDUCTOR_CACHE_DIR"] == "/the/users/own"


COMPILED_STEPS = """
import json, tempfile
from pathlib import Path
import torch
from AttriVAELib.apps.compiled_code_cache import separate_compiled_code_cache
from AttriVAELib.apps.samples import run_config, synthetic_data
from AttriVAELib.training.loop import build_step
separate_compiled_code_cache()
config = run_config(16, 4, compile_mode="on", precision="fp32")
with tempfile.TemporaryDirectory() as work:
    data = synthetic_data(config, Path(work) / "cohort")[1]
torch.manual_seed(0)
step = build_step(config, torch.device("cpu"))
print(json.dumps([step(torch.arange(4), data, 1.0)["total"].item() for _ in range(3)]))
"""


@pytest.mark.slow
@pytest.mark.skipif(not (shutil.which("c++") or shutil.which("g++")), reason="torch.compile needs a C++ compiler")
def test_compiled_steps_run_capped_to_avx2_after_an_uncapped_run_on_the_same_machine(tmp_path) -> None:
    """With one inductor cache for both, the capped run's losses became non-finite (torch 2.13, an AVX-512 CPU)
    and an uncapped run after a capped one aborted on heap corruption: each now compiles into its own."""
    environment = {name: value for name, value in os.environ.items()
                   if name not in (*CAP_VARIABLES, "TORCHINDUCTOR_CACHE_DIR")}
    environment["TMPDIR"] = str(tmp_path)  # a fresh inductor cache root, as on a new machine
    losses = []
    for caps in ({}, {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"}, {}):
        run = subprocess.run([sys.executable, "-c", COMPILED_STEPS], env={**environment, **caps},
                             capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, run.stderr[-2000:]
        losses.append(json.loads(run.stdout.strip().splitlines()[-1]))
    assert len(list(tmp_path.glob("torchinductor_*"))) == 2  # uncapped (inductor's default) and capped
    assert losses[2] == losses[0]  # the uncapped run again, from its cache
    assert losses[1] == pytest.approx(losses[0], rel=1e-3)  # AVX2 kernels: the same losses, rounded otherwise


FAULTS_PER_REUSE = """
import resource, sys, torch
import AttriVAELib.apps.cli, AttriVAELib.data.datasets, AttriVAELib.modelfile.bundle, AttriVAELib.training.loop  # train
from AttriVAELib.method.acceleration import retain_freed_memory
if sys.argv[1] == "retain":
    assert retain_freed_memory()
size = 64 * 2**20 // 4  # a 64 MB float32 tensor, above glibc's largest mmap threshold (32 MB)
for _ in range(3):  # warm-up: in both modes the first blocks come fresh from the kernel
    torch.ones(size)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(6):
    torch.ones(size)  # allocated, written, freed
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.slow
@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the allocator switches are glibc's")
def test_retained_memory_is_reused_without_page_faults() -> None:
    faults = {mode: int(subprocess.run([sys.executable, "-c", FAULTS_PER_REUSE, mode], capture_output=True,
                                       text=True, check=True).stdout) for mode in ("default", "retain")}
    # default: every cycle faults its block in (6 × 16,384 pages of 4 kB); retained: at most one new block
    assert faults["retain"] * 4 < faults["default"], faults


def test_retain_freed_memory_does_nothing_without_glibc(monkeypatch) -> None:
    monkeypatch.setattr(acceleration.platform, "libc_ver", lambda: ("", ""))
    assert acceleration.retain_freed_memory() is False
