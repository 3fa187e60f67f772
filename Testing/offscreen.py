"""Offscreen pictures of an MRML scene with slicer-core, for tests and the README screenshots.

Views are made as Slicer makes its viewers, before the module adds its nodes (some displayable managers, the
colour legend's among them, only follow nodes added after them), and drawn by Slicer's own displayable managers
into offscreen render windows (Mesa EGL when there is no display):

* :class:`SliceView`: a slice viewer (its own slice logic, or one of the layout's: Red, Yellow, Green).
  :meth:`SliceView.render` draws what its composite node holds as qMRMLSliceView does: the slice logic's blended
  layers under the 2D managers (colour legends, segmentation outlines, model intersections).
  :meth:`SliceView.image` blends chosen layers without OpenGL.
* :class:`ThreeDView`: 3D view "1" (volume renderings, segmentation surfaces, models, camera).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")  # headless: skip the X attempt

SLICE_MANAGERS = ("vtkMRMLModelSliceDisplayableManager", "vtkMRMLSegmentationsDisplayableManager2D",
                  "vtkMRMLColorLegendDisplayableManager")
"""What Slicer registers for slice views that the module's outputs use: model intersections (qMRMLSliceView),
segmentation outlines and fills (Segmentations module), colour legends (Colors module)."""
THREE_D_MANAGERS = ("vtkMRMLCameraDisplayableManager", "vtkMRMLViewDisplayableManager",
                    "vtkMRMLVolumeRenderingDisplayableManager", "vtkMRMLSegmentationsDisplayableManager3D",
                    "vtkMRMLModelDisplayableManager", "vtkMRMLColorLegendDisplayableManager")


class _Viewer:
    """An offscreen render window of ``size`` (width, height) with the displayable managers ``names`` of
    ``factory`` following ``view_node``; ``props`` are drawn under them (a slice view's image)."""

    def __init__(self, factory: Any, names: tuple[str, ...], view_node: Any, size: tuple[int, int],
                 props: tuple[Any, ...] = ()) -> None:
        import slicer
        import vtk

        for name in names:
            if not factory.IsDisplayableManagerRegistered(name):
                factory.RegisterDisplayableManager(name)
        self.renderer = vtk.vtkRenderer()
        for prop in props:
            self.renderer.AddViewProp(prop)
        self.window = vtk.vtkRenderWindow()
        self.window.SetOffScreenRendering(1)
        self.window.SetSize(*size)
        self.window.AddRenderer(self.renderer)
        self.interactor = vtk.vtkRenderWindowInteractor()  # the managers expect one
        self.interactor.SetRenderWindow(self.window)
        self.group = slicer.vtkMRMLDisplayableManagerGroup()
        self.group.Initialize(factory, self.renderer)
        self.group.SetMRMLDisplayableNode(view_node)

    def grab(self) -> np.ndarray:
        """Render; (height, width, 3) uint8 RGB, top row first."""
        import vtk
        from vtk.util.numpy_support import vtk_to_numpy

        self.renderer.ResetCameraClippingRange()
        self.window.Render()
        grabber = vtk.vtkWindowToImageFilter()
        grabber.SetInput(self.window)
        grabber.Update()
        image = grabber.GetOutput()
        width, height, _ = image.GetDimensions()
        rgb = vtk_to_numpy(image.GetPointData().GetScalars()).reshape(height, width, -1)[::-1, :, :3]
        return np.ascontiguousarray(rgb)

    def close(self) -> None:
        """Stop following the scene and let go of the window and managers now: a view collected after its scene
        was cleared crashes the interpreter."""
        self.group.SetMRMLDisplayableNode(None)
        self.window.Finalize()
        self.group = self.interactor = self.window = self.renderer = None


class _View:
    """A view that is closed on leaving a ``with`` block (or by :meth:`close`)."""

    _viewer: _Viewer

    def close(self) -> None:
        self._viewer.close()

    def __enter__(self) -> _View:
        return self

    def __exit__(self, *exception: object) -> None:
        self.close()


class SliceView(_View):
    """One slice viewer on ``scene``: a new one (``orientation``, like Slicer's Red view) or, given ``logic``, an
    existing slice logic's (the layout's Red, Yellow or Green). Make it before the module shows anything, as
    Slicer's viewers exist from startup."""

    def __init__(self, application: Any, scene: Any, orientation: str = "Axial", size: int = 384,
                 logic: Any = None) -> None:
        import slicer
        import vtk

        if logic is None:
            if application.GetSliceLogics() is None:
                application.SetSliceLogics(vtk.vtkCollection())
            slicer.vtkMRMLSliceNode.AddDefaultSliceOrientationPresets(scene, True)
            logic = slicer.vtkMRMLSliceLogic()
            logic.SetMRMLApplicationLogic(application)
            logic.SetMRMLScene(scene)
            logic.AddSliceNode(f"AttriVAE {orientation}").SetOrientation(orientation)
            application.GetSliceLogics().AddItem(logic)  # as Slicer's: the legend finds its layers through it
        self.logic, self.node = logic, logic.GetSliceNode()
        self.node.SetDimensions(size, size, 1)
        self._mapper = mapper = vtk.vtkImageMapper()  # CTK's light-box renderer manager draws the layers so
        mapper.SetColorWindow(255.0)
        mapper.SetColorLevel(127.5)
        image = vtk.vtkActor2D()
        image.SetMapper(mapper)
        factory = slicer.vtkMRMLSliceViewDisplayableManagerFactory.GetInstance()
        factory.SetMRMLApplicationLogic(application)
        self._viewer = _Viewer(factory, SLICE_MANAGERS, self.node, (size, size), (image,))

    def image(self, background: Any, foreground: Any = None, opacity: float = 0.6) -> np.ndarray:
        """(size, size, 3) uint8 RGB through the centre of ``background``, ``foreground`` blended on top (the
        layers only, no OpenGL)."""
        from vtk.util.numpy_support import vtk_to_numpy

        composite = self.logic.GetSliceCompositeNode()
        composite.SetBackgroundVolumeID(background.GetID())
        composite.SetForegroundVolumeID(foreground.GetID() if foreground else None)
        composite.SetForegroundOpacity(opacity)
        self._centre(background)
        connection = self.logic.GetImageDataConnection()
        connection.GetProducer().Update()
        image = connection.GetProducer().GetOutputDataObject(connection.GetIndex())
        width, height, _ = image.GetDimensions()
        rgba = vtk_to_numpy(image.GetPointData().GetScalars()).reshape(height, width, -1)
        return np.ascontiguousarray(rgba[::-1, :, :3])

    def render(self) -> np.ndarray:
        """(size, size, 3) uint8 RGB of what the viewer shows, drawn as qMRMLSliceView draws it: the layers its
        composite node holds (as the module set them), fitted and through the centre of the background, under
        the 2D displayable managers (:data:`SLICE_MANAGERS`)."""
        background = self.logic.GetSliceCompositeNode().GetBackgroundVolumeID()
        if background:
            self._centre(self.logic.GetMRMLScene().GetNodeByID(background))
        connection = self.logic.GetImageDataConnection()  # the blend, as qMRMLSliceWidget passes it on
        connection.GetProducer().Update()
        self._mapper.SetInputConnection(connection)
        return self._viewer.grab()

    def _centre(self, volume: Any) -> None:
        self.logic.FitSliceToAll()
        bounds = np.zeros(6)
        volume.GetRASBounds(bounds)
        matrix = self.node.GetSliceToRAS()
        normal = np.array([matrix.GetElement(row, 2) for row in range(3)])
        self.logic.SetSliceOffset(float(np.dot(normal, (bounds[::2] + bounds[1::2]) / 2)))


class ThreeDView(_View):
    """3D view "1" of ``scene`` (made if the scene has none) with Slicer's 3D displayable managers
    (:data:`THREE_D_MANAGERS`), black background, no box or axis labels."""

    def __init__(self, application: Any, scene: Any, size: int = 384) -> None:
        import slicer
        import vtk

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
        factory = slicer.vtkMRMLThreeDViewDisplayableManagerFactory.GetInstance()
        factory.SetMRMLApplicationLogic(application)
        self._viewer = _Viewer(factory, THREE_D_MANAGERS, view, (size, size))

    def render(self) -> np.ndarray:
        """(size, size, 3) uint8 RGB of every visible volume rendering, segmentation surface and model, seen
        by the view's camera node (the camera manager adds one looking at the origin from the front when the
        scene has none)."""
        return self._viewer.grab()


def render_3d(application: Any, scene: Any, size: int = 384) -> np.ndarray:
    """:meth:`ThreeDView.render` of a view made now (the 3D managers also draw the nodes already there)."""
    with ThreeDView(application, scene, size) as view:
        return view.render()


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
