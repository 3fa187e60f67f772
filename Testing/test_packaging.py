"""Static checks of the packaging files (real Slicer builds cannot run here)."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_every_library_file_is_listed_in_its_cmake():
    cmake = (ROOT / "AttriVAELib" / "CMakeLists.txt").read_text()
    listed = set(re.search(r"set\(MODULE_PYTHON_SCRIPTS(.*?)\)", cmake, re.S).group(1).split())
    library = ROOT / "AttriVAELib"
    assert listed == {p.relative_to(library).with_suffix("").as_posix() for p in library.rglob("*.py")}
    assert "WITH_SUBDIR" in cmake


def test_top_level_cmake_adds_every_subdirectory_with_a_cmake_file():
    cmake = (ROOT / "CMakeLists.txt").read_text()
    added = set(re.findall(r"add_subdirectory\((\w+)\)", cmake))
    assert added == {p.parent.name for p in ROOT.glob("*/CMakeLists.txt")}
    for key in ("EXTENSION_HOMEPAGE", "EXTENSION_CATEGORY", "EXTENSION_DESCRIPTION", "EXTENSION_DEPENDS"):
        assert f"set({key}" in cmake


def test_pyproject_declares_the_distribution_and_the_cli():
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["name"] == "attrivae"
    assert project["scripts"]["attrivae"] == "AttriVAELib.apps.cli:main"
    assert project["requires-python"] == ">=3.10"
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    library = ROOT / "AttriVAELib"  # `pip install .` (not editable) installs only the packages named
    assert set(packages) == {".".join(p.parent.relative_to(ROOT).parts) for p in library.rglob("__init__.py")}
    names = {re.split(r"[<>=]", dep)[0] for dep in project["dependencies"]}
    assert {"numpy", "torch", "SimpleITK", "scipy", "safetensors", "matplotlib"} <= names  # matplotlib: demo report
    assert set(project["optional-dependencies"]) == {"test"}


def test_readme_opens_with_the_main_command_and_ci_runs_the_test_command():
    readme = (ROOT / "README.md").read_text()
    blocks = [body for kind, body in re.findall(r"^```(\w*)\n(.*?)^```", readme, re.S | re.M) if kind == "bash"]
    assert blocks[0].strip() == "pip install torch==2.13.0 && pip install . && attrivae demo"
    test_command = next(b.strip() for b in blocks if "pytest" in b)
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test_command.endswith("python -m pytest Testing -q") and "python -m pytest Testing -q" in ci
    assert 'pip install -e ".[test]"' in test_command and 'python -m pip install -e ".[test]"' in ci
    assert "python scripts/readme_install.py --short" in ci  # the main command, as a new user runs it
