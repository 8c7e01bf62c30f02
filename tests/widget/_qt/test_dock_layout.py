"""The dock in a small window (issue 10: a new user's 1089 x 633 napari window under Xvfb):
nothing is cut off at the dock's width, Train, its progress and the loss plot are in view
without scrolling, the launcher fits the sample to the canvas, and the sample opens next to
the user's own images without napari's unit warnings."""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pytest

pytest.importorskip("napari")
pytest.importorskip("pytestqt")

from qtpy.QtCore import QRect  # noqa: E402
from qtpy.QtWidgets import (QAbstractSpinBox, QComboBox, QLabel, QScrollArea,  # noqa: E402
                            QWidget)

pytestmark = pytest.mark.gui

PLUGIN = "napari-blindspot"
WIDGET = "Self-supervised denoising"
WINDOW = (1089, 633)
METHODS = ("n2v2", "n2v", "hqssl", "n2n")


@pytest.fixture
def small_window(make_napari_viewer, qtbot):
    """A shown viewer in a 1089 x 633 window with the sample and the dock (at its default width)."""
    viewer = make_napari_viewer(show=True)
    window = viewer.window._qt_window
    window.resize(*WINDOW)
    viewer.open_sample(PLUGIN, "fluorescence")
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, WIDGET)
    qtbot.waitUntil(lambda: widget.isVisible() and widget.width() > 0, timeout=10_000)
    settle(qtbot)
    assert (window.width(), window.height()) == WINDOW
    yield viewer, widget
    widget.shutdown()


def settle(qtbot) -> None:
    qtbot.wait(150)  # layouts settle in the event loop


def scroll_area(widget) -> QScrollArea:
    area = widget.findChild(QScrollArea)
    assert area is not None
    return area


def clipped(widget) -> list[str]:
    """The visible widgets of the dock that do not fit its width, or are narrower than they
    must be to show what they hold (texts, the arrow of a combo box, a spin box's buttons)."""
    area = scroll_area(widget)
    viewport = area.viewport()
    content = area.widget()
    bad = []
    if content.minimumSizeHint().width() > viewport.width():
        bad.append(f"content needs {content.minimumSizeHint().width()} px of {viewport.width()}")
    for child in content.findChildren(QWidget):
        if not child.isVisibleTo(content) or child.width() == 0:
            continue
        name = f"{type(child).__name__} {getattr(child, 'text', lambda: '')()!r}"[:80]
        parent = child.parentWidget()
        if child.geometry().right() > parent.width() - 1 or child.geometry().left() < 0:
            bad.append(f"{name} sticks out of its parent: {child.geometry()} in {parent.width()} px")
        left = child.mapTo(viewport, child.rect().topLeft()).x()
        right = child.mapTo(viewport, child.rect().topRight()).x()
        if left < 0 or right > viewport.width() - 1:
            bad.append(f"{name} is cut off by the dock: x {left}..{right} of {viewport.width()}")
        if isinstance(child, QLabel) and not child.wordWrap() and child.text():
            if child.width() < child.minimumSizeHint().width():
                bad.append(f"{name} is cut: {child.width()} < {child.minimumSizeHint().width()} px")
        if isinstance(child, QComboBox) and child.width() < child.minimumSizeHint().width():
            bad.append(f"{name} hides its arrow: {child.width()} < {child.minimumSizeHint().width()} px")
        if isinstance(child, QAbstractSpinBox) and child.width() < child.minimumWidth():
            bad.append(f"{name} hides its buttons: {child.width()} < {child.minimumWidth()} px")
    return bad


@pytest.mark.parametrize("method", METHODS)
def test_nothing_is_cut_off_at_the_docks_width_with_3d(small_window, qtbot, method):
    viewer, widget = small_window
    viewer.add_image(np.zeros((2, 24, 64, 64), np.float32), name="volume")
    assert widget.select_layer(viewer.layers["volume"])
    widget.dim_combo.setCurrentIndex(1)  # 3D: the Z patch size appears
    widget.set_method(method)
    settle(qtbot)
    assert widget.settings.patch_z.isVisible() and widget.method_help.isVisible()
    assert clipped(widget) == []
    widget.settings.toggle.setChecked(True)  # the advanced settings too
    settle(qtbot)
    assert clipped(widget) == []


def test_nothing_is_cut_off_in_the_narrowest_dock(small_window, qtbot):
    from qtpy.QtCore import Qt
    from qtpy.QtWidgets import QDockWidget

    viewer, widget = small_window
    dock = widget.parent()
    while not isinstance(dock, QDockWidget):
        dock = dock.parent()
    viewer.window._qt_window.resizeDocks([dock], [10], Qt.Orientation.Horizontal)  # as narrow as it goes
    viewer.add_image(np.zeros((2, 24, 64, 64), np.float32), name="volume")
    widget.select_layer(viewer.layers["volume"])
    widget.dim_combo.setCurrentIndex(1)
    settle(qtbot)
    assert widget.width() <= 340
    assert clipped(widget) == []


def in_view(widget, part: QWidget) -> bool:
    """Whether ``part`` is wholly inside the dock's visible area and the main window."""
    area = scroll_area(widget)
    viewport = area.viewport()
    top_left = part.mapTo(viewport, part.rect().topLeft())
    rect = QRect(top_left, part.size())
    window = widget.window()
    in_window = QRect(part.mapTo(window, part.rect().topLeft()), part.size())
    return viewport.rect().contains(rect) and window.rect().contains(in_window)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("three_d", [False, True])
def test_train_progress_and_loss_plot_are_in_view_in_a_1089x633_window(small_window, qtbot, method,
                                                                       three_d):
    viewer, widget = small_window
    if three_d:
        viewer.add_image(np.zeros((2, 24, 64, 64), np.float32), name="volume")
        widget.select_layer(viewer.layers["volume"])
        widget.dim_combo.setCurrentIndex(1)
    widget.set_method(method)
    settle(qtbot)
    assert scroll_area(widget).verticalScrollBar().value() == 0
    for part in (widget.train_button, widget.progress, widget.loss_plot):
        assert part.isVisible() and in_view(widget, part), type(part).__name__


def test_the_results_section_folds_and_opens_for_denoising(small_window, qtbot):
    _, widget = small_window
    fold = widget.results_fold
    assert fold.is_open and widget.denoise_button.isVisible()
    fold.header.click()
    assert not fold.is_open and not widget.denoise_button.isVisible()
    assert widget.message.isVisible() or widget.message.text() == ""  # messages stay outside it
    assert widget.message.parentWidget() is not widget.results
    fold.set_open(True)
    assert widget.denoise_button.isVisible()


def test_launch_fits_the_sample_to_the_canvas(make_napari_viewer, monkeypatch, qtbot):
    import napari

    from napari_blindspot.launch import launch

    monkeypatch.setattr(napari, "Viewer", lambda **kwargs: make_napari_viewer(show=True, **kwargs))
    viewer, widget = launch(sample=True, run=False)
    window = viewer.window._qt_window
    window.resize(*WINDOW)
    qtbot.wait(300)  # the event loop runs: launch's second fit, after the window's layout
    canvas = viewer.window._qt_viewer.canvas.native
    size = np.array([canvas.height(), canvas.width()], float)
    layer = viewer.layers["fluorescence (noisy)"]
    extent = np.array(layer.extent.world[1][-2:] - layer.extent.world[0][-2:], float)
    zoom = viewer.camera.zoom if hasattr(viewer, "camera") else viewer.scene.camera.zoom
    drawn = extent * zoom
    assert (drawn <= size + 1).all(), f"sample drawn {drawn} px on a {size} px canvas"
    assert (drawn >= 0.5 * size).any()  # and fitted, not tiny


def test_the_sample_opens_next_to_plain_images_without_unit_warnings(make_napari_viewer, caplog):
    viewer = make_napari_viewer()
    with warnings.catch_warnings(record=True) as seen, caplog.at_level(logging.WARNING):
        warnings.simplefilter("always")
        viewer.open_sample(PLUGIN, "fluorescence")  # through the npe2 sample contribution
        mine = viewer.add_image(np.zeros((256, 256), np.float32), name="mine")
    messages = [str(w.message) for w in seen] + [r.getMessage() for r in caplog.records]
    assert not [m for m in messages if "units" in m.lower()], messages
    sample = viewer.layers["fluorescence (noisy)"]
    np.testing.assert_allclose(sample.scale[-2:], mine.scale)  # drawn at the same size
    assert {str(u) for u in sample.units} == {str(u) for u in mine.units} == {"pixel"}


BIG_WINDOW = (1400, 900)


@pytest.mark.parametrize("method", ("hqssl", "n2v2"))
@pytest.mark.parametrize("narrow", [False, True])
def test_train_the_plot_and_the_result_actions_stay_in_view_after_a_run(make_napari_viewer, qtbot,
                                                                        method, narrow):
    """Issue 20: after an HQ-SSL run its noise plot pushed Export TIFF and the result message
    below the fold of a 1400 x 900 window."""
    from qtpy.QtCore import Qt
    from qtpy.QtWidgets import QDockWidget

    from test_dock import stack, tiny, wait_idle

    viewer = make_napari_viewer(show=True)
    window = viewer.window._qt_window
    window.resize(*BIG_WINDOW)
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, WIDGET)
    try:
        qtbot.waitUntil(lambda: widget.isVisible() and widget.width() > 0, timeout=10_000)
        if narrow:
            dock = widget.parent()
            while not isinstance(dock, QDockWidget):
                dock = dock.parent()
            window.resizeDocks([dock], [10], Qt.Orientation.Horizontal)
        viewer.add_image(stack(frames=2, size=64), name="cells", metadata={"axes": "TYX"})
        tiny(widget, method, "6 steps")
        widget.train()
        wait_idle(qtbot, widget)
        settle(qtbot)
        assert widget.message.text().startswith("Done:")
        if method == "hqssl":
            assert widget.controller.noise_curves.curves  # the noise plot has something to show
            assert widget.noise_fold.isVisible() and widget.training.noise_panel.isVisible()
        else:
            assert not widget.noise_fold.isVisible()
        assert scroll_area(widget).verticalScrollBar().value() == 0
        for part in (widget.train_button, widget.progress, widget.loss_plot, widget.export_button,
                     widget.export_dtype, widget.message):
            assert part.isVisible() and in_view(widget, part), (type(part).__name__, part.geometry())
        assert clipped(widget) == []
    finally:
        widget.shutdown()
