"""CPU threads that adapt to a shared machine.

torch's intra-op threads are OpenMP threads, and an OpenMP parallel region ends only when its
slowest thread does.  When another process holds one of the cores, every region waits for the
thread that lost its core (the others spin meanwhile), and a step can take several times longer
with all cores than with one fewer (``python -m benchmarks.contention``).  No thread count is best
both on an idle and on a busy machine, and the load changes while a job runs.

:class:`ThreadTuner` therefore measures: it times the steps of a job at its current thread count,
now and then tries another count for a few steps, and keeps whichever was faster.  Jobs call
:meth:`ThreadTuner.step_done` after every step (training steps, prediction tiles) with the step's
duration; the tuner changes ``torch.set_num_threads`` itself.  Prediction tunes between one
thread and the count its caller set (all cores unless told otherwise), per batch of tiles.
"""

from __future__ import annotations

import logging
import os
import statistics
import time

import torch

log = logging.getLogger(__name__)

#: Steps timed per measurement (their mean counts: throughput; under contention step times are
#: heavy-tailed, a few steps many times slower, which a median would hide).
WINDOW = 6
#: Seconds between tries of another thread count; doubles (up to MAX_INTERVAL_S) while the
#: current count keeps winning, and starts again from this after a change.
FIRST_INTERVAL_S = 5.0
MAX_INTERVAL_S = 60.0
#: Another count must be this much faster to be adopted.
MARGIN = 0.9


def usable_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS/Windows
        return os.cpu_count() or 1


class ThreadTuner:
    """Chooses torch's CPU thread count between 1 and ``max_threads`` by timing steps.

    Not thread-safe: one tuner per job, called from the job's thread.  ``clock`` is for tests.
    """

    def __init__(self, max_threads: int | None = None, *, clock=time.perf_counter) -> None:
        self.max_threads = max(1, int(max_threads or usable_cores()))
        self.threads = self.max_threads
        self._clock = clock
        self._times: list[float] = []
        self._baseline: float | None = None  # mean step time at self.threads
        self._trying: int | None = None      # the count being tried, if any
        self._interval = FIRST_INTERVAL_S
        self._next_try = clock() + FIRST_INTERVAL_S
        self.changes = 0
        torch.set_num_threads(self.threads)

    @property
    def active(self) -> bool:
        """Whether there is anything to choose (more than one core)."""
        return self.max_threads > 1

    def restore(self) -> None:
        """Give torch its most threads back (when the job is over: the next one tunes anew)."""
        torch.set_num_threads(self.max_threads)

    def timed(self, fn):
        """``fn`` wrapped so that every call counts as one step of this tuner."""
        def run(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.step_done(time.perf_counter() - t0)

        shared = getattr(fn, "with_tta", None)  # a model's test-time augmentation in one call
        if shared is not None:
            run.with_tta = self.timed(shared)  # type: ignore[attr-defined]
        return run

    def _other(self) -> int:
        """The count to try next: one fewer, or one more when already at one thread."""
        return self.threads - 1 if self.threads > 1 else min(2, self.max_threads)

    def step_done(self, seconds: float) -> None:
        """Record one step's duration; may change the thread count for the next steps."""
        if not self.active:
            return
        self._times.append(seconds)
        if len(self._times) < WINDOW:
            return
        mean = statistics.fmean(self._times)
        self._times.clear()
        now = self._clock()
        if self._trying is None:
            self._baseline = mean
            if now >= self._next_try:
                self._trying = self._other()
                torch.set_num_threads(self._trying)
            return
        tried, self._trying = self._trying, None
        if self._baseline is not None and mean < MARGIN * self._baseline:
            log.info("CPU threads %d -> %d (step %.3f s -> %.3f s)", self.threads, tried,
                     self._baseline, mean)
            self.threads, self._baseline = tried, mean
            self.changes += 1
            self._interval = FIRST_INTERVAL_S
        else:
            torch.set_num_threads(self.threads)
            self._interval = min(MAX_INTERVAL_S, 2 * self._interval)
        self._next_try = now + self._interval
