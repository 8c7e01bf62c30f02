"""UI responsiveness: gaps between 10 ms timer ticks on napari's main thread while the dock
widget trains.

Opens a real napari viewer (needs a display: ``benchmarks/run.py`` starts this file under
``xvfb-run`` when there is none), adds a noisy fluorescence stack, docks napari-blindspot's widget,
starts training through the widget (its ``train()`` method, or its "Train" button), and records
the time of every tick of a 10 ms ``QTimer`` on the main thread.  Reports the longest and the
99th-percentile gap during training, and the same while idle for reference.  If
``napari_blindspot.widget`` (or napari, Qt, a display) is missing, it reports "not available"
with the reason and exits 0::

    xvfb-run -a python -m benchmarks.ui_responsiveness --seconds 20 --json ui.json
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np

TICK_MS = 10


def _gaps_ms(ticks: list[float]) -> dict[str, Any]:
    if len(ticks) < 3:
        return {"ticks": len(ticks)}
    gaps = np.diff(np.asarray(ticks)) * 1000.0
    return {"ticks": len(ticks), "max_gap_ms": float(gaps.max()),
            "p99_gap_ms": float(np.percentile(gaps, 99)), "median_gap_ms": float(np.median(gaps)),
            "gaps_over_50ms": int((gaps > 50).sum()), "gaps_over_100ms": int((gaps > 100).sum())}


def _window(ticks: list[float], t0: float, t1: float) -> dict[str, Any]:
    """Gaps between the ticks that end in ``(t0, t1]``, plus the first one ending after ``t1``
    (a stall that straddles ``t1`` belongs to the window it started in), with the time of the
    longest gap's start measured from ``t0``."""
    arr = np.asarray(ticks)
    if arr.size < 2:
        return {"ticks": int(arr.size)}
    lo = max(0, int(np.searchsorted(arr, t0, side="right")) - 1)  # last tick <= t0
    hi = min(arr.size - 1, int(np.searchsorted(arr, t1, side="right")))  # first tick > t1
    sel = arr[lo:hi + 1]
    out = _gaps_ms(sel.tolist())
    if sel.size >= 2:
        k = int(np.argmax(np.diff(sel)))
        out["max_gap_at_s"] = float(sel[k] - t0)
    return out


class StallSampler:
    """A background thread that records the main thread's Python stack whenever the timer
    ticks stop for longer than ``threshold_ms``: where the main thread spends a stall.

    ``stalls`` holds ``{"at": perf_counter time, "late_ms": ..., "stack": [lines]}``, one per
    stall (sampled once, ``threshold_ms`` after the last tick).
    """

    def __init__(self, ticks: list[float], threshold_ms: float = 40.0) -> None:
        self.ticks = ticks
        self.threshold_s = threshold_ms / 1000.0
        self.stalls: list[dict[str, Any]] = []
        self._main = threading.main_thread().ident
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

        self.collections: list[dict[str, Any]] = []
        self._gc_start: float | None = None

    def start(self) -> "StallSampler":
        gc.callbacks.append(self._on_gc)
        self._thread.start()
        return self

    def stop(self) -> list[dict[str, Any]]:
        self._stop.set()
        self._thread.join(timeout=1.0)
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)
        return self.stalls

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        """Python's garbage collections over 10 ms (they hold the GIL: every thread waits)."""
        now = time.perf_counter()
        if phase == "start":
            self._gc_start = now
        elif self._gc_start is not None and now - self._gc_start > 0.01:
            self.collections.append({"at": self._gc_start, "ms": (now - self._gc_start) * 1000.0,
                                     "generation": info.get("generation"),
                                     "thread": threading.current_thread().name})

    def _loop(self) -> None:
        sampled_for: float | None = None
        while not self._stop.wait(0.005):
            if not self.ticks:
                continue
            last = self.ticks[-1]
            late = time.perf_counter() - last
            if late > self.threshold_s and sampled_for != last:
                sampled_for = last
                frame = sys._current_frames().get(self._main)
                stack = traceback.format_stack(frame)[-12:] if frame is not None else []
                self.stalls.append({"at": last, "late_ms": late * 1000.0,
                                    "stack": [line.rstrip() for line in stack]})


def _find_button(widget: Any, text: str) -> Any:
    from qtpy.QtWidgets import QPushButton

    for button in widget.findChildren(QPushButton):
        if button.text().strip().lower().startswith(text.lower()):
            return button
    return None


def measure(seconds: float, method: str, frames: int, size: int, idle_s: float = 2.0,
            trace_stalls: bool = False, preview: bool = True) -> dict:
    """Train for ``seconds`` in the widget and measure timer gaps; raises ImportError if absent."""
    import napari_blindspot.widget._qt.dock as widget_module  # noqa: F401  (the hook: skip if absent)
    from qtpy.QtCore import QEventLoop, QTimer

    import napari
    from napari_blindspot.samples.fluorescence import fluorescence_timelapse

    sample = fluorescence_timelapse(frames=frames, size=size, seed=0)
    viewer = napari.Viewer(show=True)
    try:
        viewer.add_image(sample.noisy, name="noisy")
        widget = None
        try:
            _dock, widget = viewer.window.add_plugin_dock_widget(
                "napari-blindspot", "Self-supervised denoising")
        except Exception:
            widget_cls = getattr(widget_module, "BlindspotWidget")
            widget = widget_cls(viewer)
            viewer.window.add_dock_widget(widget, name="napari-blindspot")

        combo = getattr(widget, "method_combo", None)
        if combo is not None and hasattr(combo, "findData"):
            index = combo.findData(method)
            if index >= 0:
                combo.setCurrentIndex(index)
        settings = getattr(widget, "settings", None)
        length = getattr(settings, "length", None)
        if length is not None and hasattr(length, "setText"):
            length.setText(f"{seconds:g} s")
        live = getattr(settings, "live_preview", None)
        if live is not None:
            live.setChecked(preview)

        ticks: list[float] = []
        timer = QTimer()
        timer.setInterval(TICK_MS)
        timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
        loop = QEventLoop()

        def spin(duration_s: float) -> None:
            QTimer.singleShot(int(duration_s * 1000), loop.quit)
            loop.exec_() if hasattr(loop, "exec_") else loop.exec()

        spin(1.0)  # let the window settle
        timer.start()
        spin(idle_s)
        idle = _gaps_ms(list(ticks))

        ticks.clear()
        marks: dict[str, float] = {}
        sampler = StallSampler(ticks).start() if trace_stalls else None

        def on_job_done(name: Any = "training") -> None:
            marks.setdefault(str(name), time.perf_counter())

        sig = getattr(widget, "job_done", None)
        if sig is not None and hasattr(sig, "connect"):
            sig.connect(on_job_done)
        else:
            sig = getattr(widget, "training_finished", None)
            if sig is not None and hasattr(sig, "connect"):
                sig.connect(lambda *_: on_job_done("training"))
        t_click = time.perf_counter()
        if hasattr(widget, "train"):
            widget.train()
        else:
            button = _find_button(widget, "Train")
            if button is None:
                raise RuntimeError("the widget has neither train() nor a 'Train' button")
            button.click()
        # the click's own handling (validating settings, adding the hidden preview layer) is
        # the response to the click, reported apart; training runs in the background after it
        t_start = time.perf_counter()
        click_ms = (t_start - t_click) * 1000.0
        deadline = t_start + seconds + 60.0
        stopped = False
        while "training" not in marks and time.perf_counter() < deadline:
            spin(0.1)
            if not stopped and time.perf_counter() - t_start > seconds + 5.0:
                stopped = True  # the length setting was not honoured: stop it ourselves
                if hasattr(widget, "stop"):
                    widget.stop()
        t_trained = marks.get("training", time.perf_counter())
        # the widget denoises the layer after training: wait for that job too, then settle
        deadline = time.perf_counter() + 120.0
        while time.perf_counter() < deadline:
            spin(0.1)
            if getattr(widget, "busy", None) is None and time.perf_counter() - t_trained > 0.5:
                break
        t_idle = time.perf_counter()
        spin(0.5)
        all_ticks = list(ticks)
        training = _window(all_ticks, t_start, t_trained)
        training["duration_s"] = t_trained - t_start
        training["finished_by_itself"] = "training" in marks and not stopped
        first_after = next((t for t in all_ticks if t > t_trained), t_trained)
        after = _window(all_ticks, first_after, t_idle)
        after["duration_s"] = t_idle - t_trained
        timer.stop()
        events = getattr(widget, "events_seen", None)
        result = {"available": True, "method": method, "image_shape": list(sample.noisy.shape),
                  "seconds": seconds, "tick_ms": TICK_MS, "idle": idle, "click_ms": click_ms,
                  "preview": preview,
                  "training": training,
                  "after_training": after, "widget_events": dict(events) if events else None}
        if sampler is not None:
            result["stalls"] = [dict(st, at_s=st["at"] - t_start) for st in sampler.stop()]
            result["garbage_collections"] = [dict(c, at_s=c["at"] - t_start)
                                             for c in sampler.collections]
        return result
    finally:
        try:
            viewer.close()
        except Exception:
            pass


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=20.0, help="training length [20]")
    p.add_argument("--method", default="n2v2")
    p.add_argument("--frames", type=int, default=8)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--json", required=True, help="where to write the result")
    p.add_argument("--no-preview", action="store_true",
                   help="train with the widget's live preview switched off")
    p.add_argument("--trace-stalls", action="store_true",
                   help="record the main thread's stack during every stall over 40 ms")
    args = p.parse_args(argv)
    try:
        result = measure(args.seconds, args.method, args.frames, args.size,
                         trace_stalls=args.trace_stalls, preview=not args.no_preview)
    except ImportError as exc:
        result = {"available": False, "reason": f"not available: {exc}"}
    except Exception as exc:
        result = {"available": False, "reason": f"failed: {type(exc).__name__}: {exc}",
                  "traceback": traceback.format_exc()}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k != "traceback"}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
