"""AttriVAELogic (the Slicer module's logic) against real MRML (slicer-core) on oblique, anisotropic volumes."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
import torch
from conftest import ras_matrix
from scipy import ndimage
from slicer_app import load_module, slicer_scene

from AttriVAELib import ModelBundle
from AttriVAELib.data.attributes import shape_attributes
from AttriVAELib.data.labels import EMIDEC_SCHEME
from AttriVAELib.errors import InvalidModelError, InvalidVolumeError
from AttriVAELib.interpretation.analysis import attention_in_source
from AttriVAELib.slicer import mrml

SEGMENTS = {"cavity": "LV cavity", "myocardium": "Myocardium", "infarct": "Infarct"}


@pytest.fixture
def logic(scene, tiny_run: Path, monkeypatch: pytest.MonkeyPatch):
    module = load_module()
    monkeypatch.setattr(module.AttriVAELogic, "ensureDependencies", staticmethod(lambda askConfirmation=True: None))
    instance = module.AttriVAELogic()
    instance.loadModel(tiny_run / "model.safetensors")
    return instance


def _volume_state(node) -> tuple[bytes, np.ndarray]:
    import slicer
    import vtk

    matrix = vtk.vtkMatrix4x4()
    node.GetIJKToRASMatrix(matrix)
    return slicer.util.arrayFromVolume(node).tobytes(), slicer.util.arrayFromVTKMatrix(matrix)


def _ijk_to_ras(node) -> np.ndarray:
    return _volume_state(node)[1]


def _scene_ids(scene) -> set[str]:
    return {scene.GetNthNode(i).GetID() for i in range(scene.GetNumberOfNodes())}


def test_synthetic_sample_is_an_oblique_volume_with_named_segments(logic) -> None:
    volume, segmentation = logic.generateSyntheticSample(seed=3)
    assert sorted(mrml.segment_names(segmentation)) == ["Infarct", "LV cavity", "Myocardium"]
    direction = _ijk_to_ras(volume)[:3, :3]
    assert not np.allclose(np.abs(direction), np.diag(np.abs(np.diag(direction))))  # oblique
    assert len(set(np.round(np.linalg.norm(direction, axis=0), 3))) == 2  # anisotropic: 1.5 mm in-plane, 8 mm


def test_analyze_keeps_geometry_and_inputs_and_reuses_outputs(logic, scene) -> None:
    volume, segmentation = logic.generateSyntheticSample(seed=3)
    before = _volume_state(volume)
    segments_before = mrml.labels_from_segmentation(segmentation, volume, {1: "LV cavity", 2: "Myocardium"})
    result = logic.analyze(volume, segmentation, SEGMENTS)
    reconstruction = result["reconstruction"]
    np.testing.assert_allclose(_ijk_to_ras(reconstruction), _ijk_to_ras(volume), atol=1e-9)
    import slicer

    recon = slicer.util.arrayFromVolume(reconstruction)
    assert recon.shape == slicer.util.arrayFromVolume(volume).shape and 0 <= recon.min() and recon.max() <= 1
    assert 0.0 <= result["probability"] <= 1.0

    table = result["table"]
    names = logic.attributeNames()
    assert table.GetNumberOfRows() == len(names) + 1 and table.GetCellText(len(names), 0) == "P(infarct)"
    labels = mrml.labels_from_segmentation(segmentation, volume, {1: "LV cavity", 2: "Myocardium", 3: "Infarct"})
    measured = shape_attributes(labels, EMIDEC_SCHEME)
    for row, name in enumerate(names):
        assert table.GetCellText(row, 0) == name
        if name in measured:
            assert table.GetTable().GetColumn(1).GetValue(row) == pytest.approx(measured[name], rel=1e-9)
        encoded, low, high = (float(table.GetCellText(row, column)) for column in (2, 3, 4))
        assert low < encoded < high and (low, high) == pytest.approx(result["intervals"][name], rel=1e-5)
    assert [table.GetColumnName(c) for c in range(6)] == ["attribute", "measured", "encoded", "low 95 %", "high 95 %",
                                                          "interval"]
    assert table.GetCellText(len(names), 3) in ("", "nan")  # P(infarct) has no interval
    for row, name in enumerate(names):  # the tiny model's 6 validation subjects cannot calibrate 95 %: said so
        assert not result["calibrated"][name] and table.GetCellText(row, 5) == "posterior (not calibrated)"

    nodes_after_first = _scene_ids(scene[0])
    again = logic.analyze(volume, segmentation, SEGMENTS)
    assert again["reconstruction"] is reconstruction and again["table"] is table
    assert _scene_ids(scene[0]) == nodes_after_first  # re-analysis adds no node
    assert _volume_state(volume)[0] == before[0]
    np.testing.assert_array_equal(_volume_state(volume)[1], before[1])
    after = mrml.labels_from_segmentation(segmentation, volume, {1: "LV cavity", 2: "Myocardium"})
    np.testing.assert_array_equal(sitk.GetArrayFromImage(after), sitk.GetArrayFromImage(segments_before))


def test_label_map_input_gives_the_same_analysis(logic, scene) -> None:
    import slicer

    volume, segmentation = logic.generateSyntheticSample(seed=4)
    labels = mrml.labels_from_segmentation(segmentation, volume, {1: "LV cavity", 2: "Myocardium", 3: "Infarct"})
    labelmap = slicer.util.addVolumeFromArray(sitk.GetArrayFromImage(labels), ras_matrix(labels), "labels",
                                              "vtkMRMLLabelMapVolumeNode")
    from_segments = logic.analyze(volume, segmentation, SEGMENTS)["encoded"]
    from_labelmap = logic.analyze(volume, None, None, labelmap, "emidec")["encoded"]
    assert from_labelmap == pytest.approx(from_segments)


def test_a_model_of_the_synthetic_cohort_says_so_on_a_loaded_volume_and_its_outputs(logic, scene,
                                                                                   tmp_path: Path) -> None:
    volume, segmentation = logic.generateSyntheticSample(seed=5)
    assert logic.analyze(volume, segmentation, SEGMENTS)["notice"] == ""  # the model's own kind of data
    assert logic.analyze(volume, segmentation, SEGMENTS)["reconstruction"].GetAttribute(
        mrml.TRAINING_DATA_NOTICE) is None

    path = tmp_path / "loaded.nii.gz"  # the same image as a user loads a file: nothing marks it synthetic
    sitk.WriteImage(mrml.image_from_volume(volume, "volume"), str(path))
    loaded = mrml.set_volume_image(scene[0].AddNewNodeByClass("vtkMRMLScalarVolumeNode", "loaded"),
                                   sitk.ReadImage(str(path)))
    result = logic.analyze(loaded, segmentation, SEGMENTS)
    card = logic.bundle.card
    assert result["notice"] == (f"This model learned from {card.data.subjects} synthetic subjects ({card.data.name}), "
                                f"not from MRI scans: its values for this volume have not been checked against "
                                f"real measurements")
    key = mrml.TRAINING_DATA_NOTICE
    assert all(node.GetAttribute(key) == result["notice"] for node in (result["reconstruction"], result["table"]))

    reloaded = _reload(_save_scene(scene[0], tmp_path))  # the notice travels with the outputs
    assert reloaded.GetFirstNodeByName(result["reconstruction"].GetName()).GetAttribute(key) == result["notice"]
    reloaded.Clear(1)


def _bright_spot_model(bundle: ModelBundle, attribute: str, prepared) -> ModelBundle:
    """The bundle with conv1 made a positive 3³ box filter and the attribute's μ row oriented so that its
    Grad-CAM at conv1 is ReLU(w · smoothed input) with w > 0: the map then peaks where the input is
    brightest (the LGE infarct), whatever the rest of the network learned."""
    model = bundle.model
    conv = model.encoder.conv1[0]
    with torch.no_grad():
        conv.weight.fill_(1.0 / 27.0)
        conv.bias.zero_()
        maps = attention_in_source(bundle, prepared, [attribute], "gradcam", "conv1")
        if float(sitk.GetArrayViewFromImage(maps[attribute]).max()) == 0.0:  # w < 0: flip the sign of μ_k
            dim = bundle.attribute_names.index(attribute)
            model.encoder.mu.weight[dim] *= -1
            model.encoder.mu.bias[dim] *= -1
    return bundle


def test_attention_peak_lands_on_the_infarct_in_ras(logic, scene) -> None:
    import slicer

    volume, segmentation = logic.generateSyntheticSample(seed=5)
    logic.analyze(volume, segmentation, SEGMENTS)
    attribute = "infarct_size_pct"
    _bright_spot_model(logic.bundle, attribute, logic.analyses[volume.GetID()].prepared)
    nodes = logic.showAttention([attribute], method="gradcam", layer="conv1", threshold=0.3,
                                volumeRenderingLogic=scene[1].volume_rendering)
    heat = nodes[attribute]
    np.testing.assert_allclose(_ijk_to_ras(heat), _ijk_to_ras(volume), atol=1e-9)
    heat_array = slicer.util.arrayFromVolume(heat)
    peak_ijk = np.array(np.unravel_index(np.argmax(heat_array), heat_array.shape)[::-1], float)
    peak_ras = (_ijk_to_ras(heat) @ np.append(peak_ijk, 1.0))[:3]

    infarct = sitk.GetArrayFromImage(mrml.labels_from_segmentation(segmentation, volume, {3: "Infarct"})) == 3
    infarct_ijk = np.argwhere(infarct)[:, ::-1].astype(float)  # (N, 3) i, j, k
    peak_in_volume = (np.linalg.inv(_ijk_to_ras(volume)) @ np.append(peak_ras, 1.0))[:3]
    assert np.abs(infarct_ijk - peak_in_volume).max(axis=1).min() <= 2.0  # within 2 voxels of an infarct voxel
    composite = scene[0].GetNodesByClass("vtkMRMLSliceCompositeNode")
    assert all(composite.GetItemAsObject(i).GetForegroundVolumeID() == heat.GetID()
               for i in range(composite.GetNumberOfItems()))
    assert heat.GetDisplayNode().GetColorNode().GetName() == mrml.HEAT_TABLE_NAME


def test_showing_a_map_brings_back_the_anatomy_the_user_deleted_or_hid(logic, scene) -> None:
    """The input's LV surfaces around a shown map, and the 3D view aimed at them, even after the user deleted
    the anatomy node or hid it; the map's legend and rendering follow the shown map."""
    import slicer

    mrml_scene, logics = scene
    volume, segmentation = logic.generateSyntheticSample(seed=5)
    logic.analyze(volume, segmentation, SEGMENTS)
    maps = logic.showAttention(["lv_volume_ml", "wall_thickness_mm"], volumeRenderingLogic=logics.volume_rendering)
    mrml_scene.RemoveNode(mrml_scene.GetFirstNodeByName("AttriVAE anatomy"))
    camera = mrml_scene.GetFirstNodeByClass("vtkMRMLCameraNode")
    camera.SetFocalPoint(500.0, 500.0, 500.0)

    def anatomy_node():
        nodes = mrml_scene.GetNodesByClass("vtkMRMLSegmentationNode")
        [node] = [nodes.GetItemAsObject(i) for i in range(nodes.GetNumberOfItems())
                  if nodes.GetItemAsObject(i).GetAttribute(mrml.ROLE) == "anatomy"]
        return node

    for hide in (False, True):
        if hide:
            anatomy_node().GetDisplayNode().SetVisibility(False)
        logic.showAttentionMap(maps["wall_thickness_mm"], logics.volume_rendering)
        anatomy = anatomy_node()
        assert anatomy.GetSegmentation().GetNumberOfSegments() == 2 and anatomy.GetDisplayNode().GetVisibility()
        bounds = np.zeros(6)
        anatomy.GetRASBounds(bounds)
        np.testing.assert_allclose(camera.GetFocalPoint(), (bounds[0::2] + bounds[1::2]) / 2, atol=1e-6)
    for name, node in maps.items():
        shown = name == "wall_thickness_mm"
        assert slicer.vtkSlicerColorLogic.GetColorLegendDisplayNode(node).GetVisibility() == shown
        assert logics.volume_rendering.GetFirstVolumeRenderingDisplayNode(node).GetVisibility() == shown


def test_attention_for_all_attributes_is_deterministic_signed_and_inside_the_lv(logic) -> None:
    import slicer

    volume, segmentation = logic.generateSyntheticSample(seed=6)
    logic.analyze(volume, segmentation, SEGMENTS)
    first = {name: slicer.util.arrayFromVolume(node).copy() for name, node in logic.showAttention().items()}
    second = logic.showAttention()
    assert list(first) == logic.attributeNames()
    for name, node in second.items():
        np.testing.assert_array_equal(slicer.util.arrayFromVolume(node), first[name])
        assert node.GetDisplayNode().GetColorNode().GetName() == mrml.DIVERGING_TABLE_NAME  # the default is signed
    lv = sitk.GetArrayFromImage(mrml.labels_from_segmentation(segmentation, volume, {1: "LV cavity", 2: "Myocardium",
                                                                                        3: "Infarct"})) > 0
    far = ~ndimage.binary_dilation(lv, iterations=3)  # resampling from the cube spreads a map by about a cube voxel
    for values in first.values():
        assert values.min() < 0 < values.max() and np.abs(values[far]).sum() < 0.01 * np.abs(values).sum()


def test_explore_traversal_and_interpolation(logic, scene) -> None:
    import slicer

    volume, segmentation = logic.generateSyntheticSample(seed=7)
    other, other_segmentation = logic.generateSyntheticSample(seed=8)
    encoded = logic.analyze(volume, segmentation, SEGMENTS)["encoded"]
    name = "lv_volume_ml"
    low, high, unit = logic.attributeRanges()[name]
    assert unit == "mL" and low < high

    explored = logic.explore({name: high})
    np.testing.assert_allclose(_ijk_to_ras(explored), _ijk_to_ras(volume), atol=1e-9)
    assert logic.lastUpdateSeconds > 0
    difference = scene[0].GetFirstNodeByName("AttriVAE explore difference")
    own = sitk.GetArrayFromImage(logic.analyses[volume.GetID()].reconstruction)
    np.testing.assert_allclose(slicer.util.arrayFromVolume(difference), slicer.util.arrayFromVolume(explored) - own,
                               atol=1e-6)
    assert np.abs(slicer.util.arrayFromVolume(difference)).max() > 0
    assert difference.GetDisplayNode().GetColorNode().GetName() == mrml.DIVERGING_TABLE_NAME
    large = slicer.util.arrayFromVolume(explored).copy()
    assert logic.explore({name: low}) is explored
    assert not np.array_equal(slicer.util.arrayFromVolume(explored), large)
    with pytest.warns(UserWarning, match=r"cannot be drawn \(the training range is"):
        logic.explore({name: high * 10})
    assert logic.lastExplore["drawn"][name] <= high and "cannot be drawn" in logic.lastExplore["notes"][0]
    assert logic.resetExplore() == pytest.approx(encoded)

    sequence, browser = logic.exportTraversal(name, 5, scene[1].sequences)
    assert sequence.GetNumberOfDataNodes() == 5 and sequence.GetIndexUnit() == "mL"
    values = [float(sequence.GetNthIndexValue(i)) for i in range(5)]
    assert values == pytest.approx(np.linspace(low, high, 5).tolist(), rel=1e-5)  # the values asked for
    np.testing.assert_allclose(_ijk_to_ras(sequence.GetNthDataNode(0)), _ijk_to_ras(volume), atol=1e-9)
    frames = [slicer.util.arrayFromVolume(sequence.GetNthDataNode(i)) for i in (0, 4)]
    assert not np.array_equal(*frames)

    with pytest.raises(ValueError, match="analyse both volumes first: " + other.GetName()):
        logic.interpolate(volume, other, 4, scene[1].sequences)
    with pytest.raises(ValueError, match="choose the two volumes"):
        logic.interpolate(volume, None, 4, scene[1].sequences)
    logic.analyze(other, other_segmentation, SEGMENTS)
    sequence, _ = logic.interpolate(volume, other, 4, scene[1].sequences)
    assert sequence.GetNumberOfDataNodes() == 4
    analysis = logic.analyses[volume.GetID()]
    np.testing.assert_allclose(slicer.util.arrayFromVolume(sequence.GetNthDataNode(0)),
                               sitk.GetArrayFromImage(analysis.reconstruction), atol=1e-6)


def test_scene_save_and_reload_keeps_outputs(logic, scene, tmp_path: Path) -> None:
    import slicer

    volume, segmentation = logic.generateSyntheticSample(seed=9)
    result = logic.analyze(volume, segmentation, SEGMENTS)
    heat = logic.showAttention(["lv_volume_ml"])["lv_volume_ml"]
    expected = {node.GetName(): slicer.util.arrayFromVolume(node).copy()
                for node in (volume, result["reconstruction"], heat)}
    reloaded = _reload(_save_scene(scene[0], tmp_path))
    for name, array in expected.items():
        node = reloaded.GetFirstNodeByName(name)
        np.testing.assert_allclose(slicer.util.arrayFromVolume(node), array, atol=1e-6)
    recon = reloaded.GetFirstNodeByName(result["reconstruction"].GetName())
    assert recon.GetAttribute(mrml.ROLE) == "reconstruction"
    table = reloaded.GetFirstNodeByName("AttriVAE attributes")
    assert table.GetNumberOfRows() == len(logic.attributeNames()) + 1
    reloaded.Clear(1)


def _folder_contents(scene, folder: int) -> dict[str, object]:
    """{role: data node} of the subject-hierarchy items under ``folder``."""
    import slicer
    import vtk

    hierarchy = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(scene)
    items = vtk.vtkIdList()
    hierarchy.GetItemChildren(folder, items)
    nodes = [hierarchy.GetItemDataNode(items.GetId(i)) for i in range(items.GetNumberOfIds())]
    return {node.GetAttribute(mrml.ROLE) or node.GetName(): node for node in nodes}


def _folder_of(node) -> int:
    import slicer

    hierarchy = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(node.GetScene())
    return hierarchy.GetItemParent(hierarchy.GetItemByDataNode(node))


def test_results_per_input_and_model_in_folders_that_survive_a_reload(logic, scene, tiny_run: Path,
                                                                     tmp_path: Path) -> None:
    import hashlib

    import slicer

    from AttriVAELib.modelfile.bundle import save_model

    a, a_segmentation = logic.generateSyntheticSample(seed=11)
    b, b_segmentation = logic.generateSyntheticSample(seed=12)
    first = logic.analyze(a, a_segmentation, SEGMENTS)
    logic.showAttention(["lv_volume_ml"], "gradcam", "conv1", 0.3)
    logic.explore({})
    logic.showExploredAnatomy()
    logic.exportTraversal("lv_volume_ml", 3, scene[1].sequences)
    hierarchy = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(scene[0])
    folder_a = _folder_of(first["reconstruction"])
    outputs_a = _folder_contents(scene[0], folder_a)
    roles = {"reconstruction", "attributes", "anatomy", "attention lv_volume_ml", "explore", "explore difference",
             "explore anatomy", "traversal", "traversal browser"}
    assert roles <= set(outputs_a) and folder_a != hierarchy.GetSceneItemID()
    assert hierarchy.GetItemName(folder_a) == f"AttriVAE: {a.GetName()} (model.safetensors)"
    sha256 = hashlib.sha256((tiny_run / "model.safetensors").read_bytes()).hexdigest()
    assert hierarchy.GetItemAttribute(folder_a, mrml.MODEL_SHA256) == sha256
    for role in roles:
        assert outputs_a[role].GetAttribute(mrml.MODEL_SHA256) == sha256, role
        assert outputs_a[role].GetNodeReferenceID(mrml.INPUT_REFERENCE) == a.GetID(), role
    attention = outputs_a["attention lv_volume_ml"]
    assert [attention.GetAttribute(k) for k in (mrml.METHOD, mrml.LAYER, mrml.THRESHOLD)] == ["gradcam", "conv1",
                                                                                            "0.3"]
    a_reconstruction = slicer.util.arrayFromVolume(first["reconstruction"]).copy()

    nodes_before = _scene_ids(scene[0])  # the same input again: its own outputs are replaced, nothing added
    assert logic.analyze(a, a_segmentation, SEGMENTS)["reconstruction"] is first["reconstruction"]
    assert _scene_ids(scene[0]) == nodes_before
    second = logic.analyze(b, b_segmentation, SEGMENTS)  # another input: both kept, each in its folder
    assert second["reconstruction"] is not first["reconstruction"] and second["table"] is not first["table"]
    np.testing.assert_array_equal(slicer.util.arrayFromVolume(first["reconstruction"]), a_reconstruction)
    folder_b = _folder_of(second["reconstruction"])
    assert folder_b not in (folder_a, hierarchy.GetSceneItemID())
    assert _folder_contents(scene[0], folder_b)["reconstruction"] is second["reconstruction"]

    bundle = logic.bundle  # another model on the same input: its own outputs and folder
    with torch.no_grad():
        bundle.model.decoder.head.bias.add_(0.5)
    other_model = tmp_path / "other.safetensors"
    save_model(other_model, bundle.model, bundle.card)
    logic.loadModel(other_model)
    third = logic.analyze(a, a_segmentation, SEGMENTS)
    assert third["reconstruction"] is not first["reconstruction"]
    folder_c = _folder_of(third["reconstruction"])
    assert folder_c not in (folder_a, folder_b)
    assert hierarchy.GetItemName(folder_c) == f"AttriVAE: {a.GetName()} (other.safetensors)"

    reloaded = _reload(_save_scene(scene[0], tmp_path))
    recon = reloaded.GetFirstNodeByName(first["reconstruction"].GetName())
    reloaded_a = reloaded.GetFirstNodeByName(a.GetName())
    assert recon.GetNodeReferenceID(mrml.INPUT_REFERENCE) == reloaded_a.GetID()
    source = mrml.Source(reloaded_a, sha256, "model.safetensors")
    assert mrml.output_node(reloaded, "reconstruction", "x", source=source) is recon  # found again, not remade
    contents = _folder_contents(reloaded, _folder_of(recon))
    assert roles <= set(contents)
    attention = contents["attention lv_volume_ml"]
    assert [attention.GetAttribute(k) for k in (mrml.METHOD, mrml.LAYER, mrml.THRESHOLD, mrml.MODEL_SHA256)] == [
        "gradcam", "conv1", "0.3", sha256]
    reloaded.Clear(1)


def _save_scene(scene, folder: Path) -> Path:
    """Save as Slicer's "Save scene" does: every storable node's data through its storage node, then the .mrml.
    (``WriteToMRB`` works in slicer-core but reading an .mrb needs Slicer's data IO manager.)"""
    for index in range(scene.GetNumberOfNodes()):
        node = scene.GetNthNode(index)
        if not node.IsA("vtkMRMLStorableNode") or (node.GetStorageNode() is None and not node.AddDefaultStorageNode()):
            continue
        storage = node.GetStorageNode()
        if storage is not None and not storage.GetFileName():  # None: its data lives in the .mrml (a camera)
            storage.SetFileName(str(folder / f"{node.GetID()}.{storage.GetDefaultWriteFileExtension()}"))
            assert storage.WriteData(node), node.GetName()
    scene.SetRootDirectory(str(folder))
    scene.SetURL(str(folder / "scene.mrml"))
    assert scene.Commit()
    return folder / "scene.mrml"


def _reload(scene_file: Path):
    """Open a saved scene as Slicer does, in a new scene with Slicer's module logics (``slicer.mrmlScene``)."""
    reloaded, _ = slicer_scene()
    reloaded.SetURL(str(scene_file))
    assert reloaded.Import()
    return reloaded


@pytest.mark.parametrize("case, message", [
    ("no volume", "no input volume selected"),
    ("no segmentation", "no LV segmentation selected"),
    ("wrong segment", "no segment named 'Scar'"),
    ("2D volume", "at least 2 voxels"),
    ("4D volume", "components"),
    ("grid mismatch", "do not share one voxel grid"),
])
def test_bad_inputs_fail_with_one_line_and_change_nothing(logic, scene, case: str, message: str) -> None:
    import slicer

    volume, segmentation = logic.generateSyntheticSample(seed=10)
    args = {"volumeNode": volume, "segmentationNode": segmentation, "segments": SEGMENTS}
    if case == "no volume":
        args["volumeNode"] = None
    elif case == "no segmentation":
        args["segmentationNode"] = None
    elif case == "wrong segment":
        args["segments"] = {**SEGMENTS, "infarct": "Scar"}
    elif case in ("2D volume", "4D volume"):
        shape, class_name = ((1, 30, 30), "vtkMRMLScalarVolumeNode") if case == "2D volume" else \
            ((5, 30, 30, 4), "vtkMRMLVectorVolumeNode")
        args["volumeNode"] = slicer.util.addVolumeFromArray(np.ones(shape, np.float32), np.eye(4), "bad", class_name)
    else:
        labelmap = slicer.util.addVolumeFromArray(np.ones((4, 10, 10), np.int16), np.eye(4), "small",
                                                  "vtkMRMLLabelMapVolumeNode")
        args.update(segmentationNode=None, labelMapNode=labelmap)
    ids, state = _scene_ids(scene[0]), _volume_state(volume)
    with pytest.raises((InvalidVolumeError, ValueError), match=message) as error:
        logic.analyze(**args)
    assert "\n" not in str(error.value)
    assert _scene_ids(scene[0]) == ids and _volume_state(volume)[0] == state[0]


def test_bad_model_file_keeps_the_current_model(logic, tmp_path: Path) -> None:
    current = logic.bundle
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"not a model")
    with pytest.raises(InvalidModelError):
        logic.loadModel(broken)
    assert logic.bundle is current


def test_without_torch_or_the_pytorch_extension_nothing_is_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util
    import sys

    import slicer

    from AttriVAELib.slicer import dependencies

    module = load_module()
    monkeypatch.setattr(dependencies, "installed_version", lambda name: None)
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "PyTorchUtils" else real_find_spec(name, *a))
    monkeypatch.delitem(sys.modules, "PyTorchUtils", raising=False)
    asked: list = []
    monkeypatch.setattr(slicer.util, "confirmOkCancelDisplay", lambda *a, **k: asked.append(a), raising=False)
    with pytest.raises(dependencies.DependencyError, match="needs the PyTorch extension"):
        module.AttriVAELogic.ensureDependencies()
    assert asked == []


def test_slicer_installer_asks_once_installs_torch_by_the_extension_and_pins_it_for_pip(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole path with Slicer's installers recorded: torch absent, the user confirms once, the PyTorch
    extension installs torch without a second question, pip gets the missing requirements with the installed
    torch as a constraint (slicer.packaging from Slicer 5.12; slicer.util.pip_install before)."""
    import importlib.machinery
    import sys
    import types

    import slicer

    from AttriVAELib.slicer import dependencies

    module = load_module()
    versions: dict = {}
    monkeypatch.setattr(dependencies, "installed_version", versions.get)
    questions: list = []
    monkeypatch.setattr(slicer.util, "confirmOkCancelDisplay",
                        lambda text, **options: questions.append((text, options)) or True, raising=False)
    torch_calls: list = []

    class PyTorchUtilsLogic:
        def installTorch(self, askConfirmation: bool, torchVersionRequirement: str):
            torch_calls.append((askConfirmation, torchVersionRequirement))
            versions["torch"] = "2.13.0+cpu"
            return types.SimpleNamespace(__version__="2.13.0+cpu")

    extension = types.ModuleType("PyTorchUtils")  # a module as Slicer imports it, with its spec
    extension.__spec__ = importlib.machinery.ModuleSpec("PyTorchUtils", None)
    extension.PyTorchUtilsLogic = PyTorchUtilsLogic
    monkeypatch.setitem(sys.modules, "PyTorchUtils", extension)
    ensured: list = []

    def pip_ensure(requirements, constraints, **options):
        ensured.append((requirements, Path(constraints).read_text(), options))
        versions.update({line.split(">=")[0]: line.split(">=")[1] for line in requirements})

    monkeypatch.setitem(sys.modules, "slicer.packaging", types.SimpleNamespace(pip_ensure=pip_ensure))
    module.AttriVAELogic.ensureDependencies()
    [(question, options)] = questions
    assert "PyTorch >= 2.3" in question and all(line in question for line in module.requirementLines())
    assert torch_calls == [(False, ">=2.3")]
    assert ensured == [(module.requirementLines(), "torch==2.13.0+cpu\n",
                        {"prompt_install": False, "requester": "AttriVAE"})]
    assert module.dependenciesAvailable()

    versions.clear()
    versions["torch"] = "2.13.0+cpu"
    monkeypatch.setitem(sys.modules, "slicer.packaging", None)  # Slicer < 5.12
    installed: list = []

    def pip_install(arguments):
        installed.append((arguments, Path(arguments[-1]).read_text()))
        versions.update({line.split(">=")[0]: line.split(">=")[1] for line in arguments[:-2]})

    monkeypatch.setattr(slicer.util, "pip_install", pip_install, raising=False)
    module.AttriVAELogic.ensureDependencies(askConfirmation=False)
    [(arguments, constraint)] = installed
    assert arguments[:-1] == [*module.requirementLines(), "-c"] and constraint == "torch==2.13.0+cpu\n"
    assert len(questions) == 1  # not asked again


def test_training_from_the_logic_with_progress_and_model(logic, scene, tiny_cohort: Path, tmp_path: Path) -> None:
    logic.startTraining(tiny_cohort, "csv", "", "paper", 2, "cpu", tmp_path / "run", size=16, augment=0.5)
    with pytest.raises(RuntimeError, match="already running"):
        logic.startTraining(tiny_cohort, "csv", "", "paper", 2, "cpu", tmp_path / "run2", size=16)
    status = _poll_until(logic, lambda s: s.finished)
    assert status.error is None and status.fraction == 1.0 and not status.cancelled
    assert Path(status.model).is_file() and len(logic.trainingMonitor.epochs) == 2
    assert json.loads((tmp_path / "run" / "config.json").read_text())["train"]["augment_probability"] == 0.5
    chart = logic.trainingChart
    assert chart is scene[0].GetFirstNodeByName("AttriVAE loss chart") and chart.GetNumberOfPlotSeriesNodes() == 2
    assert chart.GetNthPlotSeriesNode(0).GetTableNode().GetNumberOfRows() == 2
    logic.loadModel(status.model)
    assert logic.bundle.card.training.epochs == 2


def test_training_errors_and_cancel_reach_the_panel(logic, tiny_cohort: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        logic.startTraining(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    logic.startTraining(tmp_path / "empty", outputFolder=tmp_path / "run", epochs=1)
    status = _poll_until(logic, lambda s: s.finished)
    assert status.error and "\n" not in status.error and not status.cancelled

    logic.startTraining(tiny_cohort, "csv", "", "paper", 500, "cpu", tmp_path / "long", size=16)
    _poll_until(logic, lambda s: s.new_epochs > 0)
    logic.cancelTraining()
    status = _poll_until(logic, lambda s: s.finished)
    assert status.cancelled and status.error is None and "resume" in status.message
    assert (tmp_path / "long" / "checkpoint.safetensors").is_file()


def _poll_until(logic, condition, timeout_s: float = 300):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = logic.pollTraining()
        if condition(status):
            return status
        time.sleep(0.2)
    raise AssertionError("training did not reach the expected state in time")


@pytest.mark.slow
def test_the_in_slicer_self_test_passes_on_real_mrml(scene, monkeypatch: pytest.MonkeyPatch) -> None:
    """AttriVAETest (what `Slicer --testing` runs) with slicer.modules standing in for Slicer's module list."""
    import types

    import slicer

    module = load_module()
    slicer.app.layoutManager()  # Slicer's slice views exist before any test runs
    monkeypatch.setattr(module.AttriVAELogic, "ensureDependencies", staticmethod(lambda askConfirmation=True: None))
    mrml_scene, logics = scene
    monkeypatch.setattr(slicer, "modules", types.SimpleNamespace(
        attrivae=object(), volumerendering=types.SimpleNamespace(logic=lambda: logics.volume_rendering),
        sequences=types.SimpleNamespace(logic=lambda: logics.sequences)), raising=False)
    module.AttriVAETest().runTest()
    assert mrml_scene.GetFirstNodeByName("AttriVAE traversal lv_volume_ml") is not None


def test_explore_with_a_trained_model_lands_on_the_decoded_anatomy_and_shows_it(scene, monkeypatch) -> None:
    """The shipped model: a slider request is drawn by the decoded anatomy (measured beside it), a request
    beyond what the decoder draws is clamped and said so, and the decoded anatomy follows the slider as outlines
    in the slice views and surfaces in 3D."""
    import slicer

    from AttriVAELib.data.decoded import DECODED_LABELS

    module = load_module()
    monkeypatch.setattr(module.AttriVAELogic, "ensureDependencies", staticmethod(lambda askConfirmation=True: None))
    logic = module.AttriVAELogic()
    logic.loadModel()
    volume, segmentation = logic.generateSyntheticSample(seed=3)
    logic.analyze(volume, segmentation, SEGMENTS)
    name = "myo_max_diameter_mm"
    low, high, _unit = logic.attributeRanges()[name]
    response = logic.analyses[volume.GetID()].responses[name]
    reachable = response.reachable
    asked = (max(low, reachable[0]) + min(high, reachable[1])) / 2
    logic.explore({name: asked})
    shown = logic.showExploredAnatomy()
    assert logic.lastExplore["shown"] is shown
    assert logic.lastExplore["drawn"][name] == pytest.approx(asked) and not logic.lastExplore["notes"]
    assert shown[name] == pytest.approx(asked, abs=0.05 * (high - low))  # the anatomy shows what was asked
    assert set(shown) == {"lv_volume_ml", "myo_volume_ml", "wall_thickness_mm", "lv_sphericity", name}

    anatomy = scene[0].GetFirstNodeByName("AttriVAE explore anatomy")
    display = anatomy.GetDisplayNode()
    assert display.GetVisibility3D() and display.GetVisibility2DOutline() and not display.GetVisibility2DFill()
    segments = anatomy.GetSegmentation()
    assert sorted(segments.GetNthSegment(i).GetName() for i in range(segments.GetNumberOfSegments())) == sorted(
        DECODED_LABELS.values())
    assert segments.ContainsRepresentation("Closed surface")
    surface = slicer.vtkPolyData() if hasattr(slicer, "vtkPolyData") else __import__("vtk").vtkPolyData()
    anatomy.GetClosedSurfaceRepresentation(segments.GetNthSegmentID(0), surface)
    first_points = surface.GetNumberOfPoints()
    assert first_points > 0

    with pytest.warns(UserWarning, match="cannot be drawn"):
        logic.explore({name: high * 2})
    logic.showExploredAnatomy()
    assert logic.lastExplore["drawn"][name] <= min(high, reachable[1]) + 1e-9
    surface_after = __import__("vtk").vtkPolyData()
    anatomy.GetClosedSurfaceRepresentation(segments.GetNthSegmentID(0), surface_after)
    assert surface_after.GetNumberOfPoints() != first_points  # the surfaces follow the slider
    assert (slicer.util.arrayFromVolume(volume) >= 0).all()  # the input is untouched (its own test checks bytes)
