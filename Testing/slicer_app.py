"""Slicer's application layer for tests: a real Qt (PyQt5, offscreen) and real MRML (slicer-core).

Real 3D Slicer cannot be installed here. slicer-core brings MRML, the module logics and ``slicer.util``; this
file adds the rest of what the module file touches, following **Slicer 5.10** (Qt 5.15, Python 3.12), read
from Slicer's and CTK's sources (Slicer v5.10.0 and main 583e9b37, CTK 868d56c7):

- ``qt``: PyQt5 objects behind PythonQt's conventions: Qt properties read and written as attributes
  (``label.text = "x"``), ``objectName`` as ``name``, ``widget.connect("clicked(bool)", slot)`` with the C++
  signature (a signature the class does not have raises here; PythonQt would only print a warning and the
  panel would silently not react), slots called with as many arguments as they take, ``qt.QUiLoader``.
- ``ctk`` / ``slicer`` widgets as real QWidget subclasses with CTK's and Slicer's class names, properties,
  signals and slots: ctkCollapsibleButton, ctkPathLineEdit, ctkSliderWidget (tracking, valueIsChanging),
  qMRMLWidget, qMRMLNodeComboBox (node filtering, scene observation, selection rules on add, remove and
  scene close), qMRMLTableView (shows the table node's cells).
- ``slicer.parameterNodeWrapper``: typed values stored in the scene's vtkMRMLScriptedModuleNode as Slicer
  stores them, validated on write (TypeError for a wrong type or node class, ValueError out of range or
  choices), defaults written on creation, and the GUI connectors Slicer has for each widget class (exact
  class match; the QComboBox connector refills the items from the Choice; the node-combo connector sets
  nodeTypes), ``connectGui`` returning a tag, widgets updated when the node changes.
- ``slicer.ScriptedLoadableModule`` base classes, ``slicer.app`` (version, testing mode, a layout manager
  over real slice logics and the scene's layout node), ``slicer.modules`` (real volume-rendering, sequences
  and plots logics), ``slicer.i18n``, and :func:`run_unit_test` as ``slicer.testing.runUnitTest`` runs a
  module's tests (standard unittest: each ``test*`` method with ``setUp``).

Not modelled: painting, user input events (tests call the slots a click or drag would), Slicer's own
widgets' internals (a ctkPathLineEdit has no browse dialog), translation catalogues (``tr`` returns the
text), and what only a Slicer binary shows (docs/slicer.md, "Not verified without a Slicer binary").
"""

from __future__ import annotations

import enum
import importlib.util
import inspect
import io
import itertools
import logging
import os
import re
import sys
import types
import typing
import unittest
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PyQt5 import QtCore, QtGui, QtWidgets, sip, uic  # noqa: E402
from vtkmodules.util.misc import calldata_type  # noqa: E402
from vtkmodules.util.vtkConstants import VTK_OBJECT  # noqa: E402

MODULE_FILE = Path(__file__).resolve().parent.parent / "AttriVAE" / "AttriVAE.py"
SLICER_VERSION = (5, 10)
"""The Slicer whose application layer this file stands in for (``slicer.app.majorVersion/minorVersion``)."""
_VTK_POINTER = re.compile(r"(?:const\s*)?vtk\w+\s*\*")

# ------------------------------------------------------------------------------------------ PythonQt


def _normalised(signature: str) -> str:
    """A C++ signal/slot signature as PyQt registers it: VTK pointers travel as PyQt_PyObject."""
    text = _VTK_POINTER.sub("PyQt_PyObject", signature.replace(" ", ""))
    return bytes(QtCore.QMetaObject.normalizedSignature(text)).decode()


_wrappers: dict[int, PythonQtObject] = {}
slot_errors: list[str] = []
"""Exceptions raised in slots (a click's handler, a timer's): PythonQt prints them and Slicer carries on, so
the panel silently does nothing; tests assert this list stays empty."""


def _slot_exception(kind: type, error: BaseException, trace: Any) -> None:
    """``sys.excepthook`` while Qt runs Python code: as PythonQt, report the traceback and go on (PyQt would
    otherwise abort the process)."""
    import traceback

    text = "".join(traceback.format_exception(kind, error, trace))
    slot_errors.append(text)
    logging.getLogger("PythonQt").error(text)


def wrap(value: Any) -> Any:
    """PythonQt's view of a value: QObjects behind :class:`PythonQtObject`, lists element-wise."""
    if isinstance(value, PythonQtObject) or not isinstance(value, QtCore.QObject):
        return [wrap(v) for v in value] if isinstance(value, list) else value
    key = sip.unwrapinstance(value)
    wrapper = _wrappers.get(key)
    if wrapper is None or object.__getattribute__(wrapper, "_qt") is not value:
        wrapper = _wrappers[key] = PythonQtObject(value)
    return wrapper


def unwrap(value: Any) -> Any:
    if isinstance(value, PythonQtObject):
        return object.__getattribute__(value, "_qt")
    return [unwrap(v) for v in value] if isinstance(value, list) else value


def _positional_capacity(function: Callable) -> int | None:
    """How many positional arguments ``function`` takes (None: any number)."""
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_POSITIONAL for p in parameters):
        return None
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in parameters)


def _slot_adapter(slot: Callable) -> Callable:
    """Calls ``slot`` the way PythonQt does: with as many of the signal's arguments as it accepts."""
    capacity = _positional_capacity(slot)

    def adapter(*args: Any) -> None:
        slot(*[wrap(a) for a in (args if capacity is None else args[:capacity])])

    return adapter


def _method(function: Callable) -> Callable:
    def call(*args: Any, **kwargs: Any) -> Any:
        return wrap(function(*[unwrap(a) for a in args], **{k: unwrap(v) for k, v in kwargs.items()}))

    return call


class PythonQtSignal:
    """``obj.signal`` in PythonQt: ``connect(slot)``, ``disconnect(slot)``, ``emit(...)``."""

    def __init__(self, bound: Any) -> None:
        self._bound = bound
        self._adapters: dict[Callable, Callable] = {}

    def connect(self, slot: Callable) -> None:
        self._adapters[slot] = _slot_adapter(slot)
        self._bound.connect(self._adapters[slot])

    def disconnect(self, slot: Callable) -> None:
        self._bound.disconnect(self._adapters.pop(slot))

    def emit(self, *args: Any) -> None:
        self._bound.emit(*[unwrap(a) for a in args])


class PythonQtObject:
    """A QObject as Python code in Slicer sees it (see the module docstring)."""

    def __init__(self, qobject: QtCore.QObject) -> None:
        object.__setattr__(self, "_qt", qobject)
        object.__setattr__(self, "_connections", {})
        object.__setattr__(self, "_signals", {})

    def __getattr__(self, name: str) -> Any:
        qobject = object.__getattribute__(self, "_qt")
        if name == "name":
            return qobject.objectName()
        if qobject.metaObject().indexOfProperty(name) >= 0:
            return wrap(qobject.property(name))
        attribute = getattr(qobject, name)  # AttributeError as in PythonQt
        if isinstance(attribute, QtCore.pyqtBoundSignal):
            signals = object.__getattribute__(self, "_signals")
            return signals.setdefault(name, PythonQtSignal(attribute))
        return _method(attribute) if callable(attribute) else wrap(attribute)

    def __setattr__(self, name: str, value: Any) -> None:
        qobject = object.__getattribute__(self, "_qt")
        meta = qobject.metaObject()
        index = meta.indexOfProperty(name)
        if name == "name":
            qobject.setObjectName(value)
        elif index >= 0:
            if not meta.property(index).isWritable():
                raise AttributeError(f"property '{name}' of {meta.className()} is read-only")
            if not qobject.setProperty(name, unwrap(value)):
                raise TypeError(f"cannot set property '{name}' of {meta.className()} to {value!r}")
        else:
            object.__setattr__(self, name, value)  # PythonQt lets scripts add attributes to a wrapper

    def connect(self, signal: str, slot: Callable) -> bool:
        """``obj.connect("clicked(bool)", slot)``: the signature must exist on the object's class."""
        qobject = object.__getattribute__(self, "_qt")
        signature = _normalised(signal)
        if qobject.metaObject().indexOfSignal(signature) < 0:
            raise RuntimeError(f"{qobject.metaObject().className()} has no signal {signal}; in Slicer this "
                               "connection would silently not exist")
        name, arguments = signature[:-1].split("(")
        bound = getattr(qobject, name)
        if arguments:
            types_ = tuple(object if a == "PyQt_PyObject" else a for a in arguments.split(","))
            bound = bound[types_[0] if len(types_) == 1 else types_]
        adapter = _slot_adapter(slot)
        bound.connect(adapter)
        object.__getattribute__(self, "_connections")[(signature, slot)] = (bound, adapter)
        return True

    def disconnect(self, signal: str, slot: Callable) -> bool:
        bound, adapter = object.__getattribute__(self, "_connections").pop((_normalised(signal), slot))
        bound.disconnect(adapter)
        return True

    def className(self) -> str:
        return object.__getattribute__(self, "_qt").metaObject().className()

    def __eq__(self, other: object) -> bool:
        return unwrap(self) is unwrap(other)

    def __hash__(self) -> int:
        return id(unwrap(self))

    def __repr__(self) -> str:
        return f"<PythonQt {self.className()} '{self.name}'>"


class _QtClass:
    """``qt.QTimer`` etc.: calling it makes a wrapped object; class attributes (enums, statics) pass through."""

    def __init__(self, cls: type) -> None:
        self._cls = cls

    def __call__(self, *args: Any) -> Any:
        return wrap(self._cls(*[unwrap(a) for a in args]))

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._cls, name)
        return _method(attribute) if callable(attribute) and not isinstance(attribute, (int, enum.Enum)) \
            else attribute


class _UiLoader:
    """``qt.QUiLoader``: loads a .ui file with the custom widgets of this file, PythonQt-wrapped."""

    def load(self, qfile: Any) -> Any:
        path = unwrap(qfile).fileName()
        tree = ET.parse(path)
        for connection in tree.iter("connection"):  # C++ VTK pointer signatures, as PyQt registers them
            for tag in ("signal", "slot"):
                element = connection.find(tag)
                element.text = _normalised(element.text)
        for custom in tree.iter("customwidget"):
            module = custom.findtext("header").removesuffix(".h")
            class_name = custom.findtext("class")
            if class_name not in CUSTOM_WIDGETS:
                raise RuntimeError(f"{path}: no widget class {class_name} in Slicer")
            sys.modules.setdefault(module, types.SimpleNamespace(**{class_name: CUSTOM_WIDGETS[class_name]}))
        text = io.StringIO(ET.tostring(tree.getroot(), encoding="unicode"))
        return wrap(uic.loadUi(text))


def _qt_module() -> types.ModuleType:
    module = types.ModuleType("qt", "PyQt5 behind PythonQt's conventions (Slicer's qt module)")

    def lookup(name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name == "QUiLoader":
            return _UiLoader
        for source in (QtCore, QtGui, QtWidgets):
            if hasattr(source, name):
                return _QtClass(getattr(source, name))
        raise AttributeError(f"module 'qt' has no attribute '{name}'")

    module.__getattr__ = lookup  # type: ignore[method-assign]
    return module


# ------------------------------------------------------------------------------------------ CTK widgets


class ctkCollapsibleButton(QtWidgets.QAbstractButton):  # noqa: N801 - CTK's class name
    """A checkable button whose checked state shows its children (``collapsed`` = not checked)."""

    contentsCollapsed = QtCore.pyqtSignal(bool)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setCheckable(True)
        self.setChecked(True)
        self.toggled.connect(self._on_toggled)
        self._collapsedHeight, self._flat = 14, False

    def _on_toggled(self, checked: bool) -> None:
        for child in self.findChildren(QtWidgets.QWidget, options=QtCore.Qt.FindDirectChildrenOnly):
            child.setVisible(checked)
        self.contentsCollapsed.emit(not checked)

    def paintEvent(self, event: Any) -> None:  # offscreen: nothing to draw
        pass

    def collapsed(self) -> bool:
        return not self.isChecked()

    def setCollapsed(self, collapsed: bool) -> None:
        self.setChecked(not collapsed)

    collapsed = QtCore.pyqtProperty(bool, collapsed, setCollapsed, notify=contentsCollapsed)
    collapsedHeight = QtCore.pyqtProperty(int, lambda self: self._collapsedHeight,
                                          lambda self, v: setattr(self, "_collapsedHeight", v))
    flat = QtCore.pyqtProperty(bool, lambda self: self._flat, lambda self, v: setattr(self, "_flat", v))


class ctkPathLineEdit(QtWidgets.QWidget):  # noqa: N801 - CTK's class name
    """A path in a line edit (no browse dialog here); ``currentPathChanged`` on every acceptable edit."""

    Dirs, Drives, Files, Executable, NoDotAndDotDot, Readable = 0x1, 0x4, 0x2, 0x40, 0x1000, 0x10
    currentPathChanged = QtCore.pyqtSignal(str)
    validInputChanged = QtCore.pyqtSignal(bool)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self._line = QtWidgets.QLineEdit(self)
        self._line.textChanged.connect(self.currentPathChanged.emit)
        self._filters, self._nameFilters, self._label, self._settingKey = 0x1 | 0x2 | 0x1000 | 0x10 | 0x40, [], "", ""

    @QtCore.pyqtSlot(str)
    def setCurrentPath(self, path: str) -> None:
        self._line.setText(path)

    def currentPath(self) -> str:
        return self._line.text()

    def setFilters(self, filters: int) -> None:
        self._filters = int(filters)

    def setNameFilters(self, filters: list[str]) -> None:
        self._nameFilters = list(filters)

    currentPath = QtCore.pyqtProperty(str, currentPath, setCurrentPath, user=True)
    filters = QtCore.pyqtProperty(int, lambda self: self._filters, setFilters)
    nameFilters = QtCore.pyqtProperty("QStringList", lambda self: self._nameFilters, setNameFilters)
    label = QtCore.pyqtProperty(str, lambda self: self._label, lambda self, v: setattr(self, "_label", v))
    settingKey = QtCore.pyqtProperty(str, lambda self: self._settingKey,
                                     lambda self, v: setattr(self, "_settingKey", v))


class ctkSliderWidget(QtWidgets.QWidget):  # noqa: N801 - CTK's class name
    """A double slider + spin box. ``valueChanged(double)`` on every change when ``tracking`` (the default);
    without tracking, a drag emits ``valueIsChanging`` and ``valueChanged`` once on release (:meth:`drag`)."""

    valueChanged = QtCore.pyqtSignal(float)
    valueIsChanging = QtCore.pyqtSignal(float)
    decimalsChanged = QtCore.pyqtSignal(int)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self._value, self._minimum, self._maximum = 0.0, 0.0, 99.99
        self._singleStep, self._pageStep, self._decimals = 1.0, 10.0, 2
        self._prefix, self._suffix, self._tracking = "", "", True

    def _bounded(self, value: float) -> float:
        return round(min(max(float(value), self._minimum), self._maximum), self._decimals)

    @QtCore.pyqtSlot(float)
    def setValue(self, value: float) -> None:
        value = self._bounded(value)
        if value != self._value:
            self._value = value
            if not self._tracking:
                self.valueIsChanging.emit(value)
            self.valueChanged.emit(value)

    def setMinimum(self, minimum: float) -> None:
        self._minimum = float(minimum)
        self._maximum = max(self._maximum, self._minimum)
        self.setValue(self._value)

    def setMaximum(self, maximum: float) -> None:
        self._maximum = float(maximum)
        self._minimum = min(self._minimum, self._maximum)
        self.setValue(self._value)

    def setRange(self, minimum: float, maximum: float) -> None:
        self._minimum, self._maximum = float(minimum), max(float(minimum), float(maximum))
        self.setValue(self._value)

    def setSingleStep(self, step: float) -> None:
        self._singleStep = float(step)

    def setDecimals(self, decimals: int) -> None:
        self._decimals = int(decimals)
        self.decimalsChanged.emit(self._decimals)
        self.setValue(self._value)

    def setTracking(self, tracking: bool) -> None:
        self._tracking = bool(tracking)

    def drag(self, values: list[float]) -> None:
        """What a mouse drag through ``values`` emits (tests stand in for the user with this)."""
        start = self._value
        for value in values:
            value = self._bounded(value)
            if self._tracking:
                self.setValue(value)
            else:
                self._value = value
                self.valueIsChanging.emit(value)
        if not self._tracking and self._value != start:
            self.valueChanged.emit(self._value)

    value = QtCore.pyqtProperty(float, lambda self: self._value, setValue)
    minimum = QtCore.pyqtProperty(float, lambda self: self._minimum, setMinimum)
    maximum = QtCore.pyqtProperty(float, lambda self: self._maximum, setMaximum)
    singleStep = QtCore.pyqtProperty(float, lambda self: self._singleStep, setSingleStep)
    pageStep = QtCore.pyqtProperty(float, lambda self: self._pageStep, lambda self, v: setattr(self, "_pageStep", v))
    decimals = QtCore.pyqtProperty(int, lambda self: self._decimals, setDecimals, notify=decimalsChanged)
    prefix = QtCore.pyqtProperty(str, lambda self: self._prefix, lambda self, v: setattr(self, "_prefix", v))
    suffix = QtCore.pyqtProperty(str, lambda self: self._suffix, lambda self, v: setattr(self, "_suffix", v))
    tracking = QtCore.pyqtProperty(bool, lambda self: self._tracking, setTracking)


# ------------------------------------------------------------------------------------------ qMRML widgets


class _HoldsScene:
    """``setMRMLScene`` / ``mrmlScene`` of Slicer's MRML widgets: a new scene emits ``mrmlSceneChanged``."""

    _scene: Any = None

    def setMRMLScene(self, scene: Any) -> None:  # noqa: N802 - Slicer's name
        if scene is not self._scene:
            self._scene = scene
            self.mrmlSceneChanged.emit(scene)

    def mrmlScene(self) -> Any:  # noqa: N802 - Slicer's name
        return self._scene


class qMRMLWidget(_HoldsScene, QtWidgets.QWidget):  # noqa: N801 - Slicer's class name
    """A widget with a scene; a .ui connects its ``mrmlSceneChanged`` to the children's ``setMRMLScene``."""

    mrmlSceneChanged = QtCore.pyqtSignal(object)


def _string_property(attribute: str) -> Any:
    return QtCore.pyqtProperty(str, lambda self: getattr(self, attribute),
                               lambda self, v: setattr(self, attribute, v))


def _bool_property(attribute: str) -> Any:
    return QtCore.pyqtProperty(bool, lambda self: getattr(self, attribute),
                               lambda self, v: self._set_and_refresh(attribute, bool(v)))


class qMRMLNodeComboBox(QtWidgets.QWidget):  # noqa: N801 - Slicer's class name
    """Lists the scene's nodes that pass its filters; see the module docstring for the selection rules."""

    currentNodeChanged = QtCore.pyqtSignal([object], [bool])
    currentNodeIDChanged = QtCore.pyqtSignal(str)
    nodeActivated = QtCore.pyqtSignal(object)
    nodeAdded = QtCore.pyqtSignal(object)
    nodeAboutToBeRemoved = QtCore.pyqtSignal(object)
    nodeAddedByUser = QtCore.pyqtSignal(object)
    mrmlSceneChanged = QtCore.pyqtSignal(object)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self._scene, self._observations, self._current, self._pending = None, [], "", None
        self._nodeTypes: list[str] = []
        self._hideChildNodeTypes: list[str] = []
        self._attributes: dict[str, tuple[str, Any]] = {}
        self._showHidden, self._showChildNodeTypes, self._noneEnabled = False, True, False
        self._addEnabled, self._removeEnabled, self._editEnabled, self._renameEnabled = True, True, False, False
        self._selectNodeUponCreation, self._baseName, self._noneDisplay = True, "", "None"

    # what is listed
    def _accepts(self, node: Any) -> bool:
        if not self._showHidden and node.GetHideFromEditors():
            return False
        if self._nodeTypes:
            if not any(node.IsA(t) for t in self._nodeTypes):
                return False
            if not self._showChildNodeTypes and node.GetClassName() not in self._nodeTypes:
                return False
        if self._showChildNodeTypes and any(node.IsA(t) for t in self._hideChildNodeTypes):
            return False
        for node_type, (name, value) in self._attributes.items():
            if node.IsA(node_type) and (node.GetAttribute(name) is None or
                                         (value is not None and node.GetAttribute(name) != str(value))):
                return False
        return True

    def nodes(self) -> list[Any]:
        if self._scene is None:
            return []
        listed = (self._scene.GetNthNode(i) for i in range(self._scene.GetNumberOfNodes()))
        return [node for node in listed if self._accepts(node)]

    @QtCore.pyqtSlot(result=int)
    def nodeCount(self) -> int:
        return len(self.nodes())

    def nodeFromIndex(self, index: int) -> Any:
        nodes = self.nodes()
        return nodes[index] if 0 <= index < len(nodes) else None

    def addAttribute(self, node_type: str, name: str, value: Any = None) -> None:
        if node_type in self._nodeTypes:  # as Slicer: ignored for a type not in nodeTypes
            self._attributes[node_type] = (name, value)
            self._refresh()

    # selection
    def currentNode(self) -> Any:
        return self._scene.GetNodeByID(self._current) if self._scene is not None and self._current else None

    def currentNodeID(self) -> str:
        return self._current

    def _select(self, node_id: str) -> None:
        if node_id != self._current:
            self._current = node_id
            node = self.currentNode()
            self.currentNodeChanged[object].emit(node)
            self.currentNodeChanged[bool].emit(node is not None)
            self.currentNodeIDChanged.emit(node_id)

    @QtCore.pyqtSlot(object)
    def setCurrentNode(self, node: Any) -> None:
        self.setCurrentNodeID(node.GetID() if node is not None else "")

    @QtCore.pyqtSlot(str)
    def setCurrentNodeID(self, node_id: str) -> None:
        if self._scene is None:
            self._pending = node_id
            return
        listed = {node.GetID() for node in self.nodes()}
        self._select(node_id if node_id in listed else "")

    def _refresh(self) -> None:
        """Re-filter after a filter property changed: a current node no longer listed is replaced."""
        if self._current and self._current not in {n.GetID() for n in self.nodes()}:
            self._select(self._first_if_required())

    def _set_and_refresh(self, attribute: str, value: Any) -> None:
        setattr(self, attribute, value)
        self._refresh()

    def _first_if_required(self) -> str:
        nodes = self.nodes()
        return nodes[0].GetID() if nodes and not self._noneEnabled else ""

    # the scene
    @QtCore.pyqtSlot(object)
    def setMRMLScene(self, scene: Any) -> None:
        if scene is self._scene:
            return
        for observed, tag in self._observations:
            observed.RemoveObserver(tag)
        self._scene, self._current = scene, ""
        self._observations = [] if scene is None else [
            (scene, scene.AddObserver(scene.NodeAddedEvent, self._on_node_added)),
            (scene, scene.AddObserver(scene.NodeAboutToBeRemovedEvent, self._on_node_about_to_be_removed)),
            (scene, scene.AddObserver(scene.EndCloseEvent, self._on_scene_closed)),
        ]
        self.mrmlSceneChanged.emit(scene)
        pending, self._pending = self._pending, None
        if scene is not None:
            self.setCurrentNodeID(pending) if pending else self._select(self._first_if_required())

    def mrmlScene(self) -> Any:
        return self._scene

    @calldata_type(VTK_OBJECT)
    def _on_node_added(self, scene: Any, event: Any, node: Any) -> None:
        if self._accepts(node):
            self.nodeAdded.emit(node)
            actions = self._addEnabled or self._removeEnabled or self._editEnabled or self._renameEnabled
            if not self._current and not self._noneEnabled and not actions and len(self.nodes()) == 1:
                self._select(node.GetID())  # QComboBox selects the first item of an empty list

    @calldata_type(VTK_OBJECT)
    def _on_node_about_to_be_removed(self, scene: Any, event: Any, node: Any) -> None:
        if scene.IsClosing() or not self._accepts(node):
            return
        self.nodeAboutToBeRemoved.emit(node)
        if node.GetID() == self._current:
            nodes = [n.GetID() for n in self.nodes()]
            row = nodes.index(self._current)
            rest = nodes[:row] + nodes[row + 1:]
            self._select(rest[row] if row < len(rest) else (rest[-1] if rest else ""))

    def _on_scene_closed(self, scene: Any, event: Any) -> None:
        self._select("")

    nodeTypes = QtCore.pyqtProperty("QStringList", lambda self: self._nodeTypes,
                                    lambda self, v: self._set_and_refresh("_nodeTypes", [t for t in v if t]))
    hideChildNodeTypes = QtCore.pyqtProperty("QStringList", lambda self: self._hideChildNodeTypes,
                                             lambda self, v: self._set_and_refresh("_hideChildNodeTypes", list(v)))
    showHidden = _bool_property("_showHidden")
    showChildNodeTypes = _bool_property("_showChildNodeTypes")
    noneEnabled = _bool_property("_noneEnabled")
    addEnabled = _bool_property("_addEnabled")
    removeEnabled = _bool_property("_removeEnabled")
    editEnabled = _bool_property("_editEnabled")
    renameEnabled = _bool_property("_renameEnabled")
    selectNodeUponCreation = _bool_property("_selectNodeUponCreation")
    baseName = _string_property("_baseName")
    noneDisplay = _string_property("_noneDisplay")
    currentNodeID = QtCore.pyqtProperty(str, currentNodeID, notify=currentNodeIDChanged)


def _add_setters(cls: type, names: tuple[str, ...]) -> None:
    """``setX(value)`` for each property X, as the C++ classes have (uic calls them for .ui properties)."""
    for name in names:
        setattr(cls, f"set{name[0].upper()}{name[1:]}", lambda self, value, name=name: self.setProperty(name, value))


_add_setters(qMRMLNodeComboBox, ("nodeTypes", "hideChildNodeTypes", "showHidden", "showChildNodeTypes",
                                 "noneEnabled", "addEnabled", "removeEnabled", "editEnabled", "renameEnabled",
                                 "selectNodeUponCreation", "baseName", "noneDisplay"))


class qMRMLTableView(_HoldsScene, QtWidgets.QTableView):  # noqa: N801 - Slicer's class name
    """Shows a vtkMRMLTableNode's cells (row 0 = the first data row; column headers = column names). Its
    ``selectionChanged()`` signal is left out: in PyQt it would hide QTableView's virtual of that name."""

    mrmlSceneChanged = QtCore.pyqtSignal(object)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self._table = None
        self.setModel(QtGui.QStandardItemModel(self))

    @QtCore.pyqtSlot(object)
    def setMRMLTableNode(self, node: Any) -> None:
        import slicer

        self._table = slicer.vtkMRMLTableNode.SafeDownCast(node) if node is not None else None
        model = self.model()
        model.clear()
        if self._table is not None:
            columns = self._table.GetNumberOfColumns()
            model.setHorizontalHeaderLabels([self._table.GetColumnName(c) for c in range(columns)])
            for row in range(self._table.GetNumberOfRows()):
                model.appendRow([QtGui.QStandardItem(self._table.GetCellText(row, c)) for c in range(columns)])

    def mrmlTableNode(self) -> Any:
        return self._table


CUSTOM_WIDGETS = {cls.__name__: cls for cls in (ctkCollapsibleButton, ctkPathLineEdit, ctkSliderWidget,
                                                 qMRMLWidget, qMRMLNodeComboBox, qMRMLTableView)}


# ------------------------------------------------------------------------------------------ parameterNodeWrapper


class Choice:
    """``Annotated[T, Choice([...])]``: a write outside the choices raises ValueError."""

    def __init__(self, choices: list[Any]) -> None:
        self.choices = list(choices)

    def validate(self, value: Any) -> None:
        if value not in self.choices:
            raise ValueError(f"Value {value!r} is not in the choices {self.choices}")


class WithinRange:
    """``Annotated[T, WithinRange(low, high)]``: a write outside [low, high] raises ValueError."""

    def __init__(self, minimum: float, maximum: float) -> None:
        self.minimum, self.maximum = minimum, maximum

    def validate(self, value: Any) -> None:
        if not self.minimum <= value <= self.maximum:
            raise ValueError(f"Value {value} is not within [{self.minimum}, {self.maximum}]")


class _Parameter:
    """One typed field of a wrapped class, stored in the scripted-module node as Slicer stores it."""

    def __init__(self, name: str, annotation: Any, default: Any) -> None:
        self.name = name
        self.type, *extras = typing.get_args(annotation) if typing.get_origin(annotation) is typing.Annotated \
            else (annotation,)
        self.validators = [e for e in extras if hasattr(e, "validate")]
        self.is_node = isinstance(self.type, type) and self.type.__name__.startswith("vtkMRML")
        if not self.is_node and self.type not in (bool, int, float, str, Path):
            raise TypeError(f"parameterNodeWrapper: unsupported type {self.type!r} of '{name}'")
        self.default = default if default is not _MISSING else {bool: False, int: 0, float: 0.0, str: "",
                                                                Path: Path()}.get(self.type)

    def choice(self) -> Choice | None:
        return next((v for v in self.validators if isinstance(v, Choice)), None)

    def range(self) -> WithinRange | None:
        return next((v for v in self.validators if isinstance(v, WithinRange)), None)

    def read(self, node: Any) -> Any:
        if self.is_node:
            return node.GetNodeReference(self.name)
        text = node.GetParameter(self.name)
        return text == "True" if self.type is bool else self.type(text)

    def write(self, node: Any, value: Any) -> None:
        if self.is_node:
            if value is not None and not isinstance(value, self.type):
                raise TypeError(f"'{self.name}' must be a {self.type.__name__}, not {type(value).__name__}")
            node.SetParameter(self.name, "")
            node.SetNodeReferenceID(self.name, value.GetID() if value is not None else None)
            return
        if value is None:
            raise ValueError(f"'{self.name}' cannot be None")
        allowed = (int, float) if self.type is float else self.type
        if not isinstance(value, allowed):
            raise TypeError(f"'{self.name}' must be a {self.type.__name__}, not {type(value).__name__}")
        for validator in self.validators:
            validator.validate(value)
        node.SetParameter(self.name, str(value))


_MISSING = object()


def parameterNodeWrapper(cls: type) -> type:  # noqa: N802 - Slicer's name
    """A class whose annotated fields live in a vtkMRMLScriptedModuleNode (see the module docstring)."""
    hints = typing.get_type_hints(cls, include_extras=True)
    parameters = {name: _Parameter(name, hint, cls.__dict__.get(name, _MISSING)) for name, hint in hints.items()}

    def __init__(self: Any, parameterNode: Any) -> None:  # noqa: N803, N807 - Slicer's signature
        object.__setattr__(self, "parameterNode", parameterNode)
        object.__setattr__(self, "_guis", {})
        for parameter in parameters.values():
            if not parameterNode.HasParameter(parameter.name):
                parameter.write(parameterNode, parameter.default)

    def __setattr__(self: Any, name: str, value: Any) -> None:  # noqa: N807
        if name in parameters:
            parameters[name].write(self.parameterNode, value)
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self: Any, name: str) -> Any:  # noqa: N807
        if name in parameters:
            return parameters[name].read(object.__getattribute__(self, "parameterNode"))
        raise AttributeError(name)

    def __bool__(self: Any) -> bool:  # noqa: N807
        return True

    def getValue(self: Any, name: str) -> Any:  # noqa: N802
        if name not in parameters:
            raise ValueError(f"Cannot find a param with the given name: {name}")
        return parameters[name].read(self.parameterNode)

    def setValue(self: Any, name: str, value: Any) -> None:  # noqa: N802
        if name not in parameters:
            raise ValueError(f"Cannot find a param with the given name: {name}")
        parameters[name].write(self.parameterNode, value)

    def connectGui(self: Any, gui: Any) -> int:  # noqa: N802
        widgets = (unwrap(gui).findChildren(QtWidgets.QWidget) if isinstance(gui, (PythonQtObject, QtWidgets.QWidget))
                   else [unwrap(w) for w in vars(gui).values() if isinstance(w, PythonQtObject)])
        bound = {w.property("SlicerParameterName"): w for w in widgets if w.property("SlicerParameterName")}
        return self.connectParametersToGui(bound)

    def connectParametersToGui(self: Any, mapping: dict[str, Any]) -> int:  # noqa: N802
        unknown = sorted(set(mapping) - set(parameters))
        if unknown:
            raise ValueError(f"Cannot find a param with the given name: {unknown[0]}")
        connectors = [_connector(parameters[name], unwrap(widget)) for name, widget in mapping.items()]
        for connector in connectors:
            connector.write(self.getValue(connector.parameter.name))
        for connector in connectors:
            connector.connect(lambda value, c=connector: self.setValue(c.parameter.name, value))

        def update(caller: Any, event: Any) -> None:
            for connector in connectors:
                connector.write(self.getValue(connector.parameter.name))

        tag = next(_tags)
        observer = self.parameterNode.AddObserver("ModifiedEvent", update)
        self._guis[tag] = (connectors, observer)
        return tag

    def disconnectGui(self: Any, tag: int) -> None:  # noqa: N802
        connectors, observer = self._guis.pop(tag, ((), None))
        for connector in connectors:
            connector.disconnect()
        if observer is not None:
            self.parameterNode.RemoveObserver(observer)

    namespace = {"__init__": __init__, "__setattr__": __setattr__, "__getattr__": __getattr__,
                 "__bool__": __bool__, "getValue": getValue, "setValue": setValue, "connectGui": connectGui,
                 "connectParametersToGui": connectParametersToGui, "disconnectGui": disconnectGui,
                 "allParameters": parameters, "__doc__": cls.__doc__, "__module__": cls.__module__}
    return type(cls.__name__, (), namespace)


_tags = itertools.count(1)


class _Connector:
    """Binds one widget to one parameter: ``write`` shows a value, ``connect`` reports the user's edits.
    By default the value is the widget's Qt property ``value_property``, watched through ``signal``."""

    signal = ""
    value_property = ""

    def __init__(self, parameter: _Parameter, widget: Any) -> None:
        self.parameter, self.widget, self._slot, self._writing = parameter, widget, None, False
        self.configure()

    def configure(self) -> None:
        pass

    def read(self) -> Any:
        return self.widget.property(self.value_property)

    def show(self, value: Any) -> None:
        if self.widget.property(self.value_property) != value:
            self.widget.setProperty(self.value_property, value)

    def write(self, value: Any) -> None:
        self._writing = True
        try:
            self.show(value)
        finally:
            self._writing = False

    def connect(self, report: Callable[[Any], None]) -> None:
        def slot(*_: Any) -> None:
            if not self._writing:
                report(self.read())

        self._slot = slot
        getattr(self.widget, self.signal).connect(slot)

    def disconnect(self) -> None:
        getattr(self.widget, self.signal).disconnect(self._slot)


class _CheckBoxConnector(_Connector):
    signal, value_property = "stateChanged", "checked"


class _NumberConnector(_Connector):
    signal, value_property = "valueChanged", "value"

    def configure(self) -> None:
        bounds = self.parameter.range()
        if bounds is None and isinstance(self.widget, (ctkSliderWidget, QtWidgets.QSlider)):
            raise RuntimeError(f"'{self.parameter.name}': a slider needs a WithinRange")
        if bounds is not None:
            self.widget.setMinimum(bounds.minimum)
            self.widget.setMaximum(bounds.maximum)
        if self.parameter.type is int and isinstance(self.widget, (ctkSliderWidget, QtWidgets.QDoubleSpinBox)):
            self.widget.setDecimals(0)

    def read(self) -> Any:
        return self.parameter.type(super().read())


class _ChoiceComboConnector(_Connector):
    signal = "currentIndexChanged"

    def configure(self) -> None:
        choice = self.parameter.choice()
        if choice is None:
            raise RuntimeError(f"'{self.parameter.name}': a QComboBox needs a Choice annotation")
        self.choices = choice.choices
        self.widget.clear()
        for item in self.choices:
            self.widget.addItem(str(item))

    def read(self) -> Any:
        return self.choices[self.widget.currentIndex()]

    def show(self, value: Any) -> None:
        self.widget.setCurrentIndex(self.choices.index(value))


class _LineEditConnector(_Connector):
    signal, value_property = "textChanged", "text"


class _PathConnector(_Connector):
    signal, value_property = "currentPathChanged", "currentPath"

    def read(self) -> Path:
        return Path(super().read())

    def show(self, value: Path) -> None:
        super().show(str(value))


class _NodeComboConnector(_Connector):
    signal = "currentNodeChanged"

    def configure(self) -> None:
        self.widget.setNodeTypes([self.parameter.type.__name__])

    def read(self) -> Any:
        return self.widget.currentNode()

    def show(self, value: Any) -> None:
        self.widget.setCurrentNode(value)

    def connect(self, report: Callable[[Any], None]) -> None:
        def slot(node: Any) -> None:
            if not self._writing:
                report(node)

        self._slot = slot
        self.widget.currentNodeChanged[object].connect(slot)

    def disconnect(self) -> None:
        self.widget.currentNodeChanged[object].disconnect(self._slot)


_CONNECTORS: dict[tuple[str, Any], type[_Connector]] = {
    ("QCheckBox", bool): _CheckBoxConnector,
    ("QSpinBox", int): _NumberConnector, ("QSlider", int): _NumberConnector,
    **{(widget, kind): _NumberConnector for widget in ("QDoubleSpinBox", "ctkSliderWidget") for kind in (float, int)},
    **{("QComboBox", kind): _ChoiceComboConnector for kind in (str, int, float, bool)},
    ("QLineEdit", str): _LineEditConnector,
    ("ctkPathLineEdit", Path): _PathConnector,
}


def _connector(parameter: _Parameter, widget: Any) -> _Connector:
    """The connector Slicer picks by the widget's exact class and the parameter's type."""
    class_name = widget.metaObject().className()
    if parameter.is_node and class_name == "qMRMLNodeComboBox":
        return _NodeComboConnector(parameter, widget)
    connector = _CONNECTORS.get((class_name, parameter.type))
    if connector is None:
        raise RuntimeError(f"Unable to create GUI connector from datatype {parameter.type!r} to widget type "
                           f"{class_name} ('{parameter.name}')")
    return connector(parameter, widget)


# ------------------------------------------------------------------------------------------ ScriptedLoadableModule


class ModuleParent:
    """What Slicer passes to a scripted module's constructor (qSlicerScriptedLoadableModule's Python face)."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)
        self.title, self.categories, self.dependencies, self.contributors = "", [], [], []
        self.helpText, self.acknowledgementText = "", ""


class ScriptedLoadableModule:
    def __init__(self, parent: ModuleParent) -> None:
        import slicer

        self.parent = parent
        self.moduleName = type(self).__name__
        slicer.selfTests[self.moduleName] = self.runTest

    def resourcePath(self, filename: str) -> str:
        return os.path.join(os.path.dirname(self.parent.path), "Resources", filename)

    def runTest(self, msec: int = 100, **kwargs: Any) -> None:
        test_class = getattr(sys.modules[type(self).__module__], f"{self.moduleName}Test")
        test = test_class()
        test.messageDelay = msec
        test.runTest(**kwargs)


class ModuleWidgetParent(qMRMLWidget):
    """The panel a module widget draws into (qSlicerScriptedLoadableModuleWidget): a layout, ``isEntered``."""

    def __init__(self) -> None:
        super().__init__()
        QtWidgets.QVBoxLayout(self)
        self._entered = False

    isEntered = QtCore.pyqtProperty(bool, lambda self: self._entered, lambda self, v: setattr(self, "_entered", v))


class ScriptedLoadableModuleWidget:
    def __init__(self, parent: Any = None) -> None:
        import slicer

        self.moduleName = type(self).__name__.removesuffix("Widget")
        self.developerMode = False
        if parent is None:
            parent = wrap(ModuleWidgetParent())
            parent.setMRMLScene(slicer.mrmlScene)
            self.parent = parent
            self.layout = parent.layout()
            self.setup()
            parent.show()
        else:
            self.parent = parent
            self.layout = parent.layout()

    def resourcePath(self, filename: str) -> str:
        import slicer

        return os.path.join(os.path.dirname(slicer.util.modulePath(self.moduleName)), "Resources", filename)

    def setup(self) -> None:
        pass

    def cleanup(self) -> None:
        pass


class ScriptedLoadableModuleLogic:
    isSingletonParameterNode = True

    def __init__(self, parent: Any = None) -> None:
        self.moduleName = type(self).__name__.removesuffix("Logic")

    def getParameterNode(self) -> Any:
        import slicer

        scene = slicer.mrmlScene
        node = scene.GetSingletonNode(self.moduleName, "vtkMRMLScriptedModuleNode")
        if node is None:
            node = slicer.vtkMRMLScriptedModuleNode()
            node.SetSingletonTag(self.moduleName)
            node.SetName(scene.GenerateUniqueName(self.moduleName))
            node.SetAttribute("ModuleName", self.moduleName)
            node = scene.AddNode(node)
        elif not node.GetAttribute("ModuleName"):
            node.SetAttribute("ModuleName", self.moduleName)
        return node


class ScriptedLoadableModuleTest(unittest.TestCase):
    messageDelay = 100

    def delayDisplay(self, message: str, requestedDelay: int | None = None, msec: int | None = None) -> None:  # noqa: N802, N803
        logging.info(message)
        QtWidgets.QApplication.processEvents()

    def runTest(self) -> None:  # the base class's: every test method, each after setUp
        for name in [n for n in dir(self) if "test" in n and n != "runTest" and callable(getattr(self, n))]:
            self.setUp()
            getattr(self, name)()
            self.tearDown()


def run_unit_test(module: types.ModuleType) -> unittest.TestResult:
    """What ``slicer.testing.runUnitTest`` does for a module's CTest (``slicer_add_python_unittest``):
    standard unittest over the module's TestCase classes, each ``test*`` method run on its own."""
    suite = unittest.TestLoader().loadTestsFromModule(module)
    return unittest.TextTestRunner(stream=io.StringIO(), verbosity=2).run(suite)


# ------------------------------------------------------------------------------------------ slicer.app, modules


class LayoutManager:
    """``slicer.app.layoutManager()``: the scene's singleton layout node (what vtkSlicerPlotsLogic switches)
    and three real slice logics (Red, Yellow, Green). Without vtkMRMLLayoutLogic, which crashes slicer-core
    when the scene is cleared with its singletons."""

    SLICE_VIEWS = {"Red": "Axial", "Yellow": "Sagittal", "Green": "Coronal"}

    def __init__(self, application: Any, scene: Any) -> None:
        import slicer
        import vtk

        self.scene = scene
        self.layout_node = scene.GetSingletonNode("vtkMRMLLayoutNode", "vtkMRMLLayoutNode")
        if self.layout_node is None:
            self.layout_node = slicer.vtkMRMLLayoutNode()
            self.layout_node.SetSingletonTag("vtkMRMLLayoutNode")
            self.layout_node.SetViewArrangement(self.layout_node.SlicerLayoutConventionalView)
            scene.AddNode(self.layout_node)
        application.SetSliceLogics(vtk.vtkCollection())
        slicer.vtkMRMLSliceNode.AddDefaultSliceOrientationPresets(scene, True)
        self._slice_logics = {}
        for name, orientation in self.SLICE_VIEWS.items():
            logic = slicer.vtkMRMLSliceLogic()
            logic.SetMRMLApplicationLogic(application)
            logic.SetMRMLScene(scene)
            logic.AddSliceNode(name).SetOrientation(orientation)
            application.GetSliceLogics().AddItem(logic)
            self._slice_logics[name] = logic

    @property
    def layout(self) -> int:
        return self.layout_node.GetViewArrangement()

    @layout.setter
    def layout(self, arrangement: int) -> None:
        self.layout_node.SetViewArrangement(arrangement)

    def setLayout(self, arrangement: int) -> None:  # noqa: N802
        self.layout = arrangement

    def sliceViewNames(self) -> list[str]:  # noqa: N802
        return list(self._slice_logics)

    def sliceWidget(self, name: str) -> Any:  # noqa: N802
        logic = self._slice_logics[name]
        return types.SimpleNamespace(mrmlSliceNode=logic.GetSliceNode, sliceLogic=lambda: logic)

    def mrmlSliceLogics(self) -> Any:  # noqa: N802
        import vtk

        collection = vtk.vtkCollection()
        for logic in self._slice_logics.values():
            collection.AddItem(logic)
        return collection


class SubjectHierarchyPluginLogic:
    """qSlicerSubjectHierarchyPluginLogic's ``onNodeAdded`` and ``onNodeAboutToBeRemoved``: a data node that a
    subject-hierarchy plugin owns (volumes, segmentations, models and other displayable nodes; tables;
    sequences) gets an item under the scene item as it enters the scene, unless the scene is importing or the
    node is hidden from editors; a node leaving the scene takes its item with it (the hierarchy's data-node
    cache is keyed by node address and shared by every scene: a stale entry misleads a later node)."""

    OWNED = ("vtkMRMLDisplayableNode", "vtkMRMLTableNode", "vtkMRMLSequenceNode")

    def __init__(self, scene: Any) -> None:
        self.tags = (scene.AddObserver(scene.NodeAddedEvent, self._on_node_added),
                     scene.AddObserver(scene.NodeAboutToBeRemovedEvent, self._on_node_about_to_be_removed))

    @calldata_type(VTK_OBJECT)
    def _on_node_added(self, scene: Any, event: Any, node: Any) -> None:
        import slicer

        if scene.IsImporting() or node.GetHideFromEditors() or not any(node.IsA(c) for c in self.OWNED):
            return
        hierarchy = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(scene)
        if not hierarchy.GetItemByDataNode(node):
            hierarchy.CreateItem(hierarchy.GetSceneItemID(), node)

    @calldata_type(VTK_OBJECT)
    def _on_node_about_to_be_removed(self, scene: Any, event: Any, node: Any) -> None:
        import slicer

        if scene.IsClosing() or node is None or node.IsA("vtkMRMLSubjectHierarchyNode"):
            return
        hierarchy = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(scene)
        item = hierarchy.GetItemByDataNode(node)
        if item:
            hierarchy.RemoveItem(item, False, False)


def add_module_logics(application: Any, scene: Any) -> tuple[Any, SubjectHierarchyPluginLogic]:
    """What Slicer's startup gives every scene that bare MRML lacks: the Colors module's logic (it registers the
    colour legend nodes), the subject hierarchy's plugin logic and the first 3D view ("1") with the camera node
    its displayable manager adds. Returns (colour logic, subject hierarchy plugin logic): keep them."""
    import slicer

    colors = slicer.vtkSlicerColorLogic()
    colors.SetMRMLApplicationLogic(application)
    colors.SetMRMLScene(scene)
    view = slicer.vtkMRMLViewLogic()
    view.SetName("1")
    view.SetMRMLApplicationLogic(application)
    view.SetMRMLScene(scene)
    view.AddViewNode("1")
    camera = slicer.vtkMRMLCameraNode()
    camera.SetLayoutName("1")
    scene.AddNode(camera)
    return colors, SubjectHierarchyPluginLogic(scene)


def slicer_scene() -> tuple[Any, Any]:
    """A real, empty MRML scene (slicer-core) set as ``slicer.mrmlScene``, with the application, colour,
    segmentation, sequence and volume-rendering logics and the 3D view Slicer would give it. Returns (scene,
    logics namespace)."""
    import types

    import slicer

    mrml = slicer.vtkMRMLScene()
    slicer.mrmlScene = mrml
    application = slicer.vtkSlicerApplicationLogic()
    application.SetMRMLScene(mrml)
    application.GetColorLogic().SetMRMLScene(mrml)
    colors, subject_hierarchy = add_module_logics(application, mrml)
    segmentations = slicer.vtkSlicerSegmentationsModuleLogic()
    segmentations.SetMRMLScene(mrml)  # registers the converters: before any segmentation node exists
    sequences = slicer.vtkSlicerSequencesLogic()
    sequences.SetMRMLScene(mrml)
    volume_rendering = slicer.vtkSlicerVolumeRenderingLogic()
    volume_rendering.SetMRMLApplicationLogic(application)
    volume_rendering.SetMRMLScene(mrml)
    return mrml, types.SimpleNamespace(application=application, colors=colors, subject_hierarchy=subject_hierarchy,
                                       segmentations=segmentations, sequences=sequences,
                                       volume_rendering=volume_rendering)


class Application:
    """``slicer.app`` (qSlicerApplication): version, testing mode, layout, module logics' application logic."""

    def __init__(self, version: tuple[int, int] = SLICER_VERSION) -> None:
        self.majorVersion, self.minorVersion = version
        self.applicationName = "Slicer"
        self.testing = True
        self.qt = QtWidgets.QApplication.instance() or QtWidgets.QApplication(["Slicer"])
        self._scene, self._logic, self._module_logics, self._layout = None, None, None, None
        self._startup_slots: list[Callable] = []

    def connect(self, signal: str, slot: Callable) -> bool:
        """``slicer.app.connect(signal, slot)``: only the signal a module connects at construction exists here
        (qSlicerApplication has more; a name it lacks would silently never fire in Slicer)."""
        if _normalised(signal) != "startupCompleted()":
            raise RuntimeError(f"the stand-in application simulates only startupCompleted(), not {signal}")
        self._startup_slots.append(slot)
        return True

    def complete_startup(self) -> None:
        """What Slicer does once every module is constructed: emit ``startupCompleted()``."""
        for slot in self._startup_slots:
            slot()

    def testingEnabled(self) -> bool:  # noqa: N802
        return self.testing

    def mainWindow(self) -> None:  # noqa: N802
        return None

    def processEvents(self) -> None:  # noqa: N802
        self.qt.processEvents()

    def applicationLogic(self) -> Any:  # noqa: N802
        self._follow_scene()
        return self._logic

    def layoutManager(self) -> LayoutManager:  # noqa: N802
        self._follow_scene()
        return self._layout

    def _follow_scene(self) -> None:
        import slicer

        if self._scene is not slicer.mrmlScene:
            self._scene = slicer.mrmlScene
            self._logic = slicer.vtkSlicerApplicationLogic()
            self._logic.SetMRMLScene(self._scene)
            self._logic.GetColorLogic().SetMRMLScene(self._scene)
            self._module_logics = add_module_logics(self._logic, self._scene)
            self._layout = LayoutManager(self._logic, self._scene)


class LoadableModule:
    """An entry of ``slicer.modules``: ``path``, ``logic()`` (a real module logic on the current scene)."""

    def __init__(self, path: str = "", logic_class: str | None = None) -> None:
        self.path, self._logic_class, self._logic, self._scene = path, logic_class, None, None
        self.shown_browsers: list[Any] = []

    def logic(self) -> Any:
        import slicer

        if self._logic_class and self._scene is not slicer.mrmlScene:
            self._scene = slicer.mrmlScene
            self._logic = getattr(slicer, self._logic_class)()
            if hasattr(self._logic, "SetMRMLApplicationLogic"):
                self._logic.SetMRMLApplicationLogic(slicer.app.applicationLogic())
            self._logic.SetMRMLScene(self._scene)
        return self._logic

    def showSequenceBrowser(self, browser: Any) -> None:  # noqa: N802 - qSlicerSequencesModule's
        self.shown_browsers.append(browser)


class SampleDataSource:
    """Slicer's ``SampleData.SampleDataSource`` (Modules/Scripted/SampleData/SampleData.py, 5.10): the same
    constructor; one value or lists of them per file."""

    def __init__(self, sampleName=None, sampleDescription=None, uris=None, fileNames=None, nodeNames=None,
                 checksums=None, loadFiles=None, customDownloader=None, thumbnailFileName=None,
                 loadFileTypes=None, loadFileProperties=None, loadFileType=None) -> None:
        if loadFileType is not None and loadFileTypes is not None:
            raise ValueError("loadFileType and loadFileTypes cannot be specified at the same time")
        loadFileTypes = loadFileTypes if loadFileType is None else loadFileType
        if isinstance(uris, (list, tuple)):
            count = len(uris)
            loadFileTypes = [loadFileTypes] * count if loadFileTypes is None or isinstance(loadFileTypes, str) \
                else loadFileTypes
            nodeNames, loadFiles, checksums = ([None] * count if value is None else value
                                               for value in (nodeNames, loadFiles, checksums))
        elif isinstance(uris, str):
            uris, fileNames, nodeNames, loadFiles, loadFileTypes, checksums = (
                [uris], [fileNames], [nodeNames], [loadFiles], [loadFileTypes], [checksums])
        self.sampleName = sampleName
        self.sampleDescription = sampleName if sampleDescription is None else sampleDescription
        self.uris, self.fileNames, self.nodeNames, self.loadFiles = uris, fileNames, nodeNames, loadFiles
        self.customDownloader, self.thumbnailFileName = customDownloader, thumbnailFileName
        self.loadFileTypes, self.checksums = loadFileTypes, checksums
        self.loadFileProperties = loadFileProperties or {}


class SampleDataLogic:
    """Slicer's ``SampleData.SampleDataLogic``: registering custom sources as 5.10 does. Downloading is not
    simulated; :func:`click_sample` does what the module's button does for a source with a custom
    downloader."""

    @staticmethod
    def registerCustomSampleDataSource(category="Custom", sampleName=None, uris=None, fileNames=None,  # noqa: N802 - Slicer's name
                                       nodeNames=None, customDownloader=None, thumbnailFileName=None,
                                       loadFileTypes=None, loadFiles=None, loadFileProperties={},  # noqa: B006 - its signature
                                       checksums=None, loadFileType=None) -> None:
        import slicer

        sources = getattr(slicer.modules, "sampleDataSources", None)
        if sources is None:
            sources = slicer.modules.sampleDataSources = {}
        sources.setdefault(category, []).append(SampleDataSource(
            sampleName=sampleName, uris=uris, fileNames=fileNames, nodeNames=nodeNames,
            thumbnailFileName=thumbnailFileName, loadFileTypes=loadFileTypes, loadFiles=loadFiles,
            loadFileProperties=loadFileProperties, checksums=checksums, customDownloader=customDownloader,
            loadFileType=loadFileType))


def click_sample(category: str, description: str) -> Any:
    """Press a Sample Data button: the source's custom downloader with the source, as the module's widget
    does (its return value)."""
    import slicer

    [source] = [s for s in slicer.modules.sampleDataSources[category] if s.sampleDescription == description]
    if source.customDownloader is None:
        raise NotImplementedError("the stand-in does not download; only custom downloaders run")
    return source.customDownloader(source)


def install(version: tuple[int, int] = SLICER_VERSION) -> Application:
    """Install the stand-ins as ``qt``, ``ctk``, ``slicer.*``; returns ``slicer.app``. Idempotent."""
    import slicer

    sys.excepthook = _slot_exception
    sys.modules["qt"] = _qt_module()
    ctk = sys.modules["ctk"] = types.ModuleType("ctk")
    for cls in (ctkCollapsibleButton, ctkPathLineEdit, ctkSliderWidget):
        setattr(ctk, cls.__name__, _QtClass(cls))
    for cls in (qMRMLWidget, qMRMLNodeComboBox, qMRMLTableView):
        setattr(slicer, cls.__name__, _QtClass(cls))
    i18n = types.ModuleType("slicer.i18n")
    i18n.tr = lambda text: text
    i18n.translate = lambda context, text: text
    wrapper = types.ModuleType("slicer.parameterNodeWrapper")
    wrapper.parameterNodeWrapper, wrapper.Choice, wrapper.WithinRange = parameterNodeWrapper, Choice, WithinRange
    scripted = types.ModuleType("slicer.ScriptedLoadableModule")
    for cls in (ScriptedLoadableModule, ScriptedLoadableModuleWidget, ScriptedLoadableModuleLogic,
                ScriptedLoadableModuleTest):
        setattr(scripted, cls.__name__, cls)
    sample_data = sys.modules["SampleData"] = types.ModuleType("SampleData")
    sample_data.SampleDataLogic, sample_data.SampleDataSource = SampleDataLogic, SampleDataSource
    for name, module in (("i18n", i18n), ("parameterNodeWrapper", wrapper), ("ScriptedLoadableModule", scripted)):
        sys.modules[f"slicer.{name}"] = module
        setattr(slicer, name, module)
    if version < (5, 12):
        sys.modules["slicer.packaging"] = None  # slicer-core follows Slicer 5.13; slicer.packaging came in 5.12
    slicer.app = Application(version)
    slicer.selfTests = {}
    slicer.modules = types.SimpleNamespace(
        attrivae=LoadableModule(str(MODULE_FILE)),
        volumerendering=LoadableModule(logic_class="vtkSlicerVolumeRenderingLogic"),
        sequences=LoadableModule(logic_class="vtkSlicerSequencesLogic"),
        plots=LoadableModule(logic_class="vtkSlicerPlotsLogic"))
    return slicer.app


def load_module(version: tuple[int, int] = SLICER_VERSION) -> types.ModuleType:
    """Import ``AttriVAE/AttriVAE.py`` as Slicer does, on the stand-ins (a fresh import each call)."""
    install(version)
    spec = importlib.util.spec_from_file_location("AttriVAE", MODULE_FILE)
    module = importlib.util.module_from_spec(spec)
    sys.modules["AttriVAE"] = module
    spec.loader.exec_module(module)
    return module


def open_module(module: types.ModuleType) -> tuple[Any, Any]:
    """What Slicer does when the user opens the module: construct it, build its panel, enter it.
    Returns (module, widget)."""
    parent = wrap(ModuleWidgetParent())
    instance = module.AttriVAE(ModuleParent(MODULE_FILE))
    import slicer

    parent.setMRMLScene(slicer.mrmlScene)
    widget = module.AttriVAEWidget(parent)
    widget.setup()
    parent.isEntered = True
    widget.enter()
    return instance, widget
