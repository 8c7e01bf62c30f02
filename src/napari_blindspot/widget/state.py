"""The widget's state without Qt: the job state machine, the evented state the view shows,
the loss curves, and what the view asks the controller to do (requests)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from psygnal import Signal, evented


class JobState(Enum):
    """What the widget is doing.

    ``IDLE`` -> ``TRAINING`` (-> ``STOPPING``) -> ``DENOISING`` (-> ``CANCELLING``) -> ``IDLE``;
    ``IDLE`` -> ``EXPORTING`` (a bioimage.io package being written) -> ``IDLE``;
    ``CLOSING`` while the job of a closed widget ends (its results are dropped), then ``CLOSED``.
    """

    IDLE = "idle"
    TRAINING = "training"
    STOPPING = "stopping"
    DENOISING = "denoising"
    CANCELLING = "cancelling"
    EXPORTING = "exporting"
    CLOSING = "closing"
    CLOSED = "closed"

    @property
    def job(self) -> str | None:
        """The running job: ``"training"``, ``"denoising"``, ``"exporting"``, ``"closing"`` or None."""
        return _JOBS.get(self)

    @property
    def can_start(self) -> bool:
        """Whether a new job may start."""
        return self in (JobState.IDLE, JobState.CLOSED)


_JOBS = {JobState.TRAINING: "training", JobState.STOPPING: "training", JobState.DENOISING: "denoising",
         JobState.CANCELLING: "denoising", JobState.EXPORTING: "exporting", JobState.CLOSING: "closing"}

NO_MODEL = "No model yet: train one, or load a model file."


@evented
@dataclass
class ControllerState:
    """What the view shows; every field has its own event (``state.events.<field>``)."""

    job: JobState = JobState.IDLE
    #: Training progress in [0, 1] and its text.
    progress: float = 0.0
    progress_text: str = "ready"
    noise_text: str = ""
    #: What the live preview shows now: its region, and a first estimate or the network's output.
    preview_text: str = ""
    device_text: str = ""
    #: Denoising progress in [0, 1] and its text.
    denoise_progress: float = 0.0
    denoise_text: str = ""
    model_text: str = NO_MODEL
    has_model: bool = False
    #: The model is napari-blindspot's (it can be continued, saved, exported), not a
    #: bioimage.io model from another tool.
    own_model: bool = False


class LossHistory:
    """Training and validation loss against the step (the model's, across Continue)."""

    changed = Signal()

    def __init__(self) -> None:
        self.train: list[tuple[float, float]] = []
        self.validation: list[tuple[float, float]] = []
        #: The method whose losses these are (the plot's legend and tooltip name its loss).
        self.method = ""
        #: Seconds the run had trained at the last point.
        self.elapsed_s = 0.0

    def clear(self, method: str | None = None) -> None:
        """Forget the curves (a new run of ``method``, when given)."""
        self.train.clear()
        self.validation.clear()
        self.elapsed_s = 0.0
        if method is not None:
            self.method = method
        self.changed.emit()

    def add(self, step: float, train: float, validation: float | None = None,
            elapsed_s: float | None = None) -> None:
        """Add the losses at ``step`` (non-finite values are left out), ``elapsed_s`` into the run."""
        if elapsed_s is not None:
            self.elapsed_s = float(elapsed_s)
        if math.isfinite(train):
            self.train.append((float(step), float(train)))
        if validation is not None and math.isfinite(validation):
            self.validation.append((float(step), float(validation)))
        self.changed.emit()


class NoiseCurveSet:
    """The noise curves the view plots: the training run's (HQ-SSL, after its calibration,
    updated when training fine-tunes the noise) or the current model's; one
    :class:`~napari_blindspot.engine.methods.hqssl.noise_curves.ChannelNoiseCurve` per data channel, none
    for methods without a noise model."""

    changed = Signal()

    def __init__(self) -> None:
        self.curves: list[Any] = []
        #: The training step the curves are of (0: before training, or a loaded model's).
        self.step = 0

    def set(self, curves: Any, step: int = 0) -> None:
        self.curves, self.step = list(curves), int(step)
        self.changed.emit()

    def clear(self) -> None:
        self.set([])

    def show_model(self, model: Any) -> None:
        """``model``'s noise curves (the refit included) at its training step; none when it has
        no noise model (or ``model`` is None)."""
        curves = model.noise_curves() if model is not None else []
        self.set(curves, int((model.info if model is not None else {}).get("steps", 0) or 0))

    @property
    def warnings(self) -> list[str]:
        """The calibration's warnings about the data, of every channel (repeats once)."""
        out: list[str] = []
        for curve in self.curves:
            out += [w for w in curve.warnings if w not in out]
        return out


@dataclass
class TrainRequest:
    """What to train on and how: the view's inputs when Train (or Continue) is pressed.

    ``settings``: :class:`TrainConfig` fields (training length included); ``target``: the
    second acquisition's layer for methods that take one; ``tta``: for the denoising that
    follows training.
    """

    layer: Any
    axes: str
    method: str
    settings: dict[str, Any] = field(default_factory=dict)
    train_3d: bool = False
    target: Any = None
    live_preview: bool = True
    tta: bool = False


@dataclass
class DenoiseRequest:
    """What to denoise and how."""

    layer: Any
    axes: str
    tile_size: int | None = None
    tta: bool = False
