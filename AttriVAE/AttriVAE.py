"""AttriVAE: interpretable, attribute-based analysis of the left ventricle in 3D cardiac MRI (Slicer module).

Thin by design: the widget wires the panel to :class:`AttriVAELogic`, which delegates to the ``AttriVAELib``
package and its MRML bridge ``AttriVAELib.slicer.mrml``. Nothing the panel does before a model action imports
PyTorch (``AttriVAELib.choices``, ``.config``, ``.slicer.mrml`` and ``.data.labels`` are torch-free), so the
module loads on a Slicer without the PyTorch extension. Supported: Slicer 5.10 and newer (Python 3.12); an older
Slicer gets one message instead of the panel.
"""

import hashlib
import logging
import shutil
import sys
import time
import warnings
from pathlib import Path
from typing import Annotated, Optional

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

from AttriVAELib import choices  # noqa: E402 - standard library only, importable on any Slicer's Python
from AttriVAELib.config import TrainConfig  # noqa: E402 - standard library only too

SHIPPED_MODEL = MODULE_DIR / "Resources" / "Models" / "attrivae-shipped.safetensors"
SYNTHETIC_SUBJECT = "AttriVAE.SyntheticSeed"
"""Node attribute of a volume made by the panel's synthetic-sample generator (its seed)."""
COMPARISON_LAYOUT = 5601
"""Layout id of the comparison: three linked slice views side by side (input | decoded | third), 3D below."""
COMPARISON_LAYOUT_XML = """<layout type="vertical" split="true">
 <item splitSize="600"><layout type="horizontal">
  <item><view class="vtkMRMLSliceNode" singletontag="Red"><property name="viewlabel" action="default">R</property>
   <property name="viewcolor" action="default">#F34A33</property></view></item>
  <item><view class="vtkMRMLSliceNode" singletontag="Yellow"><property name="viewlabel" action="default">Y</property>
   <property name="viewcolor" action="default">#EDD54C</property></view></item>
  <item><view class="vtkMRMLSliceNode" singletontag="Green"><property name="viewlabel" action="default">G</property>
   <property name="viewcolor" action="default">#6EB04B</property></view></item>
 </layout></item>
 <item splitSize="400"><view class="vtkMRMLViewNode" singletontag="1"/></item>
</layout>"""
REQUIREMENTS = MODULE_DIR / "Resources" / "requirements.txt"
SAMPLE_NAME = "AttriVAE synthetic LV"
"""The synthetic subject's entry in Slicer's Sample Data module (category :data:`SAMPLE_CATEGORY`)."""
SAMPLE_CATEGORY = "AttriVAE"
README_URL = "https://github.com/attrivae/SlicerAttriVAE#readme"
MINIMUM_SLICER = (5, 10)
"""Oldest supported Slicer: the first with Python 3.12 (the library and Captum need Python ≥ 3.10)."""


def slicerSupported() -> bool:
    return (slicer.app.majorVersion, slicer.app.minorVersion) >= MINIMUM_SLICER


def unsupportedMessage() -> str:
    return _("AttriVAE needs 3D Slicer {minimum} or newer; this is Slicer {version}. Install a current Slicer "
             "from https://download.slicer.org").format(minimum="{}.{}".format(*MINIMUM_SLICER),
                                                        version=f"{slicer.app.majorVersion}.{slicer.app.minorVersion}")


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
            "per-attribute attention maps and attribute sliders that morph the anatomy. Needs Slicer {minimum} "
            'or newer and the PyTorch extension. See the <a href="{url}">documentation</a>.').format(
                minimum="{}.{}".format(*MINIMUM_SLICER), url=README_URL)
        if not slicerSupported():
            self.parent.helpText = unsupportedMessage()
        else:
            slicer.app.connect("startupCompleted()", registerSampleData)
        self.parent.acknowledgementText = _(
            "Implements Attri-VAE: I. Cetin, M. Stephens, O. Camara, M. A. Gonzalez Ballester, "
            "'Attri-VAE: Attribute-based interpretable representations of medical images with variational "
            "autoencoders', Computerized Medical Imaging and Graphics 104 (2023) 102158.")


def registerSampleData() -> None:
    """Put the synthetic subject (MRI + LV segmentation, made on the spot by the package's generator: nothing
    is downloaded) in Slicer's Sample Data module, where tutorials start."""
    import SampleData

    SampleData.SampleDataLogic.registerCustomSampleDataSource(
        category=SAMPLE_CATEGORY, sampleName=SAMPLE_NAME, uris=[], fileNames=[], nodeNames=[],
        thumbnailFileName=str(MODULE_DIR / "Resources" / "Icons" / "AttriVAE.png"),
        customDownloader=lambda source: AttriVAELogic().generateSyntheticSample())


#
# AttriVAEParameterNode
#


@parameterNodeWrapper
class AttriVAEParameterNode:
    """The module's settings and inputs, saved with the scene. Segment names are chosen in the panel."""

    inputVolume: vtkMRMLScalarVolumeNode
    inputSegmentation: vtkMRMLSegmentationNode
    inputLabelMap: vtkMRMLLabelMapVolumeNode
    labelScheme: Annotated[str, Choice(list(choices.LABEL_SCHEMES))] = choices.LABEL_SCHEMES[0]
    attentionMethod: Annotated[str, Choice(list(choices.ATTRIBUTION_METHODS))] = choices.DEFAULT_METHOD
    attentionLayer: Annotated[str, Choice(list(choices.ENCODER_LAYERS))] = choices.DEFAULT_LAYER
    attentionThreshold: Annotated[float, WithinRange(0.0, 1.0)] = 0.2
    attentionRender3D: bool = True
    traversalSteps: Annotated[int, WithinRange(2, 50)] = 9
    interpolationVolume: vtkMRMLScalarVolumeNode
    interpolationSteps: Annotated[int, WithinRange(2, 50)] = 10
    trainDataFormat: Annotated[str, Choice(list(choices.DATA_FORMATS))] = choices.DATA_FORMATS[0]
    trainAttributes: str = ""
    trainPreset: Annotated[str, Choice(list(choices.PRESET_NAMES))] = choices.PRESET_NAMES[0]
    trainEpochs: Annotated[int, WithinRange(1, 100000)] = TrainConfig.epochs  # as attrivae train
    trainAugment: Annotated[float, WithinRange(0.0, 1.0)] = 0.0
    trainDevice: Annotated[str, Choice(list(choices.DEVICES))] = choices.DEVICES[0]


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
        self._sliders = {}  # attribute → its Explore slider
        self._shownLabels = {}  # attribute → the label beside its slider: what the decoded anatomy shows
        self._exploreNotes = None  # the label under the sliders: requests that could not be drawn as asked
        self._comparisonShown = False  # the Explore comparison layout was set up for the current analysis
        self._chartShown = False  # the loss chart was put in the layout once for this training
        self._attentionNodes = {}  # attribute → its attention volume, of the last "Show attention"
        self._trainingTimer = qt.QTimer()
        self._trainingTimer.setInterval(500)
        self._trainingTimer.timeout.connect(self.onTrainingTimer)

    def setup(self) -> None:
        ScriptedLoadableModuleWidget.setup(self)
        if not slicerSupported():
            logging.error(unsupportedMessage())
            message = qt.QLabel(unsupportedMessage())
            message.wordWrap = True
            self.layout.addWidget(message)
            return
        uiWidget = slicer.util.loadUI(self.resourcePath("UI/AttriVAE.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)
        self.logic = AttriVAELogic()

        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)

        self.ui.modelPathLineEdit.currentPath = str(SHIPPED_MODEL)
        self.ui.loadModelButton.connect("clicked(bool)", self.onLoadModel)
        self.ui.inputSegmentationSelector.connect("currentNodeChanged(vtkMRMLNode*)", self.updateSegmentChoices)
        self.ui.syntheticSampleButton.connect("clicked(bool)", self.onSyntheticSample)
        self.ui.analyzeButton.connect("clicked(bool)", self.onAnalyze)
        self.ui.attentionButton.connect("clicked(bool)", self.onAttention)
        self.ui.attentionMethodComboBox.connect("currentTextChanged(QString)", self.onAttentionMethod)
        self.ui.attentionMethodComboBox.toolTip = choices.describe_methods()
        self.ui.attentionLayerComboBox.toolTip = _(
            "encoder layer that {methods} explains: {coarsest} (the paper's) is the coarsest, {finest} the finest"
        ).format(methods=", ".join(name for name, method in choices.ATTRIBUTION.items() if method.layered),
                 coarsest=choices.DEFAULT_LAYER, finest=choices.ENCODER_LAYERS[0])
        self.ui.attentionShownComboBox.connect("currentTextChanged(QString)", self.onAttentionShown)
        self.ui.exploreResetButton.connect("clicked(bool)", self.onExploreReset)
        self.ui.exportTraversalButton.connect("clicked(bool)", self.onExportTraversal)
        self.ui.interpolateButton.connect("clicked(bool)", self.onInterpolate)
        self.ui.trainButton.connect("clicked(bool)", self.onTrainButton)
        self.initializeParameterNode()
        self.onAttentionMethod(self._parameterNode.attentionMethod)

    def cleanup(self) -> None:
        self._trainingTimer.stop()
        if self.logic is not None:
            self.logic.cancelTraining()
        self.removeObservers()

    def enter(self) -> None:
        if self.logic is not None:
            self.initializeParameterNode()

    def exit(self) -> None:
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self._parameterNodeGuiTag = None

    def onSceneStartClose(self, caller, event) -> None:
        self.setParameterNode(None)
        self.logic.clearResults()  # node IDs are reused after a close: no result may outlive its scene
        self._showResultsCleared()

    def onSceneEndClose(self, caller, event) -> None:
        if self.parent.isEntered:
            self.initializeParameterNode()

    def initializeParameterNode(self) -> None:
        from AttriVAELib.slicer import mrml

        self.setParameterNode(self.logic.getParameterNode())
        if not self._parameterNode.inputVolume:
            self._parameterNode.inputVolume = mrml.first_input_volume(slicer.mrmlScene)

    def setParameterNode(self, inputParameterNode: Optional[AttriVAEParameterNode]) -> None:  # noqa: UP045 - Python 3.9 shows the version message
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

    def _showResultsCleared(self) -> None:
        self.ui.probabilityLabel.text = ""
        self.ui.trainingDataLabel.text = ""
        self.ui.attributeTableView.setMRMLTableNode(None)
        self._showAttentionChoices({})
        for slider in self._sliders.values():
            slider.enabled = False

    # Model

    def onLoadModel(self) -> None:
        card = self._run(self.logic.loadModel, self.ui.modelPathLineEdit.currentPath or None)
        if card is not None:
            self._showModel()

    def _showModel(self) -> None:
        """Model card, attribute choices and one slider per regularised attribute, in attribute units."""
        self.ui.modelCardBrowser.setPlainText(self.logic.modelDescription())
        names = self.logic.attributeNames()
        for combo in (self.ui.attentionAttributeComboBox, self.ui.traversalAttributeComboBox):
            combo.clear()
            combo.addItems(names)
        self.ui.attentionAttributeComboBox.insertItem(0, _("all attributes"))
        self.ui.attentionAttributeComboBox.setCurrentIndex(0)
        layout = self.ui.exploreSlidersFrame.layout()
        while layout.rowCount():
            layout.removeRow(0)
        self._sliders, self._shownLabels = {}, {}
        for name, (low, high, unit) in self.logic.attributeRanges().items():
            slider = ctk.ctkSliderWidget()
            slider.minimum, slider.maximum = low, high
            slider.singleStep = (high - low) / 100.0
            slider.decimals = 2
            slider.suffix = f" {unit}" if unit else ""
            slider.tracking = False  # decode once on release, not on every step of a drag
            slider.enabled = False
            slider.connect("valueChanged(double)", lambda value, name=name: self.onSlider(name, value))
            shown = qt.QLabel()
            shown.toolTip = _("the value measured on the decoded anatomy now shown")
            row = qt.QWidget()
            rowLayout = qt.QHBoxLayout(row)
            rowLayout.setContentsMargins(0, 0, 0, 0)
            rowLayout.addWidget(slider, 1)
            rowLayout.addWidget(shown)
            layout.addRow(name, row)
            self._sliders[name], self._shownLabels[name] = slider, shown
        self._exploreNotes = qt.QLabel()
        self._exploreNotes.wordWrap = True
        self._exploreNotes.setStyleSheet("color: #a03020")
        layout.addRow(self._exploreNotes)

    def _showExplored(self) -> None:
        """Beside each slider, what the decoded anatomy shows now (or that the slider is in encoder units);
        under them, what could not be drawn as asked."""
        if self._exploreNotes is None:  # no model shown yet
            return
        explored = self.logic.lastExplore or {"shown": {}, "notes": []}
        shown = explored["shown"] or {}
        ranges = self.logic.attributeRanges()
        for name, label in self._shownLabels.items():
            value = shown.get(name)
            unit = f" {ranges[name][2]}" if ranges[name][2] else ""
            label.text = (_("encoder units") if value is None else
                          _("shows {value:.4g}{unit}").format(value=value, unit=unit) if value == value else
                          _("shows: not measurable"))
        self._exploreNotes.text = "\n".join(explored["notes"])

    # Inputs

    def updateSegmentChoices(self, segmentation=None) -> None:
        from AttriVAELib.data.labels import guess_segment
        from AttriVAELib.slicer import mrml

        names = mrml.segment_names(segmentation) if segmentation else []
        combos = {"cavity": self.ui.cavitySegmentComboBox, "myocardium": self.ui.myocardiumSegmentComboBox,
                  "infarct": self.ui.infarctSegmentComboBox}
        for role, combo in combos.items():
            combo.clear()
            combo.addItems(([_("(none)")] if role == "infarct" else []) + names)
            guess = guess_segment(role, names)
            if guess:
                combo.setCurrentText(guess)

    def _segments(self) -> dict:
        infarct = self.ui.infarctSegmentComboBox
        return {"cavity": self.ui.cavitySegmentComboBox.currentText,
                "myocardium": self.ui.myocardiumSegmentComboBox.currentText,
                "infarct": infarct.currentText if infarct.currentIndex > 0 else None}

    def onSyntheticSample(self) -> None:
        nodes = self._run(self.logic.generateSyntheticSample)
        if nodes:
            self._parameterNode.inputVolume, self._parameterNode.inputSegmentation = nodes
            slicer.util.setSliceViewerLayers(background=nodes[0], fit=True)

    # Analyze, attention, explore

    def onAnalyze(self) -> None:
        p = self._parameterNode
        result = self._run(self.logic.analyze, p.inputVolume, p.inputSegmentation, self._segments(),
                           p.inputLabelMap, p.labelScheme)
        if result is None:
            return
        if not self._sliders:  # the shipped model was loaded on first use
            self._showModel()
        self.ui.probabilityLabel.text = _("P(infarct) = {p:.2f}").format(p=result["probability"])
        self.ui.trainingDataLabel.text = result["notice"]
        self._comparisonShown = False  # a new subject: its first slider move sets up the comparison again
        self._showAttentionChoices({})  # the maps shown were another analysis's
        self.ui.attributeTableView.setMRMLTableNode(result["table"])
        for name, slider in self._sliders.items():
            slider.blockSignals(True)
            slider.value = result["encoded"][name]
            slider.blockSignals(False)
            slider.enabled = True
        self._showExplored()
        slicer.util.setSliceViewerLayers(background=p.inputVolume, foreground=result["reconstruction"],
                                         foregroundOpacity=0.5, fit=True)

    def onAttention(self) -> None:
        p = self._parameterNode
        index = self.ui.attentionAttributeComboBox.currentIndex
        attributes = None if index <= 0 else [self.ui.attentionAttributeComboBox.currentText]
        nodes = self._run(self.logic.showAttention, attributes, p.attentionMethod, p.attentionLayer,
                          p.attentionThreshold, self._renderingLogic())
        if nodes:
            self._showAttentionChoices(nodes)

    def _renderingLogic(self):
        return slicer.modules.volumerendering.logic() if self._parameterNode.attentionRender3D else None

    def _showAttentionChoices(self, nodes: dict) -> None:
        """Offer the computed maps (the first is shown) in the "Shown map" choice."""
        self._attentionNodes = {}  # no map is shown while the choices change
        combo = self.ui.attentionShownComboBox
        combo.clear()
        combo.addItems(list(nodes))
        combo.enabled = bool(nodes)
        self._attentionNodes = dict(nodes)

    def onAttentionShown(self, attribute: str) -> None:
        node = self._attentionNodes.get(attribute)
        if node is not None:
            self._run(self.logic.showAttentionMap, node, self._renderingLogic())

    def onAttentionMethod(self, method: str) -> None:
        chosen = choices.ATTRIBUTION.get(method)  # none while the combo is being filled
        self.ui.attentionLayerComboBox.enabled = chosen is not None and chosen.layered

    def onSlider(self, name: str, value: float) -> None:
        if self._run(self.logic.explore, {name: value}) is not None:
            self._run(self.logic.showExploreComparison, not self._comparisonShown)
            self._comparisonShown = True
            slicer.app.processEvents()  # the views show the decoded volume before its anatomy is segmented
            self._run(self.logic.showExploredAnatomy)
            self._showExplored()

    def onExploreReset(self) -> None:
        values = self._run(self.logic.resetExplore)
        if values is not None:
            self._run(self.logic.showExploredAnatomy)
        for name, value in (values or {}).items():
            self._sliders[name].blockSignals(True)
            self._sliders[name].value = value
            self._sliders[name].blockSignals(False)
        if values is not None:
            self._showExplored()

    def onExportTraversal(self) -> None:
        nodes = self._run(self.logic.exportTraversal, self.ui.traversalAttributeComboBox.currentText,
                          self._parameterNode.traversalSteps)
        if nodes:
            slicer.modules.sequences.showSequenceBrowser(nodes[1])
            self._run(self.logic.showSequenceComparison, nodes[1])

    def onInterpolate(self) -> None:
        p = self._parameterNode
        nodes = self._run(self.logic.interpolate, p.inputVolume, p.interpolationVolume, p.interpolationSteps)
        if nodes:
            slicer.modules.sequences.showSequenceBrowser(nodes[1])
            self._run(self.logic.showSequenceComparison, nodes[1])

    # Train

    def onTrainButton(self) -> None:
        if self.logic.trainingRunning():
            self.logic.cancelTraining()  # returns at once: the timer sees the end
            self.ui.trainStatusLabel.text = _("cancelling…")
            return
        p = self._parameterNode
        started = self._run(self.logic.startTraining, self.ui.trainDataPathLineEdit.currentPath, p.trainDataFormat,
                            p.trainAttributes, p.trainPreset, p.trainEpochs, p.trainDevice,
                            self.ui.trainOutputPathLineEdit.currentPath, None, p.trainAugment)
        if started is not None:
            self.ui.trainButton.text = _("Cancel")
            self.ui.trainProgressBar.setValue(0)
            self.ui.trainStatusLabel.text = _("starting…")
            self._chartShown = False
            self._trainingTimer.start()

    def onTrainingTimer(self) -> None:
        status = self.logic.pollTraining()
        self.ui.trainProgressBar.setValue(int(100 * status.fraction))
        self.ui.trainStatusLabel.text = status.message
        if self.logic.trainingChart is not None and not self._chartShown:
            slicer.modules.plots.logic().ShowChartInLayout(self.logic.trainingChart)  # once: the user may
            self._chartShown = True  # switch layouts while it trains
        if status.finished:
            self._trainingTimer.stop()
            self.ui.trainButton.text = _("Start training")
            if status.error:
                slicer.util.errorDisplay(status.error, windowTitle=_("AttriVAE training"))
            elif status.model:
                self.ui.modelPathLineEdit.currentPath = status.model
                self.onLoadModel()


#
# AttriVAELogic
#


class AttriVAELogic(ScriptedLoadableModuleLogic):
    """Everything the panel does, usable from the Python console without the GUI::

        logic = AttriVAELogic()
        logic.loadModel()                                  # the shipped model
        volume, segmentation = logic.generateSyntheticSample()
        result = logic.analyze(volume, segmentation)       # reconstruction, table, probability
        logic.showAttention()                              # attention volumes, one per attribute
        logic.explore({"lv_volume_ml": 180.0})             # decode with LV volume set to 180 mL
        logic.showExploredAnatomy()                        # its anatomy as surfaces, and what it measures

    Outputs are nodes tagged by role, input volume and model file (see ``AttriVAELib.slicer.mrml``), in one
    subject-hierarchy folder per input and model: analysing the same input with the same model again updates
    them, another input or model keeps its own. Input nodes are never modified. ``launchProcess(command)``
    starts a training process (default ``AttriVAELib.slicer.process.TrainingProcess``); tests inject their own.
    """

    def __init__(self, launchProcess=None) -> None:
        if not slicerSupported():
            raise RuntimeError(unsupportedMessage())
        ScriptedLoadableModuleLogic.__init__(self)
        self.launchProcess = launchProcess
        self.bundle = None
        self.modelPath = None
        self.modelSHA256 = None  # of the model file: recorded on every output
        self.analyses = {}  # input volume node ID -> AttriVAELib.interpretation.analysis.SubjectAnalysis
        self._analysedNodes = {}  # input volume node ID -> the node analysed (IDs are reused in a new scene)
        self._anatomyInputs = {}  # input volume node ID -> (its label map, AttriVAELib.data.labels.LabelScheme)
        self.currentVolumeID = None
        self.exploreCode = None  # latent code (L,) the Explore sliders edit
        self.training = None  # AttriVAELib.slicer.process.TrainingProcess
        self.trainingMonitor = None  # its AttriVAELib.slicer.process.TrainingMonitor
        self.trainingChart = None  # loss chart node of the current training, once an epoch finished
        self.lastUpdateSeconds = None
        self.lastExplore = None  # what the last explore drew and what its decoded anatomy shows
        self._exploredCube = None  # (S, S, S) the decoded cube the last explore drew

    def getParameterNode(self):
        return AttriVAEParameterNode(super().getParameterNode())

    def clearResults(self) -> None:
        """Forget every analysis (call when the scene closes: MRML reuses node IDs in the next scene)."""
        self.analyses, self._analysedNodes, self.currentVolumeID, self.exploreCode = {}, {}, None, None

    # Dependencies and model

    @staticmethod
    def ensureDependencies(askConfirmation: bool = True) -> None:
        """Install PyTorch (through the PyTorch extension) and the pip requirements, after one confirmation
        listing them, with pip kept from replacing the installed torch (:mod:`AttriVAELib.slicer.dependencies`)."""
        import importlib.util

        from AttriVAELib.slicer import dependencies

        if dependencies.installed_version("torch") is None and importlib.util.find_spec("PyTorchUtils") is None:
            raise dependencies.DependencyError(_("AttriVAE needs the PyTorch extension: install 'PyTorch' from the "
                                                 "Extensions Manager, restart Slicer and try again"))
        dependencies.ensure_dependencies(requirementLines(), SlicerInstaller(), ask=askConfirmation)

    def loadModel(self, path=None):
        """Load a model bundle (default: the shipped model); returns its card
        (:class:`AttriVAELib.modelfile.card.ModelCard`)."""
        self.ensureDependencies()
        from AttriVAELib import load_model

        path = Path(path) if path else SHIPPED_MODEL
        self.useModel(load_model(path, "cpu"), path)
        return self.bundle.card

    def useModel(self, bundle, path) -> None:
        """Make ``bundle`` (an ``AttriVAELib.ModelBundle`` read from the file ``path``) the current model; its
        file's SHA-256 goes on every output. Earlier analyses are forgotten."""
        with open(path, "rb") as file:
            self.modelSHA256 = hashlib.file_digest(file, "sha256").hexdigest()
        self.bundle, self.modelPath = bundle, Path(path)
        self.clearResults()

    def _requireModel(self):
        if self.bundle is None:
            self.loadModel()
        return self.bundle

    def attributeNames(self) -> list:
        return list(self._requireModel().attribute_names)

    def attributeRanges(self) -> dict:
        """Attribute → (training minimum, training maximum, unit) for sliders in attribute units."""
        return self._requireModel().attribute_ranges()

    def modelDescription(self) -> str:
        return _("File: {path}").format(path=self.modelPath) + "\n" + self._requireModel().describe()

    # Inputs

    def inputImages(self, volumeNode, segmentationNode=None, segments=None, labelMapNode=None,
                    labelScheme: str = "emidec"):
        """(image, label image, label scheme) of the inputs: a segmentation with named segments
        (``segments``: {"cavity": name, "myocardium": name, optional "infarct": name}) or a label map."""
        from AttriVAELib.data.labels import EMIDEC_SCHEME, scheme_named, segment_labels
        from AttriVAELib.slicer import mrml

        image = mrml.image_from_volume(volumeNode, "input volume")
        if segmentationNode is not None:
            named = segment_labels(segments or {"cavity": "LV cavity", "myocardium": "Myocardium"})
            return image, mrml.labels_from_segmentation(segmentationNode, volumeNode, named, image), EMIDEC_SCHEME
        if labelMapNode is None:
            raise ValueError(_("no LV segmentation selected; choose a segmentation or a label map of the volume"))
        return image, mrml.labels_from_labelmap(labelMapNode), scheme_named(labelScheme)  # preprocess checks the grid

    def generateSyntheticSample(self, seed: Optional[int] = None):  # noqa: UP045 - Python 3.9 reads this file
        """Add a synthetic LGE-like volume and its segmentation (LV cavity, Myocardium, Infarct; outlined in the
        slice views) to the scene."""
        self.ensureDependencies()
        import SimpleITK as sitk

        from AttriVAELib.data.synthetic import synthetic_subject
        from AttriVAELib.slicer import mrml

        seed = int(time.time()) % 100000 if seed is None else seed
        image, labels = synthetic_subject(seed, infarct=True)
        scene = slicer.mrmlScene
        volume = mrml.set_volume_image(scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode",
                                                               scene.GenerateUniqueName("Synthetic LGE")), image)
        volume.SetAttribute(SYNTHETIC_SUBJECT, str(seed))
        infarct_with_no_reflow = sitk.Clamp(labels, upperBound=3)  # the no-reflow core (4) is infarct too
        segmentation = mrml.add_segmentation(scene, infarct_with_no_reflow, {1: "LV cavity", 2: "Myocardium",
                                                                             3: "Infarct"}, volume,
                                             "Synthetic LV segmentation")
        segmentation.GetDisplayNode().SetVisibility2DFill(False)  # outlines: the maps' colours stay readable
        return volume, segmentation

    # Analyze

    def analyze(self, volumeNode, segmentationNode=None, segments=None, labelMapNode=None,
                labelScheme: str = "emidec") -> dict:
        """Encode one volume: reconstruction volume, infarct probability and the attribute table
        (measured on the segmentation vs encoded by the latent dims, with the 95 % interval of each encoded
        value and whether it is calibrated), and the decoded responses the Explore sliders are aimed with.
        Returns the output nodes and values."""
        bundle = self._requireModel()
        from AttriVAELib.interpretation.analysis import analyse_subject
        from AttriVAELib.slicer import mrml

        image, labels, scheme = self.inputImages(volumeNode, segmentationNode, segments, labelMapNode, labelScheme)
        source, notice = self._source(volumeNode), self.trainingDataNotice(volumeNode)
        analysis = analyse_subject(bundle, image, labels, scheme, name=f"volume '{volumeNode.GetName()}'")
        self.analyses[volumeNode.GetID()], self._analysedNodes[volumeNode.GetID()] = analysis, volumeNode
        self.currentVolumeID = volumeNode.GetID()
        self.exploreCode = analysis.mu.clone()
        self.lastExplore = {"drawn": {}, "shown": dict(analysis.shown), "notes": []}
        self._anatomyInputs[volumeNode.GetID()] = labels, scheme
        nodes = mrml.show_analysis(volumeNode.GetScene(), source, analysis.reconstruction, analysis.table(), labels,
                                   scheme, notice)
        return {**nodes, "probability": analysis.probability,
                "measured": analysis.measured, "encoded": analysis.encoded, "intervals": analysis.intervals,
                "calibrated": analysis.calibrated, "notice": notice}

    def trainingDataNotice(self, volumeNode) -> str:
        """One line when the current model learned from the synthetic cohort and the volume is not one of the
        panel's synthetic subjects (a loaded MRI): nothing has checked its values on such images. Empty
        otherwise."""
        data = self._requireModel().card.data
        if data.synthetic is None or volumeNode.GetAttribute(SYNTHETIC_SUBJECT) is not None:
            return ""
        return _("This model learned from {subjects} synthetic subjects ({name}), not from MRI scans: its values "
                 "for this volume have not been checked against real measurements").format(
                     subjects=data.subjects, name=data.name)

    def _source(self, volumeNode):
        """What outputs made from ``volumeNode`` by the current model are keyed and labelled by."""
        from AttriVAELib.slicer import mrml

        return mrml.Source(volumeNode, self.modelSHA256, self.modelPath.name)

    def _currentSource(self):
        self._current()
        return self._source(self._analysedNodes[self.currentVolumeID])

    def _analysisOf(self, volumeID):
        """The analysis of a volume that is still in the scene (the same node, not one reusing its ID)."""
        node = self._analysedNodes.get(volumeID)
        if node is None or slicer.mrmlScene.GetNodeByID(volumeID) is not node:
            return None
        return self.analyses[volumeID]

    def _current(self):
        analysis = self._analysisOf(self.currentVolumeID)
        if analysis is None:
            raise ValueError(_("analyse a volume first (Analyze section)"))
        return analysis

    def showAttention(self, attributes=None, method: str = choices.DEFAULT_METHOD,
                      layer: str = choices.DEFAULT_LAYER, threshold: float = 0.2, volumeRenderingLogic=None) -> dict:
        """Attention volumes (one per attribute, default all) in the input's geometry, each tagged with the
        method, layer and threshold; the first is shown (:meth:`showAttentionMap`). Signed methods show red where
        a voxel raises the attribute and blue where it lowers it. Returns {attribute: node}."""
        from AttriVAELib.interpretation.analysis import attention_in_source
        from AttriVAELib.slicer import mrml

        analysis = self._current()
        maps = attention_in_source(self._requireModel(), analysis.prepared, attributes, method, layer)
        nodes = mrml.set_attention(slicer.mrmlScene, maps, method, layer, threshold, self._currentSource())
        self.showAttentionMap(nodes[next(iter(nodes))], volumeRenderingLogic)
        return nodes

    def showAttentionMap(self, node, volumeRenderingLogic=None) -> None:
        """Show one attention map over the analysed input in the slice views with its colour legend and, given
        ``volumeRenderingLogic``, volume-rendered in 3D (other maps' renderings hidden) inside the input's
        faint LV surfaces, the 3D view turned to the heart."""
        from AttriVAELib.slicer import mrml

        mrml.show_attention_map(node, self._analysedNodes[self.currentVolumeID], volumeRenderingLogic)
        mrml.aim_cameras(slicer.mrmlScene, self._showAnatomy())

    def _showAnatomy(self):
        """The analysed input's LV cavity and myocardium as faint 3D surfaces ("AttriVAE anatomy"), shown (made
        again if the user deleted or hid them)."""
        from AttriVAELib.slicer import mrml

        labels, scheme = self._anatomyInputs[self.currentVolumeID]
        return mrml.set_anatomy(slicer.mrmlScene, labels, scheme, self._currentSource())

    # Explore

    def explore(self, values: dict):
        """Set attributes (attribute units) in the current code and decode it. Each request is aimed through the
        subject's decoded response, so that the decoded anatomy shows the value asked for; requests beyond the
        training range or what the decoder draws are clamped, and EF, infarct size and custom attributes keep
        the encoder's units (each said in ``lastExplore["notes"]`` and as a warning). Outputs: the decoded
        volume ("AttriVAE explore", returned), its signed difference from the subject's own reconstruction
        ("AttriVAE explore difference", red brighter, blue darker). ``lastExplore`` holds ``drawn`` (attribute →
        value aimed at) and ``notes``; :meth:`showExploredAnatomy` then shows the decoded anatomy and adds
        ``shown``, what it measures. Earlier settings stay until :meth:`resetExplore`. The duration is kept in
        ``lastUpdateSeconds``."""
        import SimpleITK as sitk

        from AttriVAELib.interpretation.analysis import explore_code
        from AttriVAELib.interpretation.inference import decode
        from AttriVAELib.slicer import mrml

        started = time.perf_counter()
        analysis, bundle = self._current(), self._requireModel()
        explored = explore_code(bundle, analysis, self.exploreCode, values)
        self.exploreCode = explored.code
        geometry = analysis.prepared.geometry
        cube = decode(bundle, explored.code, precision="auto")[0, 0].cpu().numpy()  # live preview: bf16 where fast
        scene = slicer.mrmlScene
        decoded = geometry.to_source(cube)
        source = self._currentSource()
        node = mrml.set_volume_image(mrml.output_node(scene, "explore", "AttriVAE explore", source=source), decoded)
        difference = mrml.set_volume_image(
            mrml.output_node(scene, "explore difference", "AttriVAE explore difference", source=source),
            sitk.Subtract(decoded, analysis.reconstruction))
        mrml.show_difference(difference)
        self._exploredCube = cube
        notes = [note for aimed in explored.aims.values() for note in aimed.notes()]
        for note in notes:
            warnings.warn(note, stacklevel=2)
        self.lastExplore = {"drawn": {name: float(aimed.target[0]) for name, aimed in explored.aims.items()},
                            "shown": None, "notes": notes}
        self.lastUpdateSeconds = time.perf_counter() - started
        return node

    def showComparison(self, decoded, third, thirdOverlay=None, switchLayout: bool = True) -> None:
        """The analysed input, ``decoded`` and ``third`` (with ``thirdOverlay`` blended on top) side by side in
        linked slice views (Red, Yellow, Green); with ``switchLayout`` the comparison layout is set and the
        views turned to the input's own image plane and fitted (once per subject: afterwards the user's
        layout, zoom and plane stay). Attention maps' legends and renderings are hidden: no view shows one."""
        from AttriVAELib.slicer import mrml

        volume = self._analysedNodes[self.currentVolumeID]
        mrml.hide_attention(slicer.mrmlScene)  # the views no longer show a map
        layoutManager = slicer.app.layoutManager()
        if switchLayout:
            layoutNode = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLLayoutNode")
            if not layoutNode.IsLayoutDescription(COMPARISON_LAYOUT):
                layoutNode.AddLayoutDescription(COMPARISON_LAYOUT, COMPARISON_LAYOUT_XML)
            layoutManager.setLayout(COMPARISON_LAYOUT)
        layers = {"Red": (volume, None), "Yellow": (decoded, None), "Green": (third, thirdOverlay)}
        for view, (background, foreground) in layers.items():
            sliceWidget = layoutManager.sliceWidget(view)
            composite = sliceWidget.sliceLogic().GetSliceCompositeNode()
            composite.SetBackgroundVolumeID(background.GetID())
            composite.SetForegroundVolumeID(foreground.GetID() if foreground is not None else None)
            composite.SetForegroundOpacity(1.0 if foreground is not None else 0.0)
            composite.SetLinkedControl(True)
            if switchLayout:
                showImagePlane(sliceWidget.mrmlSliceNode(), volume)
                sliceWidget.sliceLogic().FitSliceToAll()

    def showExploreComparison(self, switchLayout: bool = True) -> None:
        """Input | the volume the last :meth:`explore` decoded | that volume with its difference from the
        subject's reconstruction on top (red brighter, blue darker)."""
        from AttriVAELib.slicer import mrml

        scene, source = slicer.mrmlScene, self._currentSource()
        decoded = mrml.output_node(scene, "explore", "AttriVAE explore", source=source)
        difference = mrml.output_node(scene, "explore difference", "AttriVAE explore difference", source=source)
        self.showComparison(decoded, decoded, difference, switchLayout)
        if switchLayout:
            mrml.aim_cameras(scene, self._showAnatomy())  # the decoded anatomy's surfaces appear inside it

    def showSequenceComparison(self, browser) -> None:
        """Input | the sequence's current volume (the browser's proxy: it follows the browser's steps) | the
        subject's reconstruction."""
        from AttriVAELib.slicer import mrml

        proxy = browser.GetProxyNode(browser.GetMasterSequenceNode())
        reconstruction = mrml.output_node(slicer.mrmlScene, "reconstruction", "AttriVAE reconstruction",
                                          source=self._currentSource())
        self.showComparison(proxy, reconstruction)

    def showExploredAnatomy(self) -> dict:
        """Segment the decoded volume the last :meth:`explore` drew, show it as surfaces ("AttriVAE explore
        anatomy": bright pool and myocardium, outlines in the slice views, surfaces in 3D) and measure every
        attribute a decoded volume shows on it (attribute → value in its units; NaN: not measurable; also kept in
        ``lastExplore["shown"]``). The panel calls it once the views show the decoded volume, so that the slider
        is not held back by it."""
        from AttriVAELib.data.decoded import DECODED_LABELS, decoded_label_map
        from AttriVAELib.interpretation.traversal import shown_values
        from AttriVAELib.slicer import mrml

        anatomy = decoded_label_map(self._exploredCube, self._current().prepared.geometry)
        mrml.set_surfaces(slicer.mrmlScene, "explore anatomy", "AttriVAE explore anatomy", anatomy, DECODED_LABELS,
                          mrml.DECODED_ANATOMY_COLOURS, self._currentSource(), mrml.DECODED_ANATOMY_OPACITY_3D)
        self.lastExplore["shown"] = shown_values(self._requireModel(), anatomy)
        return self.lastExplore["shown"]

    def resetExplore(self) -> dict:
        """Back to the subject's own code; returns its encoded attribute values (for the sliders)."""
        self.exploreCode = self._current().mu.clone()
        self.explore({})
        return dict(self._current().encoded)

    def exportTraversal(self, attribute: str, steps: int = 9, sequencesLogic=None):
        """A sequence (+ browser) sweeping one attribute over its training range, the other dims as the
        Explore sliders set them, aimed as :meth:`explore` and decoded in one batch; indexed by the values asked
        for (clamped ones are warned about). Returns (sequence, browser)."""
        from AttriVAELib.interpretation.analysis import decodes_in_source, traversal_codes
        from AttriVAELib.slicer import mrml

        analysis = self._current()
        aimed, codes = traversal_codes(self._requireModel(), analysis, self.exploreCode, attribute, steps)
        for note in aimed.notes():
            warnings.warn(note, stacklevel=2)
        images = decodes_in_source(self.bundle, codes, analysis.prepared.geometry)
        return mrml.set_sequence(slicer.mrmlScene, sequencesLogic or slicer.modules.sequences.logic(),
                                 "traversal", f"AttriVAE traversal {attribute}", images, aimed.requested.tolist(),
                                 attribute, aimed.unit, self._currentSource())

    def interpolate(self, volumeA, volumeB, steps: int = 10, sequencesLogic=None):
        """A sequence decoding the straight line between two analysed volumes' codes, in A's geometry."""
        from AttriVAELib.interpretation.analysis import decodes_in_source
        from AttriVAELib.interpretation.inference import interpolate
        from AttriVAELib.slicer import mrml

        if volumeA is None or volumeB is None:
            raise ValueError(_("choose the two volumes to interpolate between (Inputs and Explore sections)"))
        missing = [v.GetName() for v in (volumeA, volumeB) if self._analysisOf(v.GetID()) is None]
        if missing:
            raise ValueError(_("analyse both volumes first: {names}").format(names=", ".join(missing)))
        a, b = self._analysisOf(volumeA.GetID()), self._analysisOf(volumeB.GetID())
        images = decodes_in_source(self._requireModel(), interpolate(a.mu, b.mu, steps), a.prepared.geometry)
        return mrml.set_sequence(slicer.mrmlScene, sequencesLogic or slicer.modules.sequences.logic(),
                                 "interpolation", "AttriVAE interpolation", images,
                                 [i / (steps - 1) for i in range(steps)], _("fraction of the way to B"),
                                 source=self._source(volumeA))

    # Train

    def startTraining(self, dataFolder, dataFormat: str = "auto", attributes: str = "", preset: str = "paper",
                      epochs: Optional[int] = None, device: str = "auto", outputFolder=None,  # noqa: UP045
                      size=None, augment: Optional[float] = None):  # noqa: UP045 - Python 3.9 reads this file
        """Start training in a separate process (``PythonSlicer -m AttriVAELib train``); poll with
        :meth:`pollTraining`, stop with :meth:`cancelTraining`. ``attributes``: comma-separated names as the
        user wrote them (the training command reads them); ``size``: network cube edge in voxels; ``augment``:
        probability of each random in-plane flip and 90° rotation (None: the preset's)."""
        if self.trainingRunning():
            raise RuntimeError(_("a training is already running; cancel it first"))
        if not dataFolder or not Path(dataFolder).exists():
            raise ValueError(_("dataset folder '{folder}' does not exist; choose the folder of the dataset")
                             .format(folder=dataFolder or ""))
        self.ensureDependencies()
        from AttriVAELib.slicer.process import TrainingMonitor, TrainingProcess, training_command

        if not outputFolder:
            outputFolder = Path(dataFolder).parent / f"attrivae-run-{time.strftime('%Y%m%d-%H%M%S')}"
        settings = {"epochs": epochs, "input_size": size, "device": device, "augment_probability": augment}
        command = training_command(dataFolder, outputFolder, data_format=dataFormat, preset=preset,
                                   attributes=attributes, settings=settings, python=shutil.which("PythonSlicer"))
        self.training = (self.launchProcess or TrainingProcess)(command)
        self.trainingMonitor = TrainingMonitor(self.training, outputFolder)
        self.trainingChart = None
        return self.training

    def trainingRunning(self) -> bool:
        return self.training is not None and self.training.running

    def pollTraining(self):
        """Drain progress (never blocks): updates the loss chart (``trainingChart``); returns an
        ``AttriVAELib.slicer.process.TrainingStatus`` (fraction, status line, and at the end the model or the error)."""
        from AttriVAELib.slicer import mrml

        status = self.trainingMonitor.poll()
        if status.new_epochs:
            self.trainingChart = mrml.set_loss_chart(slicer.mrmlScene, self.trainingMonitor.epochs)
        return status

    def cancelTraining(self) -> None:
        """Ask the training to stop with a resumable checkpoint; returns at once (poll to see it end)."""
        if self.trainingRunning():
            self.training.cancel()


def showImagePlane(sliceNode, volume) -> None:
    """Turn a slice view to the volume's acquired plane (its i-j plane; a short-axis stack shows short-axis
    slices), x along i, through the volume's centre."""
    import numpy as np
    import vtk

    ijkToRAS = vtk.vtkMatrix4x4()
    volume.GetIJKToRASMatrix(ijkToRAS)
    matrix = slicer.util.arrayFromVTKMatrix(ijkToRAS)
    across, down = (matrix[:3, axis] / np.linalg.norm(matrix[:3, axis]) for axis in (0, 1))
    normal = np.cross(across, down)
    bounds = np.zeros(6)
    volume.GetRASBounds(bounds)
    sliceToRAS = np.eye(4)
    sliceToRAS[:3, 0], sliceToRAS[:3, 1], sliceToRAS[:3, 2] = across, np.cross(normal, across), normal
    sliceToRAS[:3, 3] = (bounds[0::2] + bounds[1::2]) / 2
    sliceNode.GetSliceToRAS().DeepCopy(slicer.util.vtkMatrixFromArray(sliceToRAS))
    sliceNode.UpdateMatrices()


def bridgePhantom():
    """A small LV label map (1 cavity, 2 myocardium, 3 infarct) on an oblique grid of 1.5 × 1.5 × 8 mm voxels,
    made with NumPy and SimpleITK only (what :meth:`AttriVAETest.test_mrml_bridge` needs without PyTorch)."""
    import numpy as np
    import SimpleITK as sitk

    k, j, i = np.indices((10, 40, 40), dtype=float)
    z, y, x = (k - 4.5) * 8.0, (j - 19.5) * 1.5, (i - 19.5) * 1.5
    labels = np.zeros(k.shape, np.uint8)
    labels[(x / 24) ** 2 + (y / 24) ** 2 + (z / 40) ** 2 <= 1] = 2
    labels[(x / 16) ** 2 + (y / 16) ** 2 + (z / 32) ** 2 <= 1] = 1
    labels[(labels == 2) & (x > 12)] = 3
    image = sitk.GetImageFromArray(labels)
    image.SetSpacing((1.5, 1.5, 8.0))
    angle = np.radians(25.0)
    image.SetDirection((np.cos(angle), -np.sin(angle), 0.0, np.sin(angle), np.cos(angle), 0.0, 0.0, 0.0, 1.0))
    image.SetOrigin((-30.0, 12.0, -40.0))
    return image


def requirementLines() -> list:
    return [line.strip() for line in REQUIREMENTS.read_text().splitlines() if line.strip()]


def dependenciesAvailable() -> bool:
    """PyTorch and every pip requirement installed in versions that fit (what the analysis test needs)."""
    from AttriVAELib.slicer.dependencies import plan_dependencies

    return plan_dependencies(requirementLines()).complete


class SlicerInstaller:
    """:class:`AttriVAELib.slicer.dependencies.Installer` in Slicer: its dialog, the PyTorch extension, pip (through
    ``slicer.packaging`` from Slicer 5.12, ``slicer.util.pip_install`` before)."""

    @staticmethod
    def confirm(question: str) -> bool:
        return slicer.util.confirmOkCancelDisplay(question, windowTitle=_("AttriVAE: install Python packages"))

    @staticmethod
    def install_torch(requirement: str) -> Optional[str]:  # noqa: UP045 - Python 3.9 reads this file
        import PyTorchUtils

        torch = PyTorchUtils.PyTorchUtilsLogic().installTorch(askConfirmation=False,
                                                              torchVersionRequirement=requirement)
        return None if torch is None else torch.__version__

    @staticmethod
    def pip_install(requirements: list, constraints: Path) -> None:
        try:
            from slicer.packaging import pip_ensure
        except ImportError:  # Slicer < 5.12: a list keeps a path with spaces one argument
            slicer.util.pip_install([*requirements, "-c", str(constraints)])
        else:  # already confirmed: no second question
            pip_ensure(list(requirements), constraints=constraints, prompt_install=False, requester="AttriVAE")


#
# AttriVAETest
#


class AttriVAETest(ScriptedLoadableModuleTest):
    """Runs in real Slicer on synthetic data only (no download). Slicer's test runner calls each ``test_*``
    method on its own; without PyTorch (and the requirements) the analysis test is skipped."""

    def setUp(self) -> None:
        slicer.mrmlScene.Clear()

    def runTest(self) -> None:
        self.setUp()
        self.test_module_loads()
        if slicerSupported():
            self.setUp()
            self.test_mrml_bridge()
        if slicerSupported() and dependenciesAvailable():
            self.setUp()
            self.test_analyze_explore_attention()

    def test_module_loads(self) -> None:
        self.assertTrue(hasattr(slicer.modules, "attrivae"))
        self.assertTrue(SHIPPED_MODEL.is_file())

    def test_mrml_bridge(self) -> None:
        """Without PyTorch: an oblique, anisotropic volume and its LV segmentation cross the MRML bridge both ways
        unchanged; outputs land in their input's folder; colour tables, legend, slice layers and the 3D rendering
        are AttriVAE's."""
        if not slicerSupported():
            self.skipTest(unsupportedMessage())
        import numpy as np
        import SimpleITK as sitk

        from AttriVAELib.data.labels import EMIDEC_SCHEME
        from AttriVAELib.slicer import mrml

        self.delayDisplay("MRML bridge: geometry, segments, colours and display (no PyTorch)")
        labels = bridgePhantom()
        image = sitk.Cast(labels, sitk.sitkFloat32) * 100.0 + 10.0
        scene = slicer.mrmlScene
        volume = mrml.set_volume_image(scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "bridge MRI"), image)
        back = mrml.image_from_volume(volume)
        for read, written in ((back.GetOrigin(), image.GetOrigin()), (back.GetSpacing(), image.GetSpacing()),
                              (back.GetDirection(), image.GetDirection())):
            np.testing.assert_allclose(read, written, atol=1e-9)
        np.testing.assert_array_equal(sitk.GetArrayViewFromImage(back), sitk.GetArrayViewFromImage(image))

        names = {1: "LV cavity", 2: "Myocardium", 3: "Infarct"}
        segmentation = mrml.add_segmentation(scene, labels, names, volume)
        self.assertEqual(sorted(mrml.segment_names(segmentation)), sorted(names.values()))
        rasterised = mrml.labels_from_segmentation(segmentation, volume, names)
        np.testing.assert_array_equal(sitk.GetArrayViewFromImage(rasterised), sitk.GetArrayViewFromImage(labels))

        source = mrml.Source(volume, "0" * 64, "bridge test")
        anatomy = mrml.set_anatomy(scene, labels, EMIDEC_SCHEME, source)
        self.assertEqual(anatomy.GetSegmentation().GetNumberOfSegments(), 2)
        ramp = sitk.GetImageFromArray(np.linspace(-1.0, 1.0, labels.GetNumberOfPixels(), dtype=np.float32)
                                      .reshape(sitk.GetArrayViewFromImage(labels).shape))
        ramp.CopyInformation(labels)
        maps = mrml.set_attention(scene, {"lv_volume_ml": ramp}, "gradient-x-input", "conv5", 0.2, source)
        mrml.show_attention_map(maps["lv_volume_ml"], volume, slicer.modules.volumerendering.logic())
        composite = slicer.app.layoutManager().sliceWidget("Red").sliceLogic().GetSliceCompositeNode()
        self.assertEqual((composite.GetBackgroundVolumeID(), composite.GetForegroundVolumeID()),
                         (volume.GetID(), maps["lv_volume_ml"].GetID()))
        table = maps["lv_volume_ml"].GetDisplayNode().GetColorNode()
        self.assertEqual((table.GetName(), table.GetNumberOfColors()), (mrml.DIVERGING_TABLE_NAME, 256))
        np.testing.assert_allclose(table.GetLookupTable().GetTableValue(255), (1.0, 0.0, 0.0, 1.0))
        self.assertTrue(slicer.vtkSlicerColorLogic.GetColorLegendDisplayNode(maps["lv_volume_ml"]).GetVisibility())
        rendering = slicer.modules.volumerendering.logic().GetFirstVolumeRenderingDisplayNode(maps["lv_volume_ml"])
        self.assertTrue(rendering.GetVisibility())
        hierarchy = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(scene)
        for node in (anatomy, maps["lv_volume_ml"]):
            self.assertEqual(hierarchy.GetItemParent(hierarchy.GetItemByDataNode(node)),
                             mrml.results_folder(scene, source))
        self.delayDisplay("Test passed")

    def test_analyze_explore_attention(self) -> None:
        if not slicerSupported():
            self.skipTest(unsupportedMessage())
        if not dependenciesAvailable():
            self.skipTest("needs the PyTorch extension and AttriVAE's requirements")
        self.delayDisplay("Analyse a synthetic sample with the shipped model")
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
        shown = logic.showExploredAnatomy()  # what the decoded anatomy measures, beside the sliders
        self.assertIn("lv_volume_ml", shown)
        self.assertGreater(logic.lastUpdateSeconds, 0.0)  # its speed is benchmarks/slicer_interactive.py's to measure
        logging.info("AttriVAE explore update: %.2f s", logic.lastUpdateSeconds)
        self.assertEqual(slicer.util.arrayFromVolume(explored).shape, before.shape)
        difference = slicer.mrmlScene.GetFirstNodeByName("AttriVAE explore difference")
        self.assertGreater(abs(slicer.util.arrayFromVolume(difference)).max(), 0.0)
        heat = logic.showAttention([name], method="gradcam")[name]
        self.assertGreaterEqual(slicer.util.arrayFromVolume(heat).min(), 0.0)
        sequence, browser = logic.exportTraversal(name, 5)
        self.assertEqual(sequence.GetNumberOfDataNodes(), 5)
        self.assertTrue((slicer.util.arrayFromVolume(volume) == before).all())
        self.delayDisplay("Test passed")
