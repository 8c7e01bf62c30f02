"""Safety suite, the napari widget: a job that cannot fit, runs out of memory, or writes to a
full disk ends as a message in the widget; napari stays up, every layer stays as it was,
and files the user had are unchanged."""

from __future__ import annotations

import errno
import os

import numpy as np
import pytest

pytest.importorskip("napari")
pytest.importorskip("pytestqt")

import tifffile  # noqa: E402
import torch  # noqa: E402

from helpers_safety import fingerprint, noisy_stack  # noqa: E402

from napari_blindspot.engine import model_file  # noqa: E402
from napari_blindspot.engine.methods import N2V2  # noqa: E402
from napari_blindspot.engine.system import memory  # noqa: E402
from napari_blindspot.io.tiff import write_tiff  # noqa: E402

pytestmark = pytest.mark.gui

TIMEOUT_MS = 60_000


@pytest.fixture
def vw(make_napari_viewer):
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget("napari-blindspot", "Self-supervised denoising")
    viewer.add_image(noisy_stack(size=48), name="cells", metadata={"axes": "TYX"})
    widget.set_method("n2v2")
    s = widget.settings
    s.length.setText("3 steps")
    s.patch.setValue(32)
    s.batch.setValue(2)
    s.width_box.setValue(8)
    s.depth_box.setValue(2)
    s.tile.setValue(64)
    yield viewer, widget
    widget.shutdown()


def layers_of(viewer) -> list[tuple[str, int, bytes]]:
    return [(layer.name, id(layer.data), np.asarray(layer.data).tobytes()[:4096]) for layer in viewer.layers]


def wait_idle(qtbot, widget) -> None:
    qtbot.waitUntil(lambda: widget.busy is None, timeout=TIMEOUT_MS)


def train(qtbot, widget) -> None:
    widget.train()
    wait_idle(qtbot, widget)


def test_training_beyond_memory_is_refused_in_the_widget(qtbot, vw, monkeypatch):
    viewer, widget = vw
    monkeypatch.setenv(memory.ENV_LIMIT, "64M")
    widget.settings.batch.setValue(1024)
    before = layers_of(viewer)
    train(qtbot, widget)
    assert "lower the batch size to at most" in widget.message.text()
    assert layers_of(viewer) == before and widget.model is None
    monkeypatch.delenv(memory.ENV_LIMIT)
    widget.settings.batch.setValue(2)
    train(qtbot, widget)  # the viewer and the widget carry on
    assert "cells [denoised]" in [layer.name for layer in viewer.layers]


@pytest.mark.parametrize("exc", [torch.cuda.OutOfMemoryError("CUDA out of memory"), MemoryError()],
                         ids=["gpu", "cpu"])
def test_out_of_memory_while_training_keeps_napari_and_layers(qtbot, vw, monkeypatch, exc):
    viewer, widget = vw
    real = N2V2.loss

    def loss(self, net, batch, generator, channels=None):
        if batch.shape[1] > 1:
            raise exc
        return real(self, net, batch, generator, channels)

    monkeypatch.setattr(N2V2, "loss", loss)
    before = layers_of(viewer)
    train(qtbot, widget)
    text = widget.message.text()
    assert "Out of" in text and "the batch size" in text and "Advanced settings" in text
    assert layers_of(viewer) == before
    assert widget.train_button.isEnabled()


def test_nan_result_adds_no_layer(qtbot, vw, monkeypatch):
    viewer, widget = vw
    train(qtbot, widget)
    monkeypatch.setattr(N2V2, "infer", lambda self, net, x, channels=None: {"denoised": torch.full_like(x, float("nan"))})
    before = layers_of(viewer)
    widget.denoise()
    wait_idle(qtbot, widget)
    assert "NaN or infinite" in widget.message.text()
    assert layers_of(viewer) == before


def test_export_never_replaces_the_file_a_layer_came_from(qtbot, vw, tmp_path):
    viewer, widget = vw
    path = tmp_path / "raw.tif"
    write_tiff(path, noisy_stack(size=48), "TYX", dtype=np.uint16)
    [layer] = viewer.open(str(path), plugin="napari")
    layer.metadata["axes"] = "TYX"
    widget.select_layer(layer)
    widget.set_axes("TYX")
    train(qtbot, widget)
    before = fingerprint(tmp_path)
    assert widget.export(path) is None
    assert "opened from" in widget.message.text()
    assert fingerprint(tmp_path) == before


def test_export_to_a_full_disk_keeps_the_earlier_export(qtbot, vw, tmp_path, monkeypatch):
    viewer, widget = vw
    train(qtbot, widget)
    target = tmp_path / "export.tif"
    assert widget.export(target) == [target]
    before, layers = fingerprint(tmp_path), layers_of(viewer)
    real = tifffile.imwrite

    def full(path, data, **kwargs):
        real(path, data, **kwargs)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(tifffile, "imwrite", full)
    assert widget.export(target) is None
    assert "disk is full" in widget.message.text() and "unchanged" in widget.message.text()
    assert fingerprint(tmp_path) == before and layers_of(viewer) == layers


def test_saving_a_model_to_a_full_disk_keeps_the_earlier_file(qtbot, vw, tmp_path, monkeypatch):
    viewer, widget = vw
    train(qtbot, widget)
    target = tmp_path / "m.safetensors"
    widget.save_model(target)
    before = fingerprint(tmp_path)

    def full(tensors, path, metadata=None):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(model_file, "save_file", full)
    assert widget.save_model(target) is None
    assert "disk is full" in widget.message.text()
    assert fingerprint(tmp_path) == before


def test_loading_a_damaged_model_keeps_the_current_one(qtbot, vw, tmp_path):
    import json

    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    viewer, widget = vw
    train(qtbot, widget)
    good = tmp_path / "good.safetensors"
    widget.save_model(good)
    with safe_open(str(good), framework="pt") as f:
        meta = dict(f.metadata())
    meta["normalization"] = json.dumps({"mean": [100.0], "std": [0.0]})
    bad = tmp_path / "bad.safetensors"
    save_file(load_file(str(good)), str(bad), metadata=meta)
    current, layers = widget.model, layers_of(viewer)
    assert widget.load_model(bad) is None
    assert "damaged" in widget.message.text() and "not positive" in widget.message.text()
    assert widget.model is current and layers_of(viewer) == layers


def test_a_package_that_runs_code_asks_first_and_no_keeps_everything(qtbot, vw, tmp_path, monkeypatch):
    """The dock asks (a warning dialog, default No) before a package may run its own code."""
    pytest.importorskip("bioimageio.core")
    from helpers_bioimageio import foreign_package
    from qtpy.QtWidgets import QMessageBox

    viewer, widget = vw
    package, _ = foreign_package(tmp_path)
    asked: list[str] = []

    def answer(parent, title, text, buttons, default):
        asked.append(text)
        assert default == QMessageBox.StandardButton.No
        return QMessageBox.StandardButton.No
    monkeypatch.setattr(QMessageBox, "warning", answer)
    current, layers = widget.model, layers_of(viewer)
    assert widget.load_model(package) is None
    assert len(asked) == 1 and "smooth.py" in asked[0] and "--trust-code" in asked[0]
    assert "did not allow" in widget.message.text()
    assert widget.model is current and layers_of(viewer) == layers
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: QMessageBox.StandardButton.Yes)
    assert widget.load_model(package) is not None
