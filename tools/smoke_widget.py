"""Smoke test of the plugin as a user installs it: napari draws its canvas, then the dock
widget trains and denoises, with whatever torch build this environment has.

    xvfb-run -a python tools/smoke_widget.py            # or under any display

It opens a shown napari viewer with the bundled sample, lets the canvas draw (under Xvfb this
loads Mesa's OpenGL and its LLVM, which crashed training with the default torch build before
napari-blindspot guarded triton's import), then, for each method, clicks Train in the dock
widget for a few steps and waits for the denoised layer.  On a machine with a CUDA GPU the
same runs again on the GPU (autocast and the gradient scaler included).  It prints one line
per run and exits 0 only if every run produced a finite denoised layer.  It needs no test
packages, so it runs in the environment the README's first command makes.
"""

from __future__ import annotations

import argparse
import faulthandler
import sys
import time

faulthandler.enable()


def _wait(app, condition, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        app.processEvents()
        if condition():
            return True
        time.sleep(0.01)
    return False


def _run_once(app, viewer, widget, method: str, device: str, timeout_s: float) -> str:
    import numpy as np

    done: list[dict] = []
    widget.denoising_finished.connect(done.append)
    try:
        widget.set_method(method)
        s = widget.settings
        s.length.setText("6 steps")
        s.patch.setValue(32)
        s.batch.setValue(2)
        s.width_box.setValue(8)
        s.depth_box.setValue(2)
        index = s.device.findData(device)
        if index < 0:
            raise RuntimeError(f"device {device!r} is not offered by the widget")
        s.device.setCurrentIndex(index)
        widget.train()
        if not _wait(app, lambda: bool(done) and widget.busy is None, timeout_s):
            raise RuntimeError(f"no denoised layer after {timeout_s:.0f} s (busy: {widget.busy})")
    finally:
        widget.denoising_finished.disconnect(done.append)
    layer = done[-1]["denoised"]
    data = np.asarray(layer.data)
    if not np.isfinite(data).all():
        raise RuntimeError("the denoised layer holds NaN or infinite values")
    return f"{layer.name!r} {data.shape}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default="n2v2,hqssl", help="comma-separated methods")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per run")
    args = parser.parse_args(argv)

    import napari
    import torch
    from qtpy.QtWidgets import QApplication

    from napari_blindspot.engine.system.native_libs import foreign_llvm_loaded

    viewer = napari.Viewer(title="napari-blindspot smoke test", show=True)
    app = QApplication.instance()
    viewer.open_sample("napari-blindspot", "fluorescence")
    _, widget = viewer.window.add_plugin_dock_widget("napari-blindspot", "Self-supervised denoising")
    _wait(app, lambda: False, 1.0)  # let the canvas draw (this loads the OpenGL driver)
    try:
        import importlib.util

        has_triton = importlib.util.find_spec("triton") is not None
    except (ImportError, ValueError):
        has_triton = False
    print(f"torch {torch.__version__} (CUDA build: {torch.version.cuda or 'no'}, triton installed: "
          f"{has_triton}); graphics driver's LLVM loaded before training: {foreign_llvm_loaded()}",
          flush=True)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    failures = 0
    for device in devices:
        for method in [m.strip() for m in args.methods.split(",") if m.strip()]:
            start = time.monotonic()
            try:
                what = _run_once(app, viewer, widget, method, device, args.timeout)
                print(f"ok   {method} on {device}: trained and denoised {what} in "
                      f"{time.monotonic() - start:.1f} s", flush=True)
            except Exception as exc:  # noqa: BLE001 - reported, counted
                failures += 1
                print(f"FAIL {method} on {device}: {type(exc).__name__}: {exc}", flush=True)
    widget.shutdown()
    viewer.close()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
