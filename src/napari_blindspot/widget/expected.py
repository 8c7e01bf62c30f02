"""What the widget says before Train: the expected duration of training plus denoising, and
the suggestion to measure the noise across the frames of a still time-lapse.

No Qt here.  The settings shown start from the engine's one default plan
(:func:`~napari_blindspot.engine.defaults.default_plan`); the estimate uses the engine's
measured rates (:func:`~napari_blindspot.engine.training.duration.expected_duration`) with the threads
the widget trains with (all cores but one: one stays for the interface).
"""

from __future__ import annotations

import logging
import weakref
from typing import Any

from ..engine import BlindspotError, TrainConfig, method_class, select_device
from ..engine.defaults import DefaultPlan, default_plan, one_shot_tta
from ..engine.system.device import interactive_threads
from ..engine.training.duration import DURATION_WARNING_S, expected_duration
from ..engine.methods.hqssl.stillness import Stillness, stillness
from ..text import format_duration, still_scene_hint

log = logging.getLogger(__name__)


def widget_plan(device_name: str = "auto") -> DefaultPlan:
    """The default plan for the device the widget would train on."""
    try:
        kind = select_device(device_name).type
    except BlindspotError:
        kind = "cpu"
    return default_plan(kind)


def expected_text(method: str, settings: dict[str, Any], shape: tuple[int, ...] | None,
                  axes: str, train_3d: bool = False, tta: bool = False) -> tuple[str, str]:
    """``(short, long)``: e.g. ``ready · about 3:43 expected`` for the progress bar and
    ``Expected: about 3:43 (training 2:45, denoising about 58 s on 1 CPU thread).`` for its
    tooltip; empty texts when the layer or the settings do not allow an estimate.  ``tta``:
    the denoising averages the test-time augmentation the widget predicts with
    (:func:`~napari_blindspot.engine.defaults.one_shot_tta`), whose passes it counts."""
    if shape is None or not axes:
        return "", ""
    try:
        config = TrainConfig.for_method(method, axes=axes, train_3d=train_3d and "Z" in axes.upper(),
                                        **settings)
        kind = select_device(config.device).type
    except (BlindspotError, TypeError, ValueError) as exc:
        log.debug("no expected duration: %s", exc)
        return "", ""
    threads = interactive_threads()
    transforms = one_shot_tta(tuple(shape), method_class(method).shares_tta(config)) if tta else False
    train_s, predict_s = expected_duration(config, tuple(shape), kind, threads, tta=transforms)
    if train_s is None:
        return "", ("Expected: a length in epochs is not estimated before training; the progress "
                    "bar shows the time left once it runs.")
    where = f"on {threads} CPU thread{'s' if threads > 1 else ''}" if kind == "cpu" else f"on {kind}"
    if predict_s is None:
        total = f"{'up to ' if config.time_budget_s else 'about '}{format_duration(train_s)} training"
        long = f"Expected: training {total.split(' training')[0]}, then denoising ({where})."
        short = f"ready · {total}"
    else:
        total = format_duration(train_s + predict_s)
        long = (f"Expected: about {total} (training {format_duration(train_s)}, denoising about "
                f"{format_duration(predict_s)} {where}).")
        short = f"ready · about {total} expected"
    channels = int(shape[axes.upper().index("C")]) if "C" in axes.upper() else 1
    if config.time_budget_s and config.channels == "auto" and channels > 1:
        long += (f" Channels that show different structures train a network each (separate "
                 f"channels, said when training starts), and the time budget is then per "
                 f"channel: up to {channels} x {format_duration(config.time_budget_s)}.")
    if train_s + (predict_s or 0.0) > DURATION_WARNING_S:
        long += " That is long: a time budget such as '5 minutes' ends in time."
        short += " (long)"
    return short, long


class StillHint:
    """The suggestion to measure the noise across the frames of a still time-lapse (HQ-SSL,
    ``noise_calibration="repeats"``), remembered per layer and axes (the check reads a few
    frames: tens of milliseconds)."""

    def __init__(self) -> None:
        self._seen: dict[tuple[int, str], tuple[weakref.ref, Stillness | None]] = {}

    def check(self, layer: Any, axes: str) -> Stillness | None:
        """The stillness of ``layer`` read with ``axes`` (None: no verdict)."""
        key = (id(layer), axes.upper())
        ref, result = self._seen.get(key, (None, None))
        if ref is not None and ref() is layer:
            return result
        try:
            data = layer.data[0] if getattr(layer, "multiscale", False) else layer.data
            result = stillness(data, axes) if not getattr(layer, "rgb", False) else None
        except Exception as exc:  # noqa: BLE001 - a hint: no verdict
            log.debug("no stillness check: %s", exc)
            result = None
        self._seen = {k: v for k, v in self._seen.items() if v[0]() is not None}
        self._seen[key] = (weakref.ref(layer), result)
        return result

    def text(self, layer: Any, axes: str, method: str, settings: dict[str, Any]) -> str:
        """The hint for ``layer`` with ``method``'s ``settings``, or empty."""
        if layer is None or not axes or "T" not in axes.upper():
            return ""
        if "noise_calibration" not in method_class(method).fields():
            return ""
        if settings.get("noise_calibration", "image") != "image":
            return ""
        result = self.check(layer, axes)
        return still_scene_hint(result.frames, command_line=False) if result and result.still else ""
