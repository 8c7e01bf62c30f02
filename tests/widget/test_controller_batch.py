"""The controller on several selected layers, and on a lazy (zarr) layer whose result is
streamed into a lazy layer that fills in as it is written (no display: a viewer model)."""

from __future__ import annotations

import numpy as np
import pytest

zarr = pytest.importorskip("zarr")

from napari_blindspot.samples.fluorescence import fluorescence_timelapse  # noqa: E402
from napari_blindspot.widget import streamed  # noqa: E402
from napari_blindspot.widget.state import DenoiseRequest, TrainRequest  # noqa: E402
from napari_blindspot.widget.streamed import LockedArray, should_stream  # noqa: E402

TINY = {"steps": 4, "epochs": None, "time_budget_s": None, "patch_size": 32, "batch_size": 2,
        "unet_features": 8, "unet_depth": 2, "tile_size": 64, "device": "cpu"}


def stack(frames: int, size: int, seed: int) -> np.ndarray:
    return fluorescence_timelapse(frames=frames, size=size, seed=seed).noisy


def names(viewer) -> list[str]:
    return [layer.name for layer in viewer.layers]


def test_train_on_several_selected_layers_then_denoise_them_all(controller, viewer_model):
    a = viewer_model.add_image(stack(2, 48, 1), name="a", metadata={"axes": "TYX"})
    b = viewer_model.add_image(stack(3, 64, 2), name="b", metadata={"axes": "TYX"})
    viewer_model.layers.selection = {a, b}
    controller.train(TrainRequest(b, "TYX", "n2v2", dict(TINY), live_preview=False))
    assert controller.model is not None and "2 layers" in controller.model_origin
    assert viewer_model.layers["a [denoised]"].data.shape == a.data.shape
    assert viewer_model.layers["b [denoised]"].data.shape == b.data.shape
    pooled = np.concatenate([a.data.ravel(), b.data.ravel()]).astype(np.float64)
    assert controller.model.normalization.mean[0] == pytest.approx(pooled.mean(), rel=1e-6)

    # Denoise applies the model to every selected layer (our own results are never inputs)
    viewer_model.layers.remove("a [denoised]")
    viewer_model.layers.selection = {a, b, viewer_model.layers["b [denoised]"]}
    controller.denoise(DenoiseRequest(a, "TYX"))
    assert names(viewer_model).count("a [denoised]") == 1
    assert "b [denoised] [denoised]" not in names(viewer_model)
    # one layer selected: the picked layer only, as before
    viewer_model.layers.selection = {a}
    controller.denoise(DenoiseRequest(a, "TYX"))
    assert controller.last_message[0].startswith("Done: 'a [denoised]'")


def test_should_stream_big_or_lazy_results():
    small = np.zeros((4, 8, 8), np.float32)
    assert not should_stream(small, 1, available=10**9)
    assert should_stream(small, 2, available=1000)  # 2 KiB of results, 1 kB free
    lazy = zarr.zeros((4, 8, 8), dtype="f4")
    assert not should_stream(lazy, 1, available=10**9)
    assert should_stream(lazy, 1, available=10**12) is (4 * 8 * 8 * 4 >= streamed.STREAM_BYTES)


def test_a_lazy_layer_too_big_for_memory_streams_into_a_lazy_layer(controller, viewer_model,
                                                                   monkeypatch, tmp_path):
    data = stack(4, 64, 3)
    lazy = zarr.open_array(tmp_path / "in.zarr", mode="w", shape=data.shape, chunks=(1, 64, 64),
                           dtype=data.dtype)
    lazy[:] = data
    layer = viewer_model.add_image(lazy, name="big", metadata={"axes": "TYX"})
    controller.train(TrainRequest(layer, "TYX", "n2v2", dict(TINY), live_preview=False))
    in_memory = np.asarray(viewer_model.layers["big [denoised]"].data)
    assert not isinstance(viewer_model.layers["big [denoised]"].data, LockedArray)

    monkeypatch.setattr(streamed, "STREAM_BYTES", 1)  # any lazy layer's result counts as big
    monkeypatch.setattr(streamed.StreamedResult, "REFRESH_S", 0.0)
    fills: list[float] = []
    refresh = streamed.StreamedResult.refresh

    def spy(self):
        refresh(self)
        shown = viewer_model.layers["big [denoised]"].data
        assert isinstance(shown, LockedArray)  # the lazy layer is there from the start
        fills.append(float(np.mean(np.asarray(shown[:, 0, 0]) != 0)))

    monkeypatch.setattr(streamed.StreamedResult, "refresh", spy)
    controller.denoise(DenoiseRequest(layer, "TYX"))
    result = viewer_model.layers["big [denoised]"].data
    assert isinstance(result, LockedArray)
    np.testing.assert_array_equal(np.asarray(result), in_memory)
    assert fills and fills == sorted(fills) and fills[0] < 1  # it filled in frame by frame


def test_a_failed_streamed_prediction_leaves_no_layer_and_no_scratch(controller, viewer_model,
                                                                     monkeypatch, tmp_path):
    data = stack(2, 48, 4).astype(np.float32)
    lazy = zarr.open_array(tmp_path / "in.zarr", mode="w", shape=data.shape, dtype=data.dtype)
    lazy[:] = data
    layer = viewer_model.add_image(lazy, name="big", metadata={"axes": "TYX"})
    controller.train(TrainRequest(layer, "TYX", "n2v2", dict(TINY), live_preview=False))
    viewer_model.layers.remove("big [denoised]")
    monkeypatch.setattr(streamed, "STREAM_BYTES", 1)
    lazy[1, 5, 5] = np.nan  # the prediction fails on the second frame
    folders = []
    original = streamed.ScratchResult.__init__

    def record(self, *args, **kwargs):
        original(self, *args, **kwargs)
        folders.append(self.folder)

    monkeypatch.setattr(streamed.ScratchResult, "__init__", record)
    controller.denoise(DenoiseRequest(layer, "TYX"))
    assert controller.last_message[1] == "error" and "NaN" in controller.last_message[0]
    assert "big [denoised]" not in names(viewer_model)
    assert folders and not __import__("os").path.exists(folders[0])
