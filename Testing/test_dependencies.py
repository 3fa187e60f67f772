"""Installing the Slicer module's dependencies: one confirmation, torch from the PyTorch extension and never
replaced by pip, a too old torch refused with what to do (a recording installer stands in for Slicer's)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from AttriVAELib.slicer.dependencies import (
    TORCH_MINIMUM,
    DependencyError,
    ensure_dependencies,
    installed_version,
    plan_dependencies,
)

REQUIREMENTS = ["safetensors>=0.4", "scipy>=1.12", "captum>=0.9"]


class RecordingInstaller:
    """Records every question and installation; installing makes the package 'installed' in ``versions``."""

    def __init__(self, versions: dict[str, str], answer: bool = True, torch_build: str | None = "2.13.0+cpu",
                 pip_works: bool = True) -> None:
        self.versions, self.answer, self.torch_build, self.pip_works = versions, answer, torch_build, pip_works
        self.questions: list[str] = []
        self.torch_requests: list[str] = []
        self.pip_calls: list[tuple[list[str], str]] = []

    def version_of(self, name: str) -> str | None:
        return self.versions.get(name)

    def confirm(self, question: str) -> bool:
        self.questions.append(question)
        return self.answer

    def install_torch(self, requirement: str) -> str | None:
        self.torch_requests.append(requirement)
        if self.torch_build:
            self.versions["torch"] = self.torch_build
        return self.torch_build

    def pip_install(self, requirements: Sequence[str], constraints: Path) -> None:
        self.pip_calls.append((list(requirements), constraints.read_text()))  # the file exists during the call
        if self.pip_works:
            self.versions.update({line.split(">=")[0]: line.split(">=")[1] for line in requirements})


def _ensure(installer: RecordingInstaller, ask: bool = True) -> None:
    ensure_dependencies(REQUIREMENTS, installer, ask=ask, version_of=installer.version_of)


def test_nothing_missing_asks_and_installs_nothing() -> None:
    installer = RecordingInstaller({"torch": "2.13.0", "safetensors": "0.8.0", "scipy": "1.17.1", "captum": "0.9.0"})
    _ensure(installer)
    assert installer.questions == [] and installer.torch_requests == [] and installer.pip_calls == []


def test_torch_absent_one_question_lists_everything_then_pip_cannot_replace_the_new_torch() -> None:
    installer = RecordingInstaller({"scipy": "1.17.1"})
    _ensure(installer)
    [question] = installer.questions
    assert f"PyTorch >= {TORCH_MINIMUM}" in question and "safetensors>=0.4" in question and "captum>=0.9" in question
    assert "scipy" not in question  # installed in a version that fits
    assert installer.torch_requests == [f">={TORCH_MINIMUM}"]
    assert installer.pip_calls == [(["safetensors>=0.4", "captum>=0.9"], "torch==2.13.0+cpu\n")]


def test_an_outdated_requirement_counts_as_missing_and_the_installed_torch_is_pinned() -> None:
    installer = RecordingInstaller({"torch": "2.4.1+cu121", "safetensors": "0.3.1", "scipy": "1.17.1",
                                    "captum": "0.9.0"})
    _ensure(installer, ask=False)
    assert installer.questions == [] and installer.torch_requests == []
    assert installer.pip_calls == [(["safetensors>=0.4"], "torch==2.4.1+cu121\n")]


def test_torch_too_old_is_refused_with_what_to_do_and_nothing_installed() -> None:
    installer = RecordingInstaller({"torch": "2.2.2", "scipy": "1.17.1"})
    with pytest.raises(DependencyError, match=r"PyTorch 2\.2\.2 is older than the 2\.3 .*restart Slicer"):
        _ensure(installer)
    assert installer.questions == [] and installer.torch_requests == [] and installer.pip_calls == []


def test_the_user_declines_and_nothing_is_installed() -> None:
    installer = RecordingInstaller({}, answer=False)
    with pytest.raises(DependencyError, match="declined"):
        _ensure(installer)
    assert len(installer.questions) == 1 and installer.torch_requests == [] and installer.pip_calls == []


def test_torch_not_installed_by_the_extension_stops_before_pip() -> None:
    installer = RecordingInstaller({}, torch_build=None)
    with pytest.raises(DependencyError, match="PyTorch was not installed"):
        _ensure(installer)
    assert installer.pip_calls == []


def test_a_requirement_pip_did_not_install_is_named() -> None:
    installer = RecordingInstaller({"torch": "2.13.0"}, pip_works=False)
    with pytest.raises(DependencyError, match=r"safetensors>=0\.4, scipy>=1\.12, captum>=0\.9 could not be"):
        _ensure(installer)


def test_installed_versions_come_from_the_distributions() -> None:
    assert installed_version("pytest") == pytest.__version__
    assert installed_version("no-such-distribution-attrivae") is None
    assert plan_dependencies(["pytest>=1"]).missing == ()
    assert plan_dependencies(["pytest>=1000"]).missing == ("pytest>=1000",)


def test_a_torch_python_cannot_import_counts_as_absent(monkeypatch: pytest.MonkeyPatch) -> None:
    assert installed_version("torch") is not None
    monkeypatch.setitem(sys.modules, "torch", None)  # its files are there, its import is blocked
    assert installed_version("torch") is None and plan_dependencies([]).torch is None


def test_the_module_imports_without_torch_or_numpy() -> None:
    """The Slicer panel calls it before PyTorch exists."""
    code = ("import sys; sys.modules['torch'] = None; sys.modules['numpy'] = None; "
            "import AttriVAELib.slicer.dependencies")
    subprocess.run([sys.executable, "-c", code], check=True)
