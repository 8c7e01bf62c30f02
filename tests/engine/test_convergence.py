"""Stop when converged (issue 23): the rule on loss sequences, a run that ends "converged", the
setting in model files (new and old) and the words the front ends show."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from napari_blindspot.engine import TrainConfig, TrainingFinished, TrainingRun, load_model, save_model
from napari_blindspot.engine.training.convergence import (MIN_SHARE, PATIENCE, ConvergenceRule,
                                                           improved)
from napari_blindspot.text import training_finished

from helpers_engine import small_config

DATA = Path(__file__).resolve().parents[1] / "data"


def feed(rule: ConvergenceRule, losses: list[float], n_planned: int | None = None) -> int | None:
    """The index (1-based validation) at which ``rule`` fires on ``losses``, None if never;
    validation i is at progress i / n_planned (default: the sequence's length)."""
    n = n_planned or len(losses)
    for i, loss in enumerate(losses, 1):
        if rule.update(loss, i / n):
            return i
    return None


def test_fires_on_a_plateau_after_patience_validations():
    losses = [1.0, 0.8, 0.6, 0.5, 0.45] + [0.44] * 35  # 40 validations, flat from the 6th
    at = feed(ConvergenceRule(patience=6, tolerance=0.001, min_share=0.5), losses)
    assert at == 20  # not before half the run; by then the last 6 are flat
    late = [1.0 - 0.01 * i for i in range(30)] + [0.7] * 10  # the last gain at validation 31
    assert feed(ConvergenceRule(patience=6, tolerance=0.001, min_share=0.5), late) == 31 + 6


def test_a_slow_steady_decline_never_fires():
    losses = [-0.5 - 0.002 * i for i in range(60)]  # 0.4 % better every validation (negative NLL)
    assert feed(ConvergenceRule(patience=6, tolerance=0.001, min_share=0.5), losses) is None
    # noise around a declining trend: the best of the last six still improves
    rng = np.random.default_rng(0)
    noisy = [1.0 - 0.005 * i + 0.002 * rng.standard_normal() for i in range(60)]
    assert feed(ConvergenceRule(patience=6, tolerance=0.001, min_share=0.5), noisy) is None


def test_never_before_the_minimum_share():
    flat = [0.5] * 20
    assert feed(ConvergenceRule(patience=3, min_share=0.5), flat, n_planned=100) is None
    assert feed(ConvergenceRule(patience=3, min_share=0.0), flat, n_planned=100) == 4


def test_off_when_the_setting_is_false():
    rule = ConvergenceRule(enabled=False)
    assert feed(rule, [0.5] * 50) is None and not rule.converged


def test_tolerance_is_relative_to_the_loss_scale_and_its_sign():
    assert improved(-1.0, -1.002, 0.001) and not improved(-1.0, -1.0005, 0.001)
    assert improved(100.0, 99.8, 0.001) and not improved(100.0, 99.95, 0.001)
    assert not improved(0.5, float("nan"), 0.001)
    with pytest.raises(ValueError, match="patience"):
        ConvergenceRule(patience=0)


def test_the_defaults_do_not_cut_a_one_minute_run():
    """A one-minute run (~500 steps, validation every 50: 10 validations) whose best step is at
    400 of 500, the earliest of the ten FMD fields' (docs/one_minute.json), runs to its end: the
    rule needs PATIENCE validations without a gain after half the run."""
    assert PATIENCE >= 5 and MIN_SHARE >= 0.5
    one_minute = [-0.2, -0.5, -0.7, -0.8, -0.85, -0.9, -0.92, -0.93, -0.93, -0.929]
    assert feed(ConvergenceRule(), one_minute) is None
    # only a curve flat from its first validations would end it, after 6 more
    assert feed(ConvergenceRule(), [-0.5] * 10) == PATIENCE + 1


def _flat_run(monkeypatch, **overrides) -> tuple[TrainingRun, TrainingFinished]:
    monkeypatch.setattr(TrainingRun, "_validate", lambda self: 0.25)  # a flat validation loss
    img = np.random.default_rng(0).normal(100, 10, (48, 48)).astype(np.float32)
    run = TrainingRun(img, small_config("hqssl", steps=40, validation_interval=2, **overrides))
    finished = [ev for ev in run.events() if isinstance(ev, TrainingFinished)]
    return run, finished[0]


def test_a_flat_validation_loss_ends_the_run_converged(monkeypatch):
    run, fin = _flat_run(monkeypatch)
    # validations every 2 steps: 10 by step 20 (half the run), the last 6 no better than before
    assert fin.reason == "converged" and fin.step == run.step == 20
    assert run.best_step == 2  # the first (flat) validation's weights are kept
    assert run.model.info["steps"] == 20
    assert training_finished(fin).startswith("Training converged after 20 steps")


def test_the_flat_run_goes_to_the_end_with_the_setting_off(monkeypatch):
    run, fin = _flat_run(monkeypatch, stop_when_converged=False)
    assert fin.reason == "completed" and run.step == 40


def test_the_setting_round_trips_through_the_model_file(tmp_path):
    img = np.random.default_rng(1).normal(100, 10, (40, 40)).astype(np.float32)
    run = TrainingRun(img, small_config("n2v2", steps=2, stop_when_converged=False, compile=False))
    for _ in run.events():
        pass
    path = tmp_path / "m.safetensors"
    save_model(run.model, path)
    loaded = load_model(path)
    assert loaded.config.stop_when_converged is False and loaded.config.compile is False
    assert TrainConfig.from_json(run.model.config.to_json()).stop_when_converged is False


@pytest.mark.parametrize("name", ["model_0.2.0_hqssl.safetensors", "model_0.2.0_n2v2.safetensors"])
def test_old_model_files_load_with_the_new_settings_at_their_defaults(name):
    model = load_model(DATA / name)
    assert model.config.stop_when_converged is True and model.config.compile is False
