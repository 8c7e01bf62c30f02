"""An integer output type clips what the float result holds beyond its range: the writers count
it and the command line says so (``--dtype input``)."""

from __future__ import annotations

import logging

import numpy as np

from napari_blindspot.engine.axes import CanonicalView, check_axes
from napari_blindspot.io.chunks import Clipped, cast_to
from napari_blindspot.files.streaming import ResultWriter


def test_cast_counts_what_it_clips():
    clipped = Clipped(np.uint8)
    out = cast_to(np.array([-3.0, 10.0, 255.2, 279.4, 300.0]), np.uint8, clipped)
    assert out.tolist() == [0, 10, 255, 255, 255]
    assert (clipped.above, clipped.below, clipped.total) == (2, 1, 5)
    note = clipped.note()
    assert "2 pixels (40%) above 255 (up to 300) were clipped to 255" in note
    assert "1 pixels (20%) below 0 (down to -3) were clipped to 0" in note
    assert Clipped(np.float32).note() == ""


def test_a_uint8_file_says_what_it_clipped(tmp_path, caplog):
    data = np.full((2, 16, 16), 200.0, np.float32)
    data[0, :4, :4] = 279.0  # a denoised uint8 image can pass 255
    view = CanonicalView(data, check_axes("TYX", data.shape))
    for name in ("o.tif", "o.ome.zarr"):
        writer = ResultWriter(view, {"denoised": str(tmp_path / name)}, dtype=np.uint8)
        writer.put_whole("denoised", data)
        with caplog.at_level(logging.WARNING, logger="napari_blindspot.files.streaming"):
            caplog.clear()
            writer.finish()
        text = caplog.text
        assert "16 pixels (3.1%) above 255 (up to 279) were clipped to 255 in the uint8 file" in text, text
        assert "--dtype float32 keeps them" in text


def test_float_output_says_nothing(tmp_path, caplog):
    data = np.full((16, 16), 300.0, np.float32)
    view = CanonicalView(data, check_axes("YX", data.shape))
    writer = ResultWriter(view, {"denoised": str(tmp_path / "f.tif")})
    writer.put_whole("denoised", data)
    with caplog.at_level(logging.WARNING):
        writer.finish()
    assert "clipped" not in caplog.text
