"""Stop when converged: end a run once its validation loss has stopped improving.

The validation loss of HQ-SSL is deterministic given the weights, N2V's uses a fixed generator
(:meth:`.loop.TrainingRun._validate`), so two validations of the same weights agree and a flat
curve means the network stopped learning what the held-out patches can tell.  The rule
(:class:`ConvergenceRule`), fed every validation loss with the run's progress:

* stop when the best loss of the last ``patience`` validations is not better than the best
  loss before them by more than ``tolerance`` (relative: of the loss's own scale, see
  :func:`improved`);
* never before ``min_share`` of the planned run (steps or time budget): short runs, whose best
  step is at or near their end (docs/performance.md, "A result in a minute"), are never cut.

Stopping only ends the run: the learning-rate schedule follows the planned length and the best
weights are kept as always.  The figures that chose :data:`PATIENCE`, :data:`RELATIVE_TOLERANCE`
and :data:`MIN_SHARE` are in docs/performance.md ("Stop when converged",
``python -m benchmarks.convergence``).  Nothing here imports torch.
"""

from __future__ import annotations

import math

#: Validations without a real improvement before the rule fires (validation every 50 steps by
#: default: 400 steps).  6 stopped FMD field 1 at 1,300 of 2,000 steps, 0.08 dB short of its end.
PATIENCE = 8
#: The smallest improvement that counts, relative to the loss's magnitude.
RELATIVE_TOLERANCE = 0.002
#: The share of the planned run (by steps or time) before which the rule never fires.
MIN_SHARE = 0.5


def improved(before: float, after: float, tolerance: float) -> bool:
    """Whether loss ``after`` is better than ``before`` by more than ``tolerance`` of its scale.

    The scale is ``|before|`` (HQ-SSL's loss is a negative log-likelihood and may be negative
    or near zero: then at least ``1e-12``), so the test reads the same for any sign of the loss.
    """
    return after < before - tolerance * max(abs(before), 1e-12)


class ConvergenceRule:
    """Decides, validation by validation, whether a run has converged (see the module).

    ``patience``: validations without improvement that end the run (>= 1); ``tolerance``: the
    relative improvement that counts (>= 0); ``min_share``: the share of the planned run (0..1)
    before which it never fires; ``enabled=False``: it never fires (the setting
    ``stop_when_converged`` off).
    """

    def __init__(self, patience: int = PATIENCE, tolerance: float = RELATIVE_TOLERANCE,
                 min_share: float = MIN_SHARE, enabled: bool = True) -> None:
        if patience < 1 or tolerance < 0 or not 0.0 <= min_share <= 1.0:
            raise ValueError(f"ConvergenceRule: patience {patience} must be >= 1, tolerance "
                             f"{tolerance} >= 0 and min_share {min_share} in [0, 1]")
        self.patience, self.tolerance, self.min_share = int(patience), float(tolerance), float(min_share)
        self.enabled = enabled
        #: The validation losses seen (non-finite ones are left out: divergence handles them).
        self.losses: list[float] = []
        #: Whether the rule has fired.
        self.converged = False

    def update(self, val_loss: float, progress: float) -> bool:
        """Feed one validation loss, taken at ``progress`` (0..1 of the planned run); returns
        True when the run should end now (and from then on)."""
        if math.isfinite(val_loss):
            self.losses.append(float(val_loss))
        if self.converged:
            return True
        if not self.enabled or progress < self.min_share or len(self.losses) <= self.patience:
            return False
        before = min(self.losses[:-self.patience])
        recent = min(self.losses[-self.patience:])
        self.converged = not improved(before, recent, self.tolerance)
        return self.converged

    def reset(self) -> None:
        """Forget the losses seen (after the run went back to earlier weights)."""
        self.losses.clear()
        self.converged = False


__all__ = ["MIN_SHARE", "PATIENCE", "RELATIVE_TOLERANCE", "ConvergenceRule", "improved"]
