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

from .events import DurationWarning

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
