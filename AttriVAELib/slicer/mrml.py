"""MRML bridge: Slicer nodes ↔ SimpleITK images, and the nodes AttriVAE shows its results in.

The only library module that touches Slicer. It imports ``slicer`` lazily (inside functions) and takes
the scene, nodes and module logics as arguments, so it runs in real Slicer and, for tests, against
``slicer-core`` (Kitware's pip build of MRML). It never modifies input nodes.

Geometry: MRML stores IJK → RAS; SimpleITK images are in LPS. Both describe the same voxel grid, so a volume
read here and an output written back share one IJK → RAS exactly. Arrays are (k, j, i) in both.

Output nodes are tagged with the attribute ``AttriVAE.Role`` (saved with the scene); asking for the same
role again returns the same node, so re-analysing updates the outputs instead of piling up new ones. Outputs
of one input volume and model (a :class:`Source`) also carry a node reference to that volume and the model
file's SHA-256, and sit in one subject-hierarchy folder: another input, or another model, gets its own nodes
and folder.
"""

from __future__ import annotations

__all__ = [
    "ANATOMY",
    "DECODED_ANATOMY_COLOURS",
    "EXPLORE_DIFFERENCE_SCALE",
    "INPUT_REFERENCE",
    "LAYER",
    "METHOD",
    "MODEL_SHA256",
    "ROLE",
    "SIGNED_DISPLAY_PERCENTILE",
    "THRESHOLD",
    "Source",
    "add_segmentation",
    "aim_cameras",
    "diverging_colour_table",
    "first_input_volume",
    "heat_colour_table",
    "hide_attention",
    "image_from_volume",
    "labels_from_labelmap",
    "labels_from_segmentation",
    "output_node",
    "results_folder",
    "segment_names",
    "set_anatomy",
    "set_attention",
    "set_loss_chart",
    "set_sequence",
    "set_surfaces",
    "set_table",
    "set_volume_image",
    "show_attention_map",
    "show_difference",
    "show_heat",
    "show_heat_rendering",
    "show_in_slice_views",
    "show_signed",
]

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import SimpleITK as sitk

from ..choices import ATTRIBUTION
from ..data.volumes import as_label_map, check_volume
from ..errors import InvalidVolumeError

ROLE = "AttriVAE.Role"
TRAINING_DATA_NOTICE = "AttriVAE.TrainingDataNotice"
"""Attribute of outputs (and their folder) made by a model that never learned from images like the input's."""
INPUT_REFERENCE = "AttriVAE.input"
"""Node reference role from an output to the input volume it was made from (MRML keeps references through a
scene save and reload, and renames them when an import changes node IDs)."""
MODEL_SHA256 = "AttriVAE.ModelSHA256"
"""Attribute of an output node and of its folder: SHA-256 (hex) of the model file that made it."""
METHOD, LAYER, THRESHOLD = "AttriVAE.Method", "AttriVAE.Layer", "AttriVAE.Threshold"
"""Attributes of an attention map: the attribution method, the layer it was taken at, the display threshold."""
SIGNED_DISPLAY_PERCENTILE = 99.0
"""A signed attention map shows at full colour from this percentile of |value| inside its support (gradient
maps are heavy-tailed: scaled to the peak alone, most of the map would be clear)."""
LEGEND_TITLE = "{attribute}\n{method}, share of peak"
"""Title of an attention map's colour legend: maps are normalised to their own peak (two lines: one would not
fit a slice view)."""
DECODED_ANATOMY_COLOURS = {1: (0.9, 0.2, 0.15), 2: (0.95, 0.85, 0.2)}
"""Colours of the decoded anatomy's segments (:data:`~AttriVAELib.data.decoded.DECODED_LABELS`): bright pool red,
myocardium yellow, as the report's traversal outlines."""
DECODED_ANATOMY_OPACITY_3D = {2: 0.45}
"""3D opacity of decoded segments that would hide others (the myocardium wraps the pool); others opaque."""
ANATOMY = {1: "LV cavity", 2: "Myocardium"}
"""Segments of the input's anatomy shown in 3D for context (:func:`set_anatomy`)."""
ANATOMY_COLOURS = {1: (0.8, 0.35, 0.35), 2: (0.85, 0.75, 0.5)}
ANATOMY_OPACITY = 0.3
EXPLORE_DIFFERENCE_SCALE = 0.25
"""Intensity difference (network intensities are in [0, 1]) shown at full colour in the Explore difference."""
HEAT_TABLE_NAME = "AttriVAE Heat"
DIVERGING_TABLE_NAME = "AttriVAE Diverging"
_LPS_FROM_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])  # its own inverse


def _slicer() -> Any:
    import slicer

    return slicer


def _ijk_to_ras(node: Any) -> np.ndarray:
    import vtk

    matrix = vtk.vtkMatrix4x4()
    node.GetIJKToRASMatrix(matrix)
    return np.array([[matrix.GetElement(r, c) for c in range(4)] for r in range(4)])


def image_from_volume(node: Any, what: str = "volume") -> sitk.Image:
    """A copy of a scalar volume node as a float32 (labelmap: int32) SimpleITK image in LPS.

    Raises:
        InvalidVolumeError: no node, no voxels, a vector (multi-component) volume, not 3D, NaN values.
    """
    name = f"{what} '{node.GetName()}'" if node is not None else what
    if node is None or node.GetImageData() is None:
        raise InvalidVolumeError(f"no {what} selected; choose a volume that holds an image")
    components = node.GetImageData().GetNumberOfScalarComponents()
    if components != 1:
        raise InvalidVolumeError(f"{name} has {components} components (4D or colour); choose a scalar 3D volume")
    array = _slicer().util.arrayFromVolume(node)  # (k, j, i) view on the node's memory: copied below
    labelmap = node.IsA("vtkMRMLLabelMapVolumeNode")
    image = sitk.GetImageFromArray(np.array(array, dtype=np.int32 if labelmap else np.float32))
    lps = _LPS_FROM_RAS @ _ijk_to_ras(node)
    spacing = np.linalg.norm(lps[:3, :3], axis=0)
    image.SetSpacing(spacing.tolist())
    image.SetOrigin(lps[:3, 3].tolist())
    image.SetDirection((lps[:3, :3] / spacing).flatten().tolist())
    check_volume(image, name)
    return image


def labels_from_labelmap(node: Any) -> sitk.Image:
    """A label map (or integer scalar volume) node as an integer label image (LPS)."""
    image = image_from_volume(node, "label map")
    return as_label_map(image, f"label map '{node.GetName()}'")


def segment_names(segmentation: Any) -> list[str]:
    """Names of a segmentation node's segments, in order."""
    segments = segmentation.GetSegmentation()
    return [segments.GetNthSegment(i).GetName() for i in range(segments.GetNumberOfSegments())]


def labels_from_segmentation(segmentation: Any, reference: Any, segments: Mapping[int, str],
                             reference_image: sitk.Image | None = None) -> sitk.Image:
    """Rasterise named segments onto the reference volume's grid as one label image (LPS).

    ``segments`` maps the label value to write to a segment name, e.g. ``{1: "LV cavity", 2: "Myocardium"}``;
    later entries win where segments overlap (so list the myocardium before an infarct inside it).
    ``reference_image``: the reference volume's :func:`image_from_volume` when the caller has made it already.
    Nothing is added to the scene.

    Raises:
        InvalidVolumeError: no segmentation, or a segment name it does not hold.
    """
    from vtk.util.numpy_support import vtk_to_numpy

    slicer = _slicer()
    if segmentation is None:
        raise InvalidVolumeError("no segmentation selected; choose the LV segmentation of the volume")
    reference_image = reference_image or image_from_volume(reference)
    logic = slicer.vtkSlicerSegmentationsModuleLogic
    geometry = logic.CreateOrientedImageDataFromVolumeNode(reference)
    labels = np.zeros(sitk.GetArrayViewFromImage(reference_image).shape, np.int32)
    available = segment_names(segmentation)
    for value, name in segments.items():
        segment_id = segmentation.GetSegmentation().GetSegmentIdBySegmentName(name)
        if not segment_id:
            raise InvalidVolumeError(f"segmentation '{segmentation.GetName()}' has no segment named {name!r}; "
                                     f"its segments are {', '.join(map(repr, available)) or 'none'}")
        shared = slicer.vtkOrientedImageData()
        logic.GetSegmentBinaryLabelmapRepresentation(segmentation, segment_id, shared)
        resampled = slicer.vtkOrientedImageData()
        slicer.vtkOrientedImageDataResample.ResampleOrientedImageToReferenceOrientedImage(
            shared, geometry, resampled, False, True)  # nearest neighbour, padded to the reference extent
        mask = vtk_to_numpy(resampled.GetPointData().GetScalars()).reshape(labels.shape)
        labels[mask == segmentation.GetSegmentation().GetSegment(segment_id).GetLabelValue()] = value
    image = sitk.GetImageFromArray(labels)
    image.CopyInformation(reference_image)
    return image


def add_segmentation(scene: Any, labels: sitk.Image, names: Mapping[int, str], reference: Any,
                     name: str = "segmentation") -> Any:
    """A new segmentation node with one segment per label value of ``labels`` (named by ``names``; label
    values not in ``names`` are left out), on the geometry of volume node ``reference``."""
    slicer = _slicer()
    kept = sitk.Cast(sitk.ChangeLabel(labels, {int(v): 0 for v in np.unique(sitk.GetArrayViewFromImage(labels))
                                               if int(v) not in names}), sitk.sitkInt16)
    labelmap = set_volume_image(scene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode"), kept)
    segmentation = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", scene.GenerateUniqueName(name))
    slicer.vtkSlicerSegmentationsModuleLogic.ImportLabelmapToSegmentationNode(labelmap, segmentation)
    scene.RemoveNode(labelmap)
    for index in range(segmentation.GetSegmentation().GetNumberOfSegments()):
        segment = segmentation.GetSegmentation().GetNthSegment(index)
        segment.SetName(names[segment.GetLabelValue()])
    segmentation.SetReferenceImageGeometryParameterFromVolumeNode(reference)
    segmentation.CreateDefaultDisplayNodes()
    return segmentation


def set_surfaces(scene: Any, role: str, name: str, labels: sitk.Image, names: Mapping[int, str],
                 colours: Mapping[int, tuple[float, float, float]], source: Source | None = None,
                 opacity_3d: Mapping[int, float] | None = None) -> Any:
    """Replace the role's (and ``source``'s) segmentation with one closed-surface segment per value of
    ``labels`` that ``names`` names (coloured by ``colours``; 3D opacity by ``opacity_3d``, 1 for a value it
    lacks), made at the labels' own resolution (marching cubes on each label's mask, VTK's flying edges) and
    shown in 3D and as outlines in the slice views. Returns the node.

    The surfaces are the segments' source representation: Slicer's own conversion of a label map on a fine
    input grid into surfaces is too slow to follow a slider, while a network cube's surfaces are quick
    (``benchmarks/slicer_interactive.py`` times the update)."""
    import vtk

    slicer = _slicer()
    array, to_ras = sitk.GetArrayViewFromImage(labels), vtk.vtkTransform()
    to_ras.SetMatrix(_ras_matrix(labels))
    segmentation, segment_ids = output_node(scene, role, name, "vtkMRMLSegmentationNode", source), {}
    with slicer.util.NodeModify(segmentation):
        segmentation.GetSegmentation().RemoveAllSegments()
        segmentation.GetSegmentation().SetSourceRepresentationName(
            slicer.vtkSegmentationConverter.GetClosedSurfaceRepresentationName())
        for value, segment_name in names.items():
            mask = (array == value).astype(np.float32)
            if not mask.any():
                continue
            surface = vtk.vtkFlyingEdges3D()
            surface.SetInputData(_vtk_image(sitk.GetImageFromArray(mask)))
            surface.SetValue(0, 0.5)
            placed = vtk.vtkTransformPolyDataFilter()
            placed.SetInputConnection(surface.GetOutputPort())
            placed.SetTransform(to_ras)
            placed.Update()
            segment_ids[value] = segmentation.AddSegmentFromClosedSurfaceRepresentation(
                placed.GetOutput(), segment_name, colours[value])
    if segmentation.GetDisplayNode() is None:
        segmentation.CreateDefaultDisplayNodes()
    display = segmentation.GetDisplayNode()
    for value, segment_id in segment_ids.items():
        display.SetSegmentOpacity3D(segment_id, (opacity_3d or {}).get(value, 1.0))
    display.SetVisibility(True)
    display.SetVisibility3D(True)
    display.SetVisibility2DFill(False)
    display.SetVisibility2DOutline(True)
    return segmentation


@dataclasses.dataclass(frozen=True)
class Source:
    """What an output was made from: an input volume node and a model file (its SHA-256 and file name)."""

    volume: Any
    model_sha256: str
    model_name: str

    def made(self, node: Any) -> bool:
        """Whether ``node`` is an output of this source."""
        return (node.GetNodeReferenceID(INPUT_REFERENCE) == self.volume.GetID()
                and node.GetAttribute(MODEL_SHA256) == self.model_sha256)


def _nodes(scene: Any, class_name: str = "vtkMRMLNode") -> list[Any]:
    nodes = scene.GetNodesByClass(class_name)
    return [nodes.GetItemAsObject(index) for index in range(nodes.GetNumberOfItems())]


def set_anatomy(scene: Any, labels: sitk.Image, scheme: Any, source: Source | None = None) -> Any:
    """The input's LV cavity and myocardium (``labels`` read with ``scheme``, a
    :class:`~AttriVAELib.data.labels.LabelScheme`) as faint 3D surfaces ("AttriVAE anatomy"), the context of
    attention renderings and decoded anatomies; not drawn in the slice views. Returns the segmentation node."""
    array = sitk.GetArrayViewFromImage(labels)
    anatomy = sitk.GetImageFromArray(np.where(scheme.cavity_mask(array), 1,
                                              np.where(scheme.myocardium_mask(array), 2, 0)).astype(np.uint8))
    anatomy.CopyInformation(labels)
    segmentation = set_surfaces(scene, "anatomy", "AttriVAE anatomy", anatomy, ANATOMY, ANATOMY_COLOURS, source)
    display = segmentation.GetDisplayNode()
    display.SetOpacity3D(ANATOMY_OPACITY)
    display.SetVisibility2D(False)
    return segmentation


def show_analysis(scene: Any, source: Source, reconstruction: sitk.Image, table: Mapping[str, Sequence[Any]],
                  labels: sitk.Image, scheme: Any, notice: str = "") -> dict[str, Any]:
    """The outputs of one analysed subject in ``source``'s results folder: its reconstruction (on the input's
    grid), its attribute table and its anatomy (:func:`set_anatomy`), each and the folder tagged with
    ``notice`` (:data:`TRAINING_DATA_NOTICE`; empty: the tag is removed). Returns the nodes by role."""
    nodes = {"reconstruction": set_volume_image(output_node(scene, "reconstruction", "AttriVAE reconstruction",
                                                            source=source), reconstruction),
             "table": set_table(scene, "attributes", "AttriVAE attributes", table, source),
             "anatomy": set_anatomy(scene, labels, scheme, source)}
    hierarchy = _slicer().vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(scene)
    hierarchy.SetItemAttribute(results_folder(scene, source), TRAINING_DATA_NOTICE, notice)
    for node in (nodes["reconstruction"], nodes["table"]):
        if notice:
            node.SetAttribute(TRAINING_DATA_NOTICE, notice)
        else:
            node.RemoveAttribute(TRAINING_DATA_NOTICE)
    return nodes


def aim_cameras(scene: Any, node: Any, margin: float = 1.0) -> None:
    """Turn every 3D view's camera (vtkMRMLCameraNode) to the centre of ``node``'s RAS bounds, from the
    direction it looks now (from the front if none), close enough that the bounds' sphere × ``margin`` fills
    its view angle: the 3D view reset on the heart."""
    bounds = [0.0] * 6
    node.GetRASBounds(bounds)
    low, high = np.array(bounds[0::2]), np.array(bounds[1::2])
    centre, radius = (low + high) / 2, float(np.linalg.norm(high - low)) / 2
    for camera in _nodes(scene, "vtkMRMLCameraNode"):
        direction = np.array(camera.GetPosition()) - np.array(camera.GetFocalPoint())
        length = float(np.linalg.norm(direction))
        direction = direction / length if length > 0 else np.array([0.0, 1.0, 0.0])
        distance = margin * radius / np.sin(np.radians(camera.GetViewAngle()) / 2)
        camera.SetFocalPoint(*centre)
        camera.SetPosition(*(centre + distance * direction))
        camera.ResetClippingRange()


def output_node(scene: Any, role: str, name: str, class_name: str = "vtkMRMLScalarVolumeNode",
                source: Source | None = None) -> Any:
    """The scene's node tagged with ``role`` (and made from ``source``; without one: made from none), or a
    new one of ``class_name`` named ``name``; a new node of a source goes into its :func:`results_folder`."""
    for node in _nodes(scene, class_name):
        if node.GetAttribute(ROLE) == role and (
                source.made(node) if source else node.GetNodeReferenceID(INPUT_REFERENCE) is None):
            return node
    node = scene.AddNewNodeByClass(class_name, scene.GenerateUniqueName(name))
    node.SetAttribute(ROLE, role)
    if source is not None:
        node.SetNodeReferenceID(INPUT_REFERENCE, source.volume.GetID())
        node.SetAttribute(MODEL_SHA256, source.model_sha256)
        _place(scene, node, results_folder(scene, source))
    return node


def results_folder(scene: Any, source: Source) -> int:
    """The subject-hierarchy folder item of ``source``'s outputs: the folder that holds one of them, or a new
    folder "AttriVAE: <volume> (<model file>)" with the model's SHA-256 as an item attribute."""
    hierarchy = _slicer().vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(scene)
    top = hierarchy.GetSceneItemID()
    for node in _nodes(scene):
        item = hierarchy.GetItemByDataNode(node) if node.GetAttribute(ROLE) is not None and source.made(node) else 0
        parent = hierarchy.GetItemParent(item) if item else 0
        if parent and parent != top:
            return parent
    folder = hierarchy.CreateFolderItem(top, f"AttriVAE: {source.volume.GetName()} ({source.model_name})")
    hierarchy.SetItemAttribute(folder, MODEL_SHA256, source.model_sha256)
    return folder


def _place(scene: Any, node: Any, folder: int) -> None:
    """Put a node's subject-hierarchy item under ``folder`` (Slicer's GUI gives every new data node an item;
    the bare MRML library does not, then it is made here)."""
    hierarchy = _slicer().vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(scene)
    item = hierarchy.GetItemByDataNode(node)
    if item:
        hierarchy.SetItemParent(item, folder)
    else:
        hierarchy.CreateItem(folder, node)


def first_input_volume(scene: Any) -> Any:
    """The first scalar volume a person would analyse: not a label map, not one of AttriVAE's outputs; or None."""
    nodes = scene.GetNodesByClass("vtkMRMLScalarVolumeNode")
    for index in range(nodes.GetNumberOfItems()):
        node = nodes.GetItemAsObject(index)
        if not node.IsA("vtkMRMLLabelMapVolumeNode") and node.GetAttribute(ROLE) is None:
            return node
    return None


def _ras_matrix(image: sitk.Image) -> Any:
    """IJK → RAS vtkMatrix4x4 of a SimpleITK image."""
    import vtk

    lps = np.eye(4)
    lps[:3, :3] = np.array(image.GetDirection()).reshape(3, 3) * np.array(image.GetSpacing())
    lps[:3, 3] = image.GetOrigin()
    matrix = vtk.vtkMatrix4x4()
    for r, row in enumerate(_LPS_FROM_RAS @ lps):
        for c, value in enumerate(row):
            matrix.SetElement(r, c, value)
    return matrix


def set_volume_image(node: Any, image: sitk.Image) -> Any:
    """Put an image's voxels and geometry into a volume node (creating its display node); return the node."""
    node.SetIJKToRASMatrix(_ras_matrix(image))
    _slicer().util.updateVolumeFromArray(node, sitk.GetArrayFromImage(image))
    if node.GetDisplayNode() is None:
        node.CreateDefaultDisplayNodes()
    return node


def _user_table(scene: Any, role: str, name: str) -> Any:
    table = output_node(scene, role, name, "vtkMRMLColorTableNode")
    table.SetTypeToUser()
    table.SetNumberOfColors(256)
    return table


def heat_colour_table(scene: Any) -> Any:
    """AttriVAE's heat colour table (black → red → yellow → white, 256 entries), built in code so it is the
    same in real Slicer and in slicer-core (which ships no colour files). Created once per scene."""
    table = output_node(scene, "heat colours", HEAT_TABLE_NAME, "vtkMRMLColorTableNode")
    if table.GetNumberOfColors() != 256:
        table = _user_table(scene, "heat colours", HEAT_TABLE_NAME)
        for index, t in enumerate(np.linspace(0.0, 1.0, 256)):
            red, green, blue = np.clip([3 * t, 3 * t - 1, 3 * t - 2], 0.0, 1.0)
            table.SetColor(index, f"{t:.3f}", red, green, blue, 1.0)
    return table


def _diverging_rgb(t: float) -> tuple[float, float, float]:
    """t in [-1, 1] → blue (-1) → light grey (0) → red (+1)."""
    strength = abs(t)
    fade = 0.9 * (1.0 - strength)
    return (1.0, fade, fade) if t >= 0 else (fade, fade, 1.0)


def diverging_colour_table(scene: Any, threshold: float = 0.2) -> Any:
    """Blue → grey → red table over 256 entries for maps in [-1, 1] (red: raises the attribute, blue: lowers
    it); entries with |t| < ``threshold`` are fully transparent, so the image shows through near-zero
    values in the slice views. One table per scene, rebuilt when the threshold changes."""
    table = output_node(scene, "diverging colours", DIVERGING_TABLE_NAME, "vtkMRMLColorTableNode")
    if table.GetNumberOfColors() != 256 or table.GetAttribute(THRESHOLD) != f"{threshold:g}":
        table = _user_table(scene, "diverging colours", DIVERGING_TABLE_NAME)
        for index, t in enumerate(np.linspace(-1.0, 1.0, 256)):
            table.SetColor(index, f"{t:.3f}", *_diverging_rgb(t), 0.0 if abs(t) < threshold else 1.0)
        table.SetAttribute(THRESHOLD, f"{threshold:g}")
    return table


def show_heat(node: Any, threshold: float = 0.2) -> None:
    """Display a [0, 1] map with the heat table; values below ``threshold`` are transparent."""
    display = node.GetDisplayNode()
    display.SetAndObserveColorNodeID(heat_colour_table(node.GetScene()).GetID())
    display.AutoWindowLevelOff()
    display.SetWindowLevelMinMax(0.0, 1.0)
    display.AutoThresholdOff()
    display.SetThreshold(threshold, 1.0)
    display.ApplyThresholdOn()


def show_signed(node: Any, threshold: float = 0.2, scale: float = 1.0) -> None:
    """Display a signed map in [-scale, scale] with the diverging table; |values| below ``threshold`` · scale
    are transparent."""
    display = node.GetDisplayNode()
    display.SetAndObserveColorNodeID(diverging_colour_table(node.GetScene(), threshold).GetID())
    display.AutoWindowLevelOff()
    display.SetWindowLevelMinMax(-scale, scale)
    display.AutoThresholdOff()
    display.ApplyThresholdOff()


def set_attention(scene: Any, maps: Mapping[str, sitk.Image], method: str, layer: str, threshold: float = 0.2,
                  source: Source | None = None) -> dict[str, Any]:
    """One output volume per attention map ({attribute: map on the input's grid, normalised to its peak}), with
    the diverging colours (a signed ``method``) or the heat colours, a colour legend (hidden until
    :func:`show_attention_map`) and the method, layer and threshold as attributes (:data:`METHOD`,
    :data:`LAYER`, :data:`THRESHOLD`). Returns {attribute: node}."""
    nodes = {}
    for name, image in maps.items():
        node = set_volume_image(output_node(scene, f"attention {name}", f"AttriVAE attention {name}",
                                            source=source), image)
        for key, value in ((METHOD, method), (LAYER, layer), (THRESHOLD, f"{threshold:g}")):
            node.SetAttribute(key, value)
        if ATTRIBUTION[method].signed:
            values = np.abs(sitk.GetArrayViewFromImage(image))
            inside = values[values > 0]
            show_signed(node, threshold, float(np.percentile(inside, SIGNED_DISPLAY_PERCENTILE)) if inside.size
                        else 1.0)
        else:
            show_heat(node, threshold)
        legend = _slicer().vtkSlicerColorLogic.AddDefaultColorLegendDisplayNode(node)
        legend.SetTitleText(LEGEND_TITLE.format(attribute=name, method=method))
        legend.SetLabelFormat("%.2f")  # the ticks of a ±0.3 window fall on 0.15s: one decimal would round them
        legend.SetVisibility(False)
        nodes[name] = node
    return nodes


def show_attention_map(node: Any, background: Any, volume_rendering_logic: Any = None) -> None:
    """Show one map of :func:`set_attention` over ``background`` in the slice views with its colour legend,
    every other attention map's legend and rendering hidden; given ``volume_rendering_logic``, volume-render
    it."""
    hide_attention(node.GetScene(), keep=node)
    show_in_slice_views(background, node, opacity=0.6)
    _slicer().vtkSlicerColorLogic.GetColorLegendDisplayNode(node).SetVisibility(True)
    if volume_rendering_logic is None:
        return
    display = node.GetDisplayNode()
    signed = ATTRIBUTION[node.GetAttribute(METHOD)].signed
    show_heat_rendering(volume_rendering_logic, node, float(node.GetAttribute(THRESHOLD)), signed,
                        display.GetWindowLevelMax() if signed else 1.0)


def hide_attention(scene: Any, keep: Any = None) -> None:
    """Hide the colour legend and volume rendering of every attention map but ``keep``: for when the views show
    something else (Slicer's legend manager hides a legend when the user changes a view's layers, not when a
    module does)."""
    for node in _nodes(scene, "vtkMRMLScalarVolumeNode"):
        if node is keep or node.GetAttribute(METHOD) is None:
            continue
        for index in range(node.GetNumberOfDisplayNodes()):
            display = node.GetNthDisplayNode(index)
            if display.IsA("vtkMRMLColorLegendDisplayNode") or display.IsA("vtkMRMLVolumeRenderingDisplayNode"):
                display.SetVisibility(False)


def show_difference(node: Any) -> None:
    """Display a decoded − reconstruction difference: red brighter, blue darker, full colour at
    ±:data:`EXPLORE_DIFFERENCE_SCALE`, differences under 10 % of that clear."""
    show_signed(node, threshold=0.1, scale=EXPLORE_DIFFERENCE_SCALE)


def show_in_slice_views(background: Any, foreground: Any | None = None, opacity: float = 0.5) -> None:
    """Show ``background`` (and ``foreground`` blended on top) in every slice view of the scene."""
    _slicer().util.setSliceViewerLayers(
        background=background, foreground=foreground, foregroundOpacity=opacity if foreground else 0.0, fit=False)


def show_heat_rendering(volume_rendering_logic: Any, node: Any, threshold: float = 0.2, signed: bool = False,
                        scale: float = 1.0) -> Any:
    """Volume-render a map in 3D views: a [0, 1] map with the heat colours, opacity ramping up from
    ``threshold``; a signed map (``signed``) with the diverging colours at full strength from ±``scale``,
    clear for |value| < ``threshold`` · scale and ramping up towards ±scale.

    ``volume_rendering_logic`` is ``slicer.modules.volumerendering.logic()`` in Slicer. Returns the display node."""
    import vtk

    display = volume_rendering_logic.GetFirstVolumeRenderingDisplayNode(node)
    if display is None:
        display = volume_rendering_logic.CreateDefaultVolumeRenderingNodes(node)
    colours, opacity = vtk.vtkColorTransferFunction(), vtk.vtkPiecewiseFunction()
    if signed:
        for t in np.linspace(-1.0, 1.0, 17):
            colours.AddRGBPoint(t * scale, *_diverging_rgb(t))
        for t, alpha in ((-1.0, 0.8), (-threshold, 0.0), (threshold, 0.0), (1.0, 0.8)):
            opacity.AddPoint(t * scale, alpha)
    else:
        table = heat_colour_table(node.GetScene())
        for t in np.linspace(0.0, 1.0, 9):
            colours.AddRGBPoint(t, *table.GetLookupTable().GetTableValue(int(round(t * 255)))[:3])
        for t, alpha in ((0.0, 0.0), (threshold, 0.0), (1.0, 0.8)):
            opacity.AddPoint(t, alpha)
    properties = display.GetVolumePropertyNode()  # through the MRML node, so that the change is saved and observed
    properties.SetColor(colours)
    properties.SetScalarOpacity(opacity)
    display.SetVisibility(True)
    return display


def set_sequence(scene: Any, sequences_logic: Any, role: str, name: str, images: Sequence[sitk.Image],
                 index_values: Sequence[float], index_name: str, index_unit: str = "",
                 source: Source | None = None) -> tuple[Any, Any]:
    """Fill the role's (and ``source``'s) sequence with one volume per image and point its browser at it (to
    play in Slicer); the browser's proxy volume joins the source's folder.

    ``sequences_logic`` is ``slicer.modules.sequences.logic()`` in Slicer. Returns (sequence, browser)."""
    sequence = output_node(scene, role, name, "vtkMRMLSequenceNode", source)
    sequence.RemoveAllDataNodes()
    sequence.SetIndexName(index_name)
    sequence.SetIndexUnit(index_unit)
    sequence.SetIndexType(sequence.NumericIndex)
    slicer = _slicer()
    for image, value in zip(images, index_values):
        frame = slicer.vtkMRMLScalarVolumeNode()
        frame.SetIJKToRASMatrix(_ras_matrix(image))
        frame.SetAndObserveImageData(_vtk_image(image))
        sequence.SetDataNodeAtValue(frame, f"{value:.6g}")
    browser = output_node(scene, f"{role} browser", f"{name} browser", "vtkMRMLSequenceBrowserNode", source)
    browser.SetAndObserveMasterSequenceNodeID(sequence.GetID())
    browser.SetSelectedItemNumber(0)
    sequences_logic.UpdateProxyNodesFromSequences(browser)
    if source is not None:
        _place(scene, browser.GetProxyNode(sequence), results_folder(scene, source))
    return sequence, browser


def _vtk_image(image: sitk.Image) -> Any:
    """A vtkImageData holding a copy of the image's voxels (geometry goes in the node's IJK → RAS)."""
    import vtk
    from vtk.util.numpy_support import numpy_to_vtk

    array = sitk.GetArrayFromImage(image)
    data = vtk.vtkImageData()
    data.SetDimensions(array.shape[::-1])
    data.GetPointData().SetScalars(numpy_to_vtk(array.ravel(), deep=True))
    return data


def set_table(scene: Any, role: str, name: str, columns: Mapping[str, Sequence[Any]],
              source: Source | None = None) -> Any:
    """Replace the role's (and ``source``'s) table with ``columns`` (str values make a text column, others
    numeric)."""
    import vtk

    table = output_node(scene, role, name, "vtkMRMLTableNode", source)
    with _slicer().util.NodeModify(table):
        table.RemoveAllColumns()
        for title, values in columns.items():
            column = vtk.vtkStringArray() if any(isinstance(v, str) for v in values) else vtk.vtkDoubleArray()
            column.SetName(title)
            for value in values:
                column.InsertNextValue(value if isinstance(column, vtk.vtkStringArray)
                                       else (np.nan if value is None else float(value)))
            table.AddColumn(column)
    return table


def set_loss_chart(scene: Any, rows: Sequence[Mapping[str, float]],
                   series: Sequence[str] = ("train_total", "val_total"), role: str = "loss") -> Any:
    """A plot chart of loss curves per epoch (``rows`` as training's per-epoch log). Returns the chart node,
    to show with ``slicer.modules.plots.logic().ShowChartInLayout(chart)`` in Slicer."""
    table = set_table(scene, f"{role} table", "AttriVAE loss",
                      {"epoch": [row["epoch"] for row in rows], **{s: [row[s] for row in rows] for s in series}})
    chart = output_node(scene, f"{role} chart", "AttriVAE loss chart", "vtkMRMLPlotChartNode")
    chart.SetTitle("AttriVAE training loss")
    chart.SetXAxisTitle("epoch")
    chart.SetYAxisTitle("loss")
    for column in series:
        plot = output_node(scene, f"{role} series {column}", column, "vtkMRMLPlotSeriesNode")
        plot.SetAndObserveTableNodeID(table.GetID())
        plot.SetXColumnName("epoch")
        plot.SetYColumnName(column)
        plot.SetPlotType(plot.PlotTypeScatter)
        plot.SetMarkerStyle(plot.MarkerStyleNone)
        if not chart.HasPlotSeriesNodeID(plot.GetID()):
            chart.AddAndObservePlotSeriesNodeID(plot.GetID())
    return chart
