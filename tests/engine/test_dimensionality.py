"""The default 2D/3D choice for z-stacks (engine.training.dimensionality; measured in docs/zstack.md)."""

import pytest

from napari_blindspot.engine.training.dimensionality import (MAX_3D_ANISOTROPY, MIN_3D_SLICES, anisotropy,
                                                    default_train_3d)


def test_anisotropy_from_pixel_sizes():
    assert anisotropy({"X": 0.1, "Y": 0.1, "Z": 0.4}) == pytest.approx(4.0)
    assert anisotropy({"X": 0.1, "Y": 0.3, "Z": 0.2}) == pytest.approx(1.0)  # mean of X and Y
    assert anisotropy({"X": 0.1, "Y": 0.1}) is None
    assert anisotropy({}) is None and anisotropy(None) is None
    assert anisotropy({"X": 0.1, "Z": 0.0}) is None


@pytest.mark.parametrize("z, want", [(0.1, True), (0.1 * MAX_3D_ANISOTROPY, True),
                                     (0.1 * MAX_3D_ANISOTROPY * 1.01, False), (0.4, False)])
def test_near_isotropic_stacks_train_3d_on_a_gpu_and_anisotropic_ones_2d(z, want):
    three_d, why = default_train_3d("ZYX", (32, 256, 256), {"X": 0.1, "Y": 0.1, "Z": z}, "cuda")
    assert three_d is want
    assert ("3D training" in why) is want and "x the pixel size" in why


def test_on_a_cpu_even_isotropic_stacks_train_2d():
    three_d, why = default_train_3d("ZYX", (32, 256, 256), {"X": 0.1, "Y": 0.1, "Z": 0.1}, "cpu")
    assert three_d is False and "CPU" in why
    assert default_train_3d("ZYX", (32, 256, 256), {"X": 0.1, "Y": 0.1, "Z": 0.1}, "mps")[0]


def test_no_pixel_size_no_z_or_few_slices_stay_2d():
    assert default_train_3d("ZYX", (32, 64, 64), {})[0] is False
    assert "no pixel sizes" in default_train_3d("ZYX", (32, 64, 64), None)[1]
    assert default_train_3d("TYX", (32, 64, 64), {"X": 1.0, "Y": 1.0, "Z": 1.0})[0] is False
    iso = {"X": 1.0, "Y": 1.0, "Z": 1.0}
    assert default_train_3d("ZYX", (MIN_3D_SLICES - 1, 64, 64), iso, "cuda")[0] is False
    assert default_train_3d("CZYX", (2, MIN_3D_SLICES, 64, 64), iso, "cuda")[0] is True
