"""Where a result comes from: a fingerprint of the code that makes models, and the machine that ran it.

The fingerprint covers the source of the modules that decide what a training run produces
(:data:`MODEL_MAKING_MODULES` and every module of the package they import, directly or not), with comments,
docstrings and blank lines left out: it changes when code that can change a trained model, its test
summary or a synthetic cohort changes, and not when only their documentation does. Model cards record it,
and the test suite compares the shipped demo model's with the current code's.
"""

from __future__ import annotations

__all__ = ["MODEL_MAKING_MODULES", "code_fingerprint", "machine", "package_closure", "provenance"]

import ast
import hashlib
import io
import os
import platform
import tokenize
from collections.abc import Iterable
from pathlib import Path
from typing import Any

PACKAGE = Path(__file__).resolve().parents[1]
MODEL_MAKING_MODULES = ("training.loop", "data.synthetic")
"""Entry points of the fingerprint: training (with everything it imports) and the synthetic cohort."""


def package_closure(modules: Iterable[str] = MODEL_MAKING_MODULES) -> list[str]:
    """Sorted dotted names (under the package, e.g. ``data.synthetic``) of ``modules`` and of every module of
    the package they import, at the top or inside functions, found by reading the source, not by importing it."""
    found: set[str] = set()
    pending = list(modules)
    while pending:
        name = pending.pop()
        if name in found:
            continue
        found.add(name)
        pending += _imported_modules(name)
    return sorted(found)


def _source(module: str) -> Path:
    return PACKAGE.joinpath(*module.split(".")).with_suffix(".py")


def _imported_modules(module: str) -> list[str]:
    """Modules of the package that ``module`` imports relatively (``from .x import``, ``from ..wing.x import``,
    ``from ..wing import x``)."""
    package = module.split(".")[:-1]
    names = []
    for node in ast.walk(ast.parse(_source(module).read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[:len(package) - node.level + 1] + (node.module.split(".") if node.module else [])
            candidates = [base, *(base + [alias.name] for alias in node.names)]
            names += [".".join(parts) for parts in candidates if parts and _source(".".join(parts)).is_file()]
    return names


def code_fingerprint(modules: Iterable[str] = MODEL_MAKING_MODULES) -> str:
    """16 hex digits of SHA-256 over the code (without comments, docstrings, blank lines) of
    :func:`package_closure` of ``modules``."""
    digest = hashlib.sha256()
    for name in package_closure(modules):
        digest.update(f"{name}\n{_code_only(_source(name).read_text(encoding='utf-8'))}\n".encode())
    return digest.hexdigest()[:16]


def _code_only(source: str) -> str:
    """``source`` without comments, docstrings and other bare string statements, trailing spaces and blank
    lines. Positions come from the parser and the tokenizer, so the result does not depend on the Python
    version that computes it."""
    lines = source.splitlines()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            for row in range(node.lineno - 1, node.end_lineno or node.lineno):
                lines[row] = ""
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            row, column = token.start
            lines[row - 1] = lines[row - 1][:column]
    return "\n".join(line.rstrip() for line in lines if line.strip())


def machine() -> dict[str, Any]:
    """The CPU model, its logical cores, torch's threads and the versions that shape numbers."""
    import numpy
    import SimpleITK
    import torch

    model_name = platform.processor() or platform.machine()
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as handle:
            names = [line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")]
        model_name = names[0] if names else model_name
    return {"cpu": model_name, "cores": os.cpu_count(), "threads": torch.get_num_threads(),
            "torch": torch.__version__, "numpy": numpy.__version__, "SimpleITK": SimpleITK.Version_VersionString(),
            "python": platform.python_version(), "platform": platform.platform()}


def provenance() -> dict[str, Any]:
    """What a model card records of its making: library version, code fingerprint and :func:`machine`."""
    from .. import __version__

    return {"library_version": __version__, "code": code_fingerprint(), "machine": machine()}
