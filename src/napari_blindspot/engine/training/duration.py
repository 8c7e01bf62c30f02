"""Projecting how long a run of a fixed step count will take, after its first steps.

A 3D run on a CPU takes seconds per step, so thousands of steps take hours; the run measures
its speed over a few steps after the warm-up and, when the projected total passes
:data:`DURATION_WARNING_S`, :meth:`DurationWatch.step_done` returns one
:class:`~.events.DurationWarning` (once).  Runs with a time budget are never warned: they end
in time.  Front ends word the suggestion (``--minutes 10`` on the command line, the training
length "10 minutes" in the widget, see :func:`napari_blindspot.text.duration_warning`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from ..events import DurationWarning

if TYPE_CHECKING:  # pragma: no cover
    from ..config import TrainConfig

#: A run projected to take longer than this (seconds) gets a warning.
DURATION_WARNING_S = 20 * 60.0
#: Steps left out of the measurement (the first steps allocate memory and tune threads).
WARMUP_STEPS = 2
#: Steps the speed is measured over, after the warm-up.
TIMED_STEPS = 3
#: The time budget suggested instead (minutes).
SUGGESTED_MINUTES = 10


class DurationWatch:
    """Times the steps of one run and warns once if it will take too long.

    ``total_steps``: the run's step count (None, or a ``time_budget_s``: never warned);
    ``three_d_cpu``: a 3D run on a CPU (the warning then suggests 2D); ``batch_size``,
    ``patch_shape``: the run's, for the suggestion to make them smaller.
    """

    def __init__(self, total_steps: int | None, time_budget_s: float | None, *, three_d_cpu: bool,
                 batch_size: int, patch_shape: tuple[int, ...]) -> None:
        self.active = total_steps is not None and time_budget_s is None
        self.total_steps = total_steps or 0
        self.three_d_cpu = three_d_cpu
        self.batch_size = batch_size
        self.patch_shape = tuple(patch_shape)
        self._t0: float | None = None
        self.warning: DurationWarning | None = None

    def step_done(self, step: int, now: float, elapsed_s: float) -> DurationWarning | None:
        """Call after every step (``step`` counts the steps done, ``now`` a clock in seconds,
        ``elapsed_s`` since training started); returns the warning once, when it is due."""
        if not self.active:
            return None
        if step == WARMUP_STEPS:
            self._t0 = now
        if step != WARMUP_STEPS + TIMED_STEPS or self._t0 is None:
            return None
        self.active = False  # measured once
        per_step = (now - self._t0) / TIMED_STEPS
        projected = elapsed_s + per_step * max(0, self.total_steps - step)
        if not math.isfinite(projected) or projected <= DURATION_WARNING_S:
            return None
        fitting = max(1, int(SUGGESTED_MINUTES * 60 / per_step)) if per_step > 0 else self.total_steps
        self.warning = DurationWarning(step=step, total_steps=self.total_steps, seconds_per_step=per_step,
                                       projected_s=projected, threshold_s=DURATION_WARNING_S,
                                       suggested_minutes=SUGGESTED_MINUTES, steps_in_suggested=fitting,
                                       three_d_cpu=self.three_d_cpu, batch_size=self.batch_size,
                                       patch_shape=self.patch_shape)
        return self.warning


# ---------------------------------------------------------------- before a run: the expected time
#: Training pixels per second of each method's CPU defaults, measured on two CPU cores (two
#: torch threads, bfloat16; docs/performance.md: N2V2 145 and HQ-SSL 66.8 patches of 64x64 a
#: second).  Noise2Noise's U-Net is N2V2's; Noise2Void's is about as fast.
CPU_TRAIN_PX_PER_S = {"n2v2": 145.0 * 4096, "n2v": 145.0 * 4096, "n2n": 145.0 * 4096,
                      "hqssl": 66.8 * 4096}
#: Prediction pixels per second on two CPU cores, tiles of 384 (docs/performance.md).
CPU_PREDICT_PX_PER_S = {"n2v2": 2.29e6, "n2v": 2.29e6, "n2n": 2.29e6, "hqssl": 0.18e6}
#: The threads those rates were measured with.
MEASURED_THREADS = 2
#: Prediction time of a test-time augmentation in plain passes, per number of transforms: one
#: pass each, except HQ-SSL's 2D network, whose rotations share one U-Net pass
#: (:meth:`.BlindSpotUNet.tta_outputs`; 512x512 frame, two threads, docs/performance.md).
SHARED_TTA_PASSES = {4: 1.64, 8: 3.29}


def tta_passes(config: "TrainConfig", transforms: int) -> float:
    """How many plain prediction passes a test-time augmentation over ``transforms`` costs."""
    from ..methods.registry import method_class

    if transforms in SHARED_TTA_PASSES and method_class(config.method).shares_tta(config):
        return SHARED_TTA_PASSES[transforms]
    return float(max(1, transforms))


def expected_duration(config: "TrainConfig", shape: tuple[int, ...], device_type: str,
                      threads: int | None = None, *, tta: int | bool = False,
                      ) -> tuple[float | None, float | None]:
    """``(training, denoising)`` seconds expected for ``config`` on data of ``shape`` (None
    where unknown): a time budget is its own training time; a step count on a CPU uses the
    measured rates above, scaled by ``threads`` (default all cores); a GPU is not
    estimated (no measurement yet), nor a length in epochs.  The denoising predicts with the
    test-time augmentation ``tta`` (as :func:`~.prediction.tiling.tta_count` reads it: False
    none, True all 8, or the number of transforms), counted in :func:`tta_passes`."""
    from ..system.device import available_cores

    cpu = device_type.split(":")[0] == "cpu"
    n_threads = threads or available_cores()
    scale = min(n_threads, 64) / MEASURED_THREADS
    train_rate = CPU_TRAIN_PX_PER_S.get(config.method) if cpu else None
    predict_rate = CPU_PREDICT_PX_PER_S.get(config.method) if cpu else None
    step_px = config.batch_size * config.patch_size ** 2 * (config.patch_size_z if config.train_3d else 1)
    n_channels = int(shape[config.axes.upper().index("C")]) if "C" in config.axes.upper() else 1
    if config.channels != "joint":  # a step trains every channel (shared or separate networks)
        step_px *= n_channels
    by_steps = (config.steps * step_px / (train_rate * scale)
                if config.steps and train_rate else None)
    if config.time_budget_s:
        # separate channels: the budget is per channel network (training_setup.per_channel_budget)
        budget = config.time_budget_s * (n_channels if config.channels == "separate" else 1)
        train_s: float | None = min(budget, by_steps or math.inf)
    elif config.epochs:
        train_s = None
    else:
        train_s = by_steps
    pixels = float(np.prod([int(n) for n in shape], dtype=np.float64)) if len(shape) else 0.0
    if "C" in config.axes and config.channels == "joint":
        pixels /= max(1, int(shape[config.axes.index("C")]))
    predict_s = pixels / (predict_rate * scale) if predict_rate else None
    if predict_s is not None and tta:
        from ..prediction.tiling import tta_count

        predict_s *= tta_passes(config, tta_count(tta))
    return train_s, predict_s
