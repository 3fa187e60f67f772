"""The Slicer module's panel, executed: the real .ui on a real Qt (PyQt5, offscreen) with Slicer's widgets,
parameter node and test runner stood in as ``slicer_app.py`` describes, against real MRML (slicer-core).

Each test clicks through the panel as a person would (buttons, combos, sliders, scene close) and reads what
the panel then shows. Error dialogs: Slicer's ``errorDisplay`` logs at ERROR in testing mode, so the dialogs a
person would see are the ERROR records of the root logger.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import slicer_app
from PyQt5 import QtWidgets

from AttriVAELib import choices
from AttriVAELib.config import TrainConfig
from AttriVAELib.slicer import mrml
from AttriVAELib.slicer.process import TrainingProcess

TESTING = Path(__file__).resolve().parent
FAKE_TRAINING = TESTING / "fake_training.py"
CONVENTIONAL_LAYOUT = 2  # vtkMRMLLayoutNode::SlicerLayoutConventionalView: no plot view


@pytest.fixture
def panel(scene):
    module = slicer_app.load_module()
    slicer_app.slot_errors.clear()
    _, widget = slicer_app.open_module(module)
    yield widget
    widget.cleanup()
    assert slicer_app.slot_errors == []  # no handler raised behind the person's back

def _dialogs(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Messages of the error dialogs shown (errorDisplay's records; the traceback records are 'failed')."""
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR and r.name == "root"
            and " failed" not in r.getMessage()]


def _items(combo) -> list[str]:
    return [combo.itemText(i) for i in range(combo.count)]


def _process_events_until(condition, timeout_s: float = 60.0) -> None:
    """Let Qt run (timers fire) until ``condition()``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the panel did not reach the expected state in time")
        QtWidgets.QApplication.processEvents()
        time.sleep(0.02)


def test_help_names_the_supported_slicer(scene) -> None:
    module = slicer_app.load_module()
    parent = slicer_app.ModuleParent(slicer_app.MODULE_FILE)
    module.AttriVAE(parent)
    assert "Needs Slicer 5.10 or newer" in parent.helpText and module.slicerSupported()


def test_setup_binds_the_parameter_node_as_slicer_does(panel) -> None:
    ui, parameters = panel.ui, panel._parameterNode
    assert _items(ui.trainPresetComboBox) == list(choices.PRESET_NAMES)
    assert ui.trainPresetComboBox.currentText == "paper"
    assert _items(ui.attentionMethodComboBox) == list(choices.ATTRIBUTION_METHODS)
    assert ui.attentionLayerComboBox.currentText == choices.DEFAULT_LAYER and not ui.attentionLayerComboBox.enabled
    assert ui.attentionMethodComboBox.toolTip == choices.describe_methods()  # from the registry, not the .ui
    assert "gradcam explains" in ui.attentionLayerComboBox.toolTip
    assert _items(ui.trainDataFormatComboBox) == list(choices.DATA_FORMATS)
    assert ui.attentionThresholdSlider.value == pytest.approx(0.2) and ui.trainEpochsSpinBox.value == TrainConfig.epochs
    assert ui.inputVolumeSelector.nodeTypes == ["vtkMRMLScalarVolumeNode"]
    assert ui.modelPathLineEdit.currentPath.endswith("attrivae-shipped.safetensors")

    ui.trainEpochsSpinBox.value = 5  # an edit in the panel reaches the scene
    assert parameters.trainEpochs == 5 and parameters.parameterNode.GetParameter("trainEpochs") == "5"
    ui.attentionMethodComboBox.setCurrentIndex(choices.ATTRIBUTION_METHODS.index("gradcam"))
    assert parameters.attentionMethod == "gradcam" and ui.attentionLayerComboBox.enabled
    ui.attentionThresholdSlider.drag([0.3, 0.45])
    assert parameters.attentionThreshold == pytest.approx(0.45)
    ui.attentionRender3DCheckBox.checked = False
    assert parameters.attentionRender3D is False
    assert parameters.parameterNode.GetParameter("attentionRender3D") == "False"  # as Slicer stores a bool
    parameters.traversalSteps = 4  # and the scene reaches the panel
    assert ui.traversalStepsSpinBox.value == 4
    with pytest.raises(ValueError):
        parameters.trainEpochs = 0
    import slicer

    with pytest.raises(TypeError):
        parameters.inputVolume = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLSegmentationNode")


def test_the_input_volume_is_never_a_label_map_or_an_output(scene) -> None:
    import slicer

    mrml_scene = scene[0]
    mrml_scene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode", "labels")
    output = mrml.output_node(mrml_scene, "reconstruction", "AttriVAE reconstruction")
    volume = mrml_scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "MRI")
    widget = slicer_app.open_module(slicer_app.load_module())[1]
    assert widget._parameterNode.inputVolume is volume and widget.ui.inputVolumeSelector.currentNode() is volume
    assert mrml.first_input_volume(mrml_scene) is volume and output.GetAttribute(mrml.ROLE) == "reconstruction"
    assert slicer.mrmlScene is mrml_scene
    widget.cleanup()


def _assert_attention_shown(volume, maps: dict, shown: str) -> None:
    """The slice views show ``shown``'s map over the input with its legend; it alone is volume-rendered."""
    import slicer

    rendering = slicer.modules.volumerendering.logic()
    for view in slicer.app.layoutManager().sliceViewNames():
        composite = slicer.app.layoutManager().sliceWidget(view).sliceLogic().GetSliceCompositeNode()
        assert (composite.GetBackgroundVolumeID(), composite.GetForegroundVolumeID()) == (
            volume.GetID(), maps[shown].GetID())
    for name, node in maps.items():
        legend = slicer.vtkSlicerColorLogic.GetColorLegendDisplayNode(node)
        display = rendering.GetFirstVolumeRenderingDisplayNode(node)
        assert legend.GetVisibility() == (name == shown) and "share of peak" in legend.GetTitleText()
        assert (display is not None and display.GetVisibility()) == (name == shown), name


def test_click_through_every_section(panel, tiny_run: Path, monkeypatch, caplog) -> None:
    import slicer
    import vtk

    ui = panel.ui
    ui.modelPathLineEdit.currentPath = str(tiny_run / "model.safetensors")
    ui.loadModelButton.click()
    names = panel.logic.attributeNames()
    assert "Attributes → latent dims" in ui.modelCardBrowser.toPlainText()
    assert _items(ui.attentionAttributeComboBox) == ["all attributes", *names]
    assert _items(ui.traversalAttributeComboBox) == names
    sliders = panel._sliders
    assert list(sliders) == list(panel.logic.attributeRanges())
    assert all(not s.enabled and not s.tracking for s in sliders.values()) and sliders["lv_volume_ml"].suffix == " mL"

    ui.syntheticSampleButton.click()
    volume = ui.inputVolumeSelector.currentNode()
    assert volume.GetName().startswith("Synthetic LGE") and panel._parameterNode.inputVolume is volume
    assert ui.cavitySegmentComboBox.currentText == "LV cavity" and ui.infarctSegmentComboBox.currentText == "Infarct"

    ui.analyzeButton.click()
    assert ui.probabilityLabel.text.startswith("P(infarct) = ")
    assert ui.trainingDataLabel.text == ""  # the panel's own synthetic subject: the model's kind of data
    table = ui.attributeTableView.model()
    assert table.rowCount() == len(names) + 1 and table.item(len(names), 0).text() == "P(infarct)"
    encoded = {n: s.value for n, s in sliders.items()}
    assert all(s.enabled for s in sliders.values())
    composite = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLSliceCompositeNode")
    assert composite.GetBackgroundVolumeID() == volume.GetID()
    assert slicer.mrmlScene.GetNodeByID(composite.GetForegroundVolumeID()).GetName() == "AttriVAE reconstruction"

    ui.attentionButton.click()  # all attributes, the default (signed) method, rendered in 3D
    maps = {name: slicer.mrmlScene.GetFirstNodeByName(f"AttriVAE attention {name}") for name in names}
    for node in maps.values():
        assert node.GetDisplayNode().GetColorNode().GetName() == mrml.DIVERGING_TABLE_NAME
    assert ui.attentionShownComboBox.enabled and _items(ui.attentionShownComboBox) == names
    _assert_attention_shown(volume, maps, names[0])
    ui.attentionShownComboBox.setCurrentText(names[2])  # another map: views, legend and 3D follow
    _assert_attention_shown(volume, maps, names[2])
    anatomy = slicer.mrmlScene.GetFirstNodeByName("AttriVAE anatomy")  # the 3D view looks at the heart
    bounds = [0.0] * 6
    anatomy.GetRASBounds(bounds)
    camera = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLCameraNode")
    np.testing.assert_allclose(camera.GetFocalPoint(), (np.array(bounds[0::2]) + bounds[1::2]) / 2, atol=1e-6)
    assert anatomy.GetDisplayNode().GetVisibility3D() and anatomy.GetSegmentation().GetNumberOfSegments() == 2
    ui.attentionAttributeComboBox.setCurrentIndex(1)
    ui.attentionMethodComboBox.setCurrentIndex(choices.ATTRIBUTION_METHODS.index("gradcam"))
    ui.attentionButton.click()
    heat = slicer.mrmlScene.GetFirstNodeByName(f"AttriVAE attention {names[0]}")
    assert heat.GetDisplayNode().GetColorNode().GetName() == mrml.HEAT_TABLE_NAME

    decodes = []
    explore = panel.logic.explore
    monkeypatch.setattr(panel.logic, "explore", lambda values: decodes.append(values) or explore(values))
    low, high, _ = panel.logic.attributeRanges()["lv_volume_ml"]
    sliders["lv_volume_ml"].drag([low + (high - low) * f for f in (0.1, 0.3, 0.5, 0.7, 0.9)])
    assert len(decodes) == 1 and decodes[0]["lv_volume_ml"] == pytest.approx(low + (high - low) * 0.9, abs=0.01)
    explored = slicer.mrmlScene.GetFirstNodeByName("AttriVAE explore")
    difference = slicer.mrmlScene.GetFirstNodeByName("AttriVAE explore difference")
    assert _comparison_layers() == {"Red": (volume.GetID(), None), "Yellow": (explored.GetID(), None),
                                    "Green": (explored.GetID(), difference.GetID())}
    layout_node = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLLayoutNode")
    assert layout_node.GetViewArrangement() == sys.modules["AttriVAE"].COMPARISON_LAYOUT
    ijk_to_ras = vtk.vtkMatrix4x4()
    volume.GetIJKToRASMatrix(ijk_to_ras)
    through_plane = slicer.util.arrayFromVTKMatrix(ijk_to_ras)[:3, 2]
    for view in ("Red", "Yellow", "Green"):  # linked, in the input's own (oblique) image plane
        normal = slicer.util.arrayFromVTKMatrix(_slice_widget(view).mrmlSliceNode().GetSliceToRAS())[:3, 2]
        assert abs(np.dot(normal, through_plane)) == pytest.approx(np.linalg.norm(through_plane), rel=1e-6)
        assert _slice_widget(view).sliceLogic().GetSliceCompositeNode().GetLinkedControl()
    layout_node.SetViewArrangement(layout_node.SlicerLayoutFourUpView)  # the user's choice is kept on the next drag
    sliders["lv_volume_ml"].drag([low + (high - low) * 0.2])
    assert layout_node.GetViewArrangement() == layout_node.SlicerLayoutFourUpView
    shown = panel.logic.lastExplore["shown"]  # beside each slider, what the decoded anatomy shows now
    for name, label in panel._shownLabels.items():
        value, unit = shown.get(name), panel.logic.attributeRanges()[name][2]
        if value is None:
            assert label.text == "encoder units"
        elif np.isfinite(value):
            assert label.text == f"shows {value:.4g}{' ' + unit if unit else ''}"
    assert panel._exploreNotes.text == "\n".join(panel.logic.lastExplore["notes"])
    assert "lv_volume_ml:" in panel._exploreNotes.text  # the tiny model's decoder does not move it: said so
    ui.exploreResetButton.click()
    assert {n: s.value for n, s in sliders.items()} == pytest.approx(encoded, abs=0.01)

    ui.traversalAttributeComboBox.setCurrentText("lv_volume_ml")
    ui.traversalStepsSpinBox.value = 4
    ui.exportTraversalButton.click()
    sequence = slicer.mrmlScene.GetFirstNodeByName("AttriVAE traversal lv_volume_ml")
    assert sequence.GetNumberOfDataNodes() == 4 and sequence.GetIndexUnit() == "mL"
    browser = slicer.modules.sequences.shown_browsers[-1]
    assert browser.GetMasterSequenceNode() is sequence
    proxy = browser.GetProxyNode(sequence)  # the Yellow view shows the browser's current step
    reconstruction = slicer.mrmlScene.GetFirstNodeByName("AttriVAE reconstruction")
    assert _comparison_layers() == {"Red": (volume.GetID(), None), "Yellow": (proxy.GetID(), None),
                                    "Green": (reconstruction.GetID(), None)}
    for step in (0, 3):
        browser.SetSelectedItemNumber(step)
        slicer.modules.sequences.logic().UpdateProxyNodesFromSequences(browser)
        np.testing.assert_array_equal(slicer.util.arrayFromVolume(proxy),
                                      slicer.util.arrayFromVolume(sequence.GetNthDataNode(step)))

    first = volume
    ui.syntheticSampleButton.click()
    ui.analyzeButton.click()  # another subject: its own outputs; the first's stay
    second = ui.inputVolumeSelector.currentNode()
    assert not ui.attentionShownComboBox.enabled and _items(ui.attentionShownComboBox) == []
    reconstructions = [node for node in slicer.util.getNodesByClass("vtkMRMLScalarVolumeNode")
                       if node.GetAttribute(mrml.ROLE) == "reconstruction"]
    assert sorted(r.GetNodeReferenceID(mrml.INPUT_REFERENCE) for r in reconstructions) == sorted(
        [first.GetID(), second.GetID()])
    assert reconstruction in reconstructions
    ui.interpolationVolumeSelector.setCurrentNode(first)
    ui.interpolationStepsSpinBox.value = 3
    ui.interpolateButton.click()
    assert slicer.mrmlScene.GetFirstNodeByName("AttriVAE interpolation").GetNumberOfDataNodes() == 3
    assert _dialogs(caplog) == []


def _slice_widget(view: str):
    import slicer

    return slicer.app.layoutManager().sliceWidget(view)


def _comparison_layers() -> dict:
    """View → (background ID, foreground ID or None) of the three slice views."""
    layers = {}
    for view in ("Red", "Yellow", "Green"):
        composite = _slice_widget(view).sliceLogic().GetSliceCompositeNode()
        layers[view] = (composite.GetBackgroundVolumeID(), composite.GetForegroundVolumeID())
    return layers


def test_the_synthetic_subject_is_in_slicers_sample_data(panel) -> None:
    """Registered once Slicer's startup completes; its button makes the subject on the spot (no download)."""
    import slicer

    module = sys.modules["AttriVAE"]
    slicer.app.complete_startup()
    [source] = slicer.modules.sampleDataSources[module.SAMPLE_CATEGORY]
    assert source.sampleDescription == module.SAMPLE_NAME and source.uris == []
    assert Path(source.thumbnailFileName).is_file()
    volume, segmentation = slicer_app.click_sample(module.SAMPLE_CATEGORY, module.SAMPLE_NAME)
    assert volume.GetAttribute(module.SYNTHETIC_SUBJECT) is not None and slicer.util.arrayFromVolume(volume).std() > 0
    assert sorted(mrml.segment_names(segmentation)) == ["Infarct", "LV cavity", "Myocardium"]


def test_errors_reach_the_user_as_one_line_dialogs(panel, caplog) -> None:
    panel.ui.exploreResetButton.click()
    panel.ui.trainButton.click()
    panel.ui.analyzeButton.click()
    dialogs = _dialogs(caplog)
    assert len(dialogs) == 3 and all("\n" not in d for d in dialogs), dialogs
    assert "analyse a volume first" in dialogs[0] and "does not exist" in dialogs[1]
    assert "no input volume selected" in dialogs[2]


def test_scene_close_forgets_results_and_rebinds_the_panel(panel, tiny_run: Path) -> None:
    import slicer

    ui = panel.ui
    ui.modelPathLineEdit.currentPath = str(tiny_run / "model.safetensors")
    ui.loadModelButton.click()
    ui.syntheticSampleButton.click()
    ui.analyzeButton.click()
    analysed = ui.inputVolumeSelector.currentNode().GetID()
    assert ui.attributeTableView.mrmlTableNode() is not None

    slicer.mrmlScene.Clear(0)  # File > Close scene
    assert ui.attributeTableView.mrmlTableNode() is None and ui.probabilityLabel.text == ""
    assert ui.trainingDataLabel.text == ""
    assert not any(s.enabled for s in panel._sliders.values())
    assert ui.inputVolumeSelector.currentNode() is None
    ui.trainEpochsSpinBox.value = 7  # the panel is bound to the new scene's parameter node
    assert panel.logic.getParameterNode().trainEpochs == 7

    newcomer = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "another subject")
    assert newcomer.GetID() == analysed  # MRML reuses IDs after a close: the old analysis must not apply
    with pytest.raises(ValueError, match="analyse a volume first"):
        panel.logic.explore({"lv_volume_ml": 100.0})
    with pytest.raises(ValueError, match="analyse both volumes first"):
        panel.logic.interpolate(newcomer, newcomer, 3)


def _fake_training(model: Path, epochs: int, stop_delay_s: float = 0.0):
    def launch(command: list[str]) -> TrainingProcess:
        out = command[command.index("--out") + 1]
        return TrainingProcess([sys.executable, str(FAKE_TRAINING), out, str(epochs), str(model), str(stop_delay_s)])

    return launch


def test_training_from_the_panel(panel, tiny_run: Path, tmp_path: Path, caplog) -> None:
    import slicer

    ui = panel.ui
    panel.logic.launchProcess = _fake_training(tiny_run / "model.safetensors", epochs=12)
    ui.trainDataPathLineEdit.currentPath = str(tmp_path)
    ui.trainOutputPathLineEdit.currentPath = str(tmp_path / "run")
    ui.trainButton.click()
    assert ui.trainButton.text == "Cancel"
    seen = []
    _process_events_until(lambda: seen.append(ui.trainStatusLabel.text) or "compiling" in ui.trainStatusLabel.text)
    layout = slicer.app.layoutManager()
    _process_events_until(lambda: panel._chartShown)
    assert layout.layout != CONVENTIONAL_LAYOUT  # the loss chart was put in view once
    layout.setLayout(CONVENTIONAL_LAYOUT)  # the person switches back to their layout while it trains
    _process_events_until(lambda: ui.trainButton.text == "Start training")
    assert layout.layout == CONVENTIONAL_LAYOUT  # later epochs do not take the layout back
    assert ui.trainProgressBar.value == 100 and ui.trainStatusLabel.text.startswith("finished")
    assert ui.modelPathLineEdit.currentPath == str(tmp_path / "run" / "model.safetensors")
    assert str(tmp_path / "run") in ui.modelCardBrowser.toPlainText()
    assert panel.logic.trainingChart.GetNthPlotSeriesNode(0).GetTableNode().GetNumberOfRows() == 12
    assert _dialogs(caplog) == []


def test_cancel_returns_at_once_and_is_not_an_error(panel, tiny_run: Path, tmp_path: Path, caplog) -> None:
    ui = panel.ui
    panel.logic.launchProcess = _fake_training(tiny_run / "model.safetensors", epochs=1000, stop_delay_s=2.0)
    ui.trainDataPathLineEdit.currentPath = str(tmp_path)
    ui.trainOutputPathLineEdit.currentPath = str(tmp_path / "run")
    ui.trainButton.click()
    _process_events_until(lambda: "epoch" in ui.trainStatusLabel.text)
    started = time.monotonic()
    ui.trainButton.click()  # Cancel
    assert time.monotonic() - started < 0.5 and ui.trainStatusLabel.text == "cancelling…"
    _process_events_until(lambda: ui.trainButton.text == "Start training")
    assert ui.trainStatusLabel.text.startswith("cancelled; resume from the checkpoint in")
    assert _dialogs(caplog) == []


@pytest.mark.slow
def test_the_module_tests_as_slicers_test_runner_runs_them(panel) -> None:
    module = sys.modules["AttriVAE"]
    result = slicer_app.run_unit_test(module)
    assert result.wasSuccessful(), result.failures + result.errors
    assert result.testsRun >= 2 and not result.skipped


_WITHOUT_TORCH = textwrap.dedent("""
    import json, logging, sys
    sys.modules["torch"] = None  # as on a Slicer without the PyTorch extension: import torch fails
    sys.path.insert(0, {testing!r})
    import slicer, slicer_app
    scene = slicer.vtkMRMLScene(); slicer.mrmlScene = scene
    slicer.vtkSlicerSegmentationsModuleLogic().SetMRMLScene(scene)  # segment representations, as Slicer has
    errors = []
    class Record(logging.Handler):
        def emit(self, record):
            if record.levelno >= logging.ERROR and " failed" not in record.getMessage():
                errors.append(record.getMessage())
    logging.getLogger().addHandler(Record())
    module = slicer_app.load_module()
    slicer.app.applicationLogic()  # Slicer's module logics on the scene
    _, widget = slicer_app.open_module(module)
    segmentation = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "LV")
    for name in ("LV cavity", "Myocardium", "Scar"):
        segmentation.GetSegmentation().AddEmptySegment(name, name)
    widget.ui.inputSegmentationSelector.setCurrentNode(segmentation)
    combos = [widget.ui.cavitySegmentComboBox.currentText, widget.ui.myocardiumSegmentComboBox.currentText,
              widget.ui.infarctSegmentComboBox.currentText]
    widget.ui.loadModelButton.click()
    result = slicer_app.run_unit_test(module)
    print(json.dumps({{"combos": combos, "errors": errors, "torch": sys.modules.get("torch") is not None,
                       "run": result.testsRun, "skipped": len(result.skipped), "ok": result.wasSuccessful(),
                       "bridge": scene.GetFirstNodeByName("bridge MRI") is not None}}))
""")


@pytest.mark.slow
def test_the_panel_and_its_tests_without_torch() -> None:
    code = _WITHOUT_TORCH.format(testing=str(TESTING))
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert run.returncode == 0, run.stderr[-3000:]
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert seen["combos"] == ["LV cavity", "Myocardium", "Scar"]  # segment choices work without torch
    assert seen["torch"] is False
    assert len(seen["errors"]) == 1 and "needs the PyTorch extension" in seen["errors"][0]  # Load model
    assert seen["ok"] and seen["skipped"] == 1 and seen["run"] >= 3  # the CTest passes, analysis skipped
    assert seen["bridge"]  # the torch-free test of the MRML bridge ran (its outputs are in the scene)


def _python(version: str) -> str | None:
    found = shutil.which(f"python{version}")
    if found and subprocess.run([found, "--version"], capture_output=True).returncode == 0:
        return found
    pyenv = Path.home() / ".pyenv" / "versions"
    candidates = sorted(pyenv.glob(f"{version}.*/bin/python")) if pyenv.is_dir() else []
    return str(candidates[-1]) if candidates else None


@pytest.mark.slow
def test_the_module_file_on_slicer_5_8_shows_one_message() -> None:
    python = _python("3.9")  # Slicer 5.8 bundles Python 3.9
    if python is None:
        if os.environ.get("CI"):
            pytest.fail("CI must have a Python 3.9 interpreter to check the module file under Slicer 5.8's Python")
        pytest.skip("no Python 3.9 interpreter here")
    run = subprocess.run([python, str(TESTING / "old_slicer.py"), str(slicer_app.MODULE_FILE), "5", "8"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr[-2000:]
    seen = json.loads(run.stdout)
    message = "AttriVAE needs 3D Slicer 5.10 or newer; this is Slicer 5.8"
    assert seen["python"].startswith("3.9") and message in seen["help"]
    assert len(seen["panel"]) == 1 and message in seen["panel"][0]  # one message instead of the panel
    assert message in seen["logic_error"] and not seen["torch_imported"]
