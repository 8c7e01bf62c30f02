"""One optimisation step of a :class:`~.training.TrainingRun` (the inner loop's body).

Kept apart from the loop, the reporting (:mod:`.report`) and the checkpoints
(:mod:`.checkpoints`) so that each reads on its own; the behaviour is the loop's.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import torch

from .schedule import learning_rate

if TYPE_CHECKING:  # pragma: no cover
    from .loop import TrainingRun


def _loss_and_gradients(run: "TrainingRun", batch: torch.Tensor,
                        channels: torch.Tensor | None) -> torch.Tensor:
    """The loss on ``batch`` and its gradients (in the parameters' ``.grad``)."""
    with run._autocast():
        loss = run._loss(batch, run.generator, channels)
    run.optimizer.zero_grad(set_to_none=True)
    run.scaler.scale(loss).backward()  # a non-finite loss: non-finite gradients
    return loss


def take_step(run: "TrainingRun", progress: float) -> tuple[float, float | None]:
    """Set the learning rate for ``progress`` (0..1 of the run), train ``run``'s network on one
    batch and count the step (a compiled loss that fails is replaced by the eager one and the
    step taken again, :mod:`.compiled`).  Returns ``(learning rate, loss)``; the loss is None when the
    step was skipped (non-finite gradients, :mod:`.divergence`)."""
    c = run.config
    lr = learning_rate(c.learning_rate, progress, c.schedule, c.warmup_fraction)
    for group in run.optimizer.param_groups:
        group["lr"] = lr * group["lr_scale"]
    step_start = time.perf_counter()
    patches, channels = run.sampler.draw(run.step_patches)
    batch = torch.from_numpy(patches).to(run.device, non_blocking=True)
    run.method.before_step(run.net, progress)
    channels_t = None if channels is None else torch.from_numpy(channels)
    try:
        loss = _loss_and_gradients(run, batch, channels_t)
    except Exception as exc:
        if not run._loss.fall_back(exc):  # a compiled step that failed: again, eagerly
            raise
        loss = _loss_and_gradients(run, batch, channels_t)
    run.dist.after_backward()
    stepped = run.scaler.is_enabled() or run._guard.finite(run.net, run.step)
    value = None
    if stepped:
        run.scaler.step(run.optimizer)  # the float16 scaler skips such steps itself
        run.scaler.update()
        value = float(loss.detach())
    run.step += 1
    if run.threads is not None:
        run.threads.step_done(time.perf_counter() - step_start)
    return lr, value
