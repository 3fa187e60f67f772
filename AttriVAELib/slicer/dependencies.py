"""What the Slicer module needs installed, and installing it without breaking the user's Slicer.

PyTorch comes from the PyTorch extension (the build that fits the user's GPU or CPU); the other
requirements come from pip, with the installed torch pinned by a constraint so that pip never replaces it
(Captum's own ``torch>=2.3`` would otherwise let pip fetch another torch build). The user confirms once,
seeing every package and version. Standard library and ``packaging`` only (importable before torch exists);
the installers are passed in (:class:`Installer`), so every path is tested without Slicer.
"""

from __future__ import annotations

__all__ = ["TORCH_MINIMUM", "DependencyError", "DependencyPlan", "Installer", "ensure_dependencies",
           "installed_version", "plan_dependencies"]

import importlib.metadata
import importlib.util
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

try:
    from packaging.requirements import Requirement
    from packaging.version import Version
except ImportError:  # a Python with pip but without the packaging distribution: pip's own copy
    from pip._vendor.packaging.requirements import Requirement  # type: ignore[no-redef]
    from pip._vendor.packaging.version import Version  # type: ignore[no-redef]

from ..errors import AttriVAEError

TORCH_MINIMUM = "2.3"
"""The highest torch minimum among the requirements: Captum 0.9 needs torch ≥ 2.3 (the others need none)."""


class DependencyError(AttriVAEError, RuntimeError):
    """A dependency is missing, too old, or its installation was declined or failed."""


def installed_version(distribution: str) -> str | None:
    """The installed version of a distribution (``"2.13.0+cpu"``), or None when it is not installed. A torch
    whose files are there but which Python cannot import counts as absent, as the PyTorch extension counts
    it (found without importing it)."""
    if distribution == "torch" and importlib.util.find_spec("torch") is None:
        return None
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


@dataclass(frozen=True)
class DependencyPlan:
    """What is installed and what is not: ``torch`` the installed torch version (None: absent), ``missing``
    the requirement lines that are absent or too old."""

    torch: str | None
    missing: tuple[str, ...]

    @property
    def torch_too_old(self) -> bool:
        return self.torch is not None and Version(self.torch) < Version(TORCH_MINIMUM)

    @property
    def complete(self) -> bool:
        return self.torch is not None and not self.torch_too_old and not self.missing

    def confirmation(self) -> str:
        """The one question asked before installing: every package and version that will be installed."""
        packages = ([] if self.torch else [f"PyTorch >= {TORCH_MINIMUM} (through the PyTorch extension: the "
                                           f"build for this computer's GPU or CPU)"]) + list(self.missing)
        kept = f"; the installed PyTorch {self.torch} is kept as it is" if self.torch else ""
        return ("AttriVAE needs these Python packages, downloaded and installed now (this can take minutes)"
                f"{kept}:\n" + "\n".join(f"  {package}" for package in packages))


def plan_dependencies(requirements: Sequence[str],
                      version_of: Callable[[str], str | None] | None = None) -> DependencyPlan:
    """Compare requirement lines (``"captum>=0.9"``) and torch with what ``version_of`` (default
    :func:`installed_version`) reports installed."""
    version_of = version_of or installed_version
    missing = []
    for line in requirements:
        requirement = Requirement(line)
        version = version_of(requirement.name)
        if version is None or not requirement.specifier.contains(version, prereleases=True):
            missing.append(line)
    return DependencyPlan(torch=version_of("torch"), missing=tuple(missing))


class Installer(Protocol):
    """How packages get installed: in Slicer, its dialogs, the PyTorch extension and pip."""

    def confirm(self, question: str) -> bool:
        """Ask the user once; True to go on."""

    def install_torch(self, requirement: str) -> str | None:
        """Install torch matching ``requirement`` (``">=2.3"``); its version, or None when it was not."""

    def pip_install(self, requirements: Sequence[str], constraints: Path) -> None:
        """pip-install ``requirements`` under the constraints file ``constraints``."""


def ensure_dependencies(requirements: Sequence[str], installer: Installer, ask: bool = True,
                        version_of: Callable[[str], str | None] | None = None) -> None:
    """Install what :func:`plan_dependencies` finds missing, after one confirmation (``ask``).

    Raises:
        DependencyError: torch older than :data:`TORCH_MINIMUM` (a running Slicer cannot replace a loaded
            torch: the user updates it and restarts), the user declined, torch was not installed, or a
            requirement is still missing after pip ran.
    """
    plan = plan_dependencies(requirements, version_of)
    if plan.torch_too_old:
        raise DependencyError(f"PyTorch {plan.torch} is older than the {TORCH_MINIMUM} AttriVAE needs: update it in "
                              f"the PyTorch Utils module (PyTorch extension), restart Slicer and try again")
    if plan.complete:
        return
    if ask and not installer.confirm(plan.confirmation()):
        raise DependencyError("the installation of AttriVAE's Python packages was declined; AttriVAE cannot "
                              "analyse or train without them")
    torch = plan.torch or installer.install_torch(f">={TORCH_MINIMUM}")
    if torch is None:
        raise DependencyError("PyTorch was not installed; AttriVAE cannot run without it")
    if plan.missing:
        with tempfile.TemporaryDirectory() as folder:
            constraints = Path(folder) / "constraints.txt"
            constraints.write_text(f"torch=={torch}\n")  # pip may not replace the extension's torch build
            installer.pip_install(plan.missing, constraints)
    still_missing = plan_dependencies(requirements, version_of).missing
    if still_missing:
        raise DependencyError(f"{', '.join(still_missing)} could not be installed; see the Python console for "
                              f"pip's message")
