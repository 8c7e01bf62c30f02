"""The dock widget on several selected layers, and on a lazy (zarr) layer whose result is
streamed into a lazy layer that fills in as it is written."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("napari")
pytest.importorskip("pytestqt")

import zarr  # noqa: E402

from napari_blindspot.widget import streamed  # noqa: E402
from napari_blindspot.widget.streamed import LockedArray  # noqa: E402

from test_dock import names, stack, tiny, viewer_widget, wait_idle  # noqa: E402,F401

pytestmark = pytest.mark.gui


def test_train_on_several_selected_layers_then_denoise_them_all(qtbot, viewer_widget):  # noqa: F811
    viewer, widget = viewer_widget
    a = viewer.add_image(stack(frames=2, size=48, seed=1), name="a", metadata={"axes": "TYX"})
    b = viewer.add_image(stack(frames=3, size=64, seed=2), name="b", metadata={"axes": "TYX"})
    viewer.layers.selection = {a, b}
    widget.select_layer(a)
    tiny(widget)
    widget.train()
    wait_idle(qtbot, widget)
    assert widget.run is None and widget.model is not None
    assert "2 layers" in widget.model_origin
    assert viewer.layers["a [denoised]"].data.shape == a.data.shape
    assert viewer.layers["b [denoised]"].data.shape == b.data.shape
    # the model pooled both layers' statistics
    pooled = np.concatenate([a.data.ravel(), b.data.ravel()]).astype(np.float64)
    assert widget.model.normalization.mean[0] == pytest.approx(pooled.mean(), rel=1e-6)

    # Denoise applies the model to every selected layer
    viewer.layers.remove("a [denoised]")
    viewer.layers.remove("b [denoised]")
    viewer.layers.selection = {a, b}
    widget.denoise()
    wait_idle(qtbot, widget)
    assert "a [denoised]" in names(viewer) and "b [denoised]" in names(viewer)


def test_a_lazy_layer_too_big_for_memory_streams_into_a_lazy_layer(  # noqa: F811
        qtbot, viewer_widget, monkeypatch, tmp_path):  # noqa: F811
    viewer, widget = viewer_widget
    data = stack(frames=4, size=64, seed=3)
    lazy = zarr.open_array(tmp_path / "in.zarr", mode="w", shape=data.shape, chunks=(1, 64, 64),
                           dtype=data.dtype)
    lazy[:] = data
    layer = viewer.add_image(lazy, name="big", metadata={"axes": "TYX"})
    tiny(widget)
    widget.train()
    wait_idle(qtbot, widget)
    in_memory = np.asarray(viewer.layers["big [denoised]"].data)
    monkeypatch.setattr(streamed, "STREAM_BYTES", 1)  # any lazy layer's result counts as big
    fills: list[float] = []
    original = widget._on_prediction_progress

    def spy(ev):
        original(ev)
        shown = viewer.layers["big [denoised]"].data
        assert isinstance(shown, LockedArray)  # the lazy layer is there from the start
        fills.append(float(np.mean(np.asarray(shown[:, 0, 0]) != 0)))

    monkeypatch.setattr(widget, "_on_prediction_progress", spy)
    viewer.layers.selection = {layer}
    widget.denoise()
    wait_idle(qtbot, widget)
    result = viewer.layers["big [denoised]"].data
    assert isinstance(result, LockedArray)
    np.testing.assert_allclose(np.asarray(result), in_memory, rtol=1e-5, atol=1e-3)
    assert fills and fills == sorted(fills)  # it filled in frame by frame
