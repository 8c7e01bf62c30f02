"""What a :class:`~.training.TrainingRun` reports while it trains: progress (at most every
:data:`PROGRESS_INTERVAL_S`, and after each validation), the noise curves when fine-tuning
changed them, and the live preview."""

from __future__ import annotations

import math
import time
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from ..events import NoiseCurves, Preview, TrainingProgress
from ..model import DenoisingModel

if TYPE_CHECKING:  # pragma: no cover
    from .loop import TrainingRun

#: Progress events are sent at most this often (seconds), plus after each validation.
PROGRESS_INTERVAL_S = 0.1


def preview_event(run: "TrainingRun") -> Preview | None:
    """The current network's denoising of the requested preview block (None: none requested)."""
    block, channel = run._preview_request
    if block is None:
        return None
    model = DenoisingModel(run.config, run.net, run.normalization, run.view.n_channels)
    out = model.predict_block(block, channel)
    run.net.train()
    return Preview(run.step, out["denoised"], out.get("uncertainty"))


class Reporter:
    """The reporting state of one run's loop: the training loss since the last report, when
    progress and the preview were last sent, and the noise last sent."""

    def __init__(self, run: "TrainingRun", start: float, curves: bool) -> None:
        self.run = run
        self.start = start
        self.curves = curves
        self.sent_noise = run.method.noise_parameters(run.net, run.normalization)
        self.last_progress = self.last_preview = -math.inf
        self.running, self.running_n = 0.0, 0

    def add_loss(self, loss: float | None) -> None:
        """Count a step's training loss (None: a skipped step)."""
        if loss is not None:
            self.running += loss
            self.running_n += 1

    def after_step(self, now: float, lr: float, val_loss: float | None, validated: bool,
                   done: bool) -> Generator[Any, None, None]:
        """The progress (and noise curves) when due, then the preview when due (from the run's
        ``preview_from_step`` on: a request before it waits for it)."""
        run = self.run
        if validated or done or now - self.last_progress >= PROGRESS_INTERVAL_S:
            noise = run.method.noise_parameters(run.net, run.normalization)
            elapsed = now - self.start
            progress = run._progress(elapsed)
            eta = elapsed * (1 - progress) / progress if progress > 0 else None
            train_loss = self.running / self.running_n if self.running_n else float("nan")
            run.history.append({"step": run.step, "train_loss": train_loss,
                                "val_loss": val_loss if validated else float("nan")})
            yield TrainingProgress(
                step=run.step, total_steps=run.total_steps,
                epoch=run.step / run.steps_per_epoch, train_loss=train_loss,
                val_loss=val_loss, best_val_loss=run.best_val, learning_rate=lr,
                elapsed_s=elapsed, eta_s=eta, progress=progress,
                noise=noise, validated=validated)
            self.running, self.running_n = 0.0, 0
            self.last_progress = now
            if self.curves and (validated or done) and noise != self.sent_noise:  # fine-tuned noise
                self.sent_noise = noise
                yield NoiseCurves(run.step, tuple(run.noise_curves()))
        first = run.step == run.preview_from_step  # the first preview: at once
        if (run._preview_request[0] is not None and run.step >= run.preview_from_step
                and (run._preview_now or first or now - self.last_preview >= run.preview_interval_s)):
            run._preview_now = False
            ev = preview_event(run)
            self.last_preview = time.perf_counter()
            if ev is not None:
                yield ev
