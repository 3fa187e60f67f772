import numpy as np
import pytest
import SimpleITK as sitk
from conftest import ellipsoid_labels, make_image

from AttriVAELib import InvalidVolumeError, PreprocessConfig, preprocess
from AttriVAELib.data.labels import EMIDEC_SCHEME


def subject(seed: int = 0):
    labels = ellipsoid_labels()
    rng = np.random.default_rng(seed)
    intensity = np.choose(labels, [300.0, 800.0, 150.0, 950.0]) + rng.normal(0, 20, labels.shape)
    return make_image(intensity.astype(np.float32)), make_image(labels)


@pytest.mark.parametrize("mode", ["physical", "official-code"])
def test_output_is_a_unit_range_cube_zero_outside_the_lv(mode):
    image, labels = subject()
    result = preprocess(image, labels, EMIDEC_SCHEME, PreprocessConfig(mode=mode), 32)
    assert result.volume.shape == (32, 32, 32) and result.volume.dtype == np.float32
    assert result.volume.min() >= 0.0 and result.volume.max() == pytest.approx(1.0)
    outside, inside = result.volume[~result.lv_mask], result.volume[result.lv_mask]
    if mode == "physical":
        assert outside.max() == 0.0
    else:  # area resizing blurs the mask edge; far from the LV the cube is still empty
        assert outside.mean() < 0.1 * inside.mean() and result.volume[0, 0, 0] == 0.0
    assert result.lv_fraction_inside == 1.0


def test_physical_mode_keeps_isotropic_spacing_and_orientation():
    image, labels = subject()
    result = preprocess(image, labels, EMIDEC_SCHEME, PreprocessConfig(field_of_view_mm=96.0), 32)
    assert result.geometry.cube.spacing == pytest.approx((3.0, 3.0, 3.0))
    assert result.geometry.cube.direction == pytest.approx(image.GetDirection())


@pytest.mark.parametrize("mode", ["physical", "official-code"])
def test_a_marker_mapped_to_the_cube_and_back_lands_within_one_voxel(mode):
    image, labels = subject()
    marked = sitk.GetArrayFromImage(labels)
    marked[marked == 3] = 2
    marked[5, 20:23, 27:30] = 3  # a small "infarct" in the myocardium: the marker, (k, j, i)
    source_centre = np.argwhere(marked == 3).mean(axis=0)[::-1]  # (i, j, k)
    result = preprocess(image, make_image(marked), EMIDEC_SCHEME, PreprocessConfig(mode=mode), 48)
    cube_centre = np.argwhere(result.infarct_mask).mean(axis=0)[::-1]  # (i, j, k) in the cube
    back = result.geometry.physical_to_source(result.geometry.cube_to_physical(cube_centre[None]))[0]
    error_mm = np.abs(back - source_centre) * np.asarray(image.GetSpacing())
    voxel_mm = np.maximum(np.asarray(result.geometry.cube.spacing), np.asarray(image.GetSpacing()))
    assert np.all(error_mm <= voxel_mm), (error_mm, voxel_mm)


@pytest.mark.parametrize("mode", ["physical", "official-code"])
def test_cube_outputs_map_back_onto_the_source_grid(mode):
    image, labels = subject()
    result = preprocess(image, labels, EMIDEC_SCHEME, PreprocessConfig(mode=mode), 48)
    back = result.geometry.to_source(result.lv_mask.astype(np.float32))
    assert back.GetSize() == image.GetSize()
    assert back.GetOrigin() == pytest.approx(image.GetOrigin())
    assert back.GetDirection() == pytest.approx(image.GetDirection())
    source = EMIDEC_SCHEME.lv_mask(sitk.GetArrayViewFromImage(labels))
    mapped = sitk.GetArrayViewFromImage(back) >= 0.5
    assert 2 * (source & mapped).sum() / (source.sum() + mapped.sum()) > 0.9


def test_geometry_round_trips_through_a_dict():
    image, labels = subject()
    geometry = preprocess(image, labels, EMIDEC_SCHEME, PreprocessConfig(), 32).geometry
    assert type(geometry).from_dict(geometry.to_dict()) == geometry


def test_inputs_are_not_modified():
    image, labels = subject()
    before = sitk.GetArrayFromImage(image).copy(), sitk.GetArrayFromImage(labels).copy()
    preprocess(image, labels, EMIDEC_SCHEME, PreprocessConfig(), 32)
    assert np.array_equal(sitk.GetArrayViewFromImage(image), before[0])
    assert np.array_equal(sitk.GetArrayViewFromImage(labels), before[1])


def test_geometry_mismatch_is_an_error():
    image, labels = subject()
    labels.SetSpacing((1.5, 1.25, 10.0))
    with pytest.raises(InvalidVolumeError, match="do not share one voxel grid.*spacing"):
        preprocess(image, labels, EMIDEC_SCHEME, PreprocessConfig(), 32)


def test_empty_mask_is_an_error():
    image, labels = subject()
    with pytest.raises(InvalidVolumeError, match="no LV voxels"):
        preprocess(image, labels * 0, EMIDEC_SCHEME, PreprocessConfig(), 32)


def test_all_foreground_mask_is_an_error():
    image, labels = subject()
    full = make_image(np.full(sitk.GetArrayViewFromImage(labels).shape, 2, np.uint8))
    with pytest.raises(InvalidVolumeError, match="foreground everywhere"):
        preprocess(image, full, EMIDEC_SCHEME, PreprocessConfig(), 32)


def test_constant_image_is_an_error():
    image, labels = subject()
    flat = make_image(np.full(sitk.GetArrayViewFromImage(image).shape, 7.0, np.float32))
    with pytest.raises(InvalidVolumeError, match="constant"):
        preprocess(flat, labels, EMIDEC_SCHEME, PreprocessConfig(), 32)
