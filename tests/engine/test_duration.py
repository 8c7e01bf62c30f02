"""The duration warning: a run of a fixed step count projected to take too long is warned once,
after its warm-up; runs with a time budget never are."""

from __future__ import annotations

import numpy as np
import pytest

from napari_blindspot.engine import DurationWarning, TrainingRun
from napari_blindspot.engine.training import duration
from napari_blindspot.engine.training.duration import (DURATION_WARNING_S, TIMED_STEPS, WARMUP_STEPS,
                                              DurationWatch)
from napari_blindspot.text import duration_warning

from helpers_engine import small_config, smooth_image


def _watch(total: int | None = 1500, budget: float | None = None, three_d: bool = True) -> DurationWatch:
    return DurationWatch(total, budget, three_d_cpu=three_d, batch_size=1, patch_shape=(16, 64, 64))


def test_slow_steps_warn_once_with_the_projection() -> None:
    """5.8 s a step after a slow warm-up: 1,500 steps project to about 2.4 hours."""
    watch, clock, warnings = _watch(), 0.0, []
    for step in range(1, 40):
        clock += 30.0 if step <= WARMUP_STEPS else 5.8  # the warm-up is not counted
        warnings.append(watch.step_done(step, clock, clock))
    found = [w for w in warnings if w is not None]
    assert len(found) == 1
    (w,) = found
    assert w.step == WARMUP_STEPS + TIMED_STEPS
    assert w.seconds_per_step == pytest.approx(5.8)
    assert w.projected_s == pytest.approx(60.0 + 5.8 * (1500 - 2), rel=1e-6)
    assert 2.3 * 3600 < w.projected_s < 2.5 * 3600
    assert w.steps_in_suggested == int(600 / 5.8) and w.three_d_cpu
    cli = duration_warning(w, command_line=True)
    assert "--minutes 10" in cli and "--steps 103" in cli and "without --3d" in cli
    assert "2:" in cli and "1,500 steps" in cli
    widget = duration_warning(w, command_line=False)
    assert "'10 minutes'" in widget and "--" not in widget and "2D" in widget


def test_fast_runs_time_budgets_and_open_ended_runs_are_not_warned() -> None:
    def run(watch: DurationWatch, per_step: float) -> list:
        return [w for s in range(1, 20) if (w := watch.step_done(s, s * per_step, s * per_step))]

    assert run(_watch(), DURATION_WARNING_S / 3000) == []  # 1,500 steps in half the threshold
    assert run(_watch(budget=600.0), 5.8) == []
    assert run(_watch(total=None, budget=600.0), 5.8) == []
    (w,) = run(_watch(three_d=False), 5.8)
    assert "3d" not in duration_warning(w, command_line=True).lower()


def test_training_yields_the_warning_once_and_not_with_a_time_budget(monkeypatch) -> None:
    monkeypatch.setattr(duration, "DURATION_WARNING_S", 0.0)  # every run is "too long"
    image = smooth_image((64, 64)) + np.random.default_rng(0).normal(0, 5, (64, 64))
    events = list(TrainingRun(image.astype(np.float32), small_config(steps=12)).events())
    found = [ev for ev in events if isinstance(ev, DurationWarning)]
    assert len(found) == 1
    w = found[0]
    assert w.total_steps == 12 and w.step == WARMUP_STEPS + TIMED_STEPS
    assert 0 < w.seconds_per_step < 60 and w.projected_s >= w.seconds_per_step * (12 - w.step)
    assert w.patch_shape == (32, 32) and w.batch_size == 4 and not w.three_d_cpu
    budget = small_config(steps=None, time_budget_s=1.0)
    events = list(TrainingRun(image.astype(np.float32), budget).events())
    assert not any(isinstance(ev, DurationWarning) for ev in events)
