import numpy as np
import pytest
from scipy import ndimage

from AttriVAELib import load_cohort
from AttriVAELib.data.attributes import STRUCTURE_OF_ATTRIBUTE
from AttriVAELib.data.prepared import prepare_data
from AttriVAELib.evaluation.localisation import (
    attention_iou,
    localisation,
    localisation_scores,
    structure_masks,
)


def _masks() -> tuple[np.ndarray, np.ndarray]:
    """A 16³ cube with an LV block and a small structure inside it."""
    lv = np.zeros((16, 16, 16), bool)
    lv[4:12, 4:12, 4:12] = True
    structure = np.zeros_like(lv)
    structure[6:8, 6:8, 6:9] = True
    return lv, structure


def test_a_map_equal_to_its_structure_scores_one_over_the_share():
    lv, structure = _masks()
    scores = localisation_scores(structure.astype(float), structure, lv)
    assert scores["enrichment"] == pytest.approx(1 / structure.mean())
    assert scores["pointing"] == 1.0 and scores["outside_lv"] == 0.0 and scores["iou"] == 1.0


def test_a_uniform_map_scores_enrichment_one_and_its_sign_does_not_matter():
    lv, structure = _masks()
    uniform = localisation_scores(-np.ones(lv.shape), structure, lv)
    assert uniform["enrichment"] == pytest.approx(1.0)
    assert uniform["outside_lv"] == pytest.approx(1 - ndimage.binary_dilation(lv).mean())  # one-voxel margin


def test_pointing_allows_one_voxel_and_counts_mass_outside_the_lv():
    lv, structure = _masks()
    beside = np.zeros(lv.shape)
    beside[8, 6, 6] = 1.0  # one voxel past the structure's edge (axis 0 ends at 7)
    assert localisation_scores(beside, structure, lv)["pointing"] == 1.0
    far = np.zeros(lv.shape)
    far[10, 10, 10] = 1.0
    assert localisation_scores(far, structure, lv)["pointing"] == 0.0
    outside = np.zeros(lv.shape)
    outside[6, 6, 6], outside[0, 0, 0] = 3.0, 1.0  # a quarter of the mass outside the LV
    assert localisation_scores(outside, structure, lv)["outside_lv"] == pytest.approx(0.25)
    assert np.isnan(localisation_scores(np.zeros(lv.shape), structure, lv)["enrichment"])


def test_structures_are_the_cavity_with_its_border_the_myocardium_and_the_infarct():
    lv, cavity = _masks()
    infarct = np.zeros_like(lv)
    infarct[4, 4:6, 4:6] = True
    masks = structure_masks(lv, cavity, infarct)
    assert masks["cavity"].sum() > cavity.sum() and masks["cavity"][cavity].all()
    assert not (masks["myocardium"] & cavity).any() and (masks["myocardium"] | cavity).sum() == lv.sum()
    assert masks["infarct"] is infarct
    assert "infarct" not in structure_masks(lv, cavity, None)


def test_iou_of_thresholded_maps():
    infarct = np.zeros((4, 8, 8), bool)
    infarct[1:3, 2:4, 2:4] = True
    assert attention_iou(infarct.astype(float), infarct) == 1.0
    assert attention_iou(np.zeros(infarct.shape), infarct) == 0.0
    elsewhere = np.zeros(infarct.shape)
    elsewhere[1:3, 5:7, 5:7] = 1.0
    assert attention_iou(elsewhere, infarct) == 0.0
    half = np.zeros(infarct.shape)
    half[1:3, 2:4, 2:6] = 0.9  # the infarct plus as much again
    assert attention_iou(half, infarct) == pytest.approx(0.5)
    faint = half * 0.3  # below the 0.3 floor in absolute terms: removed
    assert attention_iou(faint, infarct) == 0.0
    assert np.isnan(attention_iou(np.zeros(infarct.shape), np.zeros(infarct.shape, bool)))


@pytest.mark.slow
def test_localisation_of_every_method_on_a_cohort(tiny_bundle, eval_cohort):
    data = prepare_data(load_cohort(eval_cohort), tiny_bundle.card.config)
    indices = np.arange(6)
    events = []
    result = localisation(tiny_bundle, data, indices, progress=events.append)
    assert set(result) == {"gradient-x-input", "integrated-gradients", "gradcam"}
    infarcted = int(data.infarct_masks[indices].any(axis=(1, 2, 3)).sum())
    for rows in result.values():
        assert set(rows) == {n for n in data.attribute_names if n in STRUCTURE_OF_ATTRIBUTE}
        assert rows["infarct_size_pct"]["subjects"] == infarcted and rows["lv_volume_ml"]["subjects"] == 6
        for row in rows.values():
            assert row["enrichment"] > 0 and 0 <= row["pointing"] <= 1 and 0 <= row["outside_lv"] <= 1
    for method in ("gradient-x-input", "integrated-gradients"):  # zero outside the masked input
        assert max(row["outside_lv_max"] for row in result[method].values()) == 0.0
    assert [e.done for e in events] == list(range(1, 7))
