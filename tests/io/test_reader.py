"""The npe2 reader (without napari): TIFF and OME-Zarr files as layer data that keep the axes,
the pixel sizes, the units and the time between frames; and the calibration the widget reads
for a layer napari's own reader opened."""

from __future__ import annotations

import os

import numpy as np
import pytest
import tifffile

from napari_blindspot.io.layer_meta import calibration_text
from napari_blindspot.io.omezarr import OmeZarrWriter
from napari_blindspot.io.reader import file_layer_meta, get_reader, layer_name, read_layers
from napari_blindspot.io.tiff import read_tiff, write_tiff
from napari_blindspot.io.writer import write_image_tiff

PX = {"X": 0.1, "Y": 0.1, "Z": 0.5}


def image(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 4000, shape).astype(np.uint16)


def write(path, axes: str, shape: tuple[int, ...], *, finterval: float | None = None, **kw) -> np.ndarray:
    data = image(shape)
    meta = {"finterval": finterval} if finterval else None
    write_tiff(path, data, axes, pixel_size={k: v for k, v in PX.items() if k in axes},
               unit="micron", dtype=np.uint16, metadata=meta, **kw)
    return data


def one_layer(path):
    reader = get_reader(str(path))
    assert reader is not None
    [(data, kwargs, kind)] = reader(str(path))
    assert kind == "image"
    return data, kwargs


def test_a_time_lapse_stays_a_time_lapse(tmp_path):
    path = tmp_path / "cells.tif"
    pixels = write(path, "TYX", (5, 24, 32), finterval=2.5)
    data, kwargs = one_layer(path)
    assert data.shape == (5, 24, 32) and not isinstance(data, list)
    np.testing.assert_array_equal(np.asarray(data), pixels)
    assert kwargs["name"] == "cells"
    assert kwargs["scale"] == pytest.approx([2.5, 0.1, 0.1])
    assert kwargs["units"] == ["second", "micrometer", "micrometer"]
    assert kwargs["axis_labels"] == ["t", "y", "x"]
    assert kwargs["rgb"] is False
    meta = kwargs["metadata"]
    assert meta["axes"] == "TYX" and meta["axes_source"] == "imagej"
    assert meta["pixel_size"] == pytest.approx({"X": 0.1, "Y": 0.1})
    assert meta["unit"] == "micron"
    assert (meta["time_interval"], meta["time_unit"]) == (2.5, "second")
    assert meta["source_path"] == os.path.abspath(path)


def test_without_a_time_interval_time_has_no_unit(tmp_path):
    write(tmp_path / "movie.tif", "TYX", (3, 16, 16))
    _, kwargs = one_layer(tmp_path / "movie.tif")
    assert kwargs["scale"] == pytest.approx([1.0, 0.1, 0.1])
    assert kwargs["units"] == ["pixel", "micrometer", "micrometer"]
    assert "time_interval" not in kwargs["metadata"]


@pytest.mark.parametrize("given, axes, shape, scale", [
    ("ZYX", "ZYX", (4, 16, 20), [0.5, 0.1, 0.1]),
    # an ImageJ hyperstack stores C after Z: a CZYX image is a ZCYX file
    ("CZYX", "ZCYX", (4, 2, 16, 20), [0.5, 1.0, 0.1, 0.1]),
    ("TZCYX", "TZCYX", (2, 3, 2, 16, 20), [1.0, 0.5, 1.0, 0.1, 0.1]),
])
def test_hyperstacks_keep_their_axes_in_one_layer(tmp_path, given, axes, shape, scale):
    path = tmp_path / f"{given}.tiff"
    pixels = write(path, given, tuple(shape[axes.index(a)] for a in given))
    data, kwargs = one_layer(path)
    assert data.shape == shape
    np.testing.assert_array_equal(np.asarray(data), np.transpose(pixels, [given.index(a) for a in axes]))
    assert kwargs["metadata"]["axes"] == axes
    assert kwargs["scale"] == pytest.approx(scale)
    assert kwargs["axis_labels"] == list(axes.lower())
    assert [u for a, u in zip(axes, kwargs["units"]) if a == "C"] == ["pixel"] * axes.count("C")
    assert {u for a, u in zip(axes, kwargs["units"]) if a in "ZYX"} == {"micrometer"}


def test_an_uncalibrated_file_gets_napari_defaults(tmp_path):
    path = tmp_path / "plain.tif"
    tifffile.imwrite(path, image((3, 16, 16)), photometric="minisblack")
    _, kwargs = one_layer(path)
    assert kwargs["scale"] == [1.0, 1.0, 1.0]
    assert kwargs["units"] == ["pixel"] * 3
    assert kwargs["metadata"]["axes_source"] == "guessed"
    assert kwargs["metadata"]["pixel_size"] == {}


def test_an_rgb_file_is_an_rgb_layer(tmp_path):
    path = tmp_path / "rgb.tif"
    tifffile.imwrite(path, image((16, 20, 3)).astype(np.uint8), imagej=True, photometric="rgb",
                     resolution=(10.0, 10.0), metadata={"unit": "micron"})
    data, kwargs = one_layer(path)
    assert data.shape == (16, 20, 3)
    assert kwargs["rgb"] is True and kwargs["metadata"]["axes"] == "YXC"
    assert kwargs["scale"] == pytest.approx([0.1, 0.1]) and kwargs["axis_labels"] == ["y", "x"]


def test_ome_tiff_time_increment_and_lazy_compressed_pixels(tmp_path):
    path = tmp_path / "cells.ome.tif"
    pixels = image((4, 2, 16, 16))
    tifffile.imwrite(path, pixels, ome=True, compression="zlib",
                     metadata={"axes": "TCYX", "PhysicalSizeX": 0.2, "PhysicalSizeY": 0.2,
                               "TimeIncrement": 30.0, "TimeIncrementUnit": "ms"})
    data, kwargs = one_layer(path)
    assert kwargs["name"] == "cells"
    assert not isinstance(data, np.ndarray)  # compressed: read through zarr, page by page
    np.testing.assert_array_equal(np.asarray(data[1]), pixels[1])
    assert kwargs["metadata"]["axes"] == "TCYX"
    assert kwargs["scale"] == pytest.approx([30.0, 1.0, 0.2, 0.2])
    assert kwargs["units"][0] == "millisecond" and kwargs["units"][2] == "micrometer"


def test_channels_last_are_moved_before_y_and_x_lazily(tmp_path):
    pytest.importorskip("dask")  # napari's dependency: what a compressed file is viewed through
    path = tmp_path / "yxc.ome.tif"
    pixels = image((16, 20, 2))
    tifffile.imwrite(path, pixels, ome=True, photometric="minisblack", planarconfig="contig",
                     compression="zlib", metadata={"axes": "YXC"})
    data, kwargs = one_layer(path)
    assert kwargs["metadata"]["axes"] == "CYX" and kwargs["rgb"] is False
    assert not isinstance(data, np.ndarray)
    assert data.shape == (2, 16, 20)
    np.testing.assert_array_equal(np.asarray(data), np.moveaxis(pixels, -1, 0))


def test_ome_zarr_is_a_lazy_multiscale_layer(tmp_path):
    path = tmp_path / "cells.ome.zarr"
    pixels = np.random.default_rng(1).random((3, 300, 280), dtype=np.float32)
    writer = OmeZarrWriter(path, "TYX", pixels.shape, pixel_size={"X": 0.1, "Y": 0.1}, unit="micron")
    for t in range(3):
        writer.write((t, slice(None), slice(None)), pixels[t])
    writer.finish()
    data, kwargs = one_layer(path)
    assert kwargs["name"] == "cells" and kwargs["multiscale"] is True
    assert [tuple(level.shape) for level in data] == [(3, 300, 280), (3, 150, 140)]
    assert not isinstance(data[0], np.ndarray)
    np.testing.assert_array_equal(np.asarray(data[0][2]), pixels[2])
    assert kwargs["metadata"]["axes"] == "TYX" and kwargs["metadata"]["axes_source"] == "ome-ngff"
    assert kwargs["scale"] == pytest.approx([1.0, 0.1, 0.1])
    assert kwargs["units"] == ["pixel", "micrometer", "micrometer"]


def test_ome_zarr_time_scale_with_a_unit(tmp_path):
    import zarr

    path = tmp_path / "movie.zarr"
    writer = OmeZarrWriter(path, "TYX", (2, 16, 16), pixel_size={"X": 0.3, "Y": 0.3}, unit="micron")
    writer.write((slice(None), slice(None), slice(None)), np.ones((2, 16, 16), np.float32))
    writer.finish()
    group = zarr.open_group(path, mode="r+")
    multiscales = group.attrs["multiscales"]
    multiscales[0]["axes"][0]["unit"] = "second"
    multiscales[0]["datasets"][0]["coordinateTransformations"][0]["scale"][0] = 4.0
    group.attrs["multiscales"] = multiscales
    _, kwargs = one_layer(path)
    assert kwargs["scale"] == pytest.approx([4.0, 0.3, 0.3])
    assert kwargs["units"][0] == "second"


def test_reader_declines_other_files(tmp_path):
    assert get_reader(str(tmp_path / "a.png")) is None
    assert get_reader([str(tmp_path / "a.tif"), str(tmp_path / "b.png")]) is None
    assert get_reader(str(tmp_path / "a.TIF")) is read_layers
    assert layer_name("/x/y/Cells.OME.TIFF") == "Cells" and layer_name("/x/y.zarr/") == "y"


def test_calibration_for_a_layer_napari_opened(tmp_path):
    path = tmp_path / "cells.tif"
    write(path, "TYX", (5, 16, 16), finterval=3.0)
    found = file_layer_meta(str(path), (5, 16, 16))
    assert found is not None
    assert found["metadata"]["axes"] == "TYX"
    assert found["scale"] == pytest.approx([3.0, 0.1, 0.1])
    # another reader that shaped the data otherwise (stacked, split channels): nothing
    assert file_layer_meta(str(path), (16, 16)) is None
    assert file_layer_meta(str(tmp_path / "missing.tif"), (5, 16, 16)) is None
    # a file replaced since: read again
    write(path, "ZYX", (5, 16, 16))
    os.utime(path, ns=(os.stat(path).st_atime_ns, os.stat(path).st_mtime_ns + 10**9))
    assert file_layer_meta(str(path), (5, 16, 16))["metadata"]["axes"] == "ZYX"


@pytest.mark.parametrize("axes, shape", [("TYX", (3, 16, 20)), ("TZCYX", (2, 3, 2, 16, 20))])
def test_read_then_save_layers_round_trips(tmp_path, axes, shape):
    """The reader's layer, saved with the npe2 writer, is the same hyperstack again."""
    write(tmp_path / "in.tif", axes, shape, finterval=1.5)
    data, kwargs = one_layer(tmp_path / "in.tif")
    [out] = write_image_tiff(str(tmp_path / "out.tif"), data, kwargs)
    back = read_tiff(out)
    assert back.axes == axes
    assert back.pixel_size == pytest.approx({k: v for k, v in PX.items() if k in axes})
    assert back.unit == "micron"
    assert back.metadata["finterval"] == pytest.approx(1.5)
    with tifffile.TiffFile(out) as tif:
        assert tif.series[0].axes == axes
        num, den = tif.pages[0].tags["XResolution"].value
    assert num / den == pytest.approx(10.0)  # pixels per micron


def test_calibration_in_a_few_words(tmp_path):
    write(tmp_path / "in.tif", "TZCYX", (2, 3, 2, 8, 8), finterval=2.0)
    _, kwargs = one_layer(tmp_path / "in.tif")
    dims = kwargs["metadata"]["axes"]
    assert calibration_text(kwargs["scale"], kwargs["units"], dims) == \
        "pixel 0.1 µm, Z step 0.5 µm, 2 s per frame"
    assert calibration_text([1.0, 1.0, 1.0], ["pixel"] * 3, "TYX") == ""
    assert calibration_text([1.0, 0.5, 0.5], None, "TYX") == "pixel 0.5"  # no unit invented
