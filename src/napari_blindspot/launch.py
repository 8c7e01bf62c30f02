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
    if run:
        napari.run()
    return viewer, widget
