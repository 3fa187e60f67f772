"""What a Slicer user sees: the attention overlay and its colour legend in a slice view, the attention volume
rendering in 3D, and Explore's comparison views and decoded anatomy, drawn offscreen by Slicer's displayable
managers from the module's display nodes (slicer-core, Mesa EGL)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import pytest
from offscreen import SliceView, ThreeDView, render_3d, write_png
from slicer_app import load_module
from test_slicer_logic import SEGMENTS, logic  # noqa: F401 (fixture)


@pytest.fixture
def closing(scene):
    """``closing(view)`` returns the view and closes it when the test ends, before its scene is cleared (a view
    collected after its scene crashes the interpreter)."""
    with contextlib.ExitStack() as stack:
        yield stack.enter_context


def _redness(pixels: np.ndarray) -> np.ndarray:
    return pixels[..., 0].astype(int) - pixels[..., 2].astype(int)


@pytest.mark.parametrize("method", ["gradcam", "gradient-x-input"])
def test_attention_overlay_shows_the_map_in_its_colours(logic, scene, closing, tmp_path: Path,  # noqa: F811
                                                        method: str) -> None:
    import slicer

    mrml_scene, logics = scene
    volume, segmentation = logic.generateSyntheticSample(seed=11)
    logic.analyze(volume, segmentation, SEGMENTS)
    attention = logic.showAttention(["lv_volume_ml"], method=method, threshold=0.2)["lv_volume_ml"]
    view = closing(SliceView(logics.application, mrml_scene))
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


def _saturated(pixels: np.ndarray, colour: str) -> np.ndarray:
    """Where ``pixels`` are strongly red (R ≫ G, B) or strongly blue (B ≫ R, G)."""
    red, green, blue = (pixels[..., channel].astype(int) for channel in range(3))
    return (red - np.maximum(green, blue) > 100) if colour == "red" else (blue - np.maximum(red, green) > 100)


def test_slice_view_draws_the_shown_maps_colour_legend(logic, scene, closing, tmp_path: Path) -> None:  # noqa: F811
    """Slicer's colour-legend manager draws the shown map's legend (a red-to-blue bar beside the anatomy) in the
    Red slice view that shows the map, the other map's when it is shown, and none once Explore's comparison
    takes the view."""
    import slicer

    mrml_scene, _ = scene
    red = slicer.app.layoutManager().sliceWidget("Red").sliceLogic()
    view = closing(SliceView(slicer.app.applicationLogic(), mrml_scene, size=300, logic=red))  # before the module acts
    volume, segmentation = logic.generateSyntheticSample(seed=11)
    logic.analyze(volume, segmentation, SEGMENTS)
    maps = logic.showAttention(["lv_volume_ml", "infarct_size_pct"], method="gradient-x-input", threshold=0.2)
    composite = view.logic.GetSliceCompositeNode()
    assert composite.GetForegroundVolumeID() == maps["lv_volume_ml"].GetID()
    with_legend = view.render()
    slicer.vtkSlicerColorLogic.GetColorLegendDisplayNode(maps["lv_volume_ml"]).SetVisibility(False)
    without = view.render()
    write_png(np.concatenate([with_legend, without], axis=1), tmp_path / "legend.png")
    legend = np.abs(with_legend.astype(int) - without).sum(axis=2) > 60
    bar = legend & (_saturated(with_legend, "red") | _saturated(with_legend, "blue"))
    assert _saturated(with_legend, "red")[bar].sum() > 20 and _saturated(with_legend, "blue")[bar].sum() > 20
    rows, columns = np.flatnonzero(bar.any(axis=1)), np.flatnonzero(bar.any(axis=0))
    box = (slice(rows.min(), rows.max() + 1), slice(columns.min(), columns.max() + 1))
    assert columns.min() > 0.6 * bar.shape[1]  # beside the anatomy, at the right edge, as in Slicer

    def bar_drawn(pixels: np.ndarray) -> bool:
        return bool(_saturated(pixels[box], "red").sum() > 20 and _saturated(pixels[box], "blue").sum() > 20)

    assert not bar_drawn(without)
    logic.showAttentionMap(maps["infarct_size_pct"])  # the other map: its own legend, the first one's hidden
    assert composite.GetForegroundVolumeID() == maps["infarct_size_pct"].GetID()
    assert bar_drawn(view.render())
    logic.explore({"lv_volume_ml": logic.analyses[volume.GetID()].encoded["lv_volume_ml"]})
    logic.showExploreComparison()  # the Red view shows the input alone: no map, no legend
    assert composite.GetForegroundVolumeID() is None
    assert not bar_drawn(view.render())

def test_explore_views_show_the_decoded_anatomy_following_the_slider(scene, closing,
                                                                       monkeypatch: pytest.MonkeyPatch,
                                                                       tmp_path: Path) -> None:
    """A slider release with the shipped model: the comparison views hold input | decoded | decoded with its
    difference, the decoded view draws the decoded anatomy's outlines in their colours, the 3D view its
    surfaces, and both change when the slider moves again."""
    import slicer

    from AttriVAELib.slicer.mrml import DECODED_ANATOMY_COLOURS

    module = load_module()
    monkeypatch.setattr(module.AttriVAELogic, "ensureDependencies", staticmethod(lambda askConfirmation=True: None))
    mrml_scene, _ = scene
    application, layout = slicer.app.applicationLogic(), slicer.app.layoutManager()
    views = {name: closing(SliceView(application, mrml_scene, size=200, logic=layout.sliceWidget(name).sliceLogic()))
             for name in ("Red", "Yellow", "Green")}
    three_d = closing(ThreeDView(application, mrml_scene, size=200))
    shipped = module.AttriVAELogic()
    shipped.loadModel()
    volume, segmentation = shipped.generateSyntheticSample(seed=3)
    encoded = shipped.analyze(volume, segmentation, SEGMENTS)["encoded"]["lv_volume_ml"]
    pictures = []
    for change in (-20.0, 40.0):
        shipped.explore({"lv_volume_ml": encoded + change})
        shipped.showExploreComparison(switchLayout=not pictures)
        shipped.showExploredAnatomy()
        pictures.append({name: view.render() for name, view in views.items()} | {"3D": three_d.render()})
    write_png(np.concatenate([pictures[0][name] for name in ("Red", "Yellow", "Green", "3D")], axis=1),
              tmp_path / "explore.png")

    decoded = mrml_scene.GetFirstNodeByName("AttriVAE explore")
    layers = {name: (view.logic.GetSliceCompositeNode().GetBackgroundVolumeID(),
                     view.logic.GetSliceCompositeNode().GetForegroundVolumeID()) for name, view in views.items()}
    assert layers == {"Red": (volume.GetID(), None), "Yellow": (decoded.GetID(), None),
                      "Green": (decoded.GetID(), mrml_scene.GetFirstNodeByName("AttriVAE explore difference").GetID())}
    myocardium = np.round(np.array(DECODED_ANATOMY_COLOURS[2]) * 255)
    for picture in pictures:
        outline = np.abs(picture["Yellow"].astype(int) - myocardium).max(axis=2) < 40
        assert outline.sum() > 30  # the decoded myocardium's outline, drawn in its colour
        lit = picture["3D"].max(axis=2) > 40
        assert 0.05 < lit.mean() < 0.95  # the surfaces fill the view (the camera aimed at the heart)
        reddish = picture["3D"][lit][:, 0].astype(int) - picture["3D"][lit][:, 2]
        assert np.median(reddish) > 40  # red pool seen through the yellow myocardium, not grey
    for name in ("Yellow", "Green", "3D"):  # the decoded anatomy follows the slider
        assert (np.abs(pictures[0][name].astype(int) - pictures[1][name]).sum(axis=2) > 60).mean() > 0.005
