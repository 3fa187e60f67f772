"""Load the module file as Slicer 5.8 would, on its Python (3.9), and print what the user would see as JSON.

Run by ``test_slicer_widget.py`` with a Python 3.9 interpreter, where neither PyQt5 nor slicer-core exist:
the names below are bare (classes that record what they are given), unlike ``slicer_app.py``'s faithful
stand-ins. They suffice for the question asked here: does the file import, and does an unsupported Slicer
get one clear message instead of a traceback? Usage: ``python3.9 old_slicer.py MODULE_FILE MAJOR MINOR``.
"""

import importlib.util
import json
import sys
import types
import typing


class _Widget:
    def __init__(self, *args):
        self.args, self.children = args, []

    def addWidget(self, widget):  # noqa: N802 - Qt's name
        self.children.append(widget)

    def layout(self):
        return self

    def connect(self, *args):
        return True


class _Timer(_Widget):
    def __init__(self):
        super().__init__()
        self.timeout = self

    def setInterval(self, msec):  # noqa: N802 - Qt's name
        pass


def _parameter_node_wrapper(cls):
    typing.get_type_hints(cls, include_extras=True)  # Slicer evaluates every annotation of the class
    return cls


class _Validator:
    def __init__(self, *args):
        self.args = args


class _Base:
    def __init__(self, parent=None):
        self.parent = parent
        self.layout = _Widget()

    def setup(self):
        pass


def install(major: int, minor: int) -> None:
    slicer = types.ModuleType("slicer")
    slicer.app = types.SimpleNamespace(majorVersion=major, minorVersion=minor)
    for name in ("vtkMRMLLabelMapVolumeNode", "vtkMRMLScalarVolumeNode", "vtkMRMLSegmentationNode"):
        setattr(slicer, name, type(name, (), {}))
    slicer.util = types.SimpleNamespace(VTKObservationMixin=type("VTKObservationMixin", (), {
        "__init__": lambda self: None}))
    i18n = types.SimpleNamespace(tr=lambda text: text, translate=lambda context, text: text)
    wrapper = types.SimpleNamespace(parameterNodeWrapper=_parameter_node_wrapper, Choice=_Validator,
                                    WithinRange=_Validator)
    scripted = types.SimpleNamespace(ScriptedLoadableModule=_Base, ScriptedLoadableModuleWidget=_Base,
                                     ScriptedLoadableModuleLogic=_Base, ScriptedLoadableModuleTest=_Base)
    modules = {"slicer": slicer, "slicer.i18n": i18n, "slicer.parameterNodeWrapper": wrapper,
               "slicer.ScriptedLoadableModule": scripted, "slicer.util": slicer.util,
               "qt": types.SimpleNamespace(QLabel=_Widget, QTimer=_Timer), "ctk": types.SimpleNamespace()}
    sys.modules.update(modules)


def main(module_file: str, major: int, minor: int) -> None:
    install(major, minor)
    spec = importlib.util.spec_from_file_location("AttriVAE", module_file)
    module = importlib.util.module_from_spec(spec)
    sys.modules["AttriVAE"] = module
    spec.loader.exec_module(module)
    parent = types.SimpleNamespace()
    module.AttriVAE(parent)
    widget = module.AttriVAEWidget()
    widget.setup()
    shown = [child.args[0] for child in widget.layout.children]
    try:
        module.AttriVAELogic()
        logic_error = None
    except RuntimeError as error:
        logic_error = str(error)
    print(json.dumps({"python": sys.version.split()[0], "help": parent.helpText, "panel": shown,
                      "logic_error": logic_error, "torch_imported": "torch" in sys.modules}))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
