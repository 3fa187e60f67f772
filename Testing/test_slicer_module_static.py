"""Static checks of the Slicer module (real Slicer cannot run here): .ui ↔ code ↔ parameter node, CMake
lists, lazy imports, the catalog entry."""

from __future__ import annotations

import ast
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODULE = ROOT / "AttriVAE"
SOURCE = (MODULE / "AttriVAE.py").read_text()
TREE = ast.parse(SOURCE)
UI = ET.parse(MODULE / "Resources" / "UI" / "AttriVAE.ui").getroot()
KNOWN_CUSTOM_WIDGETS = {"ctkCollapsibleButton", "ctkPathLineEdit", "ctkSliderWidget", "qMRMLNodeComboBox",
                        "qMRMLTableView", "qMRMLWidget"}


def _classes() -> dict[str, ast.ClassDef]:
    return {node.name: node for node in TREE.body if isinstance(node, ast.ClassDef)}


def _parameter_fields() -> dict[str, str]:
    fields = {}
    for item in _classes()["AttriVAEParameterNode"].body:
        if isinstance(item, ast.AnnAssign):
            fields[item.target.id] = ast.unparse(item.annotation)
    return fields


def _bound_widgets() -> dict[str, ET.Element]:
    bound = {}
    for widget in UI.iter("widget"):
        for prop in widget.findall("property"):
            if prop.get("name") == "SlicerParameterName":
                bound[prop.find("string").text] = widget
    return bound


def test_module_defines_the_template_classes() -> None:
    classes = _classes()
    assert {"AttriVAE", "AttriVAEParameterNode", "AttriVAEWidget", "AttriVAELogic", "AttriVAETest"} <= set(classes)
    assert any(isinstance(f, ast.FunctionDef) and f.name == "runTest" for f in classes["AttriVAETest"].body)
    assert 'translate("qSlicerAbstractCoreModule", "Cardiac")' in SOURCE
    assert "Cetin" in SOURCE and "README" in SOURCE.upper()  # acknowledgement cites the paper, help links docs


def test_no_heavy_import_at_module_level() -> None:
    top_level = [node for node in TREE.body if isinstance(node, (ast.Import, ast.ImportFrom))]
    library = [(node.module, [alias.name for alias in node.names]) for node in top_level
               if isinstance(node, ast.ImportFrom) and node.module.startswith("AttriVAELib")]
    assert library == [("AttriVAELib", ["choices"]), ("AttriVAELib.config", ["TrainConfig"])]  # standard library only
    names = {alias.name.split(".")[0] for node in top_level for alias in node.names}
    names |= {node.module.split(".")[0] for node in top_level if isinstance(node, ast.ImportFrom) and node.module}
    assert not names & {"torch", "numpy", "SimpleITK", "safetensors", "scipy"}


def test_translated_strings_are_literals() -> None:
    # Slicer's translation tools extract the literal argument of _() / tr(); an f-string has none.
    calls = [node for node in ast.walk(TREE) if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
             and node.func.id == "_"]
    assert calls and all(isinstance(call.args[0], ast.Constant) for call in calls), \
        [ast.unparse(call) for call in calls if not isinstance(call.args[0], ast.Constant)]


def test_supported_slicer_versions_are_declared_alike_everywhere() -> None:
    minimum = ast.literal_eval(next(node.value for node in TREE.body if isinstance(node, ast.Assign)
                                    and node.targets[0].id == "MINIMUM_SLICER"))
    version = "{}.{}".format(*minimum)
    assert f'VERSION_LESS "{version}"' in (ROOT / "CMakeLists.txt").read_text()  # the extension factory stops
    assert f"Slicer {version} and newer" in (ROOT / "README.md").read_text()
    schema_properties = {"$schema", "category", "scm_url", "scm_revision", "scm_type", "build_dependencies",
                         "dicom_support_rule", "build_subdirectory", "enabled", "tier"}  # catalog schema v1.0.2
    assert set(json.loads((ROOT / "AttriVAE.json").read_text())) <= schema_properties  # no version field there


def test_every_ui_name_used_in_code_exists_in_the_ui() -> None:
    used = set(re.findall(r"self\.ui\.(\w+)", SOURCE))
    defined = {widget.get("name") for widget in UI.iter("widget")}
    assert used and used <= defined, used - defined


def test_parameter_names_match_parameter_node_fields() -> None:
    bound, fields = _bound_widgets(), _parameter_fields()
    assert set(bound) == set(fields)
    for name, widget in bound.items():
        annotation = fields[name]
        if "vtkMRML" in annotation:
            assert widget.get("class") == "qMRMLNodeComboBox"
            types = [s.text for s in widget.find("property[@name='nodeTypes']").iter("string")]
            assert types == [annotation.split("[")[0]], name
        elif annotation.startswith("Annotated[str, Choice") or annotation == "bool":
            assert widget.get("class") in ("QComboBox", "QCheckBox"), name
        elif "int" in annotation:
            assert widget.get("class") == "QSpinBox", name
        elif "float" in annotation:
            assert widget.get("class") in ("ctkSliderWidget", "QDoubleSpinBox"), name


def test_ui_uses_only_known_custom_widgets_and_connects_node_selectors() -> None:
    custom = {node.find("class").text for node in UI.iter("customwidget")}
    assert custom <= KNOWN_CUSTOM_WIDGETS
    used_classes = {widget.get("class") for widget in UI.iter("widget")}
    assert used_classes - {"QPushButton", "QLabel", "QComboBox", "QCheckBox", "QSpinBox", "QDoubleSpinBox", "QLineEdit",
                           "QFrame", "QProgressBar", "QTextBrowser"} <= custom
    connected = {c.find("receiver").text for c in UI.iter("connection")
                 if c.find("slot").text == "setMRMLScene(vtkMRMLScene*)"}
    selectors = {w.get("name") for w in UI.iter("widget") if w.get("class") in ("qMRMLNodeComboBox", "qMRMLTableView")}
    assert selectors <= connected


def test_choice_lists_come_from_the_library() -> None:
    choice_arguments = [ast.unparse(node.args[0]) for node in ast.walk(TREE) if isinstance(node, ast.Call)
                        and isinstance(node.func, ast.Name) and node.func.id == "Choice"]
    assert choice_arguments and all(re.fullmatch(r"list\(choices\.[A-Z_]+\)", a) for a in choice_arguments)
    literal_lists = [ast.unparse(node) for node in ast.walk(TREE) if isinstance(node, (ast.List, ast.Tuple))
                     and len(node.elts) > 2 and all(isinstance(e, ast.Constant) and isinstance(e.value, str)
                                                    for e in node.elts)]
    assert literal_lists == []  # no copy of a library list


def test_module_cmake_lists_every_file() -> None:
    cmake = (MODULE / "CMakeLists.txt").read_text().replace("${MODULE_NAME}", "AttriVAE")
    scripts = set(re.search(r"set\(MODULE_PYTHON_SCRIPTS(.*?)\)", cmake, re.S).group(1).split())
    resources = set(re.search(r"set\(MODULE_PYTHON_RESOURCES(.*?)\)", cmake, re.S).group(1).split())
    assert scripts == {p.name for p in MODULE.glob("*.py")}
    assert resources == {str(p.relative_to(MODULE)) for p in (MODULE / "Resources").rglob("*") if p.is_file()}
    assert "WITH_GENERIC_TESTS" in cmake and "slicer_add_python_unittest(SCRIPT" in cmake


def test_extension_metadata_and_catalog_entry() -> None:
    cmake = (ROOT / "CMakeLists.txt").read_text()
    assert 'set(EXTENSION_DEPENDS "PyTorch")' in cmake
    for url in re.findall(r"https://raw\.githubusercontent\.com/attrivae/SlicerAttriVAE/main/(\S+?)[\s\"]", cmake):
        assert (ROOT / url).is_file(), url  # icon and screenshots exist where the URLs point
    entry = json.loads((ROOT / "AttriVAE.json").read_text())
    assert {"$schema", "category", "scm_url"} <= set(entry)
    assert entry["build_dependencies"] == ["PyTorch"] and entry["scm_url"].endswith("SlicerAttriVAE.git")
    assert (ROOT / "LICENSE.txt").is_file() and (ROOT / "AttriVAE.s4ext").is_file()


def test_requirements_are_the_library_dependencies_slicer_lacks() -> None:
    tomllib = __import__("pytest").importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = (MODULE / "Resources" / "requirements.txt").read_text().split()
    bundled_with_slicer_or_pytorch_extension = {"numpy", "torch", "SimpleITK"}
    not_used_in_slicer = {"matplotlib"}  # draws the CLI's HTML report; the module shows results in MRML
    expected = {d for d in project["dependencies"] if re.split(r"[<>=]", d)[0]
                not in bundled_with_slicer_or_pytorch_extension | not_used_in_slicer}
    assert set(requirements) == expected
