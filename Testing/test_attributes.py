import numpy as np
import pytest
import SimpleITK as sitk
from conftest import ellipsoid_labels, make_image

from AttriVAELib import InvalidVolumeError
from AttriVAELib.data.attributes import shape_attributes
from AttriVAELib.data.labels import ACDC_SCHEME, EMIDEC_SCHEME


def annulus(inner: float, outer: float, spacing: float = 0.5, slices: int = 4) -> sitk.Image:
    """Cylindrical shell: cavity radius ``inner`` mm, myocardium out to ``outer`` mm."""
    n = int(2 * outer / spacing) + 8
    j, i = np.indices((n, n)) - (n - 1) / 2
    radius = np.hypot(i, j) * spacing
    plane = np.where(radius <= inner, 1, np.where(radius <= outer, 2, 0)).astype(np.uint8)
    return make_image(np.repeat(plane[None], slices, axis=0), spacing=(spacing, spacing, 5.0))


def test_wall_thickness_of_a_cylindrical_shell():
    measured = shape_attributes(annulus(15.0, 23.0), EMIDEC_SCHEME)
    assert measured["wall_thickness_mm"] == pytest.approx(8.0, abs=0.5)
    assert measured["wall_thickness_sd_mm"] < 0.5


def test_max_diameter_of_a_cylindrical_shell():
    measured = shape_attributes(annulus(15.0, 23.0), EMIDEC_SCHEME)
    assert measured["myo_max_diameter_mm"] == pytest.approx(46.0, abs=1.0)


def test_volumes_mass_and_infarct_size_count_voxels():
    labels = ellipsoid_labels()
    measured = shape_attributes(make_image(labels), EMIDEC_SCHEME)
    voxel_ml = 1.5 * 1.25 * 8.0 / 1000
    myo = np.isin(labels, (2, 3, 4)).sum()
    assert measured["lv_volume_ml"] == pytest.approx((labels == 1).sum() * voxel_ml)
    assert measured["myo_volume_ml"] == pytest.approx(myo * voxel_ml)
    assert measured["myo_mass_g"] == pytest.approx(1.05 * myo * voxel_ml)
    assert measured["infarct_size_pct"] == pytest.approx(100 * (labels == 3).sum() / myo)


def test_sphericity_is_one_for_a_sphere_and_lower_when_elongated():
    k, j, i = np.indices((60, 60, 60)) - 29.5
    sphere = ((i**2 + j**2 + k**2) <= 20**2).astype(np.uint8)
    sphere[(sphere == 0) & ((i**2 + j**2 + k**2) <= 24**2)] = 2
    measured = shape_attributes(make_image(sphere, spacing=(1.0, 1.0, 1.0)), EMIDEC_SCHEME)
    assert measured["lv_sphericity"] == pytest.approx(1.0, abs=0.03)
    elongated = shape_attributes(make_image(ellipsoid_labels()), EMIDEC_SCHEME)
    assert elongated["lv_sphericity"] < 0.6


def test_ejection_fraction_from_end_systole():
    ed = ellipsoid_labels()
    es = ed.copy()
    es[(ed == 1) & (np.indices(ed.shape)[2] < 20)] = 2  # half of the cavity becomes wall
    measured = shape_attributes(make_image(ed), EMIDEC_SCHEME, make_image(es))
    expected = 100 * ((ed == 1).sum() - (es == 1).sum()) / (ed == 1).sum()
    assert measured["ef_pct"] == pytest.approx(expected)


def test_acdc_scheme_uses_label_3_as_cavity():
    emidec = ellipsoid_labels()
    acdc = np.select([emidec == 1, emidec >= 2], [3, 2], 0).astype(np.uint8)
    a = shape_attributes(make_image(emidec), EMIDEC_SCHEME)
    b = shape_attributes(make_image(acdc), ACDC_SCHEME)
    assert b["lv_volume_ml"] == pytest.approx(a["lv_volume_ml"])
    assert "infarct_size_pct" not in b


def test_empty_cavity_is_an_error():
    labels = ellipsoid_labels()
    labels[labels == 1] = 0
    with pytest.raises(InvalidVolumeError, match="no cavity"):
        shape_attributes(make_image(labels), EMIDEC_SCHEME, name="case.nii.gz")


def test_end_systolic_mask_on_another_grid_is_an_error():
    labels = ellipsoid_labels()
    es = make_image(labels, spacing=(1.5, 1.25, 10.0))
    with pytest.raises(InvalidVolumeError, match="do not share one voxel grid"):
        shape_attributes(make_image(labels), EMIDEC_SCHEME, es, name="ed.nii.gz")


def test_end_systolic_mask_without_cavity_is_an_error():
    labels = ellipsoid_labels()
    with pytest.raises(InvalidVolumeError, match="end-systolic mask.*no cavity"):
        shape_attributes(make_image(labels), EMIDEC_SCHEME, make_image(np.where(labels == 1, 0, labels)))


def test_the_registry_views_are_the_tables_they_replaced():
    """Each list of attributes the package used to write out by hand is now a view of the one registry."""
    from AttriVAELib.data import attributes as registry

    assert registry.SHAPE_ATTRIBUTES == ("lv_volume_ml", "myo_volume_ml", "myo_mass_g", "wall_thickness_mm",
                                         "wall_thickness_sd_mm", "myo_max_diameter_mm", "lv_sphericity",
                                         "infarct_size_pct", "ef_pct")
    assert registry.DEFAULT_ATTRIBUTES == ("lv_volume_ml", "myo_volume_ml", "wall_thickness_mm", "infarct_size_pct",
                                           "ef_pct", "lv_sphericity", "myo_max_diameter_mm")
    assert registry.STRUCTURE_OF_ATTRIBUTE == {
        "infarct_size_pct": "infarct", "myo_volume_ml": "myocardium", "myo_mass_g": "myocardium",
        "wall_thickness_mm": "myocardium", "wall_thickness_sd_mm": "myocardium", "lv_volume_ml": "cavity",
        "ef_pct": "cavity", "lv_sphericity": "cavity", "myo_max_diameter_mm": "cavity"}
    assert registry.DECODED_ATTRIBUTES == ("lv_volume_ml", "myo_volume_ml", "wall_thickness_mm",
                                           "myo_max_diameter_mm", "lv_sphericity")
    assert {name: spec.unit for name, spec in registry.ATTRIBUTES.items()} == {
        name: registry.UNIT_SUFFIXES.get(name.rsplit("_", 1)[-1], "") for name in registry.ATTRIBUTES}
    assert set(registry.DEFAULT_ATTRIBUTES) <= set(registry.ATTRIBUTES)


def test_custom_attributes_take_their_unit_from_the_name_and_have_no_structure():
    from AttriVAELib.data.attributes import attribute_spec

    height = attribute_spec("height_cm")
    assert (height.unit, height.structure, height.measure, height.traversal_units) == ("cm", None, None, "encoder")
    assert attribute_spec("age").unit == ""
    assert attribute_spec("lv_volume_ml").traversal_units == "decoded"
    assert attribute_spec("ef_pct").traversal_units == "encoder"


def test_only_the_attributes_asked_for_are_measured():
    measured = shape_attributes(annulus(15.0, 23.0), EMIDEC_SCHEME, attributes=["wall_thickness_mm"])
    assert list(measured) == ["wall_thickness_mm"]
    with pytest.raises(InvalidVolumeError, match="not measured on label maps"):
        shape_attributes(annulus(15.0, 23.0), EMIDEC_SCHEME, attributes=["height_cm"])
