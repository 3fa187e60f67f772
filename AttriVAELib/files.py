"""Writing files so that nothing is left half-written: atomic replacement of one file, staging of a folder,
and JSON text without non-finite numbers."""

from __future__ import annotations

__all__ = ["atomic_path", "require_new_folder", "staged_directory", "to_json"]

import contextlib
import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import InvalidDatasetError


@contextlib.contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` in one rename.

    On error the temporary file is removed and ``path`` is left untouched."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + "".join(path.suffixes),
                                         dir=path.parent)
    os.close(handle)
    try:
        yield Path(temporary)
        with open(temporary, "rb+") as written:  # on disk before it takes the final name
            os.fsync(written.fileno())
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def require_new_folder(path: Path | str, what: str = "output folder") -> Path:
    """Return ``path`` if it does not exist or is an empty folder, else raise InvalidDatasetError."""
    path = Path(path)
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise InvalidDatasetError(f"{what} {path} is not empty; choose a new --out or empty it")
    return path


@contextlib.contextmanager
def staged_directory(path: Path | str, what: str = "output folder") -> Iterator[Path]:
    """Yield an empty staging folder beside ``path``; on success it becomes ``path`` in one rename.

    ``path`` must not exist or be empty. On error the staging folder is removed and ``path`` is left as it was.

    Raises:
        InvalidDatasetError: ``path`` exists and is not empty.
    """
    path = require_new_folder(path, what)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        yield staging
        os.chmod(staging, 0o777 & ~_umask())  # mkdtemp makes 0700
        if path.exists():
            path.rmdir()
        staging.rename(path)
    finally:
        if staging.exists():
            shutil.rmtree(staging)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def to_json(data: Any, indent: int | None = None) -> str:
    """JSON text in which NaN and ±Inf become null (standard JSON has no non-finite numbers)."""
    return json.dumps(_finite(data), indent=indent, allow_nan=False)


def _finite(data: Any) -> Any:
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {key: _finite(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [_finite(value) for value in data]
    return data
