"""The napari dock widget, driven through its buttons' methods in a real (hidden) viewer.

Tiny images, tiny networks and a handful of steps keep every training to about a second
on two CPU cores.  pytest-xvfb provides the display, pytest-qt the event loop.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

pytest.importorskip("napari")
pytest.importorskip("pytestqt")

from napari.utils.notifications import notification_manager  # noqa: E402
from qtpy.QtCore import QTimer  # noqa: E402

from napari_blindspot.io.tiff import read_tiff  # noqa: E402
from napari_blindspot.samples.fluorescence import fluorescence_timelapse  # noqa: E402
from napari_blindspot.widget._qt.dock import BlindspotWidget  # noqa: E402

pytestmark = pytest.mark.gui

PLUGIN = "napari-blindspot"
WIDGET = "Self-supervised denoising"
TIMEOUT_MS = 60_000


def stack(frames: int = 2, size: int = 48, seed: int = 0) -> np.ndarray:
    """A small noisy uint16 TYX stack."""
    return fluorescence_timelapse(frames=frames, size=size, seed=seed).noisy


def tiny(widget: BlindspotWidget, method: str = "n2v2", length: str = "4 steps") -> None:
    """Settings for a one-second training."""
    widget.set_method(method)
    s = widget.settings
    s.length.setText(length)
    s.patch.setValue(32)
    s.batch.setValue(2)
    s.width_box.setValue(8)
    s.depth_box.setValue(2)
    s.tile.setValue(64)


def wait_idle(qtbot, widget: BlindspotWidget, timeout: int = TIMEOUT_MS) -> None:
    qtbot.waitUntil(lambda: widget.busy is None, timeout=timeout)


def names(viewer) -> list[str]:
    return [layer.name for layer in viewer.layers]


@pytest.fixture
def viewer_widget(make_napari_viewer):
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, WIDGET)
    yield viewer, widget
    widget.shutdown()


@pytest.fixture
def notifications():
    """Notifications dispatched during the test, as ``(severity, message)``."""
    seen: list[tuple[str, str]] = []

    def record(event) -> None:
        seen.append((str(event.severity), str(event.message)))

    notification_manager.notification_ready.connect(record)
    yield seen
    notification_manager.notification_ready.disconnect(record)


def errors(seen: list[tuple[str, str]]) -> list[str]:
    return [message for severity, message in seen if "error" in severity.lower()]


# ------------------------------------------------------------------ opening, layers, axes
def test_opens_through_manifest_and_lists_image_layers_only(viewer_widget):
    viewer, widget = viewer_widget
    assert isinstance(widget, BlindspotWidget)
    viewer.add_image(np.zeros((32, 32), np.float32), name="a")
    viewer.add_labels(np.zeros((32, 32), np.int32), name="labels")
    viewer.add_points(np.zeros((1, 2)), name="points")
    assert [layer.name for layer in widget.layer_picker.layers()] == ["a"]

    viewer.add_image(np.zeros((32, 32), np.float32), name="b")
    assert [layer.name for layer in widget.layer_picker.layers()] == ["b", "a"]
    viewer.layers["b"].name = "renamed"
    assert [widget.layer_picker.native.itemText(i) for i in range(widget.layer_picker.native.count())] == ["renamed", "a"]
    viewer.layers.remove("a")
    assert [layer.name for layer in widget.layer_picker.layers()] == ["renamed"]
    assert widget.layer_picker.current_layer() is viewer.layers["renamed"]


def test_axes_are_guessed_and_validated(viewer_widget):
    viewer, widget = viewer_widget
    viewer.add_image(stack(), name="movie", metadata={"axes": "TYX"})
    assert widget.axes_edit.text() == "TYX"
    assert not widget.dim_combo.isEnabled()

    viewer.add_image(np.zeros((2, 3, 16, 16), np.float32), name="volume")
    assert widget.select_layer(viewer.layers["volume"])
    assert widget.axes_edit.text() == "TZYX"
    assert widget.dim_combo.isEnabled()
    assert not widget.set_axes("TYX")
    assert "4 dimensions" in widget.axes_hint.text()
    assert widget.set_axes("tzyx")
    assert "depth 3" in widget.axes_hint.text()

    # the edited axes are remembered per layer
    assert widget.set_axes("SZYX")
    widget.select_layer(viewer.layers["movie"])
    assert widget.axes_edit.text() == "TYX"
    widget.select_layer(viewer.layers["volume"])
    assert widget.axes_edit.text() == "SZYX"


# ------------------------------------------------------------------ training and results
def test_training_adds_denoised_layer_and_rerun_replaces_it(qtbot, viewer_widget):
    viewer, widget = viewer_widget
    data = stack()
    viewer.add_image(data, name="cells", scale=(1.0, 0.5, 0.5), translate=(0.0, 10.0, 20.0),
                     metadata={"axes": "TYX"})
    tiny(widget)
    import gc

    widget.train()
    assert widget.busy == "training"
    assert widget.train_button.text() == "Stop"
    # objects older than the job are out of the collector's way while it runs (no GIL stalls)
    assert gc.get_freeze_count() > 0
    wait_idle(qtbot, widget)
    assert gc.get_freeze_count() == 0

    denoised = viewer.layers["cells [denoised]"]
    assert denoised.data.shape == data.shape
    assert denoised.opacity == 1 and denoised.visible  # also when no preview was ever shown
    assert denoised.data.dtype == np.float32
    np.testing.assert_allclose(denoised.scale, (1.0, 0.5, 0.5))
    np.testing.assert_allclose(denoised.translate, (0.0, 10.0, 20.0))
    lo, hi = denoised.contrast_limits
    assert data.min() <= lo < hi <= data.max()
    assert "cells [preview]" not in names(viewer)
    assert "cells [uncertainty]" not in names(viewer)
    assert widget.events_seen["progress"] > 0
    assert widget.loss_plot.train and widget.loss_plot.validation
    assert widget.model is not None and widget.model.info["steps"] == 4
    assert widget.train_button.text() == "Train" and widget.train_button.isEnabled()

    # a second run replaces the result instead of adding another layer
    before = names(viewer)
    widget.train()
    wait_idle(qtbot, widget)
    assert names(viewer) == before
    assert viewer.layers["cells [denoised]"] is denoised
    assert sum(name.endswith("[denoised]") for name in names(viewer)) == 1


def test_hqssl_adds_uncertainty_and_exports_tiff(qtbot, viewer_widget, tmp_path):
    viewer, widget = viewer_widget
    data = stack()
    viewer.add_image(data, name="cells", scale=(1.0, 0.5, 0.5), metadata={"axes": "TYX"},
                     units=("pixel", "micrometer", "micrometer"))
    tiny(widget, "hqssl", "6 steps")
    widget.train()
    wait_idle(qtbot, widget)

    denoised = viewer.layers["cells [denoised]"]
    uncertainty = viewer.layers["cells [uncertainty]"]
    assert uncertainty.data.shape == data.shape
    assert np.isfinite(uncertainty.data).all() and (uncertainty.data >= 0).all()
    np.testing.assert_allclose(uncertainty.scale, denoised.scale)
    assert widget.noise_label.text().startswith("Measured noise: variance ")
    assert widget.model.has_uncertainty

    written = widget.export(tmp_path / "cells.tif", dtype="float32")
    assert [p.name for p in written] == ["cells.tif", "cells_uncertainty.tif"]
    back = read_tiff(tmp_path / "cells.tif")
    assert back.axes == "TYX"
    assert back.data.dtype == np.float32
    np.testing.assert_array_equal(back.data, denoised.data)
    assert back.pixel_size["X"] == pytest.approx(0.5, rel=1e-5)
    assert back.pixel_size["Y"] == pytest.approx(0.5, rel=1e-5)
    assert back.unit == "micron"
    np.testing.assert_array_equal(read_tiff(tmp_path / "cells_uncertainty.tif").data, uncertainty.data)

    # the source pixel type: rounded and clipped
    widget.export(tmp_path / "cells_u16.tif", dtype="source")
    back16 = read_tiff(tmp_path / "cells_u16.tif")
    assert back16.data.dtype == np.uint16
    np.testing.assert_array_equal(back16.data, np.clip(np.round(denoised.data), 0, 65535).astype(np.uint16))

    # a new method without uncertainty removes the stale uncertainty layer
    tiny(widget, "n2v2")
    widget.train()
    wait_idle(qtbot, widget)
    assert "cells [uncertainty]" not in names(viewer)


def test_stop_keeps_a_usable_model_preview_follows_slider_and_ui_stays_responsive(qtbot, viewer_widget):
    viewer, widget = viewer_widget
    data = stack(frames=3)
    viewer.add_image(data, name="cells", metadata={"axes": "TYX"})
    viewer.dims.set_current_step(0, 0)
    tiny(widget, "n2v2", "10 minutes")

    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    try:
        widget.train()
        # the preview layer is there at once, with a first estimate, shaped like the first preview
        placeholder = viewer.layers["cells [preview]"]
        assert placeholder.opacity == 1 and placeholder.data.shape == (1, 48, 48)
        first_estimate = np.array(placeholder.data)
        assert "first estimate" in widget.training.preview_label.text()
        assert widget.training.preview_label.isVisibleTo(widget)
        # an untrained network's output is not shown: the first estimate stays until step 50,
        # then the network's preview shows with the source layer's contrast limits
        qtbot.waitUntil(lambda: widget.events_seen["preview"] >= 1 and widget.events_seen["progress"] >= 3,
                        timeout=TIMEOUT_MS)
        qtbot.waitUntil(lambda: "network's output" in widget.training.preview_label.text(),
                        timeout=TIMEOUT_MS)
        preview = viewer.layers["cells [preview]"]
        assert not np.array_equal(np.asarray(preview.data), first_estimate)
        assert preview is placeholder and widget.run.step >= 50
        np.testing.assert_allclose(preview.contrast_limits, viewer.layers["cells"].contrast_limits)
        assert preview.data.shape == (1, 48, 48)
        assert preview.translate[0] == 0

        # moving the slider previews the new frame soon, not after the refresh interval
        viewer.dims.set_current_step(0, 2)
        qtbot.waitUntil(lambda: "cells [preview]" in names(viewer)
                        and viewer.layers["cells [preview]"].translate[0] == 2, timeout=TIMEOUT_MS)
        run = widget.run
        assert run is not None and widget.busy == "training"
        widget.stop()
        wait_idle(qtbot, widget)
    finally:
        timer.stop()

    assert 0 < run.step < 10_000
    assert "stopped" in widget.progress.format()
    assert "cells [preview]" not in names(viewer)
    assert viewer.layers["cells [denoised]"].data.shape == data.shape
    # the preview layer became the result (no layer removal: napari collects garbage then)
    assert viewer.layers["cells [denoised]"] is preview
    np.testing.assert_allclose(preview.translate, (0.0, 0.0, 0.0))
    model = widget.model
    assert model is not None
    assert model.denoise(data[:1], "TYX").shape == (1, 48, 48)
    gaps = np.diff(ticks)
    assert len(gaps) > 20
    assert gaps.max() < 1.0, f"event loop blocked for {gaps.max():.2f} s"


def test_continue_save_load_and_denoise_with_loaded_model(qtbot, viewer_widget, tmp_path):
    viewer, widget = viewer_widget
    data = stack()
    viewer.add_image(data, name="cells", metadata={"axes": "TYX"})
    tiny(widget)
    widget.train()
    wait_idle(qtbot, widget)
    assert widget.continue_button.isEnabled()

    widget.continue_training()
    wait_idle(qtbot, widget)
    assert widget.model.info["steps"] == 8
    assert widget.loss_plot.train[-1][0] == 8
    first = np.array(viewer.layers["cells [denoised]"].data)

    path = widget.save_model(tmp_path / "cells")
    assert path.name == "cells.safetensors" and path.is_file()
    widget.reset()
    assert widget.model is None and not widget.denoise_button.isEnabled()
    assert not widget.loss_plot.train

    assert widget.load_model(path) is not None
    assert "loaded from cells.safetensors" in widget.model_label.text()
    assert widget.denoise_button.isEnabled()
    viewer.layers.remove("cells [denoised]")
    widget.select_layer(viewer.layers["cells"])
    widget.denoise()
    assert widget.busy == "denoising"
    wait_idle(qtbot, widget)
    np.testing.assert_allclose(viewer.layers["cells [denoised]"].data, first, rtol=1e-4, atol=1e-3)


def test_noise2noise_uses_the_second_acquisition(qtbot, viewer_widget, notifications):
    viewer, widget = viewer_widget
    viewer.add_image(stack(seed=1), name="first", metadata={"axes": "TYX"})
    viewer.add_image(stack(seed=2), name="second", metadata={"axes": "TYX"})
    widget.select_layer(viewer.layers["first"])
    tiny(widget, "n2n")
    assert widget.target_picker.native.isVisibleTo(widget)
    assert widget.target_picker.current_layer() is viewer.layers["second"]  # suggested
    widget.target_picker.set_layer(viewer.layers["first"])
    widget.train()
    assert widget.busy is None
    assert any("second, independent acquisition" in m for m in errors(notifications))

    widget.target_picker.set_layer(viewer.layers["second"])
    widget.train()
    wait_idle(qtbot, widget)
    assert viewer.layers["first [denoised]"].data.shape == (2, 48, 48)
    widget.set_method("n2v2")
    assert not widget.target_picker.native.isVisibleTo(widget)


def test_3d_training_and_multichannel_preview(qtbot, viewer_widget):
    viewer, widget = viewer_widget
    rng = np.random.default_rng(0)
    volume = (100 + 10 * rng.standard_normal((16, 32, 32))).astype(np.float32)
    viewer.add_image(volume, name="volume", scale=(2.0, 0.5, 0.5))
    tiny(widget, "n2v2", "3 steps")
    widget.settings.patch.setValue(16)
    widget.settings.patch_z.setValue(8)
    widget.settings.editor("mask_fraction").setValue(1.0)
    assert widget.axes_edit.text() == "ZYX"
    widget.dim_combo.setCurrentIndex(1)  # 3D
    assert widget.settings.patch_z.isVisibleTo(widget.settings)
    widget.train()
    wait_idle(qtbot, widget)
    assert widget.model.config.train_3d
    assert widget.events_seen["preview"] >= 1
    assert viewer.layers["volume [denoised]"].data.shape == volume.shape
    np.testing.assert_allclose(viewer.layers["volume [denoised]"].scale, (2.0, 0.5, 0.5))

    # two channels trained independently: the preview shows the channel on screen
    cells = np.stack([stack(frames=1)[0], stack(frames=1, seed=3)[0]])
    viewer.add_image(cells, name="channels", metadata={"axes": "CYX"})
    widget.select_layer(viewer.layers["channels"])
    assert widget.axes_edit.text() == "CYX"
    viewer.dims.set_current_step(0, 1)
    tiny(widget, "n2v2", "10 minutes")
    seen = widget.events_seen["preview"]
    widget.train()
    # the preview layer exists (transparent) from the click on; wait for a preview in it
    qtbot.waitUntil(lambda: widget.events_seen["preview"] > seen, timeout=TIMEOUT_MS)
    preview = viewer.layers["channels [preview]"]
    assert preview.data.shape == (1, 48, 48)
    assert preview.translate[0] == 1
    qtbot.waitUntil(lambda: widget.run is not None and widget.run.step > 0, timeout=TIMEOUT_MS)
    widget.stop()
    wait_idle(qtbot, widget)
    assert viewer.layers["channels [denoised]"].data.shape == cells.shape
    assert widget.model.channels == 2


def test_rgb_layer_keeps_its_colour_axis(qtbot, viewer_widget):
    viewer, widget = viewer_widget
    rgb = np.stack([stack(frames=1, seed=s)[0] for s in range(3)], axis=-1).astype(np.float32)
    layer = viewer.add_image(rgb / rgb.max(), name="rgb", rgb=True)
    assert layer.rgb
    assert widget.axes_edit.text() == "YXC"
    assert not widget.set_axes("CYX")
    assert "must end with C" in widget.axes_hint.text()
    assert widget.set_axes("YXC")
    tiny(widget, "n2v2", "3 steps")
    widget.train()
    wait_idle(qtbot, widget)
    denoised = viewer.layers["rgb [denoised]"]
    assert denoised.rgb and denoised.data.shape == rgb.shape


def test_cancel_denoising_changes_no_layer(qtbot, viewer_widget):
    viewer, widget = viewer_widget
    viewer.add_image(stack(), name="cells", metadata={"axes": "TYX"})
    tiny(widget)
    widget.train()
    wait_idle(qtbot, widget)
    before = np.array(viewer.layers["cells [denoised]"].data)

    big = np.repeat(stack(frames=1, size=64), 200, axis=0)
    viewer.add_image(big, name="long", metadata={"axes": "TYX"})
    widget.select_layer(viewer.layers["long"])
    widget.settings.tile.setValue(32)
    widget.denoise()
    assert widget.busy == "denoising" and widget.cancel_button.isEnabled()
    widget.cancel_denoising()
    wait_idle(qtbot, widget)
    assert "long [denoised]" not in names(viewer)
    assert "cancelled" in widget.message.text()
    np.testing.assert_array_equal(viewer.layers["cells [denoised]"].data, before)
    assert widget.denoise_button.isEnabled()


# ------------------------------------------------------------------ errors
def test_bad_input_notifies_and_leaves_widget_usable(qtbot, viewer_widget, notifications, tmp_path):
    viewer, widget = viewer_widget
    viewer.add_image(stack(), name="good", metadata={"axes": "TYX"})
    labels = viewer.add_labels(np.zeros((48, 48), np.int32), name="labels")
    viewer.add_image(np.random.default_rng(0).random((1, 12, 12)).astype(np.float32), name="small",
                     metadata={"axes": "TYX"})
    tiny(widget)
    layer_count = len(viewer.layers)

    # a labels layer is refused, the selection stays
    assert widget.select_layer(viewer.layers["small"])
    assert not widget.select_layer(labels)
    assert "labels layer, not an image" in errors(notifications)[-1]
    assert widget.layer_picker.current_layer().name == "small"

    # a layer smaller than the patch: the worker reports it, the widget is usable again
    widget.train()
    wait_idle(qtbot, widget)
    assert "smaller than the training patch" in errors(notifications)[-1]
    assert "smaller than the training patch" in widget.message.text()
    assert widget.train_button.text() == "Train" and widget.train_button.isEnabled()

    # a wrong axes string
    widget.select_layer(viewer.layers["good"])
    assert not widget.set_axes("ZZX")
    widget.train()
    assert widget.busy is None
    assert "more than once" in errors(notifications)[-1]

    # a bad training length
    widget.set_axes("TYX")
    widget.settings.length.setText("forever")
    widget.train()
    assert "not understood" in errors(notifications)[-1]

    # a damaged model file
    damaged = tmp_path / "damaged.safetensors"
    damaged.write_bytes(b"\x00not a model at all" * 10)
    assert widget.load_model(damaged) is None
    assert "damaged" in errors(notifications)[-1]
    assert widget.model is None

    # nothing to export yet
    assert widget.export(tmp_path / "x.tif") is None
    assert "no 'good [denoised]'" in errors(notifications)[-1].lower()

    # no layer was lost and the widget still trains
    assert len(viewer.layers) == layer_count
    widget.settings.length.setText("3 steps")
    widget.train()
    wait_idle(qtbot, widget)
    assert "good [denoised]" in names(viewer)


# ------------------------------------------------------------------ closing
def test_closing_the_viewer_stops_training(qtbot, make_napari_viewer):
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, WIDGET)
    viewer.add_image(stack(), name="cells", metadata={"axes": "TYX"})
    tiny(widget, "n2v2", "10 minutes")
    widget.train()
    qtbot.waitUntil(lambda: widget.events_seen["progress"] >= 2, timeout=TIMEOUT_MS)
    worker, run = widget.controller.job, widget.run
    viewer.close()
    qtbot.waitUntil(lambda: not worker.is_running, timeout=10_000)
    steps = run.step
    qtbot.wait(200)
    assert run.step == steps


def test_removing_the_dock_widget_stops_training(qtbot, make_napari_viewer):
    viewer = make_napari_viewer()
    dock, widget = viewer.window.add_plugin_dock_widget(PLUGIN, WIDGET)
    viewer.add_image(stack(), name="cells", metadata={"axes": "TYX"})
    tiny(widget, "n2v2", "10 minutes")
    widget.train()
    qtbot.waitUntil(lambda: widget.events_seen["progress"] >= 2, timeout=TIMEOUT_MS)
    worker = widget.controller.job
    viewer.window.remove_dock_widget(dock)
    qtbot.waitUntil(lambda: not worker.is_running, timeout=10_000)
    qtbot.waitUntil(lambda: widget.busy is None, timeout=10_000)
    assert "cells [denoised]" not in names(viewer)
    assert "cells [preview]" not in names(viewer)


# ------------------------------------------------------------------ launcher
def test_launch_docks_widget_with_sample(make_napari_viewer, monkeypatch):
    import napari

    from napari_blindspot.launch import launch

    monkeypatch.setattr(napari, "Viewer", lambda **kwargs: make_napari_viewer(**kwargs))
    viewer, widget = launch(sample=True, run=False)
    assert isinstance(widget, BlindspotWidget)
    layer = viewer.layers["fluorescence (noisy)"]
    assert layer.data.shape == (8, 256, 256)
    assert widget.layer_picker.current_layer() is layer
    assert widget.axes_edit.text() == "TYX"


def test_training_without_live_preview_adds_no_preview_layer(qtbot, viewer_widget):
    viewer, widget = viewer_widget
    data = stack()
    viewer.add_image(data, name="cells", metadata={"axes": "TYX"})
    tiny(widget)
    widget.settings.live_preview.setChecked(False)
    widget.train()
    assert "cells [preview]" not in names(viewer)
    wait_idle(qtbot, widget)
    assert widget.events_seen["preview"] == 0
    assert "cells [preview]" not in names(viewer)
    assert viewer.layers["cells [denoised]"].data.shape == data.shape


def test_a_registered_method_is_offered_with_its_own_settings(toy_method, viewer_widget, qtbot):
    viewer, widget = viewer_widget
    offered = [widget.method_combo.itemText(i) for i in range(widget.method_combo.count())]
    assert offered[-1] == "Toy smoother"
    widget.set_method("toy")
    assert widget.method_help.text() == toy_method.help
    assert widget.settings.batch.value() == 2  # the toy method's default
    widget.settings.editor("mask_fraction").setValue(3.0)  # percent
    assert widget.settings.overrides()["mask_fraction"] == pytest.approx(0.03)
    # its own setting (no TrainConfig field): an editor in its advanced panel, from the declaration
    weight = widget.settings.editor("toy_weight")
    panel = widget.settings.panel.advanced
    assert panel.layout().labelForField(weight).text() == "Toy weight"
    assert weight.value() == 0.5 and (weight.minimum(), weight.maximum()) == (0.01, 1.0)
    assert "pulls the output" in weight.toolTip()
    weight.setValue(0.25)
    assert widget.settings.overrides()["toy_weight"] == 0.25
    viewer.add_image(stack(), name="cells", metadata={"axes": "TYX"})
    tiny(widget, "toy", "3 steps")
    widget.train()
    wait_idle(qtbot, widget)
    assert widget.model.config.method == "toy" and widget.model.config.toy_weight == 0.25
    assert "Toy smoother" in widget.model_label.text()
    assert viewer.layers["cells [denoised]"].data.shape == (2, 48, 48)


def test_the_advanced_rows_are_made_from_the_declarations(viewer_widget):
    from napari_blindspot.engine.settings import BY_NAME

    _, widget = viewer_widget
    s = widget.settings
    labels = [s.advanced_form.labelForField(s.general_editors[x.field]).text() for x in s.general]
    assert labels == ["Validation", "Seed", "Device", "Channels", "Tile size", "Stop when converged",
                      "Compile"]
    stop, compile_ = s.general_editors["stop_when_converged"], s.general_editors["compile"]
    assert stop.isChecked() and not compile_.isChecked()  # yes/no settings: check boxes
    compile_.setChecked(True)
    stop.setChecked(False)
    values = s.overrides(training=False)
    assert values["compile"] is True and values["stop_when_converged"] is False
    tile = BY_NAME["tile_size"]
    assert (s.tile.minimum(), s.tile.maximum(), s.tile.value()) == (*tile.editor_range, tile.default)
    assert s.seed.maximum() == 2 ** 31 - 1 and s.validation.maximum() == 0.45
    assert s.channels.itemText(0) == "auto (from the data)" and s.channels.currentData() == "auto"
    assert s.tile.toolTip().startswith("Denoising works on tiles")


@pytest.mark.parametrize("device, scale, want", [
    ("cuda", (0.1, 0.1, 0.1), True),    # near-isotropic on a GPU: 3D
    ("cuda", (0.4, 0.1, 0.1), False),   # z-spacing 4x: 2D
    ("cpu", (0.1, 0.1, 0.1), False),    # on a CPU: 2D
])
def test_a_z_stack_layer_preselects_2d_or_3d_from_its_scale(viewer_widget, monkeypatch, device,
                                                           scale, want):
    from types import SimpleNamespace

    monkeypatch.setattr("napari_blindspot.widget._qt.inputs_view.select_device",
                        lambda name: SimpleNamespace(type=device))
    viewer, widget = viewer_widget
    viewer.add_image(np.zeros((20, 32, 32), np.float32), name="volume", scale=scale,
                     units=("micrometer",) * 3, metadata={"axes": "ZYX"})
    assert widget.select_layer(viewer.layers["volume"])
    assert widget.axes_edit.text() == "ZYX"
    assert bool(widget.dim_combo.currentData()) is want
    assert ("3D training" if want else "2D training") in widget.dim_combo.toolTip()
