"""A TIFF without a physical pixel size stays without one: no unit ("micron") and no
resolution are invented on the way through the readers and writers (issue 10)."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from napari_blindspot.io.layer_meta import pixel_size
from napari_blindspot.io.tiff import read_tiff, write_tiff
from napari_blindspot.io.tiff_stream import TiffPageWriter


def calibration(path) -> tuple[str | None, tuple[float, float] | None, int | None]:
    """``(ImageJ unit or None, (x, y) pixels per unit or None, ResolutionUnit or None)``."""
    with tifffile.TiffFile(path) as tif:
        unit = (tif.imagej_metadata or {}).get("unit")
        tags = tif.pages[0].tags
        res = None
        if "XResolution" in tags:
            (xn, xd), (yn, yd) = tags["XResolution"].value, tags["YResolution"].value
            res = (xn / xd, yn / yd)
        res_unit = int(tags["ResolutionUnit"].value) if "ResolutionUnit" in tags else None
    return unit, res, res_unit


def uncalibrated(path) -> bool:
    """No unit, and no resolution or a unitless resolution of 1 pixel per pixel."""
    unit, res, res_unit = calibration(path)
    return unit is None and (res is None or (res == (1.0, 1.0) and res_unit in (None, 1)))


def plain_tiff(tmp_path):
    path = tmp_path / "plain.tif"
    tifffile.imwrite(path, (np.arange(2 * 24 * 24) % 200).astype(np.uint16).reshape(2, 24, 24))
    return path


def test_a_plain_tiff_is_read_without_unit_and_written_back_uncalibrated(tmp_path):
    image = read_tiff(plain_tiff(tmp_path))
    assert image.pixel_size == {} and image.unit == ""
    out = tmp_path / "out.tif"
    write_tiff(out, image.data, image.axes, pixel_size=image.pixel_size, unit=image.unit)
    assert uncalibrated(out)
    back = read_tiff(out)
    assert back.pixel_size == {} and back.unit == ""


def test_the_default_unit_is_written_only_with_a_pixel_size(tmp_path):
    data = np.zeros((16, 16), np.float32)
    write_tiff(tmp_path / "a.tif", data, "YX")  # unit defaults to micron: not without sizes
    assert uncalibrated(tmp_path / "a.tif")
    write_tiff(tmp_path / "b.tif", data, "YX", pixel_size={"X": 0.5, "Y": 0.5})
    unit, res, _ = calibration(tmp_path / "b.tif")
    assert unit == "micron" and res == pytest.approx((2.0, 2.0))
    assert read_tiff(tmp_path / "b.tif").unit == "micron"
    # a pixel size without a unit keeps the size and names no unit
    write_tiff(tmp_path / "c.tif", data, "YX", pixel_size={"X": 0.5, "Y": 0.5}, unit="")
    unit, res, _ = calibration(tmp_path / "c.tif")
    assert unit is None and res == pytest.approx((2.0, 2.0))


def test_streamed_tiff_writes_no_unit_without_a_pixel_size(tmp_path):
    data = np.ones((2, 16, 16), np.float32)
    writer = TiffPageWriter(tmp_path / "s.tif", "TYX", data.shape)
    writer.write((slice(0, 2), slice(0, 16), slice(0, 16)), data)
    assert uncalibrated(writer.finish())


def test_a_layer_without_units_gets_no_unit():
    assert pixel_size((1.0, 1.0, 1.0), ("pixel",) * 3, "TYX") == ({}, "")
    assert pixel_size((1.0, 1.0, 1.0), None, "TYX") == ({}, "")
    assert pixel_size((1.0, 0.2, 0.2), None, "TYX") == ({"Y": 0.2, "X": 0.2}, "")
    assert pixel_size((1.0, 0.2, 0.2), ("pixel", "micrometer", "micrometer"), "TYX")[1] == "micron"
