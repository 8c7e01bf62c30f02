"""A layer napari's own reader opened gets the axes and pixel sizes of its file (no Qt)."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

pytest.importorskip("napari")

from napari.layers import Image  # noqa: E402
from napari.layers._source import layer_source  # noqa: E402

from napari_blindspot.io.tiff import write_tiff  # noqa: E402
from napari_blindspot.widget.file_meta import adopt_file_metadata  # noqa: E402
from napari_blindspot.widget.layers import Source, guess_layer_axes  # noqa: E402


def time_lapse(path, shape=(5, 16, 16)) -> np.ndarray:
    data = np.arange(np.prod(shape), dtype=np.uint16).reshape(shape)
    write_tiff(path, data, "TYX", pixel_size={"X": 0.1, "Y": 0.1}, unit="micron", dtype=np.uint16,
               metadata={"finterval": 2.0})
    return data


def opened(path, data, **kwargs) -> Image:
    """An image layer as a reader that keeps only the pixels makes it."""
    with layer_source(path=str(path), reader_plugin="napari"):
        return Image(data, **kwargs)


def test_napari_opened_time_lapse_becomes_tyx_with_its_pixel_size(tmp_path):
    path = tmp_path / "cells.tif"
    layer = opened(path, time_lapse(path))
    assert guess_layer_axes(layer) == "ZYX"  # what the widget guessed before
    assert adopt_file_metadata(layer)
    assert guess_layer_axes(layer) == "TYX"
    np.testing.assert_allclose(layer.scale, (2.0, 0.1, 0.1))
    assert [str(u) for u in layer.units] == ["second", "micrometer", "micrometer"]
    assert layer.axis_labels == ("t", "y", "x")
    assert layer.metadata["source_path"] == str(path)
    assert not adopt_file_metadata(layer)  # once


def test_a_job_on_such_a_layer_uses_the_files_calibration(tmp_path):
    path = tmp_path / "cells.tif"
    layer = opened(path, time_lapse(path))
    source = Source.from_layer(layer, "TYX")
    assert source.scale == pytest.approx((2.0, 0.1, 0.1))
    assert source.axis_labels == ("t", "y", "x")


def test_a_scale_set_otherwise_is_kept(tmp_path):
    path = tmp_path / "cells.tif"
    layer = opened(path, time_lapse(path), scale=(1.0, 0.3, 0.3))
    assert adopt_file_metadata(layer)
    assert layer.metadata["axes"] == "TYX"
    np.testing.assert_allclose(layer.scale, (1.0, 0.3, 0.3))


@pytest.mark.parametrize("case", ["own axes", "other labels", "other shape", "no calibration",
                                  "no file"])
def test_layers_left_alone(tmp_path, case):
    path = tmp_path / "cells.tif"
    data = time_lapse(path)
    kwargs: dict = {}
    if case == "own axes":
        kwargs["metadata"] = {"axes": "ZYX"}
    elif case == "other labels":
        kwargs["axis_labels"] = ("z", "y", "x")
    elif case == "other shape":
        data = data[:, :8]
    elif case == "no calibration":
        tifffile.imwrite(path, data, photometric="minisblack")
    elif case == "no file":
        path = tmp_path / "gone.tif"
    layer = opened(path, data, **kwargs)
    before = (dict(layer.metadata), tuple(layer.scale), tuple(layer.axis_labels))
    assert not adopt_file_metadata(layer)
    assert (dict(layer.metadata), tuple(layer.scale), tuple(layer.axis_labels)) == before
