import dataclasses
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from AttriVAELib.data.decoded import decoded_label_map, measure_cubes, measure_decoded
from AttriVAELib.data.preprocessing import CubeGeometry
from AttriVAELib.evaluation.fidelity import traversal_fidelity
from AttriVAELib.interpretation.traversal import sweep
from AttriVAELib.modelfile.bundle import ModelBundle
from AttriVAELib.modelfile.card import AttributeCard

SIZE, SPACING_MM = 32, 2.0
VOXEL_ML = SPACING_MM**3 / 1000


def _geometry() -> CubeGeometry:
    grid = {"size": [SIZE] * 3, "spacing": [SPACING_MM] * 3, "origin": [0.0] * 3,
            "direction": [1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0]}
    return CubeGeometry.from_dict({"cube": grid, "source": grid})


def _ventricle(cavity_ml: float) -> np.ndarray:
    """(S, S, S) LGE-like cube: a bright ball of ``cavity_ml`` in a dark 3-voxel shell, 0 outside."""
    radius = (cavity_ml / VOXEL_ML * 3 / (4 * math.pi)) ** (1 / 3)  # voxels
    distance = np.linalg.norm(np.indices((SIZE,) * 3) - (SIZE - 1) / 2, axis=0)
    return np.where(distance <= radius, 0.8, np.where(distance <= radius + 3, 0.2, 0.0)).astype(np.float32)


class _StandInDecoder(torch.nn.Module):
    """Decodes latent dim 0 = c as a ventricle of gain · c + offset mL, whatever the other dims say."""

    def __init__(self, gain: float, offset: float = 0.0) -> None:
        super().__init__()
        self.config = SimpleNamespace(latent_size=4, input_size=SIZE)
        self.anchor = torch.nn.Parameter(torch.zeros(1))  # gives the stand-in a device
        self.gain, self.offset = gain, offset

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        cubes = [_ventricle(self.gain * float(code[0]) + self.offset) for code in z]
        return torch.from_numpy(np.stack(cubes))[:, None]


@pytest.fixture
def stand_in(untrained):
    """A bundle of the stand-in decoder whose card regularises lv_volume_ml in dim 0 by latent 0.05·v − 2 on
    [20, 60] mL: the decoder must undo that line to draw v mL."""
    entry = AttributeCard("lv_volume_ml", 0, "mL", mean=40.0, std=10.0, minimum=20.0, maximum=60.0, latent_slope=0.05,
                          latent_intercept=-2.0)
    card = dataclasses.replace(untrained.card, attributes=(entry,))
    return lambda gain, offset=0.0: ModelBundle(_StandInDecoder(gain / 0.05, offset + gain * 2.0 / 0.05), card)


def test_a_ventricle_is_measured_in_millilitres():
    geometry = _geometry()
    labels = decoded_label_map(_ventricle(40.0), geometry)
    assert set(np.unique(np.asarray(labels))) <= {0, 1, 2}
    assert measure_decoded(_ventricle(40.0), geometry, ["lv_volume_ml"])["lv_volume_ml"] == pytest.approx(40, rel=0.05)
    assert math.isnan(measure_decoded(np.zeros((SIZE,) * 3), geometry, ["lv_volume_ml"])["lv_volume_ml"])


def test_cubes_are_measured_each_with_its_own_geometry_or_one_shared():
    coarse = CubeGeometry.from_dict({key: {**grid, "spacing": [2 * SPACING_MM] * 3}
                                     for key, grid in _geometry().to_dict().items()})  # 8× the millilitres
    cubes = np.stack([_ventricle(20.0), np.zeros((SIZE,) * 3, np.float32), _ventricle(40.0)])
    one_by_one = [measure_decoded(cube, geometry, ["lv_volume_ml"])["lv_volume_ml"]
                  for cube, geometry in zip(cubes, [_geometry(), _geometry(), coarse])]
    measured = measure_cubes(cubes, [_geometry(), _geometry(), coarse], "lv_volume_ml")
    np.testing.assert_array_equal(measured, one_by_one)  # NaN where a cube shows no ventricle
    assert measured[2] == pytest.approx(8 * 40, rel=0.05)
    np.testing.assert_array_equal(measure_cubes(cubes, _geometry(), "lv_volume_ml")[:2], one_by_one[:2])
    with pytest.raises(ValueError, match="3 cubes but 2 geometries"):
        measure_cubes(cubes, [_geometry()] * 2, "lv_volume_ml")


def test_a_faithful_decoder_scores_slope_one(stand_in):
    codes, events = np.zeros((3, 4)), []
    fidelity = traversal_fidelity(stand_in(gain=1.0), codes, [_geometry()] * 3, progress=events.append)["lv_volume_ml"]
    assert [(e.kind, e.done, e.total) for e in events] == [("fidelity", done, 3) for done in (1, 2, 3)]
    for way in ("encoder", "calibrated"):
        assert fidelity[way]["subjects"] == 3 and fidelity[way]["spearman"] == pytest.approx(1.0)
        assert fidelity[way]["slope"] == pytest.approx(1.0, abs=0.05)
    assert fidelity["calibrated"]["clamped"] == 0.0
    assert fidelity["requested"] == pytest.approx(np.linspace(20, 60, 7).tolist())


def test_a_decoder_that_moves_half_as_far_is_calibrated_to_land(stand_in):
    fidelity = traversal_fidelity(stand_in(gain=0.5, offset=20.0), np.zeros((2, 4)), [_geometry()] * 2)
    assert fidelity["lv_volume_ml"]["encoder"]["slope"] == pytest.approx(0.5, abs=0.05)
    assert fidelity["lv_volume_ml"]["encoder"]["spearman"] == pytest.approx(1.0)
    assert fidelity["lv_volume_ml"]["calibrated"]["slope"] == pytest.approx(1.0, abs=0.05)
    assert fidelity["lv_volume_ml"]["calibrated"]["spearman"] == pytest.approx(1.0)
    assert fidelity["lv_volume_ml"]["calibrated"]["clamped"] == 0.0


def test_a_calibrated_sweep_lands_where_the_decoder_reaches_and_says_where_it_cannot(stand_in):
    swept = sweep(stand_in(gain=0.5, offset=20.0), torch.zeros(4), "lv_volume_ml", [30.0, 50.0], _geometry())
    assert swept.units == "decoded" and not swept.clamped.any() and swept.notes() == []
    assert swept.measured == pytest.approx([30.0, 50.0], rel=0.05)  # a ball grows by whole shells of voxels
    narrow = sweep(stand_in(gain=0.1, offset=36.0), torch.zeros(4), "lv_volume_ml", [20.0, 40.0, 500.0], _geometry())
    low, high = narrow.reachable  # the response sweep spans latent −3..3, i.e. 34–46 mL
    assert low == pytest.approx(34.0, rel=0.05) and high == pytest.approx(46.0, rel=0.05)
    assert narrow.clamped.tolist() == [True, False, True]
    assert narrow.target == pytest.approx([low, 40.0, high])
    assert narrow.measured == pytest.approx([low, 40.0, high], rel=0.05)
    assert narrow.notes()[0].startswith("lv_volume_ml: 20, 500 mL cannot be drawn (the training range is 20–60 mL "
                                        "and this subject's decoded anatomy reaches 3")


def test_a_decoder_that_ignores_the_dim_scores_no_rank_and_zero_slope(stand_in):
    fidelity = traversal_fidelity(stand_in(gain=0.0, offset=40.0), np.zeros((2, 4)), [_geometry()] * 2)
    assert fidelity["lv_volume_ml"]["encoder"]["slope"] == pytest.approx(0.0, abs=1e-9)
    assert fidelity["lv_volume_ml"]["encoder"]["spearman"] == 0.0
    assert fidelity["lv_volume_ml"]["calibrated"]["subjects"] == 0  # no response to calibrate on: nothing scored
    swept = sweep(stand_in(gain=0.0, offset=40.0), torch.zeros(4), "lv_volume_ml", [20.0, 60.0], _geometry())
    assert swept.units == "encoder" and np.isnan(swept.measured).all()  # the encoder's line, and said so:
    assert "does not change measurably with its dim (it shows 39" in swept.notes()[-1]  # a ball of about 40 mL


def test_the_measure_check_compares_inputs_with_their_records(stand_in):
    volumes = np.stack([_ventricle(v) for v in (25.0, 35.0, 45.0, 55.0)])
    records = np.array([[25.0], [35.0], [45.0], [55.0]])
    fidelity = traversal_fidelity(stand_in(gain=1.0), np.zeros((4, 4)), [_geometry()] * 4, volumes, records)
    check = fidelity["lv_volume_ml"]["measure_check"]
    assert check["spearman"] == pytest.approx(1.0) and check["slope"] == pytest.approx(1.0, abs=0.05)


def test_the_bright_pool_threshold_is_otsus_over_the_foreground():
    """decoded_labels thresholds the foreground's values alone: the same Otsu threshold as ITK's over the cube
    under a foreground mask, on smooth and on noisy cubes."""
    import SimpleITK as sitk

    from AttriVAELib.data.decoded import FOREGROUND_THRESHOLD, decoded_labels

    generator = np.random.default_rng(3)
    cubes = [_ventricle(40.0), *(np.clip(generator.normal(0.4, 0.3, (SIZE,) * 3), 0, 1) for _ in range(5))]
    for cube in cubes:
        foreground = cube > FOREGROUND_THRESHOLD
        otsu = sitk.OtsuThresholdImageFilter()
        otsu.SetMaskValue(1)
        otsu.Execute(sitk.GetImageFromArray(cube.astype(np.float32)),
                     sitk.GetImageFromArray(foreground.astype(np.uint8)))
        expected = np.where(foreground, np.where(cube > otsu.GetThreshold(), 1, 2), 0)
        np.testing.assert_array_equal(decoded_labels(cube), expected)
