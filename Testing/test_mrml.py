"""The MRML bridge against real MRML (slicer-core): geometry, segmentations, outputs, sequences, tables, charts."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from conftest import ellipsoid_labels, make_image, ras_matrix

from AttriVAELib.errors import InvalidVolumeError
from AttriVAELib.slicer import mrml


def _ijk_to_ras(node) -> np.ndarray:
    import slicer
    import vtk

    matrix = vtk.vtkMatrix4x4()
    node.GetIJKToRASMatrix(matrix)
    return slicer.util.arrayFromVTKMatrix(matrix)


def _add_volume(image: sitk.Image, name: str, class_name: str = "vtkMRMLScalarVolumeNode"):
    import slicer

    return slicer.util.addVolumeFromArray(sitk.GetArrayFromImage(image), ras_matrix(image), name, class_name)


def _oblique_subject() -> tuple[sitk.Image, sitk.Image]:
    labels = ellipsoid_labels()
    image = make_image((labels * 100.0 + 10.0).astype(np.float32))
    return image, make_image(labels)


def test_volume_round_trip_keeps_oblique_anisotropic_geometry(scene) -> None:
    mri, _ = _oblique_subject()
    node = _add_volume(mri, "mri")
    image = mrml.image_from_volume(node)
    assert image.GetSize() == mri.GetSize()
    np.testing.assert_allclose(image.GetSpacing(), mri.GetSpacing(), atol=1e-9)
    np.testing.assert_allclose(image.GetOrigin(), mri.GetOrigin(), atol=1e-9)
    np.testing.assert_allclose(image.GetDirection(), mri.GetDirection(), atol=1e-9)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(image), sitk.GetArrayFromImage(mri))

    output = mrml.set_volume_image(mrml.output_node(scene[0], "reconstruction", "recon"), image)
    np.testing.assert_allclose(_ijk_to_ras(output), _ijk_to_ras(node), atol=1e-9)
    assert output.GetDisplayNode() is not None


def test_output_nodes_are_reused_by_role_and_recreated_when_deleted(scene) -> None:
    mrml_scene = scene[0]
    first = mrml.output_node(mrml_scene, "reconstruction", "AttriVAE reconstruction")
    assert mrml.output_node(mrml_scene, "reconstruction", "AttriVAE reconstruction") is first
    assert mrml.output_node(mrml_scene, "attention", "AttriVAE attention") is not first
    mrml_scene.RemoveNode(first)
    again = mrml.output_node(mrml_scene, "reconstruction", "AttriVAE reconstruction")
    assert again is not first and again.GetAttribute(mrml.ROLE) == "reconstruction"


def _folder_of(node) -> int:
    import slicer

    hierarchy = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(node.GetScene())
    return hierarchy.GetItemParent(hierarchy.GetItemByDataNode(node))


def test_outputs_of_a_source_are_its_own_and_share_its_folder(scene) -> None:
    import slicer

    mrml_scene = scene[0]
    hierarchy = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(mrml_scene)
    a, b = (_add_volume(_oblique_subject()[0], name) for name in ("a", "b"))
    from_a, from_b = mrml.Source(a, "1" * 64, "m.safetensors"), mrml.Source(b, "1" * 64, "m.safetensors")
    other_model = mrml.Source(a, "2" * 64, "n.safetensors")
    global_node = mrml.output_node(mrml_scene, "reconstruction", "r")
    recon_a = mrml.output_node(mrml_scene, "reconstruction", "r", source=from_a)
    assert recon_a is not global_node and mrml.output_node(mrml_scene, "reconstruction", "r") is global_node
    assert mrml.output_node(mrml_scene, "reconstruction", "r", source=from_a) is recon_a
    recon_b = mrml.output_node(mrml_scene, "reconstruction", "r", source=from_b)
    recon_other = mrml.output_node(mrml_scene, "reconstruction", "r", source=other_model)
    assert len({recon_a.GetID(), recon_b.GetID(), recon_other.GetID()}) == 3
    assert recon_a.GetNodeReferenceID(mrml.INPUT_REFERENCE) == a.GetID()
    assert recon_other.GetAttribute(mrml.MODEL_SHA256) == "2" * 64

    tables = mrml.set_table(mrml_scene, "attributes", "t", {"x": [1.0]}, from_a)
    folders = {_folder_of(node) for node in (recon_a, recon_b, recon_other, tables)}
    assert len(folders) == 3 and _folder_of(tables) == _folder_of(recon_a) == mrml.results_folder(mrml_scene, from_a)
    assert hierarchy.GetItemName(_folder_of(recon_b)) == "AttriVAE: b (m.safetensors)"
    assert hierarchy.GetItemAttribute(_folder_of(recon_other), mrml.MODEL_SHA256) == "2" * 64
    assert _folder_of(global_node) == hierarchy.GetSceneItemID()  # Slicer put it at the top; it stays there


def test_outputs_join_their_folder_in_bare_mrml_too() -> None:
    """Without Slicer's GUI no plugin gives a new node a subject-hierarchy item: the bridge makes it."""
    import slicer

    bare = slicer.vtkMRMLScene()
    slicer.mrmlScene = bare
    try:
        volume = _add_volume(_oblique_subject()[0], "a")
        source = mrml.Source(volume, "4" * 64, "m.safetensors")
        node = mrml.output_node(bare, "reconstruction", "r", source=source)
        hierarchy = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(bare)
        assert _folder_of(node) == mrml.results_folder(bare, source) != hierarchy.GetSceneItemID()
    finally:
        bare.Clear(1)


def test_attention_maps_are_tagged_and_one_is_shown_with_its_legend(scene) -> None:
    mrml_scene, logics = scene
    background = _add_volume(_oblique_subject()[0], "mri")
    source = mrml.Source(background, "3" * 64, "m.safetensors")
    values = np.linspace(-1, 1, 4 * 8 * 8, dtype=np.float32).reshape(4, 8, 8)
    maps = {"lv": make_image(values), "wall": make_image(-values)}
    nodes = mrml.set_attention(mrml_scene, maps, "gradient-x-input", "conv5", 0.25, source)
    for name, node in nodes.items():
        assert [node.GetAttribute(k) for k in (mrml.METHOD, mrml.LAYER, mrml.THRESHOLD, mrml.MODEL_SHA256)] == [
            "gradient-x-input", "conv5", "0.25", "3" * 64]
        assert node.GetDisplayNode().GetColorNode().GetName() == mrml.DIVERGING_TABLE_NAME
        legend = logics.colors.GetColorLegendDisplayNode(node)
        assert legend.GetTitleText() == f"{name}\ngradient-x-input, share of peak" and not legend.GetVisibility()

    composites = []
    for view in ("Red", "Yellow", "Green"):  # the slice views' layers, as Slicer's views have them
        composites.append(mrml_scene.AddNewNodeByClass("vtkMRMLSliceCompositeNode"))
        composites[-1].SetLayoutName(view)
    mrml.show_attention_map(nodes["lv"], background, logics.volume_rendering)
    assert [(c.GetBackgroundVolumeID(), c.GetForegroundVolumeID()) for c in composites] == [
        (background.GetID(), nodes["lv"].GetID())] * 3
    assert logics.colors.GetColorLegendDisplayNode(nodes["lv"]).GetVisibility()
    assert logics.volume_rendering.GetFirstVolumeRenderingDisplayNode(nodes["lv"]).GetVisibility()
    mrml.show_attention_map(nodes["wall"], background, logics.volume_rendering)  # the earlier one is hidden
    assert not logics.colors.GetColorLegendDisplayNode(nodes["lv"]).GetVisibility()
    assert not logics.volume_rendering.GetFirstVolumeRenderingDisplayNode(nodes["lv"]).GetVisibility()
    wall = logics.volume_rendering.GetFirstVolumeRenderingDisplayNode(nodes["wall"])
    assert wall.GetVisibility() and logics.colors.GetColorLegendDisplayNode(nodes["wall"]).GetVisibility()
    scale = nodes["wall"].GetDisplayNode().GetWindowLevelMax()  # rendered at the slice display's scale
    assert wall.GetVolumePropertyNode().GetScalarOpacity().GetValue(scale) == pytest.approx(0.8)


def test_anatomy_surfaces_and_the_3d_view_aimed_at_them(scene) -> None:
    from AttriVAELib.data.labels import EMIDEC_SCHEME

    mrml_scene = scene[0]
    image, labels = _oblique_subject()
    anatomy = mrml.set_anatomy(mrml_scene, labels, EMIDEC_SCHEME)
    segmentation = anatomy.GetSegmentation()
    assert sorted(segmentation.GetNthSegment(i).GetName() for i in range(segmentation.GetNumberOfSegments())) == [
        "LV cavity", "Myocardium"]
    display = anatomy.GetDisplayNode()
    assert display.GetVisibility3D() and not display.GetVisibility2D()
    assert display.GetOpacity3D() == pytest.approx(mrml.ANATOMY_OPACITY)

    camera = mrml_scene.GetFirstNodeByClass("vtkMRMLCameraNode")
    mrml.aim_cameras(mrml_scene, anatomy)
    bounds = [0.0] * 6
    anatomy.GetRASBounds(bounds)
    centre = (np.array(bounds[0::2]) + np.array(bounds[1::2])) / 2
    radius = np.linalg.norm(np.array(bounds[1::2]) - np.array(bounds[0::2])) / 2
    np.testing.assert_allclose(camera.GetFocalPoint(), centre, atol=1e-6)
    offset = np.array(camera.GetPosition()) - centre
    assert offset / np.linalg.norm(offset) == pytest.approx([0.0, 1.0, 0.0])  # still from the front
    half_angle = np.degrees(np.arcsin(radius / np.linalg.norm(offset)))
    assert half_angle == pytest.approx(camera.GetViewAngle() / 2)  # the heart's bounds fill the view, not a speck


def test_segments_rasterise_onto_the_reference_grid(scene) -> None:
    mri, labels = _oblique_subject()
    volume = _add_volume(mri, "mri")
    segmentation = mrml.add_segmentation(scene[0], labels, {1: "LV", 2: "Myo", 3: "Scar"}, volume)
    assert sorted(mrml.segment_names(segmentation)) == ["LV", "Myo", "Scar"]
    assert scene[0].GetNodesByClass("vtkMRMLLabelMapVolumeNode").GetNumberOfItems() == 0  # no helper node left
    nodes_before = scene[0].GetNumberOfNodes()
    result = mrml.labels_from_segmentation(segmentation, volume, {1: "LV", 2: "Myo", 3: "Scar"})
    assert scene[0].GetNumberOfNodes() == nodes_before  # nothing added to the scene
    np.testing.assert_array_equal(sitk.GetArrayFromImage(result), sitk.GetArrayFromImage(labels))
    np.testing.assert_allclose(result.GetOrigin(), mri.GetOrigin(), atol=1e-9)
    merged = mrml.labels_from_segmentation(segmentation, volume, {2: "Myo", 1: "LV"})  # scar left out
    expected = sitk.GetArrayFromImage(labels).astype(np.int32)
    expected[expected == 3] = 0  # "Scar" voxels are not "Myo" voxels: left out, they stay background
    np.testing.assert_array_equal(sitk.GetArrayFromImage(merged), expected)


def test_unknown_segment_name_says_which_segments_exist(scene) -> None:
    mri, labels = _oblique_subject()
    volume = _add_volume(mri, "mri")
    segmentation = mrml.add_segmentation(scene[0], labels, {1: "LV", 2: "Myo", 3: "Scar"}, volume)
    with pytest.raises(InvalidVolumeError, match="no segment named 'Cavity'.*'LV'"):
        mrml.labels_from_segmentation(segmentation, volume, {1: "Cavity"})
    with pytest.raises(InvalidVolumeError, match="no segmentation selected"):
        mrml.labels_from_segmentation(None, volume, {1: "LV"})


@pytest.mark.parametrize("array, message", [
    (np.zeros((1, 20, 20), np.float32), "needs at least 2 voxels per axis"),
    (np.zeros((4, 20, 20, 3), np.float32), "3 components"),
    (np.full((4, 20, 20), np.nan, np.float32), "NaN"),
])
def test_unusable_volumes_are_refused(scene, array: np.ndarray, message: str) -> None:
    import slicer

    class_name = "vtkMRMLVectorVolumeNode" if array.ndim == 4 else "vtkMRMLScalarVolumeNode"
    node = slicer.util.addVolumeFromArray(array, np.eye(4), "bad", class_name)
    with pytest.raises(InvalidVolumeError, match=message):
        mrml.image_from_volume(node)
    with pytest.raises(InvalidVolumeError, match="no volume selected"):
        mrml.image_from_volume(None)


def test_label_map_from_a_float_image_must_be_integral(scene) -> None:
    import slicer

    node = slicer.util.addVolumeFromArray(np.full((4, 8, 8), 1.5, np.float32), np.eye(4), "float")
    with pytest.raises(InvalidVolumeError, match="non-integer"):
        mrml.labels_from_labelmap(node)


def test_heat_display_and_volume_rendering(scene) -> None:
    mrml_scene, logics = scene
    heat = make_image(np.linspace(0, 1, 4 * 8 * 8, dtype=np.float32).reshape(4, 8, 8))
    node = mrml.set_volume_image(mrml.output_node(mrml_scene, "attention", "heat"), heat)
    mrml.show_heat(node, threshold=0.3)
    display = node.GetDisplayNode()
    table = display.GetColorNode()
    assert table.GetName() == mrml.HEAT_TABLE_NAME and table.GetNumberOfColors() == 256
    assert (display.GetWindow(), display.GetLevel()) == pytest.approx((1.0, 0.5))
    assert display.GetApplyThreshold() and display.GetLowerThreshold() == pytest.approx(0.3)
    np.testing.assert_allclose(table.GetLookupTable().GetTableValue(0)[:3], (0, 0, 0))
    np.testing.assert_allclose(table.GetLookupTable().GetTableValue(255)[:3], (1, 1, 1))
    assert mrml.heat_colour_table(mrml_scene) is table  # one table per scene

    rendering = mrml.show_heat_rendering(logics.volume_rendering, node, threshold=0.3)
    assert rendering.GetVisibility()
    opacity = rendering.GetVolumePropertyNode().GetVolumeProperty().GetScalarOpacity()
    assert opacity.GetValue(0.2) == 0.0 and opacity.GetValue(1.0) == pytest.approx(0.8)
    assert mrml.show_heat_rendering(logics.volume_rendering, node) is rendering


def test_signed_display_is_diverging_and_clear_near_zero(scene) -> None:
    mrml_scene, logics = scene
    signed = make_image(np.linspace(-1, 1, 4 * 8 * 8, dtype=np.float32).reshape(4, 8, 8))
    node = mrml.set_volume_image(mrml.output_node(mrml_scene, "attention", "signed"), signed)
    mrml.show_signed(node, threshold=0.25)
    display = node.GetDisplayNode()
    table = display.GetColorNode()
    assert table.GetName() == mrml.DIVERGING_TABLE_NAME and table.GetNumberOfColors() == 256
    assert (display.GetWindow(), display.GetLevel()) == pytest.approx((2.0, 0.0)) and not display.GetApplyThreshold()
    lookup = table.GetLookupTable()
    np.testing.assert_allclose(lookup.GetTableValue(0), (0.0, 0.0, 1.0, 1.0))  # -1: blue, opaque
    np.testing.assert_allclose(lookup.GetTableValue(255), (1.0, 0.0, 0.0, 1.0))  # +1: red, opaque
    assert lookup.GetTableValue(128)[3] == 0.0 and lookup.GetTableValue(80)[3] == 1.0  # |t| < 0.25 is clear
    mrml.show_signed(node, threshold=0.5)
    assert mrml.diverging_colour_table(mrml_scene, 0.5) is table and table.GetLookupTable().GetTableValue(80)[3] == 0

    rendering = mrml.show_heat_rendering(logics.volume_rendering, node, threshold=0.3, signed=True)
    properties = rendering.GetVolumePropertyNode()
    opacity = properties.GetScalarOpacity()
    assert opacity.GetValue(0.0) == 0.0 and opacity.GetValue(-1.0) == pytest.approx(0.8)
    assert opacity.GetValue(1.0) == pytest.approx(0.8)
    np.testing.assert_allclose(properties.GetColor().GetColor(1.0), (1.0, 0.0, 0.0))
    mrml.show_heat_rendering(logics.volume_rendering, node, threshold=0.3, signed=True, scale=0.5)
    opacity = properties.GetScalarOpacity()  # full strength from ±scale: heavy-tailed maps stay visible
    assert opacity.GetValue(0.5) == pytest.approx(0.8) and opacity.GetValue(0.1) == 0.0


def test_sequence_holds_one_volume_per_step_with_geometry(scene) -> None:
    mrml_scene, logics = scene
    steps = [make_image(np.full((4, 8, 8), value, np.float32)) for value in (0.1, 0.5, 0.9)]
    sequence, browser = mrml.set_sequence(mrml_scene, logics.sequences, "traversal", "LV volume traversal",
                                          steps, [100.0, 140.0, 180.0], "lv_volume_ml", "mL")
    assert sequence.GetNumberOfDataNodes() == 3
    assert [sequence.GetNthIndexValue(i) for i in range(3)] == ["100", "140", "180"]
    assert sequence.GetIndexName() == "lv_volume_ml" and sequence.GetIndexUnit() == "mL"
    import slicer

    frame = sequence.GetNthDataNode(2)
    np.testing.assert_allclose(slicer.util.arrayFromVolume(frame), 0.9)
    np.testing.assert_allclose(_ijk_to_ras(frame), ras_matrix(steps[0]), atol=1e-9)
    proxy = browser.GetProxyNode(sequence)
    assert proxy is not None and proxy.GetImageData() is not None
    again, _ = mrml.set_sequence(mrml_scene, logics.sequences, "traversal", "x", steps[:2], [1, 2], "dim")
    assert again is sequence and sequence.GetNumberOfDataNodes() == 2


def test_table_and_loss_chart(scene) -> None:
    mrml_scene = scene[0]
    table = mrml.set_table(mrml_scene, "attributes", "AttriVAE attributes",
                           {"attribute": ["lv_volume_ml", "ef_pct"], "measured": [120.5, None]})
    assert table.GetNumberOfColumns() == 2 and table.GetNumberOfRows() == 2
    assert table.GetCellText(0, 0) == "lv_volume_ml" and float(table.GetCellText(0, 1)) == 120.5
    assert table.GetCellText(1, 1) == "nan"
    assert mrml.set_table(mrml_scene, "attributes", "x", {"a": [1.0]}) is table and table.GetNumberOfRows() == 1

    rows = [{"epoch": e, "train_total": 10.0 / e, "val_total": 12.0 / e} for e in (1, 2, 3)]
    chart = mrml.set_loss_chart(mrml_scene, rows)
    assert chart.GetNumberOfPlotSeriesNodes() == 2
    series = chart.GetNthPlotSeriesNode(1)
    assert series.GetYColumnName() == "val_total" and series.GetTableNode().GetNumberOfRows() == 3
    rows.append({"epoch": 4, "train_total": 2.0, "val_total": 3.0})
    assert mrml.set_loss_chart(mrml_scene, rows) is chart and chart.GetNumberOfPlotSeriesNodes() == 2
    assert series.GetTableNode().GetNumberOfRows() == 4
