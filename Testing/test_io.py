import os

import numpy as np
import pytest
import SimpleITK as sitk
from conftest import make_image

from AttriVAELib import InvalidVolumeError
from AttriVAELib.data.volumes import read_label_map, read_volume
from AttriVAELib.files import atomic_path


def test_reads_a_3d_volume(tmp_path):
    path = tmp_path / "image.nii.gz"
    sitk.WriteImage(make_image(np.ones((4, 5, 6), np.float32)), str(path))
    assert read_volume(path).GetSize() == (6, 5, 4)


def test_missing_file(tmp_path):
    with pytest.raises(InvalidVolumeError, match="does not exist"):
        read_volume(tmp_path / "nope.nii.gz")


def test_unreadable_file(tmp_path):
    path = tmp_path / "broken.nii.gz"
    path.write_bytes(b"not an image")
    with pytest.raises(InvalidVolumeError, match="cannot read image"):
        read_volume(path)


def test_2d_image_is_refused(tmp_path):
    path = tmp_path / "slice.nii.gz"
    sitk.WriteImage(sitk.GetImageFromArray(np.ones((5, 6), np.float32)), str(path))
    with pytest.raises(InvalidVolumeError, match="is 2D"):
        read_volume(path)


def test_4d_image_is_refused(tmp_path):
    path = tmp_path / "cine.nii.gz"
    sitk.WriteImage(sitk.JoinSeries([make_image(np.ones((3, 4, 5), np.float32))] * 2), str(path))
    with pytest.raises(InvalidVolumeError, match="is 4D.*split"):
        read_volume(path)


@pytest.mark.parametrize("suffix", [".mha", ".nii.gz", ".nii"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_and_inf_are_refused(tmp_path, bad, suffix):
    array = np.ones((3, 4, 5), np.float32)
    array[1, 2, 3] = bad
    path = tmp_path / f"bad{suffix}"  # ITK's NIfTI reader hands NaN over as 0: the raw voxels are checked
    sitk.WriteImage(make_image(array), str(path))
    with pytest.raises(InvalidVolumeError, match="NaN or Inf"):
        read_volume(path)


def test_non_integer_label_map_is_refused(tmp_path):
    path = tmp_path / "mask.nii.gz"
    sitk.WriteImage(make_image(np.full((3, 4, 5), 0.5, np.float32)), str(path))
    with pytest.raises(InvalidVolumeError, match="non-integer"):
        read_label_map(path)


def test_atomic_path_leaves_the_target_untouched_on_error(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as temporary:
        temporary.write_text("half")
        raise RuntimeError("crash")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_atomic_files_get_the_usual_permissions(tmp_path):
    target = tmp_path / "shared.txt"
    with atomic_path(target) as temporary:
        temporary.write_text("x")
    assert target.stat().st_mode & 0o777 == 0o666 & ~_current_umask()


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
