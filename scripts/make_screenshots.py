"""Write the README screenshots and the icons from a real MRML scene (slicer-core, offscreen):

    python scripts/make_screenshots.py            # → Resources/Screenshots/*.png, Resources/AttriVAE.png,
                                                  #   AttriVAE/Resources/Icons/AttriVAE.png

The module's logic analyses a synthetic sample with the shipped demo model and shows the attention of one
attribute with the panel's default method; the pictures are the slice view with the attention overlay and the
3D view as the panel leaves it (the map volume-rendered inside the input's faint LV surfaces, the camera
aimed at the heart), drawn by Slicer's displayable managers.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "Testing"))
from offscreen import SliceView, render_3d, write_png  # noqa: E402
from slicer_app import load_module, slicer_scene  # noqa: E402


def _icon(slice_pixels: np.ndarray, size: int = 128) -> np.ndarray:
    """A square crop around the reddest part of the slice picture, resampled to ``size``²."""
    heat = slice_pixels[..., 0].astype(int) - slice_pixels[..., 2]
    row, column = np.unravel_index(np.argmax(heat), heat.shape)
    half = slice_pixels.shape[0] // 4
    row, column = (int(np.clip(v, half, slice_pixels.shape[0] - half)) for v in (row, column))
    crop = slice_pixels[row - half:row + half, column - half:column + half]
    index = np.linspace(0, crop.shape[0] - 1, size).round().astype(int)
    return np.ascontiguousarray(crop[index][:, index])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attribute", default="infarct_size_pct")
    parser.add_argument("--seed", type=int, default=2)
    parser.add_argument("--method", default=None, help="attribution method (default: the panel's default)")
    parser.add_argument("--layer", default="conv5", help="encoder layer of --method gradcam (paper: conv5)")
    args = parser.parse_args()

    module = load_module()
    scene, logics = slicer_scene()
    scene.GetFirstNodeByClass("vtkMRMLCameraNode").SetPosition(-250.0, 350.0, 250.0)  # the 3D view from the
    logic = module.AttriVAELogic()  # front-left and above; showing the attention aims it at the heart
    logic.loadModel()
    volume, segmentation = logic.generateSyntheticSample(seed=args.seed)
    result = logic.analyze(volume, segmentation, {"cavity": "LV cavity", "myocardium": "Myocardium",
                                                  "infarct": "Infarct"})
    print(f"P(infarct) {result['probability']:.2f}; encoded {result['encoded']}")
    method = args.method or module.choices.DEFAULT_METHOD
    heat = logic.showAttention([args.attribute], method, args.layer, threshold=0.2,
                               volumeRenderingLogic=logics.volume_rendering)
    pixels = SliceView(logics.application, scene, size=512).image(volume, heat[args.attribute], opacity=0.6)
    out = ROOT / "Resources" / "Screenshots"
    out.mkdir(parents=True, exist_ok=True)
    write_png(pixels, out / "attention-slice.png")
    write_png(render_3d(logics.application, scene, size=512), out / "attention-3d.png")
    for path in (ROOT / "Resources" / "AttriVAE.png", ROOT / "AttriVAE" / "Resources" / "Icons" / "AttriVAE.png"):
        write_png(_icon(pixels), path)
    print(f"wrote {out}/attention-slice.png, attention-3d.png and the icons")


if __name__ == "__main__":
    main()
