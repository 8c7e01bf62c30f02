"""What the controller does to the viewer's layers around a training (issue 10): the result
becomes the selected layer, the status line forgets the preview's name, the preview looks
like the source (its contrast, not an untrained network's grey), exports invent no unit."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from napari_blindspot.io.tiff import read_tiff
from napari_blindspot.samples.fluorescence import fluorescence_timelapse
from napari_blindspot.widget.preview import MIN_PREVIEW_STEPS, first_preview_step
from napari_blindspot.widget.state import JobState, TrainRequest

TINY = {"steps": 12, "epochs": None, "time_budget_s": None, "patch_size": 32, "batch_size": 2,
        "unet_features": 8, "unet_depth": 2, "tile_size": 64, "device": "cpu"}


def stack(frames: int = 2, size: int = 48) -> np.ndarray:
    return fluorescence_timelapse(frames=frames, size=size, seed=0).noisy


def request(layer, **changes) -> TrainRequest:
    settings = dict(TINY, **changes.pop("settings", {}))
    return TrainRequest(layer, "TYX", "n2v2", settings, **changes)


def test_the_result_becomes_the_selected_layer(controller, viewer_model):
    layer = viewer_model.add_image(stack(), name="cells")
    other = viewer_model.add_image(np.zeros((8, 8), np.float32), name="other")
    viewer_model.layers.selection.clear()  # as after N2V2 training in issue 10: nothing selected
    controller.train(request(layer))
    denoised = viewer_model.layers["cells [denoised]"]
    assert viewer_model.layers.selection.active is denoised  # napari's layer controls show it
    assert list(viewer_model.layers.selection) == [denoised]
    viewer_model.layers.selection.active = other
    controller.train(request(layer))  # the rerun's result (the same layer) is selected again
    assert viewer_model.layers.selection.active is denoised


def test_the_status_line_names_the_result_not_the_preview(controller, viewer_model):
    layer = viewer_model.add_image(stack(), name="cells")

    def hover_the_preview(job) -> None:  # the mouse over the preview while training runs
        if job is JobState.TRAINING:
            viewer_model.layers.selection.active = controller.preview.layer
            viewer_model.mouse_over_canvas = True
            viewer_model.cursor.position = (0.0, 10.0, 10.0)

    controller.state.events.job.connect(hover_the_preview)
    during = []
    controller.state.events.job.connect(
        lambda job: during.append(str(viewer_model.status)) if job is JobState.DENOISING else None)
    controller.train(request(layer))
    assert "cells [preview]" in during[0]  # what napari showed while training
    assert "[preview]" not in str(viewer_model.status)
    assert "cells [denoised]" in str(viewer_model.status)


def test_the_status_is_corrected_without_the_mouse_over_the_canvas(controller, viewer_model):
    layer = viewer_model.add_image(stack(), name="cells")
    controller.state.events.job.connect(
        lambda job: setattr(viewer_model, "status", {"layer_name": "cells [preview]", "coordinates": ""})
        if job is JobState.DENOISING else None)
    controller.train(request(layer))
    assert viewer_model.status["layer_name"] == "cells [denoised]"


def test_the_preview_waits_for_a_trained_network_and_takes_the_sources_contrast(
        controller, viewer_model, monkeypatch):
    from napari_blindspot.widget import controller as controller_module

    monkeypatch.setattr(controller_module, "PREVIEW_INTERVAL_S", 0.0)  # a preview after every step
    data = stack()
    layer = viewer_model.add_image(data, name="cells")
    layer.contrast_limits = (150.0, 900.0)  # the user's own contrast, in the image's units
    shown: list[tuple[int, float, tuple[float, float]]] = []
    show = controller.preview.show

    estimates: list[np.ndarray] = []
    texts: list[str] = []
    controller.state.events.preview_text.connect(texts.append)

    def record(ev) -> None:
        preview = controller.preview.layer
        if not estimates:
            estimates.append(np.array(preview.data))
        show(ev)
        same = np.array_equal(np.asarray(preview.data), estimates[0])
        shown.append((ev.step, same, tuple(preview.contrast_limits)))

    controller.preview.show = record
    controller.train(request(layer, settings={"steps": 12}))
    first = first_preview_step(12)
    assert first == 6 and first_preview_step(None) == MIN_PREVIEW_STEPS == first_preview_step(10_000)
    # the run computes no preview before that step (it would only be hidden), then one a step
    assert [step for step, _, _ in shown] == list(range(first, 13))
    # from the click on, the layer shows a first estimate (a smoothing of the frame in view)
    frame = data[0].astype(np.float32)
    estimate = estimates[0].reshape(frame.shape)
    assert np.abs(estimate - frame).mean() > 0 and estimate.std() < frame.std()
    assert next(t for t in texts if t).startswith("Preview of the whole image (T 0): a first estimate")
    # until that step the first estimate stays: an untrained network's output is not shown
    assert all(same for step, same, _ in shown if step < first)
    network = [(step, limits) for step, same, limits in shown if not same]
    assert network and all(step >= first for step, _ in network)
    assert any("the network's output, from step 6 on" in t for t in texts) and texts[-1] == ""
    for _, _, limits in shown:  # the source's limits, not [0, 1] nor the network output's range
        assert limits == pytest.approx((150.0, 900.0))


def test_exporting_a_layer_without_units_invents_none(controller, viewer_model, tmp_path):
    layer = viewer_model.add_image(stack(), name="cells", metadata={"axes": "TYX"})
    controller.train(request(layer, live_preview=False))
    (written,) = controller.export(layer, str(tmp_path / "out.tif"))
    with tifffile.TiffFile(written) as tif:
        assert "unit" not in tif.imagej_metadata
        tags = tif.pages[0].tags
        assert "XResolution" not in tags or (tags["XResolution"].value == (1, 1)
                                             and int(tags["ResolutionUnit"].value) == 1)
    back = read_tiff(written)
    assert back.pixel_size == {} and back.unit == ""
