"""The library's layout (CONTRIBUTING.md, "The library's wings"): each wing imports only the wings listed
before it, and no module imports itself back through others. Read from the source, nothing imported."""

from __future__ import annotations

import ast
from pathlib import Path

LIBRARY = Path(__file__).resolve().parents[1] / "AttriVAELib"
WINGS = ("base", "data", "method", "modelfile", "interpretation", "evaluation", "training", "slicer", "apps")


def _module(path: Path) -> str:
    return ".".join(path.relative_to(LIBRARY).with_suffix("").parts)


def _wing(module: str) -> str:
    return module.split(".")[0] if "." in module else "base"


def _imports(module: str) -> set[str]:
    """Modules of the library that ``module`` imports, relatively or by name, at the top or in functions."""
    path = LIBRARY.joinpath(*module.split(".")).with_suffix(".py")
    package = module.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1] + (node.module.split(".") if node.module else [])
            elif (node.module or "").startswith("AttriVAELib."):
                base = node.module.split(".")[1:]
            else:
                continue
            for parts in (base, *(base + [alias.name] for alias in node.names)):
                name = ".".join(parts)
                if parts and LIBRARY.joinpath(*parts).with_suffix(".py").is_file() and name != "__init__":
                    found.add(name)
    return found


MODULES = sorted(_module(path) for path in LIBRARY.rglob("*.py") if path.stem not in ("__init__", "__main__"))
GRAPH = {module: _imports(module) for module in MODULES}


def test_every_wing_is_known():
    assert {_wing(module) for module in MODULES} == set(WINGS)


def test_no_wing_imports_a_later_one():
    backwards = [f"{module} imports {imported}" for module, imported_set in GRAPH.items() for imported in imported_set
                 if WINGS.index(_wing(imported)) > WINGS.index(_wing(module))]
    assert not backwards, backwards


def test_no_module_imports_itself_back():
    def reaches(start: str, target: str, seen: set[str]) -> bool:
        for imported in GRAPH.get(start, ()):
            if imported == target:
                return True
            if imported not in seen:
                seen.add(imported)
                if reaches(imported, target, seen):
                    return True
        return False

    circles = [module for module in MODULES if reaches(module, module, set())]
    assert not circles, circles
