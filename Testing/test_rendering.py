"""What a Slicer user sees: the attention overlay in a slice view and the heat volume rendering in 3D,
rendered offscreen from the module's display nodes (slicer-core; 3D through Mesa EGL)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from offscreen import SliceView, render_3d, write_png
from test_slicer_logic import SEGMENTS, logic  # noqa: F401 (fixture)


def test_attention_overlay_is_hot_where_the_map_is_high(logic, scene, tmp_path: Path) -> None:  # noqa: F811
    import slicer

    mrml_scene, logics = scene
    volume, segmentation = logic.generateSyntheticSample(seed=11)
    logic.analyze(volume, segmentation, SEGMENTS)
    heat = logic.showAttention(["lv_volume_ml"], threshold=0.2)["lv_volume_ml"]
    view = SliceView(logics.application, mrml_scene)
    plain = view.image(volume)
    blended = view.image(volume, heat, opacity=0.6)
    write_png(blended, tmp_path / "slice.png")
    assert (tmp_path / "slice.png").stat().st_size > 1000
    changed = np.abs(blended.astype(int) - plain.astype(int)).sum(axis=2) > 30
    assert changed.mean() > 0.005  # the overlay is visible
    redder = blended[..., 0].astype(int) - blended[..., 2].astype(int)
    assert redder[changed].mean() > redder[~changed].mean() + 20  # and heat-coloured (red/yellow, not blue)
    assert float(slicer.util.arrayFromVolume(heat).max()) == pytest.approx(1.0, abs=0.05)


def test_heat_volume_rendering_draws_in_3d(logic, scene, tmp_path: Path) -> None:  # noqa: F811
    mrml_scene, logics = scene
    volume, segmentation = logic.generateSyntheticSample(seed=12)
    logic.analyze(volume, segmentation, SEGMENTS)
    logic.showAttention(["lv_volume_ml"], threshold=0.2, volumeRenderingLogic=logics.volume_rendering)
    pixels = render_3d(logics.application, mrml_scene, size=200)
    write_png(pixels, tmp_path / "3d.png")
    lit = pixels.max(axis=2) > 40
    assert 0.002 < lit.mean() < 0.9  # something was drawn, not a blank or flooded view
    assert (pixels[lit][:, 0].astype(int) - pixels[lit][:, 2]).mean() > 20  # in heat colours
