"""Offscreen pictures of an MRML scene with slicer-core, for tests and the README screenshots.

Slice views: a ``vtkMRMLSliceLogic`` blends the background and foreground layers as Slicer's slice viewers
do, without OpenGL. 3D: Slicer's volume-rendering displayable manager draws into an offscreen render window
(Mesa EGL when there is no display). Both show exactly the display nodes the module configured.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")  # headless: skip the X attempt


class SliceView:
    """One slice viewer (like Slicer's Red view) on ``scene``; :meth:`image` blends the chosen layers."""

    def __init__(self, application: Any, scene: Any, orientation: str = "Axial", size: int = 384) -> None:
        import slicer
        import vtk

        if application.GetSliceLogics() is None:
            application.SetSliceLogics(vtk.vtkCollection())
        slicer.vtkMRMLSliceNode.AddDefaultSliceOrientationPresets(scene, True)
        self.logic = slicer.vtkMRMLSliceLogic()
        self.logic.SetMRMLApplicationLogic(application)
        self.logic.SetMRMLScene(scene)
        self.node = self.logic.AddSliceNode(f"AttriVAE {orientation}")
        self.node.SetOrientation(orientation)
        self.node.SetDimensions(size, size, 1)
        application.GetSliceLogics().AddItem(self.logic)

    def image(self, background: Any, foreground: Any = None, opacity: float = 0.6) -> np.ndarray:
        """(size, size, 3) uint8 RGB through the centre of ``background``, ``foreground`` blended on top."""
        from vtk.util.numpy_support import vtk_to_numpy

        composite = self.logic.GetSliceCompositeNode()
        composite.SetBackgroundVolumeID(background.GetID())
        composite.SetForegroundVolumeID(foreground.GetID() if foreground else None)
        composite.SetForegroundOpacity(opacity)
        self.logic.FitSliceToAll()
        bounds = np.zeros(6)
        background.GetRASBounds(bounds)
        self.logic.SetSliceOffset(float(np.dot(_normal(self.node), (bounds[::2] + bounds[1::2]) / 2)))
        connection = self.logic.GetImageDataConnection()
        connection.GetProducer().Update()
        image = connection.GetProducer().GetOutputDataObject(connection.GetIndex())
        width, height, _ = image.GetDimensions()
        rgba = vtk_to_numpy(image.GetPointData().GetScalars()).reshape(height, width, -1)
        return np.ascontiguousarray(rgba[::-1, :, :3])


def _normal(slice_node: Any) -> np.ndarray:
    matrix = slice_node.GetSliceToRAS()
    return np.array([matrix.GetElement(row, 2) for row in range(3)])


def render_3d(application: Any, scene: Any, size: int = 384) -> np.ndarray:
    """(size, size, 3) uint8 RGB of 3D view "1" as Slicer draws it, through its displayable managers: every
    visible volume rendering, segmentation surface, slice plane shown in 3D and colour legend, seen by the view's
    camera node (the camera displayable manager adds one looking at the origin from the front when the scene
    has none). Black background."""
    import slicer
    import vtk
    from vtk.util.numpy_support import vtk_to_numpy

    factory = slicer.vtkMRMLThreeDViewDisplayableManagerFactory.GetInstance()
    factory.SetMRMLApplicationLogic(application)
    for name in ("vtkMRMLCameraDisplayableManager", "vtkMRMLViewDisplayableManager",
                 "vtkMRMLVolumeRenderingDisplayableManager", "vtkMRMLSegmentationsDisplayableManager3D",
                 "vtkMRMLModelDisplayableManager", "vtkMRMLColorLegendDisplayableManager"):
        if not factory.IsDisplayableManagerRegistered(name):
            factory.RegisterDisplayableManager(name)
    if application.GetViewLogics() is None:
        application.SetViewLogics(vtk.vtkCollection())
    view = scene.GetSingletonNode("1", "vtkMRMLViewNode")
    if view is None:
        view_logic = slicer.vtkMRMLViewLogic()
        view_logic.SetMRMLApplicationLogic(application)
        view_logic.SetMRMLScene(scene)
        view = view_logic.AddViewNode("1")
    view.SetBoxVisible(False)
    view.SetAxisLabelsVisible(False)
    view.SetBackgroundColor(0.0, 0.0, 0.0)
    view.SetBackgroundColor2(0.0, 0.0, 0.0)
    window = vtk.vtkRenderWindow()
    window.SetOffScreenRendering(1)
    window.SetSize(size, size)
    renderer = vtk.vtkRenderer()
    window.AddRenderer(renderer)
    interactor = vtk.vtkRenderWindowInteractor()
    interactor.SetRenderWindow(window)
    group = slicer.vtkMRMLDisplayableManagerGroup()
    group.Initialize(factory, renderer)
    group.SetMRMLDisplayableNode(view)
    renderer.ResetCameraClippingRange()
    window.Render()
    grabber = vtk.vtkWindowToImageFilter()
    grabber.SetInput(window)
    grabber.Update()
    image = grabber.GetOutput()
    width, height, _ = image.GetDimensions()
    rgb = vtk_to_numpy(image.GetPointData().GetScalars()).reshape(height, width, -1)[::-1, :, :3]
    pixels = np.ascontiguousarray(rgb)
    group.SetMRMLDisplayableNode(None)
    window.Finalize()
    return pixels


def write_png(pixels: np.ndarray, path: Path) -> None:
    """Write an (H, W, 3) uint8 image as PNG."""
    import vtk
    from vtk.util.numpy_support import numpy_to_vtk

    height, width, _ = pixels.shape
    image = vtk.vtkImageData()
    image.SetDimensions(width, height, 1)
    image.GetPointData().SetScalars(numpy_to_vtk(pixels[::-1].reshape(-1, 3).copy(), deep=True))
    writer = vtk.vtkPNGWriter()
    writer.SetFileName(str(path))
    writer.SetInputData(image)
    writer.Write()
