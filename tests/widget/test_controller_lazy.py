"""Layers that a reader plugin opened lazily (dask arrays, as napari's bioio and OME-Zarr
readers give them): the widget trains and denoises on them without loading them whole into
the layer, keeps their scale, and says how it chose the channels of a multichannel layer."""

from __future__ import annotations

import numpy as np
import pytest

from napari_blindspot.samples.fluorescence import fluorescence_timelapse
from napari_blindspot.samples.cells import three_channel_cell
from napari_blindspot.widget.state import JobState, TrainRequest

da = pytest.importorskip("dask.array")

TINY = {"steps": 4, "epochs": None, "time_budget_s": None, "patch_size": 32, "batch_size": 2,
        "unet_features": 8, "unet_depth": 2, "tile_size": 64, "device": "cpu"}


def _messages(controller) -> list[tuple[str, str]]:
    seen: list[tuple[str, str]] = []
    controller.message.connect(lambda text, level: seen.append((level, text)))
    return seen


def test_widget_trains_on_a_lazy_layer_and_keeps_its_scale(controller, viewer_model):
    data = fluorescence_timelapse(frames=3, size=48, seed=1).noisy
    lazy = da.from_array(data, chunks=(1, 48, 48))
    layer = viewer_model.add_image(lazy, name="scan", scale=(2.0, 0.25, 0.25), translate=(0, 5, 5))
    seen = _messages(controller)
    controller.train(TrainRequest(layer, "TYX", "n2v2", dict(TINY), live_preview=False))
    assert not [t for level, t in seen if level == "error"], seen
    assert isinstance(layer.data, da.Array)  # the input layer stays lazy
    out = viewer_model.layers["scan [denoised]"]
    assert out.data.shape == data.shape and np.isfinite(np.asarray(out.data)).all()
    np.testing.assert_allclose(out.scale, (2.0, 0.25, 0.25))
    np.testing.assert_allclose(out.translate, (0, 5, 5))
    assert controller.state.job is JobState.IDLE and controller.model.info["steps"] == 4


def test_a_lazy_multichannel_layer_says_which_channels_it_chose(controller, viewer_model):
    sample = three_channel_cell(64, seed=5)
    lazy = da.from_array(sample.noisy, chunks=(1, 64, 64))
    layer = viewer_model.add_image(lazy, name="cell", scale=(1.0, 0.1, 0.1), rgb=False)
    seen = _messages(controller)
    controller.train(TrainRequest(layer, "CYX", "n2v2", dict(TINY), live_preview=False))
    assert not [t for level, t in seen if level == "error"], seen
    said = [t for _, t in seen if "Channels: separate, one network per channel (" in t]
    assert said and "different structures" in said[0], seen
    assert controller.model.config.channels == "separate"
    out = viewer_model.layers["cell [denoised]"]
    np.testing.assert_allclose(out.scale[-2:], (0.1, 0.1))
