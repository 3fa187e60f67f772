"""The stand-ins of ``slicer_app.py`` behave as Slicer 5.10's classes do (read from Slicer's and CTK's sources),
so that the widget tests fail where real Slicer would. (No ``from __future__ import annotations``: the wrapped
classes below are defined in functions, and Slicer's wrapper evaluates their annotations.)"""

from typing import Annotated

import pytest
import slicer_app
from PyQt5 import QtWidgets
from slicer import vtkMRMLScalarVolumeNode


@pytest.fixture
def qt_module(scene):
    slicer_app.install()
    import qt

    return qt


def test_pythonqt_conventions(qt_module) -> None:
    label = qt_module.QLabel("first")
    label.text = "second"  # a Qt property, set as an attribute
    assert label.text == "second" and label.className() == "QLabel"
    button = qt_module.QPushButton()
    clicks = []
    button.connect("clicked(bool)", lambda: clicks.append("no arguments taken"))  # fewer arguments: fine
    button.click()
    assert clicks == ["no arguments taken"]
    with pytest.raises(RuntimeError, match="has no signal clicked\\(int\\)"):
        button.connect("clicked(int)", lambda value: None)
    with pytest.raises(AttributeError, match="read-only"):
        qt_module.QComboBox().count = 3


def test_slot_exceptions_are_reported_and_survived(qt_module) -> None:
    slicer_app.slot_errors.clear()
    button = qt_module.QPushButton()
    button.connect("clicked(bool)", lambda: 1 / 0)
    button.click()  # PyQt alone would abort the process here
    assert len(slicer_app.slot_errors) == 1 and "ZeroDivisionError" in slicer_app.slot_errors[0]
    slicer_app.slot_errors.clear()


def _combo(scene, **properties):
    combo = slicer_app.qMRMLNodeComboBox()
    combo.setNodeTypes(["vtkMRMLScalarVolumeNode"])
    for name, value in properties.items():
        combo.setProperty(name, value)
    seen = []
    combo.currentNodeChanged[object].connect(lambda node: seen.append(node.GetName() if node else None))
    return combo, seen


def test_node_combo_selection_rules(qt_module, scene) -> None:
    mrml_scene = scene[0]
    first = mrml_scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "first")
    second = mrml_scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "second")
    mrml_scene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode", "labels")
    combo, seen = _combo(mrml_scene)
    combo.setMRMLScene(mrml_scene)
    assert seen == ["first"] and combo.nodeCount() == 3  # noneEnabled false: the first listed node
    combo.setShowChildNodeTypes(False)
    assert combo.nodeCount() == 2  # the label map is a child class
    third = mrml_scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "third")
    assert combo.currentNode() is first  # an added node is not selected
    combo.setCurrentNode(second)
    mrml_scene.RemoveNode(second)
    assert combo.currentNode() is third  # the next listed node
    mrml_scene.RemoveNode(third)
    assert combo.currentNode() is first  # then the last one
    mrml_scene.Clear(0)
    assert combo.currentNode() is None and seen[-1] is None


def test_node_combo_with_none_starts_empty_and_remembers_a_node_set_before_its_scene(qt_module, scene) -> None:
    mrml_scene = scene[0]
    volume = mrml_scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "volume")
    combo, seen = _combo(mrml_scene, noneEnabled=True)
    combo.setMRMLScene(mrml_scene)
    assert combo.currentNode() is None and seen == []
    other, _ = _combo(mrml_scene)
    other.setCurrentNode(volume)  # no scene yet: applied when it comes
    other.setMRMLScene(mrml_scene)
    assert other.currentNode() is volume


def test_slider_tracking(qt_module) -> None:
    slider = slicer_app.ctkSliderWidget()
    slider.setRange(0.0, 10.0)
    changed, changing = [], []
    slider.valueChanged.connect(changed.append)
    slider.valueIsChanging.connect(changing.append)
    slider.drag([1.0, 2.0, 3.0])
    assert changed == [1.0, 2.0, 3.0] and changing == []  # tracking (the default): every step
    slider.setTracking(False)
    changed.clear()
    slider.drag([4.0, 5.0, 6.0])
    assert changed == [6.0] and changing == [4.0, 5.0, 6.0]  # once, on release
    slider.setValue(20.0)
    assert slider.property("value") == 10.0  # clamped to the range


def test_parameter_node_wrapper_stores_and_validates_as_slicer(qt_module, scene) -> None:
    @slicer_app.parameterNodeWrapper
    class Parameters:
        mode: Annotated[str, slicer_app.Choice(["a", "b"])] = "a"
        count: Annotated[int, slicer_app.WithinRange(1, 5)] = 2
        scale: float = 0.5
        flag: bool = True
        volume: vtkMRMLScalarVolumeNode

    node = scene[0].AddNewNodeByClass("vtkMRMLScriptedModuleNode")
    parameters = Parameters(node)
    assert [node.GetParameter(n) for n in ("mode", "count", "scale", "flag")] == ["a", "2", "0.5", "True"]
    volume = scene[0].AddNewNodeByClass("vtkMRMLScalarVolumeNode")
    parameters.volume = volume
    assert node.GetNodeReference("volume") is volume  # the reference role is the parameter name
    for value, error in (("c", ValueError), (3, TypeError)):
        with pytest.raises(error):
            parameters.mode = value
    with pytest.raises(ValueError):
        parameters.count = 9
    with pytest.raises(TypeError):
        parameters.volume = scene[0].AddNewNodeByClass("vtkMRMLSegmentationNode")
    parameters.scale = 2  # an int into a float field is accepted
    assert parameters.scale == 2.0 and parameters.count == 2

    panel = QtWidgets.QWidget()
    combo, spin = QtWidgets.QComboBox(panel), QtWidgets.QSpinBox(panel)
    combo.addItems(["from", "the", ".ui"])
    combo.setProperty("SlicerParameterName", "mode")
    spin.setProperty("SlicerParameterName", "count")
    tag = parameters.connectGui(panel)
    assert [combo.itemText(i) for i in range(combo.count())] == ["a", "b"]  # the .ui's items are replaced
    assert (spin.minimum(), spin.maximum()) == (1, 5)
    combo.setCurrentIndex(1)
    assert parameters.mode == "b"
    parameters.count = 4
    assert spin.value() == 4
    parameters.disconnectGui(tag)
    line = QtWidgets.QLineEdit(panel)
    line.setProperty("SlicerParameterName", "count")
    with pytest.raises(RuntimeError, match="Unable to create GUI connector"):
        parameters.connectGui(panel)
    line.setProperty("SlicerParameterName", "unknown")
    with pytest.raises(ValueError, match="Cannot find a param"):
        parameters.connectGui(panel)
