"""Render the widget screenshots for the docs with a real napari window.

Run under a display, e.g. ``xvfb-run -a python docs/screenshots.py``.  Writes
``docs/images/widget_training.png`` (loss plot and live preview mid-training),
``docs/images/widget_result.png`` (noisy and denoised sample side by side, widget docked)
and ``docs/images/widget_panel.png`` (the widget alone).  Takes a few minutes on a CPU.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

from qtpy.QtCore import Qt
from qtpy.QtWidgets import QApplication, QDockWidget

from napari_blindspot.launch import launch

HERE = Path(__file__).resolve().parent


def wait_until(condition, timeout: float = 600.0) -> None:
    """Run the Qt event loop until ``condition()`` holds."""
    app = QApplication.instance()
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise TimeoutError("screenshot script timed out")
        app.processEvents()
        time.sleep(0.02)


def settle(seconds: float = 0.5) -> None:
    end = time.monotonic() + seconds
    wait_until(lambda: time.monotonic() > end)


def dismiss_notifications(window) -> None:
    """Close napari's notification toasts, which would cover the canvas."""
    from napari._qt.dialogs.qt_notification import NapariQtNotification

    for toast in window.findChildren(NapariQtNotification):
        toast.close()


def screenshot(viewer, path: Path) -> None:
    dismiss_notifications(viewer.window._qt_window)
    settle(0.5)
    viewer.window.screenshot(str(path), canvas_only=False)
    print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=600, help="training steps (default 600)")
    parser.add_argument("--out", type=Path, default=HERE / "images")
    parser.add_argument("--window", default="1500x1000",
                        help="window size, WIDTHxHEIGHT (default 1500x1000; 1089x633 shows the "
                             "dock in a small window)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    # napari's own deprecation notices would show up as toasts on the canvas
    warnings.filterwarnings("ignore", message=".*PyQt5.*")
    warnings.filterwarnings("ignore", message=".*System theme detection.*")
    viewer, widget = launch(sample=True, run=False)
    window = viewer.window._qt_window
    width, height = (int(v) for v in args.window.lower().split("x"))
    window.resize(width, height)
    window.showNormal()
    dock = widget.parent()
    while dock is not None and not isinstance(dock, QDockWidget):
        dock = dock.parent()
    if dock is not None and width >= 1400:  # a small window keeps the dock's default width
        window.resizeDocks([dock], [390], Qt.Orientation.Horizontal)
    settle(0.5)
    viewer.reset_view()
    noisy = viewer.layers["fluorescence (noisy)"]
    viewer.dims.set_current_step(0, 3)
    settle(1.0)

    widget.set_method("hqssl")
    widget.settings.length.setText(f"{args.steps} steps")
    widget.train()
    # mid-training: the loss curves and the live preview of the shown frame
    wait_until(lambda: widget.run is not None and widget.events_seen["preview"] >= 2
               and widget.run.step >= args.steps * 0.45)
    screenshot(viewer, args.out / "widget_training.png")

    wait_until(lambda: widget.busy is None)
    settle(0.5)
    viewer.open_sample("napari-blindspot", "fluorescence_clean")
    for layer in viewer.layers:
        layer.visible = layer.name in ("fluorescence (noisy)", "fluorescence (noisy) [denoised]")
    denoised = viewer.layers["fluorescence (noisy) [denoised]"]
    noisy.contrast_limits = denoised.contrast_limits
    viewer.layers.selection.active = denoised
    canvas = getattr(viewer, "canvas", None)
    grid = canvas.grid if canvas is not None and hasattr(canvas, "grid") else viewer.grid
    grid.enabled = True
    grid.shape = (1, 2)
    viewer.reset_view()
    settle(1.0)
    screenshot(viewer, args.out / "widget_result.png")
    widget.grab().save(str(args.out / "widget_panel.png"))
    print(f"wrote {args.out / 'widget_panel.png'}")
    viewer.close()


if __name__ == "__main__":
    main()
