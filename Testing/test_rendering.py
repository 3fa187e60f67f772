"""What a Slicer user sees: the attention overlay in a slice view and the attention volume rendering in 3D,
rendered offscreen from the module's display nodes (slicer-core; 3D through Mesa EGL)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from offscreen import SliceView, render_3d, write_png
from test_slicer_logic import SEGMENTS, logic  # noqa: F401 (fixture)


def _redness(pixels: np.ndarray) -> np.ndarray:
    return pixels[..., 0].astype(int) - pixels[..., 2].astype(int)


@pytest.mark.parametrize("method", ["gradcam", "gradient-x-input"])
def test_attention_overlay_shows_the_map_in_its_colours(logic, scene, tmp_path: Path, method: str) -> None:  # noqa: F811
    import slicer

    mrml_scene, logics = scene
    volume, segmentation = logic.generateSyntheticSample(seed=11)
    logic.analyze(volume, segmentation, SEGMENTS)
    attention = logic.showAttention(["lv_volume_ml"], method=method, threshold=0.2)["lv_volume_ml"]
    view = SliceView(logics.application, mrml_scene)
    plain = view.image(volume)
    blended = view.image(volume, attention, opacity=0.6)
    write_png(blended, tmp_path / "slice.png")
    assert (tmp_path / "slice.png").stat().st_size > 1000
    changed = np.abs(blended.astype(int) - plain.astype(int)).sum(axis=2) > 30
    assert changed.mean() > 0.001  # the overlay is visible
    values = slicer.util.arrayFromVolume(attention)
    redness = _redness(blended)[changed]
    if method == "gradcam":  # heat colours (red/yellow) over the whole map, not blue; smooth, so its peak survives
        assert float(np.abs(values).max()) == pytest.approx(1.0, abs=0.05)  # resampling onto the input grid
        assert redness.mean() > _redness(blended)[~changed].mean() + 20
    else:  # diverging: red where the map raises the attribute, blue where it lowers it; clear near 0
        assert (redness > 40).any() and (redness < -40).any()
        assert changed.mean() < 0.5 and 0 < float(np.abs(values).max()) <= 1


@pytest.mark.parametrize("method", ["gradcam", "gradient-x-input"])
def test_attention_volume_rendering_draws_in_3d(logic, scene, tmp_path: Path, method: str) -> None:  # noqa: F811
    mrml_scene, logics = scene
    volume, segmentation = logic.generateSyntheticSample(seed=12)
    logic.analyze(volume, segmentation, SEGMENTS)
    logic.showAttention(["lv_volume_ml"], method=method, threshold=0.2, volumeRenderingLogic=logics.volume_rendering)
    pixels = render_3d(logics.application, mrml_scene, size=200)
    write_png(pixels, tmp_path / "3d.png")
    lit = pixels.max(axis=2) > 40
    assert 0.002 < lit.mean() < 0.9  # something was drawn, not a blank or flooded view
    if method == "gradcam":
        assert _redness(pixels)[lit].mean() > 20  # in heat colours
    else:  # coloured, not grey: the diverging table's reds and blues
        saturation = pixels[lit].max(axis=1).astype(int) - pixels[lit].min(axis=1)
        assert saturation.mean() > 20
