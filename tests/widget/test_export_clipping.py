"""Exporting a result as the source's pixel type says what it clips (issue 20: a denoised
uint8 image reached 279, and the export clipped it without a word)."""

from __future__ import annotations

import numpy as np
import tifffile

from napari_blindspot.widget.exporting import clipping_note
from napari_blindspot.widget.layers import Source, put_denoised_layers


def _result(viewer_model, values: np.ndarray):
    layer = viewer_model.add_image(np.zeros(values.shape, np.uint8), name="cells")
    source = Source.from_layer(layer, "YX")
    return layer, put_denoised_layers(viewer_model, source, {"denoised": values.astype(np.float32)})["denoised"]


def test_source_type_export_clips_with_a_message(controller, viewer_model, tmp_path):
    values = np.full((16, 16), 100.0)
    values[0, :4] = [279.0, 256.0, 255.4, -3.0]
    layer, denoised = _result(viewer_model, values)
    assert denoised.data.dtype == np.float32 and denoised.data.max() == 279  # the layer keeps float
    note = clipping_note(denoised, "source")
    assert "2 pixels (0.78%) above 255 (up to 279) were clipped to 255" in note
    assert "1 pixels (0.39%) below 0 (down to -3) were clipped to 0" in note
    assert note.endswith("in the uint8 file: export float32 to keep them.")
    assert clipping_note(denoised, "float32") == ""
    (written,) = controller.export(layer, tmp_path / "out.tif", dtype="source")
    assert controller.last_message[1] == "warning" and "clipped to 255" in controller.last_message[0]
    out = tifffile.imread(written)
    assert out.dtype == np.uint8 and out.max() == 255 and out[0, 3] == 0
    (written,) = controller.export(layer, tmp_path / "float.tif", dtype="float32")
    assert controller.last_message == (f"Wrote {written}.", "info")
    assert tifffile.imread(written).max() == 279


def test_nothing_clipped_nothing_said(viewer_model):
    _, denoised = _result(viewer_model, np.full((8, 8), 254.6))
    assert clipping_note(denoised, "source") == ""
