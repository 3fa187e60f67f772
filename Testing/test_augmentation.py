import itertools

import numpy as np
import pytest
import SimpleITK as sitk
import torch

from AttriVAELib.data.attributes import shape_attributes
from AttriVAELib.data.labels import EMIDEC_SCHEME
from AttriVAELib.data.synthetic import synthetic_subject
from AttriVAELib.method.augmentation import random_in_plane_symmetry


def in_plane_symmetries(volume: torch.Tensor) -> list[torch.Tensor]:
    """The eight symmetries of the square acting on the last two axes."""
    return [image.rot90(quarter, dims=(-2, -1)) for image in (volume, volume.flip(-1)) for quarter in range(4)]


def test_probability_zero_is_the_identity():
    volumes = torch.rand(3, 1, 4, 5, 5)
    assert random_in_plane_symmetry(volumes, 0.0) is volumes


def test_probability_one_flips_both_axes_then_rotates():
    volumes = torch.rand(3, 1, 4, 5, 5)
    before = volumes.clone()
    out = random_in_plane_symmetry(volumes, 1.0)
    assert torch.equal(out, volumes.flip(-1).flip(-2).rot90(1, dims=(-2, -1)))
    assert torch.equal(volumes, before)


def test_each_volume_gets_one_of_the_eight_symmetries_uniformly():
    volumes = torch.rand(400, 1, 3, 4, 4)
    out = random_in_plane_symmetry(volumes, 0.5, torch.Generator().manual_seed(0))
    counts = np.zeros(8, int)
    for volume, augmented in zip(volumes, out):
        matches = [torch.equal(augmented, image) for image in in_plane_symmetries(volume)]
        assert sum(matches) == 1
        counts[matches.index(True)] += 1
    assert counts.min() > 400 / 8 * 0.6  # every symmetry shows up, none dominates
    again = random_in_plane_symmetry(volumes, 0.5, torch.Generator().manual_seed(0))
    assert torch.equal(out, again)


def test_a_bad_probability_is_refused():
    with pytest.raises(ValueError, match=r"not in \[0, 1\]"):
        random_in_plane_symmetry(torch.zeros(1, 1, 2, 2, 2), 1.5)


def test_shape_attributes_do_not_change_under_the_symmetries():
    _, labels = synthetic_subject(seed=4, infarct=True, size=32)
    array = torch.from_numpy(sitk.GetArrayFromImage(labels))  # (k, j, i): in-plane axes last
    reference = shape_attributes(labels, EMIDEC_SCHEME)
    for image in itertools.islice(in_plane_symmetries(array), 1, None):
        moved = sitk.GetImageFromArray(image.numpy())
        moved.CopyInformation(labels)
        assert shape_attributes(moved, EMIDEC_SCHEME) == pytest.approx(reference, rel=1e-9)


def test_the_memory_format_is_kept():
    volumes = torch.rand(4, 2, 3, 4, 4)  # two channels, so the two layouts differ
    channels_last = volumes.to(memory_format=torch.channels_last_3d)
    assert random_in_plane_symmetry(channels_last, 0.5).is_contiguous(memory_format=torch.channels_last_3d)
    assert random_in_plane_symmetry(volumes, 0.5).is_contiguous()
