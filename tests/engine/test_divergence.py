"""Training never throws away its work: a diverging run goes back to its best weights at half
the learning rate and goes on (:mod:`napari_blindspot.engine.training.divergence`)."""

from __future__ import annotations

import numpy as np
import torch
from helpers_engine import small_config

from napari_blindspot.engine import (DivergenceRecovered, TrainingFinished, TrainingProgress,
                                     TrainingRun)
from napari_blindspot.engine.training.divergence import DivergenceGuard
from napari_blindspot.text import divergence_warning, training_finished

DATA = np.random.default_rng(0).normal(100, 10, (96, 96)).astype(np.float32)


def _poison(run: TrainingRun, steps: set[int]) -> None:
    run.prepare()
    param = next(run.net.parameters())
    param.register_hook(lambda g: g * float("nan") if run.step in steps else g)


def _finite(run: TrainingRun) -> bool:
    return all(torch.isfinite(v).all() for v in run.net.state_dict().values() if v.is_floating_point())


def test_non_finite_gradients_in_a_row_go_back_to_the_best_weights_and_halve_the_rate():
    run = TrainingRun(DATA, small_config("n2v2", steps=30, validation_interval=5))
    _poison(run, set(range(12, 17)))  # steps 12-16: five in a row
    events = list(run.events())
    recovered = [e for e in events if isinstance(e, DivergenceRecovered)]
    assert len(recovered) == 1
    ev = recovered[0]
    assert ev.step == 17 and ev.restored_step in (5, 10) and ev.learning_rate_factor == 0.5
    assert all(g["lr_scale"] == 0.5 for g in run.optimizer.param_groups)
    finished = events[-1]
    assert isinstance(finished, TrainingFinished) and finished.reason == "completed"
    assert finished.step == 30 and run.recoveries == 1 and run.skipped_steps == 5 and _finite(run)
    text = divergence_warning(ev)
    assert "step 17" in text and f"weights of step {ev.restored_step}" in text and "0.5x" in text


def test_an_exploding_validation_loss_is_caught_and_the_run_keeps_its_work():
    run = TrainingRun(DATA, small_config("n2v2", steps=30, validation_interval=5))
    events = []
    for ev in run.events():
        events.append(ev)
        if isinstance(ev, TrainingProgress) and ev.step == 15:  # the weights blow up
            with torch.no_grad():
                for p in run.net.parameters():
                    p.mul_(1e4)
    recovered = [e for e in events if isinstance(e, DivergenceRecovered)]
    assert len(recovered) == 1 and recovered[0].step == 20 and recovered[0].restored_step in (5, 10, 15)
    assert "validation loss" in recovered[0].reason
    vals = [e.val_loss for e in events if isinstance(e, TrainingProgress) and e.validated]
    assert all(np.isfinite(vals)) and max(vals) < 10  # the blown-up loss is not reported as a result
    assert events[-1].reason == "completed" and _finite(run)


def test_a_run_that_keeps_diverging_ends_with_its_best_weights_instead_of_nothing():
    run = TrainingRun(DATA, small_config("n2v2", steps=60, validation_interval=5))
    _poison(run, set(range(7, 60)))
    events = list(run.events())
    finished = events[-1]
    assert isinstance(finished, TrainingFinished) and finished.reason == "diverged"
    assert sum(isinstance(e, DivergenceRecovered) for e in events) == 4
    assert finished.step < 60 and run.best_state is not None
    best = finished.model.net.state_dict()
    assert all(torch.equal(best[k].cpu(), v.cpu()) for k, v in run.best_state.items())
    assert "kept diverging" in training_finished(finished)


def test_the_rule_for_a_diverged_validation_loss():
    diverged = DivergenceGuard.validation_diverged
    assert diverged(float("nan"), None) and diverged(float("inf"), 0.5)
    assert not diverged(0.9, 0.05)        # a noisy N2V loss
    assert not diverged(-0.2, -1.14)      # HQ-SSL's likelihood before it settles
    assert diverged(1e21, -1.14) and diverged(50.0, 0.048)
