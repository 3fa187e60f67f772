"""One ``torch.compile`` cache per instruction-set cap, so that code compiled under one is never run under another.

PyTorch's inductor keeps compiled kernels in one folder per user (``TORCHINDUCTOR_CACHE_DIR``, by default
``<temp>/torchinductor_<user>``) and does not key them by the caps ``ATEN_CPU_CAPABILITY`` and
``ONEDNN_MAX_CPU_ISA`` set. With torch 2.13, a float32 training step compiled without the caps and then run with
them (how an AVX2 CPU is reproduced on a newer one: CONTRIBUTING.md) gives non-finite losses, and the reverse
aborts with glibc heap-corruption errors; each ran clean from its own folder (docs/experiments.md, "Compile").
"""

from __future__ import annotations

__all__ = ["CAP_VARIABLES", "separate_compiled_code_cache"]

import getpass
import os
import re
import tempfile
from collections.abc import MutableMapping

CAP_VARIABLES = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA")
"""Environment variables that cap the vector instructions torch uses (ATen's kernels, oneDNN's)."""


def separate_compiled_code_cache(environ: MutableMapping[str, str] = os.environ) -> str | None:
    """Point ``TORCHINDUCTOR_CACHE_DIR`` at a folder of its own when any cap in :data:`CAP_VARIABLES` is set
    (``<temp>/torchinductor_<user>_<caps>``), before anything compiles; leave it alone when the user set it or
    no cap is set (then inductor's default folder, where uncapped code lives). Returns the folder it set, or None.
    Touches only ``environ``; imports no torch."""
    caps = [f"{name.split('_')[0].lower()}-{environ[name].lower()}" for name in CAP_VARIABLES if environ.get(name)]
    if "TORCHINDUCTOR_CACHE_DIR" in environ or not caps:
        return None
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no user name for this uid (a container)
        user = f"uid_{os.getuid()}" if hasattr(os, "getuid") else "unknown_user"
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", f"torchinductor_{user}_{'_'.join(caps)}")
    environ["TORCHINDUCTOR_CACHE_DIR"] = os.path.join(tempfile.gettempdir(), name)
    return environ["TORCHINDUCTOR_CACHE_DIR"]
