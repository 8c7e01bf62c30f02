"""The dock with every setting left alone (issue 20): the engine's default plan (HQ-SSL for a
time budget, the command line's one-shot default), the expected duration before Train, and a
run on a real multi-frame TIFF opened with napari's own ``viewer.open``."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("napari")
pytest.importorskip("pytestqt")

import tifffile  # noqa: E402

from napari_blindspot.cli.options import DEFAULT_METHOD, ONE_SHOT_MINUTES  # noqa: E402
from napari_blindspot.engine import TrainConfig  # noqa: E402
from napari_blindspot.engine.defaults import default_plan  # noqa: E402
from napari_blindspot.samples.fluorescence import fluorescence_timelapse  # noqa: E402

from test_dock import PLUGIN, WIDGET, wait_idle  # noqa: E402

pytestmark = pytest.mark.gui


@pytest.fixture
def docked(make_napari_viewer):
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, WIDGET)
    yield viewer, widget
    widget.shutdown()


def test_the_widget_starts_from_the_engines_defaults_and_says_how_long(docked, qtbot, monkeypatch):
    viewer, widget = docked
    # the estimate scales with the threads: one, so that its seconds stay readable on any machine
    monkeypatch.setattr("napari_blindspot.widget.expected.interactive_threads", lambda: 1)
    plan = default_plan("cpu")
    assert widget.inputs.method == plan.method == DEFAULT_METHOD == "hqssl"
    assert widget.settings.method == "hqssl"
    assert widget.settings.overrides()["time_budget_s"] == plan.time_budget_s == ONE_SHOT_MINUTES * 60
    assert widget.settings.length.text() == "45 s"
    # the method's own defaults for the device, as on the command line (HQ-SSL: patches of 128)
    cli_like = TrainConfig.for_method("hqssl", **plan.length)
    assert widget.settings.patch.value() == cli_like.patch_size == 128
    assert widget.settings.batch.value() == cli_like.batch_size
    widget.set_method("n2v2")  # an untouched patch follows the method
    assert widget.settings.patch.value() == TrainConfig.for_method("n2v2").patch_size == 64
    widget.settings.patch.setValue(96)  # a typed one stays
    widget.set_method("hqssl")
    assert widget.settings.patch.value() == 96
    widget.settings.patch.setValue(128)
    viewer.add_image(np.zeros((20, 512, 512), np.uint16), name="movie", metadata={"axes": "TYX"})
    widget.update_expected()
    short, tip = widget.progress.format(), widget.progress.toolTip()
    assert short.startswith("ready · about ") and short.endswith("expected"), short
    assert tip.startswith("Expected: about ") and "training 45 s" in tip and "denoising about" in tip
    assert tip in widget.train_button.toolTip()
    widget.settings.length.setText("1500 steps")  # a step count: the measured rate of the method
    widget.set_method("n2v2")
    qtbot.waitUntil(lambda: "training 45 s" not in widget.progress.toolTip(), timeout=5_000)
    assert widget.progress.toolTip().startswith("Expected: about ")
    assert widget.select_layer(viewer.add_image(np.zeros((512, 512), np.uint16), name="frame"))
    widget.set_method("hqssl")
    widget.update_expected()  # the denoising counts the test-time augmentation, as checked
    with_tta = widget.progress.toolTip()
    assert widget.settings.tta.isChecked() and "denoising about" in with_tta
    widget.settings.tta.setChecked(False)
    qtbot.waitUntil(lambda: widget.progress.toolTip() not in ("", with_tta), timeout=5_000)
    widget.settings.tta.setChecked(True)
    qtbot.waitUntil(lambda: widget.progress.toolTip() == with_tta, timeout=5_000)
    widget.settings.length.setText("nonsense")
    qtbot.waitUntil(lambda: widget.progress.toolTip() == "", timeout=5_000)
    assert widget.progress.format() == "ready"


def test_defaults_train_hqssl_on_a_tiff_opened_by_napari(docked, qtbot, tmp_path):
    viewer, widget = docked
    movie = fluorescence_timelapse(frames=5, size=128, seed=3).noisy.astype(np.uint16)
    path = tmp_path / "movie.tif"
    tifffile.imwrite(path, movie, imagej=True, metadata={"axes": "TYX"})
    layers = viewer.open(str(path))
    assert widget.layer_picker.current_layer() is layers[0]
    assert widget.inputs.method == "hqssl"
    # every setting left alone but the length: a test hook keeps the run to a few steps
    widget.settings.length.setText("6 steps")
    widget.train()
    wait_idle(qtbot, widget)
    model = widget.model
    assert model is not None and model.config.method == "hqssl"
    assert model.info["steps"] == 6
    # the command line's settings (a 128-pixel patch shrinks to 64 on a 128x128 image, as there)
    assert model.config.noise_model == "curve" and model.config.patch_size == 64
    # the plot says what its curves are (HQ-SSL: a likelihood, below zero is normal)
    assert widget.loss_plot.legend() == ("train NLL", "held-out NLL")
    assert "below zero are normal" in widget.loss_plot.toolTip()
    assert widget.loss_plot.history.elapsed_s > 0 and "epoch" not in widget.progress.format()
    result = viewer.layers[f"{layers[0].name} [denoised]"]
    assert result.data.shape == movie.shape and np.isfinite(np.asarray(result.data)).all()


def test_a_still_time_lapse_suggests_measuring_the_noise_on_its_repeats(docked, qtbot):
    viewer, widget = docked
    clean = fluorescence_timelapse(frames=1, size=96, seed=1).clean[0]
    rng = np.random.default_rng(0)
    still = np.stack([4 * rng.poisson(clean / 4) for _ in range(5)]).astype(np.uint16)
    viewer.add_image(still, name="still", metadata={"axes": "TYX"})
    widget.update_expected()
    hint = widget.inputs.still_hint
    assert hint.isVisibleTo(widget) and "'repeats of a still scene (T)'" in hint.text()
    editor = widget.settings.panels["hqssl"].editors["noise_calibration"]
    editor.setCurrentIndex(editor.findData("repeats"))  # taken: the hint goes
    qtbot.waitUntil(lambda: not hint.isVisibleTo(widget), timeout=5_000)
    editor.setCurrentIndex(editor.findData("image"))
    qtbot.waitUntil(lambda: hint.isVisibleTo(widget), timeout=5_000)
    widget.set_method("n2v2")  # no noise model to calibrate
    qtbot.waitUntil(lambda: not hint.isVisibleTo(widget), timeout=5_000)
    viewer.add_image(fluorescence_timelapse(frames=5, size=96, seed=0).noisy, name="moving",
                     metadata={"axes": "TYX"})
    assert widget.select_layer(viewer.layers["moving"])  # the sample drifts: not still
    widget.set_method("hqssl")
    widget.update_expected()
    assert not hint.isVisibleTo(widget)


def test_no_thread_outlives_a_run_that_logged_from_its_worker(docked, qtbot, caplog):
    """A log record in the worker makes Python register a ``Dummy-N`` thread for Qt's pool
    thread; it must not outlive the run (issue 20)."""
    import logging
    import threading

    viewer, widget = docked
    rng = np.random.default_rng(0)
    clipped = np.clip(rng.normal(0, 20, (2, 64, 64)), 0, None).astype(np.uint16)  # half at 0
    viewer.add_image(clipped, name="clipped", metadata={"axes": "TYX"})
    widget.set_method("hqssl")
    widget.settings.length.setText("3 steps")
    widget.settings.patch.setValue(32)
    with caplog.at_level(logging.WARNING, logger="napari_blindspot"):
        widget.train()
        wait_idle(qtbot, widget)
    assert any("look clipped" in r.getMessage() and r.threadName.startswith("Dummy")
               for r in caplog.records)  # logged from the worker's thread
    qtbot.wait(100)
    assert [t.name for t in threading.enumerate() if isinstance(t, threading._DummyThread)] == []
