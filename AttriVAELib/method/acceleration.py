"""Where the model runs and how fast, without changing it: the device (CUDA when available), bf16 autocast
where the hardware has it, torch.compile with a clean fallback to eager, channels-last 3D memory layout, and an
allocator that keeps freed memory for reuse.

bf16 autocast runs convolutions and matrix products in bfloat16 (8-bit mantissa) with float32 weights,
optimizer state and losses; its effect on the results is measured by ``benchmarks/precision_parity.py``
(docs/experiments.md); the speed of each setting by ``attrivae bench`` (docs/benchmarks.md).
"""

from __future__ import annotations

__all__ = ["PRECISIONS", "as_model_input", "autocast", "bf16_supported", "compiled", "resolve_compile",
           "resolve_device", "resolve_precision", "retain_freed_memory"]

import contextlib
import ctypes
import platform
import warnings
from collections.abc import Callable
from typing import Any

import torch

from ..config import COMPILE_AUTO_MIN_SIZE, COMPILE_MODES, PRECISIONS
from ..errors import InvalidConfigError


def bf16_supported(device: torch.device) -> bool:
    """Whether ``device`` computes bf16 convolutions natively (CPU: AVX-512-BF16 or AMX; CUDA: Ampere+)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return torch.backends.mkldnn.is_available() and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return False


def resolve_precision(name: str, device: torch.device) -> torch.dtype:
    """``fp32`` → float32; ``bf16`` → bfloat16 (error where unsupported); ``auto`` → bf16 where supported."""
    if name not in PRECISIONS:
        raise InvalidConfigError(f"precision {name!r} is not one of {', '.join(PRECISIONS)}")
    if name == "bf16" and not bf16_supported(device):
        raise InvalidConfigError(f"precision bf16 was asked for but this {device.type.upper()} has no native bf16; "
                                 f"use --precision fp32 or auto")
    return torch.bfloat16 if name == "bf16" or (name == "auto" and bf16_supported(device)) else torch.float32


def resolve_compile(mode: str, input_size: int) -> bool:
    """``on`` → compile, ``off`` → not; ``auto`` → compile on input cubes of ``COMPILE_AUTO_MIN_SIZE``³ and up,
    in bf16 and float32 alike (faster compiled on every CPU kind measured: docs/experiments.md)."""
    if mode not in COMPILE_MODES:
        raise InvalidConfigError(f"compile {mode!r} is not one of {', '.join(COMPILE_MODES)}")
    return mode == "on" or (mode == "auto" and input_size >= COMPILE_AUTO_MIN_SIZE)


def retain_freed_memory() -> bool:
    """Make the C library keep the memory PyTorch frees and reuse it, instead of returning it to the system.

    A training step allocates and frees activations of up to hundreds of MB. glibc serves blocks over 32 MB
    with fresh pages from the kernel and returns them on free, so every step pays page faults (their cost is
    measured in docs/experiments.md, "Memory reuse"). With
    mmap off (``M_MMAP_MAX`` 0) and trimming off (``M_TRIM_THRESHOLD`` −1), blocks freed by the main thread
    (which runs the training loop and, on CPUs, the backward pass) stay in its heap for the next step; the
    process's memory then stays at its peak, which is higher (fragmentation; measured by ``attrivae bench``).
    PyTorch's CPU tuning guide gets the same effect by preloading jemalloc or tcmalloc, which need installing
    and a restart; glibc's own switches work from inside the process.

    Process-wide, so only processes that exist to train or to benchmark call it (the ``attrivae`` training
    commands, :func:`~AttriVAELib.apps.benchmark.run_benchmark`, the benchmark scripts), never the Slicer module.
    Returns whether glibc accepted both settings (on other C libraries it does nothing and returns False)."""
    if platform.libc_ver()[0] != "glibc":
        return False
    mallopt = ctypes.CDLL(None).mallopt  # the C library the process runs on: int mallopt(int, int)
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    m_trim_threshold, m_mmap_max = -1, -4  # <malloc.h>
    accepted = [mallopt(m_mmap_max, 0), mallopt(m_trim_threshold, -1)]
    return all(accepted)


def autocast(device: torch.device, dtype: torch.dtype) -> contextlib.AbstractContextManager[Any]:
    """Mixed-precision context for forward passes (a no-op for float32)."""
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def as_model_input(volumes: torch.Tensor, device: torch.device) -> torch.Tensor:
    """(B, 1, S, S, S) volumes as the model takes them: on ``device``, in channels-last 3D memory layout."""
    return volumes.to(device, memory_format=torch.channels_last_3d)


def compiled(function: Callable[..., Any], enabled: bool) -> Callable[..., Any]:
    """``torch.compile(function)`` when ``enabled``. If compiling fails (no C++ compiler, an unsupported
    platform or op), it warns once and runs eagerly from then on; an error that is not the compiler's
    shows again in the eager run."""
    if not enabled:
        return function
    state = {"call": torch.compile(function)}

    def call(*args: Any, **kwargs: Any) -> Any:
        if state["call"] is function:
            return function(*args, **kwargs)
        try:
            return state["call"](*args, **kwargs)
        except Exception as error:  # noqa: BLE001 - any compiler failure means: run eagerly
            warnings.warn(f"torch.compile failed ({type(error).__name__}: {str(error).strip()[:200]}); "
                          f"running without it", stacklevel=2)
            state["call"] = function
            return function(*args, **kwargs)

    return call


def resolve_device(name: str) -> torch.device:
    """``auto`` → CUDA when available, else CPU; ``cuda`` without a GPU is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise InvalidConfigError("--device cuda was asked for but no CUDA GPU is available; use --device cpu")
    return torch.device(name)
