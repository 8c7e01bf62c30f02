"""bioimage.io in the dock widget: "Export to bioimage.io…" writes a package in a worker
thread, "Load model…" opens packages, a bad file is one message.  The file dialogs are patched
to return the test's paths.  Needs the ``bioimageio`` extra; skipped without it.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("napari")
pytest.importorskip("pytestqt")
pytest.importorskip("bioimageio.core", reason="needs the bioimageio extra")

from qtpy.QtWidgets import QFileDialog  # noqa: E402

from napari_blindspot.engine import DenoisingModel  # noqa: E402
from napari_blindspot.engine.loading import load_model  # noqa: E402
from napari_blindspot.samples.fluorescence import fluorescence_timelapse  # noqa: E402

pytestmark = pytest.mark.gui

PLUGIN = "napari-blindspot"
WIDGET = "Self-supervised denoising"
TIMEOUT_MS = 120_000


@pytest.fixture
def viewer_widget(make_napari_viewer):
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, WIDGET)
    yield viewer, widget
    widget.shutdown()


def tiny(widget) -> None:
    widget.set_method("hqssl")
    s = widget.settings
    s.length.setText("4 steps")
    s.patch.setValue(32)
    s.batch.setValue(2)
    s.tile.setValue(96)


def wait_idle(qtbot, widget) -> None:
    qtbot.waitUntil(lambda: widget.busy is None, timeout=TIMEOUT_MS)


def test_export_load_and_denoise_through_the_buttons(qtbot, viewer_widget, tmp_path, monkeypatch):
    viewer, widget = viewer_widget
    data = fluorescence_timelapse(frames=2, size=96, seed=0).noisy
    viewer.add_image(data, name="cells", metadata={"axes": "TYX"})
    assert not widget.bioimageio_button.isEnabled()  # no model yet
    tiny(widget)
    widget.train()
    wait_idle(qtbot, widget)
    assert widget.bioimageio_button.isEnabled()
    model = widget.model
    want = model.predict(data, "TYX", uncertainty=True)

    package = tmp_path / "cells.zip"
    asked: list[str] = []

    def save_dialog(parent, title, name, filters):
        asked.append(name)
        return str(package), filters

    monkeypatch.setattr(QFileDialog, "getSaveFileName", save_dialog)
    widget.bioimageio_button.click()
    assert widget.busy == "exporting"  # in a worker: the buttons wait for it
    assert not widget.train_button.isEnabled() and not widget.bioimageio_button.isEnabled()
    wait_idle(qtbot, widget)
    assert asked == ["cells_model.zip"]
    assert package.is_file() and "Exported the model to" in widget.message.text()
    # the default network needs more than this layer's 96 pixels for the test input
    assert "synthetic image, because 'cells' is 96 pixels along Y" in widget.message.text()
    assert widget.train_button.isEnabled() and widget.bioimageio_button.isEnabled()
    loaded = load_model(package, device="cpu")
    assert isinstance(loaded, DenoisingModel)
    got = loaded.predict(data, "TYX", uncertainty=True)
    for key in ("denoised", "uncertainty"):
        np.testing.assert_allclose(got[key], want[key], rtol=1e-4, atol=1e-3 * float(data.std()))

    # Load model… opens the package; Denoise gives the same result
    widget.reset()
    viewer.layers.remove("cells [denoised]")
    viewer.layers.remove("cells [uncertainty]")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(package), ""))
    widget.load_button.click()
    assert "loaded from cells.zip" in widget.model_label.text()
    widget.select_layer(viewer.layers["cells"])
    widget.settings.tta.setChecked(False)  # `want` was predicted without test-time augmentation
    widget.denoise_button.click()
    wait_idle(qtbot, widget)
    np.testing.assert_allclose(viewer.layers["cells [denoised]"].data, want["denoised"],
                               rtol=1e-4, atol=1e-3 * float(data.std()))


def test_a_bad_package_is_one_message_and_the_widget_stays_usable(qtbot, viewer_widget, tmp_path,
                                                                   monkeypatch):
    viewer, widget = viewer_widget
    viewer.add_image(fluorescence_timelapse(frames=2, size=96, seed=0).noisy, name="cells",
                     metadata={"axes": "TYX"})
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"not a zip")
    messages: list[tuple[str, str]] = []
    widget.controller.message.connect(lambda text, level: messages.append((level, text)))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(bad), ""))
    widget.load_button.click()
    assert [level for level, _ in messages] == ["error"]
    assert "not a readable bioimage.io package" in widget.message.text()
    assert widget.model is None and widget.busy is None
    assert widget.load_button.isEnabled() and widget.train_button.isEnabled()
    tiny(widget)
    widget.train()
    wait_idle(qtbot, widget)
    assert "cells [denoised]" in [layer.name for layer in viewer.layers]
