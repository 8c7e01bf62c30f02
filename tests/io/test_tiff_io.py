"""TIFF input/output keeps axes (in ImageJ order) and pixel sizes."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from napari_blindspot.engine import DataError
from napari_blindspot.io.tiff import read_tiff, write_tiff

CASES = [
    # written axes, shape, axes read back (ImageJ's TZCYX order; S becomes T)
    ("YX", (20, 24), "YX"),
    ("TYX", (3, 20, 24), "TYX"),
    ("ZYX", (5, 20, 24), "ZYX"),
    ("CYX", (2, 20, 24), "CYX"),
    ("TZCYX", (2, 4, 3, 20, 24), "TZCYX"),
    ("ZCYX", (4, 2, 20, 24), "ZCYX"),
    ("YXC", (20, 24, 2), "CYX"),
    ("ZYXC", (4, 20, 24, 2), "ZCYX"),
    ("CZYX", (2, 4, 20, 24), "ZCYX"),
    ("SYX", (3, 20, 24), "TYX"),
]


def _data(shape, dtype=np.float32):
    return (np.arange(np.prod(shape)) % 1000).reshape(shape).astype(dtype)


@pytest.mark.parametrize("axes,shape,read_axes", CASES)
def test_round_trip_keeps_axes_and_data(tmp_path, axes, shape, read_axes):
    data = _data(shape)
    path = tmp_path / "img.tif"
    px = {"X": 0.125, "Y": 0.25, "Z": 1.5}
    write_tiff(path, data, axes, pixel_size=px, unit="micron")
    img = read_tiff(path)
    assert img.axes_source == "imagej"
    assert img.axes == read_axes
    src = axes.replace("S", "T")
    expected = np.transpose(data, [src.index(a) for a in read_axes])
    np.testing.assert_array_equal(img.data, expected)
    assert img.data.dtype == np.float32
    assert img.pixel_size["X"] == pytest.approx(0.125, rel=1e-5)
    assert img.pixel_size["Y"] == pytest.approx(0.25, rel=1e-5)
    if "Z" in axes:
        assert img.pixel_size["Z"] == pytest.approx(1.5)
    else:
        assert "Z" not in img.pixel_size
    assert img.unit == "micron"


def test_sample_axis_merged_into_time(tmp_path):
    data = _data((2, 3, 20, 24))
    write_tiff(tmp_path / "st.tif", data, "STYX")
    img = read_tiff(tmp_path / "st.tif")
    assert img.axes == "TYX" and img.data.shape == (6, 20, 24)
    # T outer, S inner: frame t * S + s
    np.testing.assert_array_equal(img.data, data.transpose(1, 0, 2, 3).reshape(6, 20, 24))


def test_integer_output(tmp_path):
    data = np.array([[-3.2, 0.4, 1.6], [70000.0, 12.5, 65535.4]], np.float32)
    data = np.tile(data, (8, 8))
    write_tiff(tmp_path / "u16.tif", data, "YX", dtype=np.uint16)
    img = read_tiff(tmp_path / "u16.tif")
    assert img.data.dtype == np.uint16
    np.testing.assert_array_equal(img.data[:2, :3], [[0, 0, 2], [65535, 12, 65535]])
    write_tiff(tmp_path / "f64.tif", data.astype(np.float64), "YX")
    assert read_tiff(tmp_path / "f64.tif").data.dtype == np.float32


def test_metadata_is_kept(tmp_path):
    write_tiff(tmp_path / "m.tif", _data((3, 16, 16)), "TYX", metadata={"finterval": 2.5},
               pixel_size={"X": 0.5, "Y": 0.5})
    img = read_tiff(tmp_path / "m.tif")
    assert img.metadata.get("finterval") == pytest.approx(2.5)


def test_ome_tiff(tmp_path):
    data = _data((2, 5, 20, 24), np.uint16)
    path = tmp_path / "img.ome.tif"
    tifffile.imwrite(path, data, ome=True, metadata={"axes": "CZYX", "PhysicalSizeX": 0.2,
                                                     "PhysicalSizeY": 0.3, "PhysicalSizeZ": 2.0})
    img = read_tiff(path)
    assert img.axes_source == "ome" and img.axes == "CZYX"
    assert img.pixel_size == pytest.approx({"X": 0.2, "Y": 0.3, "Z": 2.0})
    np.testing.assert_array_equal(img.data, data)


def test_plain_tiff_axes_are_guessed(tmp_path):
    path = tmp_path / "plain.tif"
    tifffile.imwrite(path, _data((6, 20, 24), np.uint16))
    img = read_tiff(path)
    assert img.axes_source == "guessed" and len(img.axes) == 3
    assert img.data.shape == (6, 20, 24)


def test_not_a_tiff(tmp_path):
    path = tmp_path / "fake.tif"
    path.write_text("definitely not a TIFF")
    with pytest.raises(DataError, match="Cannot read"):
        read_tiff(path)


def test_write_checks_axes(tmp_path):
    with pytest.raises(ValueError, match="dimensions"):
        write_tiff(tmp_path / "x.tif", _data((3, 20, 24)), "YX")
