"""Steps whose gradients are not finite are skipped (as the float16 gradient scaler does);
training gives up, with advice, after :data:`MAX_SKIPPED_STEPS` such steps in a row."""

from __future__ import annotations

import logging

import torch
from torch import nn

log = logging.getLogger(__name__)

#: Consecutive steps with non-finite gradients (skipped) before training reports divergence.
MAX_SKIPPED_STEPS = 5


class GradientGuard:
    """Counts skipped steps; :meth:`finite` raises ``FloatingPointError`` when training diverged."""

    def __init__(self) -> None:
        self.skipped = 0
        self._in_a_row = 0

    def finite(self, net: nn.Module, step: int) -> bool:
        """Whether the gradients of ``net`` at ``step`` are finite (False: skip the step)."""
        grads = [p.grad.detach() for p in net.parameters() if p.grad is not None]
        if not grads or bool(torch.isfinite(torch.stack([torch.linalg.vector_norm(g) for g in grads])).all()):
            self._in_a_row = 0
            return True
        self._in_a_row += 1
        self.skipped += 1
        log.warning("step %d skipped: non-finite gradients", step)
        if self._in_a_row >= MAX_SKIPPED_STEPS:
            raise FloatingPointError(
                f"Training diverged at step {step}: the gradients were not finite for "
                f"{MAX_SKIPPED_STEPS} steps in a row; lower the learning rate or check the image for "
                "extreme values (\"mixed_precision\": false in a --config file may also help).")
        return False
