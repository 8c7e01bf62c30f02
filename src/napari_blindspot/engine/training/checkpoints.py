"""Validation, the best weights so far and recovery from divergence, for a
:class:`~.training.TrainingRun`; and the model built from its state (a snapshot)."""

from __future__ import annotations

import copy
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from ..system.device import describe_device
from ..model import DenoisingModel

if TYPE_CHECKING:  # pragma: no cover
    from .loop import TrainingRun

#: What :func:`validate_and_keep_best` found: validated (bool), the loss, and whether the run gave up.
Checked = tuple[bool, "float | None", bool]


def recover(run: "TrainingRun", reason: str) -> Any:
    """:meth:`.divergence.DivergenceGuard.recover` on ``run`` (None: give up)."""
    return run._guard.recover(run.net, run.optimizer, run.step, run.best_state, run.best_step, reason)


def after_gradients(run: "TrainingRun") -> Generator[Any, None, bool]:
    """After a step: when the gradients diverged for several steps, go back to earlier weights
    (yielding the recovery event); returns True when the run gives up."""
    if not run._guard.gradients_diverged():
        return False
    recovered = recover(run, "non-finite gradients for several steps in a row")
    if recovered is None:
        return True
    yield recovered
    return False


def validate_and_keep_best(run: "TrainingRun", done: bool,
                           val_loss: float | None) -> Generator[Any, None, Checked]:
    """Validate every ``validation_interval`` steps (and at the end, ``done``), keep the best
    weights, and go back to them when the validation loss diverges (yielding the recovery
    event).  Returns ``(validated, val_loss, gave_up)`` (``val_loss`` the latest, passed in)."""
    c = run.config
    if run.val_batch is None or not (run.step % c.validation_interval == 0 or done):
        return False, val_loss, False
    val_loss = run._validate()
    if run._guard.validation_diverged(val_loss, run.best_val):
        recovered = recover(run, f"validation loss {val_loss:.3g}, best {run.best_val}")
        if recovered is None:
            return True, val_loss, True
        yield recovered
        return False, None, False
    if run.best_val is None or val_loss < run.best_val:
        run.best_val, run.best_step = val_loss, run.step
        run.best_state = {k: v.detach().clone() for k, v in run.net.state_dict().items()}
    return True, val_loss, False


def snapshot(run: "TrainingRun", final: bool) -> DenoisingModel:
    """The model of ``run`` now (``final``: with the best weights and the method's finish)."""
    net = copy.deepcopy(run.net)
    if final and run.best_state is not None:
        net.load_state_dict(run.best_state)
    info: dict[str, Any] = {
        "steps": run.steps_done_before + run.step,
        "best_val_loss": run.best_val,
        "device": describe_device(run.device),
    }
    if run.channel_choice is not None:
        info["channels_choice"] = run.channel_choice.message()
    if run.start_note:
        info["warm_start"] = run.start_note
    if run.calibrations:
        info["noise_calibration"] = [c if isinstance(c, dict) else c.to_dict() for c in run.calibrations]
    if final:
        refits = run.method.finish(net, run.view, run.normalization, run.config.channels == "independent")
        if refits:
            info["noise_refit"] = [c.to_dict() for c in refits]
    # separate channels scaled the time budget per channel: the model keeps the one asked for
    model = DenoisingModel(run.config.replace(time_budget_s=run._asked_budget), net, run.normalization,
                           run.view.n_channels, info)
    info["noise"] = model.noise_parameters()
    return model
