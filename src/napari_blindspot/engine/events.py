"""Typed events yielded by the training and prediction generators.

Front ends (CLI progress bar, napari widget) consume these; nothing in the engine prints.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from .model import DenoisingModel
    from .methods.hqssl.noise_curves import ChannelNoiseCurve


@dataclass(frozen=True)
class TrainingStarted:
    """Sent once before the first step."""

    method: str
    device: str
    total_steps: int | None
    time_budget_s: float | None
    n_train_patches: int
    n_validation_patches: int
    n_parameters: int
    #: How channels="auto" was resolved, one sentence ("" when given or one channel).
    channels: str = ""
    #: The saturation levels for bright sparse spots, one clause per clipped channel ("" when none).
    saturation: str = ""
    #: Where the weights started other than at random, e.g. "started from the trained prior".
    start: str = ""


@dataclass(frozen=True)
class TrainingProgress:
    """Sent after training steps (throttled) and after every validation.

    ``epoch`` counts passes over the data (fractional); losses are in normalised units;
    ``noise`` holds learned noise parameters in the image's intensity units (HQ-SSL).
    ``progress`` is the fraction of the run done, by steps or by time budget.
    ``validated`` is True when ``val_loss`` was computed at this very step.
    """

    step: int
    total_steps: int | None
    epoch: float
    train_loss: float
    val_loss: float | None
    best_val_loss: float | None
    learning_rate: float
    elapsed_s: float
    eta_s: float | None
    progress: float
    noise: dict[str, float] = field(default_factory=dict)
    validated: bool = False


@dataclass(frozen=True)
class DurationWarning:
    """Sent once, after the first timed steps, when a run of a fixed step count is projected
    to take longer than ``threshold_s`` (see :mod:`.training.duration`).

    ``seconds_per_step`` measured after the warm-up; ``projected_s`` the whole run's time
    (seconds); ``suggested_minutes`` a time budget to train for instead, of which
    ``steps_in_suggested`` steps fit at this speed; ``three_d_cpu``: a 3D run on a CPU (2D is
    many times faster); ``batch_size`` and ``patch_shape`` (``([Z,] Y, X)``) the run's.
    """

    step: int
    total_steps: int
    seconds_per_step: float
    projected_s: float
    threshold_s: float
    suggested_minutes: int
    steps_in_suggested: int
    three_d_cpu: bool
    batch_size: int
    patch_shape: tuple[int, ...]


@dataclass(frozen=True)
class DivergenceRecovered:
    """Sent when training diverged and went back to earlier weights (see :mod:`.training.divergence`).

    ``step`` where it was noticed; ``reason`` in words (e.g. "5 steps in a row with non-finite
    gradients"); ``restored_step`` the step whose weights it went back to (0: the initial
    ones); ``learning_rate_factor`` the factor on the learning rate from now on (0.5, 0.25,
    ...); ``recoveries`` how many times this run recovered.
    """

    step: int
    reason: str
    restored_step: int
    learning_rate_factor: float
    recoveries: int


@dataclass(frozen=True)
class CompileFallback:
    """Sent once when ``compile=True`` could not be used (see :mod:`.training.compiled`):
    training goes on uncompiled from ``step``; ``reason`` says why in one line (no
    ``torch.compile`` in this torch, or the compiler's error)."""

    step: int
    reason: str


@dataclass(frozen=True)
class NoiseCurves:
    """The noise model's curves of noise against brightness, one per data channel (intensity
    units, :class:`~.methods.hqssl.noise_curves.ChannelNoiseCurve`): sent before the first step by methods
    with a noise model (HQ-SSL, after its calibration), and again at validations when training
    changed the noise (``noise_fit`` other than ``"fixed"``)."""

    step: int
    curves: tuple["ChannelNoiseCurve", ...]


@dataclass(frozen=True)
class Preview:
    """The current model's output for the preview block given to the run.

    ``image`` (and ``uncertainty`` for HQ-SSL) have the preview block's shape,
    float32 in the image's intensity units.
    """

    step: int
    image: np.ndarray
    uncertainty: np.ndarray | None = None


@dataclass(frozen=True)
class TrainingFinished:
    """Sent last; ``reason`` is ``"completed"``, ``"stopped"``, ``"time budget"``,
    ``"converged"`` (the validation loss stopped improving, :mod:`.training.convergence`) or
    ``"diverged"`` (it kept diverging after :data:`~.training.divergence.MAX_RECOVERIES` recoveries:
    ``model`` holds its best validated weights)."""

    model: "DenoisingModel"
    step: int
    reason: str
    elapsed_s: float


@dataclass(frozen=True)
class PredictionProgress:
    """Sent by prediction after every batch of tiles."""

    done: int
    total: int
    elapsed_s: float



@dataclass(frozen=True)
class PredictedImage:
    """Sent by the streamed prediction of a model that predicts in memory (a bioimage.io
    package from another tool): the whole results, ``{"denoised": float32, ...}`` with the
    shape (and axes order) of the input."""

    outputs: dict[str, np.ndarray]


@dataclass(frozen=True)
class PredictedBlock:
    """Sent by streamed prediction (:meth:`~.model.DenoisingModel.predict_stream`) for every
    finished part of a sample: rows ``[start, stop)`` along the sample's first spatial axis
    (Y in 2D, Z in 3D) of canonical sample ``sample`` (data channel ``channel`` for
    independent-channel models, else None: all channels).

    ``denoised`` (and ``uncertainty``, the posterior standard deviation, when asked for and
    the method has one) are float32 ``(C, stop - start, *other spatial axes)`` in the image's
    intensity units, C = 1 when ``channel`` is set.  Write them back with
    :meth:`~.axes.CanonicalView.write` (``rows=(start, stop)``).
    """

    sample: int
    channel: int | None
    start: int
    stop: int
    denoised: np.ndarray
    uncertainty: np.ndarray | None = None

    @property
    def outputs(self) -> dict[str, np.ndarray]:
        """``{"denoised": ..., ["uncertainty": ...]}``."""
        out = {"denoised": self.denoised}
        if self.uncertainty is not None:
            out["uncertainty"] = self.uncertainty
        return out


TrainingEvent = Any  # TrainingStarted | TrainingProgress | DurationWarning | DivergenceRecovered | CompileFallback | NoiseCurves | Preview | TrainingFinished


def run_to_end(gen: Generator[Any, None, Any], on_event: Callable[[Any], None] | None = None) -> Any:
    """Iterate an event generator (training, prediction, batch) to its end and return its value;
    ``on_event`` gets every event it yields."""
    while True:
        try:
            ev = next(gen)
        except StopIteration as stop:
            return stop.value
        if on_event is not None:
            on_event(ev)
