"""Lazy inputs: TIFF memory-mapped or read through zarr, OME-Zarr v2/v3 and plain zarr arrays,
with their axes and pixel sizes; the engine reads them block by block."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tifffile
import zarr

from napari_blindspot.engine import CanonicalView
from napari_blindspot.io.image import image_format, open_image
from napari_blindspot.io.omezarr import OmeZarrWriter, read_omezarr
from napari_blindspot.io.tiff import read_tiff, write_tiff


def _stack(shape=(4, 40, 56), seed=0):
    return np.random.default_rng(seed).random(shape).astype(np.float32)


def test_contiguous_tiff_is_memory_mapped(tmp_path):
    data = _stack()
    write_tiff(tmp_path / "a.tif", data, "TYX", pixel_size={"X": 0.2, "Y": 0.2, "Z": 1.0})
    image = read_tiff(tmp_path / "a.tif")
    assert isinstance(image.data, np.memmap)
    assert image.axes == "TYX" and image.pixel_size == {"X": pytest.approx(0.2), "Y": pytest.approx(0.2)}
    np.testing.assert_array_equal(np.asarray(image.data), data)
    loaded = read_tiff(tmp_path / "a.tif", lazy=False)
    assert type(loaded.data) is np.ndarray


def test_compressed_tiff_reads_through_zarr(tmp_path):
    data = _stack()
    tifffile.imwrite(tmp_path / "c.tif", data, compression="zlib", tile=(16, 16), photometric="minisblack",
                     metadata={"axes": "TYX"}, resolution=(4.0, 4.0))
    image = read_tiff(tmp_path / "c.tif")
    assert isinstance(image.data, zarr.Array)
    assert image.pixel_size == {"X": pytest.approx(0.25), "Y": pytest.approx(0.25)}
    np.testing.assert_array_equal(image.data[2, 5:9], data[2, 5:9])
    view = CanonicalView(image.data, "TYX")
    np.testing.assert_array_equal(view.read(3)[0], data[3])


def _write_ngff(path, data, zarr_format, levels=2):
    """An OME-Zarr written by hand (as other tools do), with a multiscale of ``levels``."""
    group = zarr.open_group(path, mode="w", zarr_format=zarr_format)
    datasets = []
    for k in range(levels):
        level = data[..., :: 2 ** k, :: 2 ** k]
        group.create_array(str(k), shape=level.shape, chunks=(1,) + level.shape[1:], dtype=level.dtype)[:] = level
        datasets.append({"path": str(k), "coordinateTransformations": [
            {"type": "scale", "scale": [1.0, 2.0, 0.5 * 2 ** k, 0.5 * 2 ** k]}]})
    axes = [{"name": "c", "type": "channel"}, {"name": "z", "type": "space", "unit": "micrometer"},
            {"name": "y", "type": "space", "unit": "micrometer"},
            {"name": "x", "type": "space", "unit": "micrometer"}]
    ms = {"axes": axes, "datasets": datasets, "coordinateTransformations": [{"type": "scale",
                                                                             "scale": [1, 1, 1, 1]}]}
    if zarr_format == 2:
        group.attrs["multiscales"] = [ms | {"version": "0.4"}]
    else:
        group.attrs["ome"] = {"version": "0.5", "multiscales": [ms]}


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_ome_zarr_full_resolution_axes_and_pixel_sizes(tmp_path, zarr_format):
    data = _stack((2, 3, 40, 56))
    path = tmp_path / "img.ome.zarr"
    _write_ngff(path, data, zarr_format)
    assert image_format(path) == "zarr"
    image = open_image(path)
    assert isinstance(image.data, zarr.Array) and image.data.shape == data.shape
    assert image.axes == "CZYX" and image.axes_source == "ome-ngff"
    assert image.pixel_size == {"Z": 2.0, "Y": 0.5, "X": 0.5} and image.unit == "micron"
    np.testing.assert_array_equal(image.data[1, 2], data[1, 2])


def test_bioformats2raw_and_plain_arrays(tmp_path):
    data = _stack()
    root = zarr.open_group(tmp_path / "b2r.zarr", mode="w", zarr_format=2)
    root.attrs["bioformats2raw.layout"] = 3
    _write_ngff(tmp_path / "b2r.zarr" / "0", _stack((1, 2, 40, 56)), 2, levels=1)
    assert read_omezarr(tmp_path / "b2r.zarr").axes == "CZYX"
    arr = zarr.open_array(tmp_path / "plain.zarr", mode="w", shape=data.shape, dtype=data.dtype)
    arr[:] = data
    image = open_image(tmp_path / "plain.zarr")
    assert image.axes == "ZYX" and image.axes_source == "guessed"
    assert open_image(tmp_path / "plain.zarr", axes="TYX").axes == "TYX"


def test_our_ome_zarr_reads_back_and_is_valid_ngff(tmp_path):
    data = _stack((3, 600, 520))
    w = OmeZarrWriter(tmp_path / "o.zarr", "TYX", data.shape, pixel_size={"X": 0.3, "Y": 0.3},
                      zarr_format=2)
    for t in range(3):
        w.write((t, slice(0, 300), slice(None)), data[t, :300])
        w.write((t, slice(300, 600), slice(None)), data[t, 300:])
    assert not (tmp_path / "o.zarr").exists()  # written under a temporary name until finished
    w.finish()
    attrs = json.loads((tmp_path / "o.zarr" / ".zattrs").read_text())
    ms = attrs["multiscales"][0]
    assert ms["version"] == "0.4" and [a["name"] for a in ms["axes"]] == ["t", "y", "x"]
    assert [d["path"] for d in ms["datasets"]] == ["0", "1", "2"]  # 600 -> 300 -> 150
    assert ms["datasets"][1]["coordinateTransformations"][0]["scale"] == [1.0, 0.6, 0.6]
    back = open_image(tmp_path / "o.zarr")
    assert back.axes == "TYX" and back.pixel_size == {"Y": 0.3, "X": 0.3}
    np.testing.assert_array_equal(back.data[:], data)
    level1 = zarr.open_array(tmp_path / "o.zarr" / "1", mode="r")
    np.testing.assert_allclose(level1[1, :2, :2], data[1, :4, :4].reshape(2, 2, 2, 2).mean(axis=(1, 3)),
                               rtol=1e-6)
