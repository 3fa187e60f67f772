"""Write the README and docs screenshots and the icons from a real MRML scene (slicer-core, offscreen):

    python scripts/make_screenshots.py      # → Resources/Screenshots/*.png, Resources/AttriVAE.png,
                                            #   AttriVAE/Resources/Icons/AttriVAE.png

The module's logic, on the stand-in application of ``Testing/slicer_app.py`` (its layout's Red, Yellow and
Green slice views), analyses a synthetic sample with the shipped model and does what the panel does:

* *Attention*: one attribute's map with the panel's default method. ``attention-slice.png``: the Red view
  (the map over the input, its colour legend, the sample segmentation's outlines);
  ``attention-3d.png``: the 3D view (the map volume-rendered inside the input's faint LV surfaces).
* *Explore* (a fresh scene, no attention): one slider released. ``explore-views.png``: the comparison
  layout's three slice views, input | decoded (with its decoded anatomy's outlines) | decoded with its
  difference from the reconstruction; ``explore-3d.png``: the decoded anatomy's surfaces in 3D.

Every picture is drawn by Slicer's displayable managers on views made before the module adds its nodes, as
Slicer's viewers exist from startup (``Testing/offscreen.py``).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "Testing"))
from offscreen import SliceView, ThreeDView, write_png  # noqa: E402
from slicer_app import load_module  # noqa: E402

SEGMENTS = {"cavity": "LV cavity", "myocardium": "Myocardium", "infarct": "Infarct"}
OUT = ROOT / "Resources" / "Screenshots"


def _icon(slice_pixels: np.ndarray, size: int = 128) -> np.ndarray:
    """A square crop around the reddest part of the slice picture, resampled to ``size``²."""
    heat = slice_pixels[..., 0].astype(int) - slice_pixels[..., 2]
    row, column = np.unravel_index(np.argmax(heat), heat.shape)
    half = slice_pixels.shape[0] // 4
    row, column = (int(np.clip(v, half, slice_pixels.shape[0] - half)) for v in (row, column))
    crop = slice_pixels[row - half:row + half, column - half:column + half]
    index = np.linspace(0, crop.shape[0] - 1, size).round().astype(int)
    return np.ascontiguousarray(crop[index][:, index])


@dataclasses.dataclass
class Session:
    """A scene as Slicer starts one, its views made first, with the shipped model's analysis of a sample."""

    logic: Any
    slice_views: dict[str, SliceView]
    three_d: ThreeDView
    analysis: dict[str, Any]
    segmentations: Any  # the Segmentations module's logic, alive as long as the scene

    def close(self) -> None:
        """Close the views while their scene lives."""
        for view in (*self.slice_views.values(), self.three_d):
            view.close()


def _session(module: Any, seed: int, size: int) -> Session:
    """A fresh scene with the layout's slice views and 3D view, the shipped model loaded and the synthetic
    sample of ``seed`` analysed."""
    import slicer

    slicer.mrmlScene = slicer.vtkMRMLScene()
    segmentations = slicer.vtkSlicerSegmentationsModuleLogic()  # segment representations, as Slicer has
    segmentations.SetMRMLScene(slicer.mrmlScene)
    application, layout = slicer.app.applicationLogic(), slicer.app.layoutManager()
    views = {name: SliceView(application, slicer.mrmlScene, size=size, logic=layout.sliceWidget(name).sliceLogic())
             for name in layout.sliceViewNames()}
    three_d = ThreeDView(application, slicer.mrmlScene, size=size)
    camera = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLCameraNode")
    camera.SetPosition(-250.0, 350.0, 250.0)  # from the front-left and above; showing the anatomy aims it
    logic = module.AttriVAELogic()
    logic.loadModel()
    volume, segmentation = logic.generateSyntheticSample(seed=seed)
    return Session(logic, views, three_d, logic.analyze(volume, segmentation, SEGMENTS), segmentations)


def attention_pictures(module: Any, attribute: str, method: str, layer: str, seed: int) -> np.ndarray:
    """The attention screenshots; returns the map over the input without legend or outlines (for the icons)."""
    import slicer

    session = _session(module, seed, size=512)
    print(f"P(infarct) {session.analysis['probability']:.2f}; encoded {session.analysis['encoded']}")
    heat = session.logic.showAttention([attribute], method, layer, threshold=0.2,
                                       volumeRenderingLogic=slicer.modules.volumerendering.logic())[attribute]
    red = session.slice_views["Red"]
    write_png(red.render(), OUT / "attention-slice.png")
    write_png(session.three_d.render(), OUT / "attention-3d.png")
    layers = red.image(slicer.mrmlScene.GetNodeByID(red.logic.GetSliceCompositeNode().GetBackgroundVolumeID()), heat)
    session.close()
    return layers


def explore_pictures(module: Any, attribute: str, change: float, seed: int) -> None:
    """The Explore screenshots: the slider of ``attribute`` released at the subject's encoded value
    + ``change`` (attribute units), as the panel's slider does."""
    session = _session(module, seed, size=360)
    encoded = session.analysis["encoded"][attribute]
    session.logic.explore({attribute: encoded + change})
    session.logic.showExploreComparison(switchLayout=True)
    shown = session.logic.showExploredAnatomy()
    print(f"{attribute}: encoded {encoded:.1f}, requested {encoded + change:.1f}, decoded anatomy shows "
          f"{shown[attribute]:.1f}; notes: {session.logic.lastExplore['notes']}")
    views = [session.slice_views[name].render() for name in ("Red", "Yellow", "Green")]
    write_png(np.concatenate(views, axis=1), OUT / "explore-views.png")
    write_png(session.three_d.render(), OUT / "explore-3d.png")
    session.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attribute", default="infarct_size_pct", help="attribute of the attention pictures")
    parser.add_argument("--seed", type=int, default=2, help="seed of the synthetic sample")
    parser.add_argument("--method", default=None, help="attribution method (default: the panel's default)")
    parser.add_argument("--layer", default="conv5", help="encoder layer of --method gradcam (paper: conv5)")
    parser.add_argument("--explore", default="lv_volume_ml", help="attribute of the Explore pictures' slider")
    parser.add_argument("--change", type=float, default=40.0,
                        help="the Explore slider's value minus the subject's encoded value (attribute units)")
    args = parser.parse_args()

    module = load_module()
    OUT.mkdir(parents=True, exist_ok=True)
    layers = attention_pictures(module, args.attribute, args.method or module.choices.DEFAULT_METHOD,
                                      args.layer, args.seed)
    explore_pictures(module, args.explore, args.change, args.seed)
    for path in (ROOT / "Resources" / "AttriVAE.png", ROOT / "AttriVAE" / "Resources" / "Icons" / "AttriVAE.png"):
        write_png(_icon(layers), path)
    print(f"wrote {', '.join(sorted(p.name for p in OUT.glob('*.png')))} in {OUT} and the icons")


if __name__ == "__main__":
    main()
