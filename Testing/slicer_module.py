"""Import the Slicer module file ``AttriVAE/AttriVAE.py`` outside Slicer, for testing its logic against real MRML.

slicer-core has MRML, ``slicer.util`` and the module logics, but not the application layer: ``qt``, ``ctk``,
``slicer.i18n``, ``slicer.ScriptedLoadableModule`` and ``slicer.parameterNodeWrapper``. This installs minimal
stand-ins for exactly those names (only where they are missing), so the module file imports unchanged; the
logic then runs for real. The widget and the parameter-node binding are checked statically instead.
"""

from __future__ import annotations

import importlib.util
import sys
import types
import unittest
from pathlib import Path

MODULE_FILE = Path(__file__).resolve().parent.parent / "AttriVAE" / "AttriVAE.py"


class _Anything:
    """A stand-in class for Qt/CTK widgets and parameter annotations: accepts any arguments."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        self.args = args


class _ScriptedLoadableModuleLogic:
    def __init__(self, parent: object = None) -> None:
        pass


class _ScriptedLoadableModuleTest(unittest.TestCase):
    def delayDisplay(self, message: str, msec: int = 0) -> None:
        pass


def _stand_ins() -> dict[str, types.ModuleType]:
    modules = {name: types.ModuleType(name) for name in
               ("qt", "ctk", "slicer.i18n", "slicer.parameterNodeWrapper", "slicer.ScriptedLoadableModule")}
    modules["qt"].QTimer = _Anything
    modules["ctk"].ctkSliderWidget = _Anything
    modules["slicer.i18n"].tr = lambda text: text
    modules["slicer.i18n"].translate = lambda context, text: text
    wrapper = modules["slicer.parameterNodeWrapper"]
    wrapper.parameterNodeWrapper = lambda cls: cls
    wrapper.Choice = wrapper.WithinRange = _Anything
    scripted = modules["slicer.ScriptedLoadableModule"]
    scripted.ScriptedLoadableModule = scripted.ScriptedLoadableModuleWidget = _Anything
    scripted.ScriptedLoadableModuleLogic = _ScriptedLoadableModuleLogic
    scripted.ScriptedLoadableModuleTest = _ScriptedLoadableModuleTest
    return modules


def load_module() -> types.ModuleType:
    """The ``AttriVAE`` module file, imported with the application-layer stand-ins."""
    if "AttriVAE" in sys.modules:
        return sys.modules["AttriVAE"]
    import slicer

    for name, module in _stand_ins().items():
        if importlib.util.find_spec(name.split(".")[0]) is None or name.startswith("slicer."):
            if name.startswith("slicer.") and hasattr(slicer, name.split(".")[1]):
                continue
            sys.modules.setdefault(name, module)
            if name.startswith("slicer."):
                setattr(slicer, name.split(".")[1], sys.modules[name])
    spec = importlib.util.spec_from_file_location("AttriVAE", MODULE_FILE)
    module = importlib.util.module_from_spec(spec)
    sys.modules["AttriVAE"] = module
    spec.loader.exec_module(module)
    return module
