"""Speed paths: compile modes and their fallback, the compiled step's arithmetic, the retained-memory allocator."""

from __future__ import annotations

import dataclasses
import platform
import shutil
import subprocess
import sys
import warnings

import pytest
import torch

from AttriVAELib import acceleration
from AttriVAELib.acceleration import compiled, resolve_compile
from AttriVAELib.config import RunConfig, preset
from AttriVAELib.errors import InvalidConfigError


def test_compile_auto_starts_at_64_cubed() -> None:
    assert [resolve_compile("auto", size) for size in (16, 48, 64, 80)] == [False, False, True, True]
    assert resolve_compile("on", 16) and not resolve_compile("off", 80)
    with pytest.raises(InvalidConfigError, match="compile 'yes' is not one of auto, on, off"):
        resolve_compile("yes", 80)


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


@pytest.mark.skipif(not (shutil.which("c++") or shutil.which("g++")), reason="torch.compile needs a C++ compiler")
def test_the_compiled_training_step_computes_the_eager_losses() -> None:
    from AttriVAELib.benchmark import _random_data
    from AttriVAELib.training import build_step

    base = preset("paper")
    config = dataclasses.replace(base, attributes=("a", "b"),
                                 model=dataclasses.replace(base.model, input_size=16, dropout=0.0),
                                 train=dataclasses.replace(base.train, batch_size=4, precision="fp32"))
    data, batch, losses = _random_data(config), torch.arange(4), {}
    for mode in ("off", "on"):
        torch.manual_seed(0)
        step = build_step(dataclasses.replace(config, train=dataclasses.replace(config.train, compile=mode)),
                          torch.device("cpu"))
        with warnings.catch_warnings(), torch._inductor.config.patch(fallback_random=True):  # eager's z samples
            warnings.simplefilter("error")  # a fallback to eager would fail here
            losses[mode] = [step(batch, data, 1.0)["total"].item() for _ in range(2)]  # the 2nd after an update
    assert losses["on"] == pytest.approx(losses["off"], rel=1e-4)


FAULTS_PER_REUSE = """
import resource, sys, torch
from AttriVAELib.acceleration import retain_freed_memory
if sys.argv[1] == "retain":
    assert retain_freed_memory()
size = 64 * 2**20 // 4  # a 64 MB float32 tensor, above glibc's largest mmap threshold (32 MB)
for _ in range(2):  # the first uses take fresh pages from the kernel in both modes (glibc alternates two blocks)
    torch.ones(size)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(3):
    torch.ones(size)  # allocated, written, freed
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the allocator switches are glibc's")
def test_retained_memory_is_reused_without_page_faults() -> None:
    faults = {mode: int(subprocess.run([sys.executable, "-c", FAULTS_PER_REUSE, mode], capture_output=True,
                                       text=True, check=True).stdout) for mode in ("default", "retain")}
    assert faults["retain"] * 10 < faults["default"], faults  # default: one fault per 4 kB page (or 2 MB)


def test_retain_freed_memory_does_nothing_without_glibc(monkeypatch) -> None:
    monkeypatch.setattr(acceleration.platform, "libc_ver", lambda: ("", ""))
    assert acceleration.retain_freed_memory() is False
