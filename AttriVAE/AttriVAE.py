"""AttriVAE: interpretable, attribute-based analysis of the left ventricle in 3D cardiac MRI (Slicer module).

Thin by design: the logic delegates to the ``AttriVAELib`` package (imported lazily, so the module loads on a
Slicer without PyTorch) and to its MRML bridge ``AttriVAELib.mrml``.
"""

import logging
import shutil
import sys
import time
from pathlib import Path
from typing import Annotated

import ctk
import qt
import slicer
from slicer import vtkMRMLLabelMapVolumeNode, vtkMRMLScalarVolumeNode, vtkMRMLSegmentationNode
from slicer.i18n import tr as _
from slicer.i18n import translate
from slicer.parameterNodeWrapper import Choice, WithinRange, parameterNodeWrapper
from slicer.ScriptedLoadableModule import (
    ScriptedLoadableModule,
    ScriptedLoadableModuleLogic,
    ScriptedLoadableModuleTest,
    ScriptedLoadableModuleWidget,
)
from slicer.util import VTKObservationMixin

MODULE_DIR = Path(__file__).resolve().parent
if (MODULE_DIR.parent / "AttriVAELib").is_dir() and str(MODULE_DIR.parent) not in sys.path:
    sys.path.append(str(MODULE_DIR.parent))  # a source checkout: AttriVAELib sits next to the module folder
DEMO_MODEL = MODULE_DIR / "Resources" / "Models" / "attrivae-demo.safetensors"
REQUIREMENTS = MODULE_DIR / "Resources" / "requirements.txt"
TORCH_REQUIREMENT = ">=2.2"
README_URL = "https://github.com/attrivae/SlicerAttriVAE#readme"
PRESETS = ["paper", "official-code", "attri-vae", "ar-vae", "beta-vae", "vae"]  # AttriVAELib.config.PRESETS
ENCODER_LAYERS = ["conv5", "conv4", "conv3", "conv2", "conv1"]  # AttriVAELib.attention.ENCODER_LAYERS
ATTRIBUTION_METHODS = ["gradient-x-input", "integrated-gradients", "gradcam"]  # AttriVAELib.attention, default first
SIGNED_DISPLAY_PERCENTILE = 99.0  # of |value| inside the map's support: shown at full colour
EXPLORE_DIFFERENCE_SCALE = 0.25  # intensity difference shown at full colour (network intensities are in [0, 1])
SEGMENT_LABELS = {"cavity": 1, "myocardium": 2, "infarct": 3}  # EMIDEC label values the model expects


#
# AttriVAE
#


class AttriVAE(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("AttriVAE")
        self.parent.categories = [translate("qSlicerAbstractCoreModule", "Cardiac")]
        self.parent.dependencies = []
        self.parent.contributors = ["AttriVAE developers"]
        self.parent.helpText = _(
            "Attribute-based interpretable analysis of the left ventricle: reconstruction, infarct probability, "
            "per-attribute attention maps and attribute sliders that morph the anatomy. "
            f'See the <a href="{README_URL}">documentation</a>.')
        self.parent.acknowledgementText = _(
            "Implements Attri-VAE: I. Cetin, M. Stephens, O. Camara, M. A. Gonzalez Ballester, "
            "'Attri-VAE: Attribute-based interpretable representations of medical images with variational "
            "autoencoders', Computerized Medical Imaging and Graphics 104 (2023) 102158.")


#
# AttriVAEParameterNode
#


@parameterNodeWrapper
class AttriVAEParameterNode:
    """The module's settings and inputs, saved with the scene. Segment names are chosen in the panel."""

    inputVolume: vtkMRMLScalarVolumeNode
    inputSegmentation: vtkMRMLSegmentationNode
    inputLabelMap: vtkMRMLLabelMapVolumeNode
    labelScheme: Annotated[str, Choice(["emidec", "acdc"])] = "emidec"
    attentionMethod: Annotated[str, Choice(ATTRIBUTION_METHODS)] = ATTRIBUTION_METHODS[0]
    attentionLayer: Annotated[str, Choice(ENCODER_LAYERS)] = "conv5"
    attentionThreshold: Annotated[float, WithinRange(0.0, 1.0)] = 0.2
    attentionRender3D: bool = True
    traversalSteps: Annotated[int, WithinRange(2, 50)] = 9
    interpolationVolume: vtkMRMLScalarVolumeNode
    interpolationSteps: Annotated[int, WithinRange(2, 50)] = 10
    trainDataFormat: Annotated[str, Choice(["auto", "csv", "emidec", "acdc"])] = "auto"
    trainAttributes: str = ""
    trainPreset: Annotated[str, Choice(PRESETS)] = "paper"
    trainEpochs: Annotated[int, WithinRange(1, 100000)] = 300
    trainAugment: Annotated[float, WithinRange(0.0, 1.0)] = 0.0
    trainDevice: Annotated[str, Choice(["auto", "cpu", "cuda"])] = "auto"


#
# AttriVAEWidget
#


class AttriVAEWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    """Panel: wires widgets to :class:`AttriVAELogic`; every action shows a one-line error on bad input."""

    def __init__(self, parent=None) -> None:
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None
        self._parameterNode = None
        self._parameterNodeGuiTag = None
        self._sliders = {}
        self._trainingTimer = qt.QTimer()
        self._trainingTimer.setInterval(500)
        self._trainingTimer.timeout.connect(self.onTrainingTimer)

    def setup(self) -> None:
        ScriptedLoadableModuleWidget.setup(self)
        uiWidget = slicer.util.loadUI(self.resourcePath("UI/AttriVAE.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)
        self.logic = AttriVAELogic()

        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)

        self.ui.modelPathLineEdit.currentPath = str(DEMO_MODEL)
        self.ui.loadModelButton.connect("clicked(bool)", self.onLoadModel)
        self.ui.inputSegmentationSelector.connect("currentNodeChanged(vtkMRMLNode*)", self.updateSegmentChoices)
        self.ui.syntheticSampleButton.connect("clicked(bool)", self.onSyntheticSample)
        self.ui.analyzeButton.connect("clicked(bool)", self.onAnalyze)
        self.ui.attentionButton.connect("clicked(bool)", self.onAttention)
        self.ui.attentionMethodComboBox.connect("currentTextChanged(QString)", self.onAttentionMethod)
        self.ui.exploreResetButton.connect("clicked(bool)", self.onExploreReset)
        self.ui.exportTraversalButton.connect("clicked(bool)", self.onExportTraversal)
        self.ui.interpolateButton.connect("clicked(bool)", self.onInterpolate)
        self.ui.trainButton.connect("clicked(bool)", self.onTrainButton)
        self.initializeParameterNode()

    def cleanup(self) -> None:
        self._trainingTimer.stop()
        if self.logic is not None:
            self.logic.cancelTraining()
        self.removeObservers()

    def enter(self) -> None:
        self.initializeParameterNode()

    def exit(self) -> None:
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self._parameterNodeGuiTag = None

    def onSceneStartClose(self, caller, event) -> None:
        self.setParameterNode(None)

    def onSceneEndClose(self, caller, event) -> None:
        if self.parent.isEntered:
            self.initializeParameterNode()

    def initializeParameterNode(self) -> None:
        self.setParameterNode(self.logic.getParameterNode())
        if not self._parameterNode.inputVolume:
            self._parameterNode.inputVolume = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLScalarVolumeNode")

    def setParameterNode(self, inputParameterNode: AttriVAEParameterNode | None) -> None:
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
        self._parameterNode = inputParameterNode
        if self._parameterNode:
            self._parameterNodeGuiTag = self._parameterNode.connectGui(self.ui)

    def _run(self, action, *args):
        """Run one action with a wait cursor; a failure becomes a one-line error dialog (details in the log)."""
        try:
            with slicer.util.WaitCursor():
                return action(*args)
        except Exception as error:  # noqa: BLE001 - every failure reaches the user as one line
            logging.exception("AttriVAE: %s failed", getattr(action, "__name__", "action"))
            slicer.util.errorDisplay(str(error) or type(error).__name__, windowTitle=_("AttriVAE"))
            return None

    # Model

    def onLoadModel(self) -> None:
        card = self._run(self.logic.loadModel, self.ui.modelPathLineEdit.currentPath or None)
        if card is not None:
            self.ui.modelCardBrowser.setPlainText(self.logic.modelDescription())
            self._buildModelControls()

    def _buildModelControls(self) -> None:
        """Attribute choices and one slider per regularised attribute, in attribute units."""
        names = self.logic.attributeNames()
        for combo in (self.ui.attentionAttributeComboBox, self.ui.traversalAttributeComboBox):
            combo.clear()
            combo.addItems(names)
        self.ui.attentionAttributeComboBox.insertItem(0, _("all attributes"))
        self.ui.attentionAttributeComboBox.setCurrentIndex(0)
        layout = self.ui.exploreSlidersFrame.layout()
        for slider in self._sliders.values():
            layout.removeRow(slider)
        self._sliders = {}
        for name, (low, high, unit) in self.logic.attributeRanges().items():
            slider = ctk.ctkSliderWidget()
            slider.minimum, slider.maximum = low, high
            slider.singleStep = (high - low) / 100.0
            slider.decimals = 2
            slider.suffix = f" {unit}" if unit else ""
            slider.enabled = False
            slider.connect("valueChanged(double)", lambda value, name=name: self.onSlider(name, value))
            layout.addRow(name, slider)
            self._sliders[name] = slider

    # Inputs

    def updateSegmentChoices(self, segmentation=None) -> None:
        from AttriVAELib import mrml

        names = mrml.segment_names(segmentation) if segmentation else []
        combos = (self.ui.cavitySegmentComboBox, self.ui.myocardiumSegmentComboBox, self.ui.infarctSegmentComboBox)
        for combo, guess in zip(combos, ("cavity", "myocardium", "infarct")):
            combo.clear()
            combo.addItems(([_("(none)")] if guess == "infarct" else []) + names)
            matches = [n for n in names if guess in n.lower() or (guess == "cavity" and "lv" in n.lower())]
            if matches:
                combo.setCurrentText(matches[0])

    def _segments(self) -> dict:
        segments = {"cavity": self.ui.cavitySegmentComboBox.currentText,
                    "myocardium": self.ui.myocardiumSegmentComboBox.currentText}
        if self.ui.infarctSegmentComboBox.currentIndex > 0:
            segments["infarct"] = self.ui.infarctSegmentComboBox.currentText
        return segments

    def onSyntheticSample(self) -> None:
        nodes = self._run(self.logic.generateSyntheticSample)
        if nodes:
            self._parameterNode.inputVolume, self._parameterNode.inputSegmentation = nodes
            self.updateSegmentChoices(nodes[1])
            slicer.util.setSliceViewerLayers(background=nodes[0], fit=True)

    # Analyze, attention, explore

    def onAnalyze(self) -> None:
        p = self._parameterNode
        result = self._run(self.logic.analyze, p.inputVolume, p.inputSegmentation, self._segments(),
                           p.inputLabelMap, p.labelScheme)
        if result is None:
            return
        if not self._sliders:  # the demo model was loaded on first use
            self.ui.modelCardBrowser.setPlainText(self.logic.modelDescription())
            self._buildModelControls()
        self.ui.probabilityLabel.text = _("P(infarct) = {p:.2f}").format(p=result["probability"])
        self.ui.attributeTableView.setMRMLTableNode(result["table"])
        for name, slider in self._sliders.items():
            slider.blockSignals(True)
            slider.value = result["encoded"][name]
            slider.blockSignals(False)
            slider.enabled = True
        slicer.util.setSliceViewerLayers(background=p.inputVolume, foreground=result["reconstruction"],
                                         foregroundOpacity=0.5, fit=True)

    def onAttention(self) -> None:
        p = self._parameterNode
        index = self.ui.attentionAttributeComboBox.currentIndex
        attributes = None if index <= 0 else [self.ui.attentionAttributeComboBox.currentText]
        renderingLogic = slicer.modules.volumerendering.logic() if p.attentionRender3D else None
        self._run(self.logic.showAttention, attributes, p.attentionMethod, p.attentionLayer, p.attentionThreshold,
                  renderingLogic)

    def onAttentionMethod(self, method: str) -> None:
        self.ui.attentionLayerComboBox.enabled = method == "gradcam"  # the layer is Grad-CAM's only

    def onSlider(self, name: str, value: float) -> None:
        self._run(self.logic.explore, {name: value})

    def onExploreReset(self) -> None:
        values = self._run(self.logic.resetExplore)
        for name, value in (values or {}).items():
            self._sliders[name].blockSignals(True)
            self._sliders[name].value = value
            self._sliders[name].blockSignals(False)

    def onExportTraversal(self) -> None:
        nodes = self._run(self.logic.exportTraversal, self.ui.traversalAttributeComboBox.currentText,
                          self._parameterNode.traversalSteps)
        if nodes:
            slicer.modules.sequences.showSequenceBrowser(nodes[1])

    def onInterpolate(self) -> None:
        p = self._parameterNode
        nodes = self._run(self.logic.interpolate, p.inputVolume, p.interpolationVolume, p.interpolationSteps)
        if nodes:
            slicer.modules.sequences.showSequenceBrowser(nodes[1])

    # Train

    def onTrainButton(self) -> None:
        if self.logic.trainingRunning():
            self.logic.cancelTraining()
            return
        p = self._parameterNode
        attributes = [a.strip() for a in p.trainAttributes.split(",") if a.strip()]
        started = self._run(self.logic.startTraining, self.ui.trainDataPathLineEdit.currentPath, p.trainDataFormat,
                            attributes, p.trainPreset, p.trainEpochs, p.trainDevice,
                            self.ui.trainOutputPathLineEdit.currentPath, augment=p.trainAugment)
        if started is not None:
            self.ui.trainButton.text = _("Cancel")
            self.ui.trainProgressBar.setValue(0)
            self._trainingTimer.start()

    def onTrainingTimer(self) -> None:
        status = self.logic.pollTraining()
        self.ui.trainProgressBar.setValue(int(100 * status["fraction"]))
        self.ui.trainStatusLabel.text = status["message"]
        if status["chart"] is not None and status["newEpochs"]:
            slicer.modules.plots.logic().ShowChartInLayout(status["chart"])
        if status["finished"]:
            self._trainingTimer.stop()
            self.ui.trainButton.text = _("Start training")
            if status["error"]:
                slicer.util.errorDisplay(status["error"], windowTitle=_("AttriVAE training"))
            elif status["model"]:
                self.ui.modelPathLineEdit.currentPath = status["model"]
                self.onLoadModel()


#
# AttriVAELogic
#


class AttriVAELogic(ScriptedLoadableModuleLogic):
    """Everything the panel does, usable from the Python console without the GUI::

        logic = AttriVAELogic()
        logic.loadModel()                                  # the shipped demo model
        volume, segmentation = logic.generateSyntheticSample()
        result = logic.analyze(volume, segmentation)       # reconstruction, table, probability
        logic.showAttention()                              # heat volumes, one per attribute
        logic.explore({"lv_volume_ml": 180.0})             # decode with LV volume set to 180 mL

    Outputs are nodes tagged by role (see ``AttriVAELib.mrml``): analysing again updates them. Input nodes are
    never modified. ``launchProcess(command)`` starts a training process (default
    ``AttriVAELib.process.TrainingProcess``); tests inject their own.
    """

    def __init__(self, launchProcess=None) -> None:
        ScriptedLoadableModuleLogic.__init__(self)
        self.launchProcess = launchProcess
        self.bundle = None
        self.modelPath = None
        self.analyses = {}  # input volume node ID -> AttriVAELib.analysis.SubjectAnalysis
        self.currentVolumeID = None
        self.exploreCode = None  # latent code (L,) the Explore sliders edit
        self.training = None
        self.trainingRows = []  # per-epoch progress events of the current training
        self.trainingModel = None  # its model bundle, once finished
        self.lastUpdateSeconds = None

    def getParameterNode(self):
        return AttriVAEParameterNode(super().getParameterNode())

    # Dependencies and model

    @staticmethod
    def ensureDependencies(askConfirmation: bool = True) -> None:
        """Install PyTorch (through the PyTorch extension, one confirmation) and the pip requirements once."""
        import importlib.util

        if importlib.util.find_spec("torch") is None:
            try:
                import PyTorchUtils
            except ImportError as error:
                raise RuntimeError(_("AttriVAE needs the PyTorch extension: install 'PyTorch' from the "
                                     "Extensions Manager, restart Slicer and try again")) from error
            torch = PyTorchUtils.PyTorchUtilsLogic().installTorch(askConfirmation=askConfirmation,
                                                                  torchVersionRequirement=TORCH_REQUIREMENT)
            if torch is None:
                raise RuntimeError(_("PyTorch was not installed; AttriVAE cannot run without it"))
        try:
            from slicer.packaging import load_requirements, pip_ensure
        except ImportError:  # Slicer < 5.12: install what is missing, without asking again
            requirements = [line.strip() for line in REQUIREMENTS.read_text().splitlines() if line.strip()]
            missing = [r for r in requirements if importlib.util.find_spec(r.split(">")[0].split("=")[0]) is None]
            if missing:
                slicer.util.pip_install(missing)
        else:
            pip_ensure(load_requirements(REQUIREMENTS), prompt_install=askConfirmation, requester="AttriVAE")

    def loadModel(self, path=None) -> dict:
        """Load a model bundle (default: the shipped demo model); returns its model card."""
        self.ensureDependencies()
        from AttriVAELib import load_model

        path = Path(path) if path else DEMO_MODEL
        self.bundle = load_model(path, "cpu")
        self.modelPath = path
        self.analyses, self.currentVolumeID, self.exploreCode = {}, None, None
        return self.bundle.card

    def _requireModel(self):
        if self.bundle is None:
            self.loadModel()
        return self.bundle

    def attributeNames(self) -> list:
        return list(self._requireModel().attribute_names)

    def attributeRanges(self) -> dict:
        """Attribute → (training minimum, training maximum, unit) for sliders in attribute units."""
        units = {"ml": "mL", "mm": "mm", "pct": "%"}
        return {entry["name"]: (entry["min"], entry["max"], units.get(entry["name"].rsplit("_", 1)[-1], ""))
                for entry in self._requireModel().card["attributes"] if "latent_slope" in entry}

    def modelDescription(self) -> str:
        card = self._requireModel().card
        lines = [f"File: {self.modelPath}",
                 f"Input: {card['model']['input_size']}³ voxels, latent size {card['model']['latent_size']}",
                 "Attributes → latent dims: " + ", ".join(f"{a['name']}→{a['dim']}" for a in card["attributes"]),
                 f"Preset: {card['preset']}; trained {card['training']['epochs']} epochs "
                 f"(best {card['training']['best_epoch']})",
                 f"Data: {card['data']['name']} ({card['data']['format']}), {card['data']['subjects']} subjects"]
        return "\n".join(lines)

    # Inputs

    def inputImages(self, volumeNode, segmentationNode=None, segments=None, labelMapNode=None,
                    labelScheme: str = "emidec"):
        """(image, label image, label scheme) of the inputs: a segmentation with named segments
        (``segments``: {"cavity": name, "myocardium": name, optional "infarct": name}) or a label map."""
        from AttriVAELib import mrml
        from AttriVAELib.labels import ACDC_SCHEME, EMIDEC_SCHEME

        image = mrml.image_from_volume(volumeNode, "input volume")
        if segmentationNode is not None:
            segments = segments or {"cavity": "LV cavity", "myocardium": "Myocardium"}
            named = {SEGMENT_LABELS[role]: name for role, name in segments.items() if name}
            return image, mrml.labels_from_segmentation(segmentationNode, volumeNode, named), EMIDEC_SCHEME
        if labelMapNode is None:
            raise ValueError(_("no LV segmentation selected; choose a segmentation or a label map of the volume"))
        from AttriVAELib.io import check_same_geometry

        labels = mrml.labels_from_labelmap(labelMapNode)
        check_same_geometry(image, labels, "the input volume", "the label map")
        return image, labels, {"emidec": EMIDEC_SCHEME, "acdc": ACDC_SCHEME}[labelScheme]

    def generateSyntheticSample(self, seed: int | None = None):
        """Add a synthetic LGE-like volume and its segmentation (LV cavity, Myocardium, Infarct) to the scene."""
        self.ensureDependencies()
        import SimpleITK as sitk

        from AttriVAELib import mrml
        from AttriVAELib.synthetic import synthetic_subject

        seed = int(time.time()) % 100000 if seed is None else seed
        image, labels = synthetic_subject(seed, infarct=True)
        scene = slicer.mrmlScene
        volume = mrml.set_volume_image(scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode",
                                                               scene.GenerateUniqueName("Synthetic LGE")), image)
        labelMap = mrml.set_volume_image(scene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode"),
                                         sitk.Cast(sitk.Clamp(labels, upperBound=3), sitk.sitkInt16))
        segmentation = scene.AddNewNodeByClass("vtkMRMLSegmentationNode",
                                               scene.GenerateUniqueName("Synthetic LV segmentation"))
        slicer.vtkSlicerSegmentationsModuleLogic.ImportLabelmapToSegmentationNode(labelMap, segmentation)
        scene.RemoveNode(labelMap)
        names = {1: "LV cavity", 2: "Myocardium", 3: "Infarct"}
        for index in range(segmentation.GetSegmentation().GetNumberOfSegments()):
            segment = segmentation.GetSegmentation().GetNthSegment(index)
            segment.SetName(names[segment.GetLabelValue()])
        segmentation.SetReferenceImageGeometryParameterFromVolumeNode(volume)
        segmentation.CreateDefaultDisplayNodes()
        return volume, segmentation

    # Analyze

    def analyze(self, volumeNode, segmentationNode=None, segments=None, labelMapNode=None,
                labelScheme: str = "emidec") -> dict:
        """Encode one volume: reconstruction volume, infarct probability and the attribute table
        (measured on the segmentation vs encoded by the latent dims). Returns the output nodes and values."""
        bundle = self._requireModel()
        from AttriVAELib import mrml
        from AttriVAELib.analysis import analyse_subject

        image, labels, scheme = self.inputImages(volumeNode, segmentationNode, segments, labelMapNode, labelScheme)
        analysis = analyse_subject(bundle, image, labels, scheme, name=f"volume '{volumeNode.GetName()}'")
        self.analyses[volumeNode.GetID()] = analysis
        self.currentVolumeID = volumeNode.GetID()
        self.exploreCode = analysis.mu.clone()
        scene = volumeNode.GetScene()
        reconstruction = mrml.set_volume_image(
            mrml.output_node(scene, "reconstruction", "AttriVAE reconstruction"), analysis.reconstruction)
        names = list(analysis.encoded)
        table = mrml.set_table(scene, "attributes", "AttriVAE attributes", {
            "attribute": names + ["P(infarct)"],
            "measured": [analysis.measured[n] for n in names] + [None],
            "encoded": [analysis.encoded[n] for n in names] + [analysis.probability],
        })
        return {"reconstruction": reconstruction, "table": table, "probability": analysis.probability,
                "measured": analysis.measured, "encoded": analysis.encoded}

    def _current(self):
        if self.currentVolumeID not in self.analyses:
            raise ValueError(_("analyse a volume first (Analyze section)"))
        return self.analyses[self.currentVolumeID]

    def showAttention(self, attributes=None, method: str = ATTRIBUTION_METHODS[0], layer: str = "conv5",
                      threshold: float = 0.2, volumeRenderingLogic=None) -> dict:
        """Attention volumes (one per attribute, default all) in the input's geometry, shown over the input in
        the slice views and, given ``volumeRenderingLogic``, volume-rendered. Signed methods show red where a
        voxel raises the attribute and blue where it lowers it. Returns {attribute: node}."""
        import numpy as np

        from AttriVAELib import mrml
        from AttriVAELib.analysis import attention_in_source
        from AttriVAELib.attention import SIGNED_METHODS

        analysis = self._current()
        scene = slicer.mrmlScene.GetNodeByID(self.currentVolumeID).GetScene()
        maps = attention_in_source(self._requireModel(), analysis.prepared, attributes, method, layer)
        signed = method in SIGNED_METHODS
        nodes, scales = {}, {}
        for name, image in maps.items():
            node = mrml.set_volume_image(mrml.output_node(scene, f"attention {name}", f"AttriVAE attention {name}"),
                                         image)
            if signed:  # gradient maps are heavy-tailed: full colour from the 99th percentile of |value| on
                values = abs(slicer.util.arrayFromVolume(node))  # (the peak alone would leave the rest clear)
                inside = values[values > 0]
                scales[name] = float(np.percentile(inside, SIGNED_DISPLAY_PERCENTILE)) if inside.size else 1.0
                mrml.show_signed(node, threshold, scales[name])
            else:
                mrml.show_heat(node, threshold)
            nodes[name] = node
        first = next(iter(nodes))
        mrml.show_in_slice_views(scene.GetNodeByID(self.currentVolumeID), nodes[first], opacity=0.6)
        if volumeRenderingLogic is not None:
            mrml.show_heat_rendering(volumeRenderingLogic, nodes[first], threshold, signed, scales.get(first, 1.0))
        return nodes

    # Explore

    def explore(self, values: dict):
        """Set attributes (attribute units, clamped to the training range with a warning) in the current code
        and decode it into the "AttriVAE explore" volume, and its signed difference from the subject's own
        reconstruction into "AttriVAE explore difference" (red brighter, blue darker); returns the explore
        node. Earlier settings stay until :meth:`resetExplore`. The duration is kept in ``lastUpdateSeconds``."""
        import SimpleITK as sitk

        from AttriVAELib import mrml
        from AttriVAELib.analysis import decode_in_source, latent_with

        started = time.perf_counter()
        analysis = self._current()
        self.exploreCode = latent_with(self._requireModel(), self.exploreCode, values)
        scene = slicer.mrmlScene.GetNodeByID(self.currentVolumeID).GetScene()
        decoded = decode_in_source(self.bundle, self.exploreCode, analysis.prepared.geometry,
                                   precision="auto")  # live preview: bf16 where fast
        node = mrml.set_volume_image(mrml.output_node(scene, "explore", "AttriVAE explore"), decoded)
        difference = mrml.set_volume_image(
            mrml.output_node(scene, "explore difference", "AttriVAE explore difference"),
            sitk.Subtract(decoded, analysis.reconstruction))
        mrml.show_signed(difference, threshold=0.1, scale=EXPLORE_DIFFERENCE_SCALE)
        self.lastUpdateSeconds = time.perf_counter() - started
        return node

    def resetExplore(self) -> dict:
        """Back to the subject's own code; returns its encoded attribute values (for the sliders)."""
        self.exploreCode = self._current().mu.clone()
        self.explore({})
        return dict(self._current().encoded)

    def exportTraversal(self, attribute: str, steps: int = 9, sequencesLogic=None):
        """A sequence (+ browser) sweeping one attribute over its training range, the other dims as the
        Explore sliders set them. Returns (sequence, browser)."""
        import numpy as np

        from AttriVAELib import mrml
        from AttriVAELib.analysis import decode_in_source, latent_with

        analysis = self._current()
        low, high, unit = self.attributeRanges()[attribute]
        values = np.linspace(low, high, steps).tolist()
        images = [decode_in_source(self.bundle, latent_with(self.bundle, self.exploreCode, {attribute: value}),
                                   analysis.prepared.geometry) for value in values]
        return mrml.set_sequence(slicer.mrmlScene, sequencesLogic or slicer.modules.sequences.logic(),
                                 "traversal", f"AttriVAE traversal {attribute}", images, values, attribute, unit)

    def interpolate(self, volumeA, volumeB, steps: int = 10, sequencesLogic=None):
        """A sequence decoding the straight line between two analysed volumes' codes, in A's geometry."""
        from AttriVAELib import mrml
        from AttriVAELib.analysis import decode_in_source
        from AttriVAELib.interpretation import interpolate

        if volumeA is None or volumeB is None:
            raise ValueError(_("choose the two volumes to interpolate between (Inputs and Explore sections)"))
        missing = [v.GetName() for v in (volumeA, volumeB) if v.GetID() not in self.analyses]
        if missing:
            raise ValueError(_("analyse both volumes first: {names}").format(names=", ".join(missing)))
        a, b = self.analyses[volumeA.GetID()], self.analyses[volumeB.GetID()]
        codes = interpolate(a.mu, b.mu, steps)
        images = [decode_in_source(self.bundle, z, a.prepared.geometry) for z in codes]
        return mrml.set_sequence(slicer.mrmlScene, sequencesLogic or slicer.modules.sequences.logic(),
                                 "interpolation", "AttriVAE interpolation", images,
                                 [i / (steps - 1) for i in range(steps)], "fraction of the way to B")

    # Train

    def startTraining(self, dataFolder, dataFormat: str = "auto", attributes=(), preset: str = "paper",
                      epochs: int | None = None, device: str = "auto", outputFolder=None, size=None,
                      augment: float | None = None):
        """Start training in a separate process (``PythonSlicer -m AttriVAELib train``); poll with
        :meth:`pollTraining`, stop with :meth:`cancelTraining`. ``augment``: probability of each random
        in-plane flip and 90° rotation (None: the preset's)."""
        if self.trainingRunning():
            raise RuntimeError(_("a training is already running; cancel it first"))
        if not dataFolder or not Path(dataFolder).exists():
            raise ValueError(_("dataset folder '{folder}' does not exist; choose the folder of the dataset")
                             .format(folder=dataFolder or ""))
        self.ensureDependencies()
        from AttriVAELib.process import TrainingProcess, training_command

        if not outputFolder:
            outputFolder = Path(dataFolder).parent / f"attrivae-run-{time.strftime('%Y%m%d-%H%M%S')}"
        python = shutil.which("PythonSlicer")
        command = training_command(dataFolder, outputFolder, data_format=dataFormat, preset=preset,
                                   attributes=list(attributes), epochs=epochs, size=size, device=device,
                                   augment=augment, python=python)
        self.trainingRows, self.trainingModel = [], None
        self.training = (self.launchProcess or TrainingProcess)(command)
        return self.training

    def trainingRunning(self) -> bool:
        return self.training is not None and self.training.running

    def pollTraining(self) -> dict:
        """Drain progress: updates the loss chart; returns fraction done, a status line, the chart, and at the
        end the model path or the error."""
        from AttriVAELib import mrml

        finished = not self.trainingRunning()
        code = self.training.wait() if finished and self.training is not None else None  # reads the last lines
        events = self.training.events() if self.training else []
        newEpochs = [e for e in events if e["event"] == "epoch"]
        self.trainingRows += newEpochs
        self.trainingModel = next((e["model"] for e in events if e["event"] == "done"), self.trainingModel)
        status = {"fraction": 0.0, "message": "", "newEpochs": len(newEpochs), "finished": finished,
                  "chart": mrml.set_loss_chart(slicer.mrmlScene, self.trainingRows) if self.trainingRows else None,
                  "model": self.trainingModel, "error": None}
        if self.trainingRows:
            last = self.trainingRows[-1]
            status["fraction"] = last["epoch"] / last["epochs"]
            status["message"] = _("epoch {e}/{n}: train {t:.4g}, validation {v:.4g}").format(
                e=last["epoch"], n=last["epochs"], t=last["train_total"], v=last["val_total"])
        if self.trainingModel:
            status.update(fraction=1.0, message=_("finished: {m}").format(m=self.trainingModel))
        elif code:
            status["error"] = self.training.error() or _(
                "training stopped (exit status {code}); a resumable checkpoint is in the run folder").format(code=code)
        return status

    def cancelTraining(self) -> None:
        if self.trainingRunning():
            self.training.cancel()


#
# AttriVAETest
#


class AttriVAETest(ScriptedLoadableModuleTest):
    """Runs in real Slicer on synthetic data only (no download). Without PyTorch it tests module loading."""

    def setUp(self) -> None:
        slicer.mrmlScene.Clear()

    def runTest(self) -> None:
        self.setUp()
        self.test_module_loads()
        if self._torchAvailable():
            self.setUp()
            self.test_analyze_explore_attention()

    @staticmethod
    def _torchAvailable() -> bool:
        import importlib.util

        return importlib.util.find_spec("torch") is not None

    def test_module_loads(self) -> None:
        self.assertTrue(hasattr(slicer.modules, "attrivae"))
        self.assertTrue(DEMO_MODEL.is_file())

    def test_analyze_explore_attention(self) -> None:
        self.delayDisplay("Analyse a synthetic sample with the demo model")
        logic = AttriVAELogic()
        logic.loadModel()
        volume, segmentation = logic.generateSyntheticSample(seed=1)
        before = slicer.util.arrayFromVolume(volume).copy()
        result = logic.analyze(volume, segmentation,
                               {"cavity": "LV cavity", "myocardium": "Myocardium", "infarct": "Infarct"})
        self.assertGreater(result["probability"], 0.5)
        self.assertEqual(result["table"].GetNumberOfRows(), len(logic.attributeNames()) + 1)
        nodes = logic.showAttention(volumeRenderingLogic=slicer.modules.volumerendering.logic())
        self.assertEqual(len(nodes), len(logic.attributeNames()))
        name = logic.attributeNames()[0]
        low, high, _unit = logic.attributeRanges()[name]
        explored = logic.explore({name: high})
        self.assertLess(logic.lastUpdateSeconds, 1.0)
        self.assertEqual(slicer.util.arrayFromVolume(explored).shape, before.shape)
        difference = slicer.mrmlScene.GetFirstNodeByName("AttriVAE explore difference")
        self.assertGreater(abs(slicer.util.arrayFromVolume(difference)).max(), 0.0)
        heat = logic.showAttention([name], method="gradcam")[name]
        self.assertGreaterEqual(slicer.util.arrayFromVolume(heat).min(), 0.0)
        sequence, browser = logic.exportTraversal(name, 5)
        self.assertEqual(sequence.GetNumberOfDataNodes(), 5)
        self.assertTrue((slicer.util.arrayFromVolume(volume) == before).all())
        self.delayDisplay("Test passed")
