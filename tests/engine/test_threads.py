"""The CPU thread tuner: it keeps the faster thread count, measured on the job's own steps."""

from __future__ import annotations

import pytest
import torch

from napari_blindspot.engine.system import threads as th
from napari_blindspot.engine.system.threads import ThreadTuner


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def _run(tuner: ThreadTuner, clock: Clock, step_time, steps: int) -> list[int]:
    """Feed ``steps`` steps whose duration is ``step_time(threads)``; the counts used."""
    used = []
    for _ in range(steps):
        n = torch.get_num_threads()
        used.append(n)
        dt = step_time(n)
        clock.t += dt
        tuner.step_done(dt)
    return used


def test_moves_to_fewer_threads_when_a_core_is_busy(restore_threads):
    clock = Clock()
    tuner = ThreadTuner(2, clock=clock)
    assert torch.get_num_threads() == 2
    used = _run(tuner, clock, lambda n: {1: 0.10, 2: 0.50}[n], 200)  # a competitor holds a core
    assert tuner.threads == 1 and tuner.changes >= 1
    assert used[-50:].count(1) > 40  # tries of 2 threads are short and rare


def test_heavy_tailed_steps_count_by_their_mean(restore_threads):
    # beside a busy process, OpenMP's spinning threads make most 2-thread steps fast and a few
    # very slow (seen: 8.9 patches/s with 2 threads against 39.6 with 1): the median would keep 2
    clock = Clock()
    tuner = ThreadTuner(2, clock=clock)
    k = iter(range(10**6))
    used = _run(tuner, clock, lambda n: 0.40 if n == 1 else (3.0 if next(k) % 3 == 0 else 0.25), 300)
    assert tuner.threads == 1
    assert used[-100:].count(1) > 80


def test_keeps_all_threads_on_an_idle_machine(restore_threads):
    clock = Clock()
    tuner = ThreadTuner(2, clock=clock)
    used = _run(tuner, clock, lambda n: {1: 0.10, 2: 0.06}[n], 400)
    assert tuner.threads == 2 and tuner.changes == 0
    assert used.count(1) < 0.1 * len(used)  # trying one thread costs little


def test_follows_the_load_when_it_goes_away(restore_threads):
    clock = Clock()
    tuner = ThreadTuner(2, clock=clock)
    _run(tuner, clock, lambda n: {1: 0.10, 2: 0.50}[n], 200)
    assert tuner.threads == 1
    _run(tuner, clock, lambda n: {1: 0.10, 2: 0.06}[n], 2000)  # the other process ended
    assert tuner.threads == 2
    assert clock.t < 1e4


def test_small_differences_do_not_switch(restore_threads):
    clock = Clock()
    tuner = ThreadTuner(2, clock=clock)
    _run(tuner, clock, lambda n: {1: 0.100, 2: 0.105}[n], 400)
    assert tuner.changes == 0 and tuner.threads == 2


def test_one_core_has_nothing_to_tune(restore_threads):
    tuner = ThreadTuner(1)
    assert not tuner.active and torch.get_num_threads() == 1
    tuner.step_done(1.0)
    assert tuner.threads == 1


def test_training_on_cpu_tunes_unless_a_count_is_given(restore_threads):
    import numpy as np

    from helpers_engine import small_config
    from napari_blindspot.engine import TrainingRun

    data = np.random.default_rng(0).normal(100, 10, (48, 48)).astype(np.float32)
    auto = TrainingRun(data, small_config("n2v2", steps=2, num_threads=None), max_threads=2)
    auto.prepare()
    assert auto.threads is not None and auto.threads.max_threads == 2
    fixed = TrainingRun(data, small_config("n2v2", steps=2, num_threads=1))
    fixed.prepare()
    assert fixed.threads is None and torch.get_num_threads() == 1
    assert th.usable_cores() >= 1


def test_prediction_tunes_between_one_thread_and_the_callers_count(restore_threads, monkeypatch):
    import numpy as np

    from helpers_engine import untrained_model
    from napari_blindspot.engine.system import threads as threads_module

    made = []
    real = threads_module.ThreadTuner

    class Spy(real):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

        def step_done(self, seconds):
            self.steps = getattr(self, "steps", 0) + 1
            super().step_done(seconds)

    import napari_blindspot.engine.prediction.pipeline as pipeline

    monkeypatch.setattr(pipeline, "ThreadTuner", Spy)
    torch.set_num_threads(2)
    model = untrained_model("n2v2")
    model.denoise(np.random.default_rng(0).normal(100, 20, (200, 200)).astype(np.float32), tile_size=64)
    (tuner,) = made
    assert tuner.max_threads == 2 and tuner.steps > 1  # one step per batch of tiles
    assert torch.get_num_threads() == 2  # given back afterwards
