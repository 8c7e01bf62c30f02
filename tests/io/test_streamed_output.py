"""Streamed prediction into OME-Zarr and TIFF: the same values as in memory, written chunk by
chunk (or page by page) without holding the result, atomically."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest
import tifffile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "engine"))
from helpers_engine import CountingArray, untrained_model  # noqa: E402

from napari_blindspot.engine.events import PredictedBlock  # noqa: E402
from napari_blindspot.engine.prediction.pipeline import PredictionUnit  # noqa: E402
from napari_blindspot.io import tiff_stream  # noqa: E402
from napari_blindspot.io.image import open_image  # noqa: E402
from napari_blindspot.io.omezarr import OmeZarrWriter  # noqa: E402
from napari_blindspot.io.tiff import write_tiff  # noqa: E402
from napari_blindspot.files.streaming import predict_to_file  # noqa: E402


def _data(shape, seed=0):
    return (np.random.default_rng(seed).random(shape) * 100).astype(np.float32)


@pytest.fixture(scope="module")
def hqssl():
    return untrained_model("hqssl", mixed_precision=False)


@pytest.mark.parametrize("out_name", ["o.tif", "o.ome.zarr", "o3.ome.zarr"])
def test_files_equal_the_in_memory_result(tmp_path, hqssl, out_name):
    data = _data((3, 150, 130))
    write_tiff(tmp_path / "in.tif", data, "TYX", pixel_size={"X": 0.4, "Y": 0.4})
    image = open_image(tmp_path / "in.tif")
    ref = hqssl.predict(data, "TYX", uncertainty=True, tile_size=64)
    ext = out_name.split(".", 1)[1]
    paths = predict_to_file(hqssl, image, {"denoised": tmp_path / out_name,
                                           "uncertainty": tmp_path / f"u.{ext}"},
                            tile_size=64, zarr_format=3 if "3" in out_name else 2)
    for key, path in paths.items():
        back = open_image(path)
        assert back.axes == "TYX" and back.pixel_size["X"] == pytest.approx(0.4)
        np.testing.assert_array_equal(np.asarray(back.data[:]), ref[key])
    assert sorted(os.listdir(tmp_path)) == sorted(["in.tif", out_name, f"u.{ext}"])  # no leftovers


def test_streaming_reads_lazily_and_holds_only_open_chunks(tmp_path):
    model = untrained_model("n2v2", axes="TYX", mixed_precision=False, unet_features=4,
                            unet_depth=1)  # receptive radius 12: tiles of 48 stay 48
    data = _data((6, 300, 80))
    lazy = CountingArray(data)
    writer_sizes = []
    original = OmeZarrWriter.write

    def spy(self, index, block):
        original(self, index, block)
        writer_sizes.append(self.assembler.open_chunks())

    OmeZarrWriter.write = spy
    try:
        predict_to_file(model, lazy, tmp_path / "o.zarr", axes="TYX", tile_size=48)
    finally:
        OmeZarrWriter.write = original
    assert max(lazy.reads) < data[0].size  # tile rows, never a whole frame, let alone the stack
    assert max(writer_sizes) <= 1  # a frame's chunk is written as soon as its rows are done
    np.testing.assert_array_equal(open_image(tmp_path / "o.zarr").data[:],
                                  model.predict(data, "TYX", tile_size=48)["denoised"])


def test_row_ranges_are_bit_identical_to_the_whole_sample(hqssl):
    data = _data((1, 300, 90))
    whole = hqssl.predict(data, "TYX", tile_size=64)["denoised"][0]
    parts = [ev for ev in hqssl.predict_stream(data, "TYX", tile_size=64,
                                               units=[PredictionUnit(0, None, (100, 210))])
             if isinstance(ev, PredictedBlock)]
    assert parts[0].start == 100 and parts[-1].stop == 210
    got = np.concatenate([p.denoised[0] for p in parts])
    np.testing.assert_array_equal(got, whole[100:210])


def test_3d_and_channels_first_sources_go_to_imagej_order(tmp_path):
    model = untrained_model("n2v2", ndim=3, channels=2, mixed_precision=False, tile_size_z=16)
    data = _data((2, 20, 40, 48))  # CZYX: pages wait for their turn in ImageJ's ZC order
    ref = model.predict(data, "CZYX", tile_size=32)["denoised"]
    predict_to_file(model, data, tmp_path / "o.tif", axes="CZYX", pixel_size={"X": 0.5, "Y": 0.5, "Z": 2.0},
                    tile_size=32)
    back = open_image(tmp_path / "o.tif")
    assert back.axes == "ZCYX" and back.pixel_size["Z"] == pytest.approx(2.0)
    np.testing.assert_array_equal(np.asarray(back.data), np.moveaxis(ref, 0, 1))


def test_bigtiff_above_the_imagej_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(tiff_stream, "IMAGEJ_LIMIT", 1000)
    model = untrained_model("n2v2", axes="TYX", mixed_precision=False)
    data = _data((2, 40, 48))
    predict_to_file(model, data, tmp_path / "o.tif", axes="TYX", pixel_size={"X": 0.5, "Y": 0.5})
    with tifffile.TiffFile(tmp_path / "o.tif") as tif:
        assert tif.is_bigtiff and tif.is_ome
    back = open_image(tmp_path / "o.tif")
    assert back.axes == "TYX" and back.pixel_size["X"] == pytest.approx(0.5)
    np.testing.assert_array_equal(np.asarray(back.data), model.predict(data, "TYX")["denoised"])


@pytest.mark.parametrize("name", ["o.tif", "o.zarr"])
def test_a_failure_leaves_no_output_and_the_old_one_untouched(tmp_path, name):
    model = untrained_model("n2v2", axes="TYX", mixed_precision=False)
    data = _data((4, 40, 48))
    predict_to_file(model, data, tmp_path / name, axes="TYX")
    before = np.asarray(open_image(tmp_path / name).data[:])
    bad = data.copy()
    bad[2, 5, 5] = np.nan
    with pytest.raises(Exception, match="NaN"):
        predict_to_file(model, bad * 2, tmp_path / name, axes="TYX")
    assert os.listdir(tmp_path) == [name]
    np.testing.assert_array_equal(np.asarray(open_image(tmp_path / name).data[:]), before)
