"""Decoder fidelity on hand-made cubes: a perfect reconstruction keeps everything, a decoder that drops the scar
or blurs loses what can be computed by hand."""

import numpy as np
import pytest
from scipy import ndimage

from AttriVAELib.evaluation.decoder_fidelity import decoder_fidelity, subject_decoder_fidelity

BLOOD, WALL, SCAR = 0.8, 0.3, 0.85


def _heart(size: int = 24) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A cube (blood pool ball in a wall shell, a bright scar wedge in the wall) and its lv, cavity and
    infarct masks."""
    k, j, i = np.indices((size,) * 3) - size / 2 + 0.5
    radius = np.sqrt(k**2 + j**2 + i**2)
    lv, cavity = radius < 9, radius < 6
    infarct = lv & ~cavity & (i > 3)
    cube = np.where(cavity, BLOOD, np.where(lv, WALL, 0.0))
    cube[infarct] = SCAR
    return cube, lv, cavity, infarct


def test_a_perfect_reconstruction_keeps_every_structure_and_the_scars_contrast():
    cube, lv, cavity, infarct = _heart()
    scores = subject_decoder_fidelity(cube, cube, lv & ~cavity, infarct)
    assert scores == {"cavity": 1.0, "myocardium": 1.0, "infarct": 1.0, "infarct_contrast": 1.0}


def test_a_decoder_that_drops_the_scar_loses_it_by_the_computed_amount():
    cube, lv, cavity, infarct = _heart()
    dropped = np.where(infarct, WALL, cube)
    scores = subject_decoder_fidelity(dropped, cube, lv & ~cavity, infarct)
    assert scores["infarct_contrast"] == pytest.approx(WALL / SCAR)
    assert scores["infarct"] == 0.0  # no bright voxel left in the wall
    # the input's bright pool is blood + scar, the decoded one blood only; the wall gained the scar's voxels
    c, s, w = cavity.sum(), infarct.sum(), (lv & ~cavity & ~infarct).sum()
    assert scores["cavity"] == pytest.approx(2 * c / (2 * c + s))
    assert scores["myocardium"] == pytest.approx(2 * w / (2 * w + s))


def test_a_blur_keeps_less_and_no_scar_means_no_infarct_scores():
    cube, lv, cavity, infarct = _heart()
    blurred = ndimage.gaussian_filter(cube, 1.5)
    scores = subject_decoder_fidelity(blurred, cube, lv & ~cavity, infarct)
    assert scores["infarct_contrast"] == pytest.approx(blurred[infarct].mean() / SCAR) and \
        scores["infarct_contrast"] < 0.95
    assert scores["cavity"] < 1 and scores["myocardium"] < 1
    healthy = np.where(infarct, WALL, cube)
    assert np.isnan(subject_decoder_fidelity(healthy, healthy, lv & ~cavity, None)["infarct_contrast"])


def test_the_summary_counts_only_the_subjects_a_score_exists_for():
    cube, lv, cavity, infarct = _heart()
    healthy = np.where(infarct, WALL, cube)
    stack = np.stack([cube, cube, healthy])
    masks = np.stack([lv] * 3), np.stack([cavity] * 3), np.stack([infarct, infarct, np.zeros_like(infarct)])
    scores = decoder_fidelity(np.stack([cube, np.where(infarct, WALL, cube), healthy]), stack, *masks)
    assert scores["infarct_contrast"]["subjects"] == 2 and scores["dice"]["cavity"]["subjects"] == 3
    assert scores["infarct_contrast"]["median"] == pytest.approx((1 + WALL / SCAR) / 2)
    assert scores["dice"]["infarct"]["p90"] <= 1.0 and scores["dice"]["infarct"]["p10"] >= 0.0
