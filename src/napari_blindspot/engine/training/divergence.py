"""A diverging run goes back to its last good weights at a lower learning rate and goes on,
instead of throwing away minutes of work.

* A step whose gradients are not finite is skipped (as the float16 gradient scaler does).
* A divergence is :data:`MAX_SKIPPED_STEPS` such steps in a row, or a validation loss that is
  not finite or far above the best one (more than ``VAL_JUMP * max(|best|, VAL_FLOOR)`` above
  it: a diverged network's loss is orders of magnitude off, a noisy one is not).
* :meth:`DivergenceGuard.recover` then restores the best validated weights (before the first
  validation: the initial ones), clears the optimizer's moments (Adam's averages of the
  diverged gradients would push it off again) and halves the learning rate of every group,
  for the rest of the run; the run says so with a :class:`~.events.DivergenceRecovered` event.
* After :data:`MAX_RECOVERIES` recoveries the run ends (reason ``"diverged"``) with its best
  weights; only a run that diverged before any validation raises ``FloatingPointError``.

Every decision is made from values that are the same in every process of a distributed run
(the all-reduced gradients, the averaged validation loss), so all ranks recover together.
"""

from __future__ import annotations

import logging
import math

import torch
from torch import nn

from ..events import DivergenceRecovered

log = logging.getLogger(__name__)

#: Consecutive steps with non-finite gradients (skipped) that count as a divergence.
MAX_SKIPPED_STEPS = 5
#: Recoveries before the run gives up (each halves the learning rate: 1/16 at the last).
MAX_RECOVERIES = 4
#: A validation loss more than ``VAL_JUMP * max(|best|, VAL_FLOOR)`` above the best diverged.
VAL_JUMP = 100.0
VAL_FLOOR = 0.1
#: The factor each recovery applies to the learning rate.
LR_FACTOR = 0.5


def _copy(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in state.items()}


class DivergenceGuard:
    """Watches a run's gradients and validation losses; see the module docstring."""

    def __init__(self) -> None:
        self.skipped = 0
        self.recoveries = 0
        self.learning_rate_factor = 1.0
        self._in_a_row = 0
        self._initial: dict[str, torch.Tensor] | None = None

    def start(self, net: nn.Module) -> None:
        """Keep ``net``'s initial weights: what a divergence before any validation returns to."""
        self._initial = _copy(net.state_dict())

    def finite(self, net: nn.Module, step: int) -> bool:
        """Whether the gradients of ``net`` at ``step`` are finite (False: skip the step)."""
        grads = [p.grad.detach() for p in net.parameters() if p.grad is not None]
        if not grads or bool(torch.isfinite(torch.stack([torch.linalg.vector_norm(g) for g in grads])).all()):
            self._in_a_row = 0
            return True
        self._in_a_row += 1
        self.skipped += 1
        log.warning("step %d skipped: non-finite gradients", step)
        return False

    def gradients_diverged(self) -> bool:
        """Whether the last :data:`MAX_SKIPPED_STEPS` steps all had non-finite gradients."""
        return self._in_a_row >= MAX_SKIPPED_STEPS

    @staticmethod
    def validation_diverged(val_loss: float, best: float | None) -> bool:
        """Whether ``val_loss`` is not finite, or far above the ``best`` so far."""
        if not math.isfinite(val_loss):
            return True
        return best is not None and val_loss - best > VAL_JUMP * max(abs(best), VAL_FLOOR)

    def recover(self, net: nn.Module, optimizer: torch.optim.Optimizer, step: int,
                best_state: dict[str, torch.Tensor] | None, best_step: int,
                reason: str) -> DivergenceRecovered | None:
        """Put ``net`` back on its last good weights at a lower learning rate (the groups'
        ``lr_scale``); None when :data:`MAX_RECOVERIES` are used up (the run should end)."""
        self._in_a_row = 0
        if self.recoveries >= MAX_RECOVERIES:
            log.warning("training diverged again at step %d (%s) after %d recoveries: it ends "
                        "with its best weights", step, reason, self.recoveries)
            return None
        state = best_state if best_state is not None else self._initial
        if state is None:
            raise RuntimeError("DivergenceGuard.start() was not called")
        net.load_state_dict(state)
        optimizer.state.clear()
        for group in optimizer.param_groups:
            group["lr_scale"] = group.get("lr_scale", 1.0) * LR_FACTOR
        self.recoveries += 1
        self.learning_rate_factor *= LR_FACTOR
        restored = best_step if best_state is not None else 0
        log.warning("training diverged at step %d (%s): back to the weights of step %d at %g times "
                    "the learning rate", step, reason, restored, self.learning_rate_factor)
        return DivergenceRecovered(step, reason, restored, self.learning_rate_factor, self.recoveries)


def gave_up_message(step: int, recoveries: int) -> str:
    """Why a run that diverged before any validation cannot keep anything."""
    return (f"Training diverged at step {step} before any validation and {recoveries} restarts at "
            "lower learning rates did not help; lower the learning rate (e.g. --learning-rate "
            "1e-4) or check the image for extreme values (\"mixed_precision\": false in a --config "
            "file may also help).")


__all__ = ["DivergenceGuard", "MAX_RECOVERIES", "MAX_SKIPPED_STEPS", "gave_up_message"]
