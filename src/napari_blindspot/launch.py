"""Open napari with the denoising widget docked (and the sample data loaded)."""

from __future__ import annotations

from typing import Any

from .engine.errors import BlindspotError

PLUGIN = "napari-blindspot"
WIDGET = "Self-supervised denoising"
SAMPLE = "fluorescence"


def launch(sample: bool = True, *, run: bool = True) -> tuple[Any, Any]:
    """Open a napari viewer with the widget docked; with ``sample``, load the noisy sample.

    With ``run`` (the default) this blocks in napari's event loop until the window is
    closed.  Returns ``(viewer, widget)``.
    """
    try:
        import napari
    except ImportError as exc:  # napari is optional: the [napari] extra
        raise BlindspotError(f"napari is not installed here ({exc}): install the plugin with "
                             "pip install \"napari-blindspot[napari]\" (or [all]).") from exc

    viewer = napari.Viewer(title="napari-blindspot")
    if sample:
        viewer.open_sample(PLUGIN, SAMPLE)
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, WIDGET)
    fit_view(viewer, widget)
    if run:
        napari.run()
    return viewer, widget


def fit_view(viewer: Any, context: Any) -> None:
    """Fit the layers to the canvas as it is once the window is laid out.

    napari fits the first layer to the canvas when it is added, but the dock docked after
    it narrows the canvas (and the window may still be resized by the window manager), so the
    sample would be zoomed wider than the canvas: fit now, and again once the event loop runs
    (unless ``context``, a Qt object of the window, is gone by then).
    """
    from qtpy.QtCore import QTimer
    from qtpy.QtWidgets import QApplication

    app = QApplication.instance()
    if app is not None:
        app.processEvents()  # the dock and the window's layout take their sizes
    viewer.reset_view()
    timer = QTimer(context)  # goes with ``context``: never fires on a closed viewer
    timer.setSingleShot(True)
    timer.timeout.connect(viewer.reset_view)
    timer.start(0)
