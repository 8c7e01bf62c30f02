"""The widget's logic without Qt: train, continue, stop, denoise, cancel; model files (load,
save, bioimage.io export) in its :class:`~.model_files.ModelFiles` (``controller.files``), TIFF
export in :mod:`.exporting`, the training run's setup in :mod:`.training_setup`.

:class:`DenoiseController` works on a napari viewer *model* (a ``ViewerModel`` is enough) and
runs its jobs with the :data:`~.jobs.Runner` it is given (napari workers in the dock widget,
:func:`~.jobs.run_now` in tests); it reports through its evented :class:`~.state.ControllerState`,
its :class:`~.state.LossHistory` and its signals.  The dock widget (:mod:`._qt.dock`) is a view of it.
"""

from __future__ import annotations

import contextlib
import logging
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from psygnal import Signal

from ..engine import (CompileFallback, DenoisingModel, DivergenceRecovered, DurationWarning, NoiseCurves, Preview,
                      TrainingFinished, TrainingProgress, TrainingRun, TrainingStarted, method_class,
                      method_classes)
from ..engine.defaults import one_shot_tta
from ..engine.system.device import configure_threads, interactive_threads
from ..text import (compile_fallback, denoising_progress, divergence_warning, duration_warning, finished_progress, noise_text,
                    progress_line, training_finished, training_started)
from .exporting import ResultExport
from .gc_pause import CollectorPause
from .jobs import Failed, Job, Reporter, Runner, guarded
from .layers import LayerError, Source, put_denoised_layers, selected_sources, show_result
from .model_files import ModelFiles, describe_model
from .preview import LivePreview
from .state import (NO_MODEL, ControllerState, DenoiseRequest, JobState, LossHistory, NoiseCurveSet,
                    TrainRequest)
from .streamed import StreamedResult, should_stream
from .training_setup import plan_training

log = logging.getLogger(__name__)

#: Seconds between preview refreshes while training (plus one right after the view moves).
PREVIEW_INTERVAL_S = 3.0

def method_choices() -> list[tuple[str, str]]:
    """``(display name, name)`` of every registered method, in the order to offer them."""
    return [(cls.display_name, cls.name) for cls in method_classes()]


class DenoiseController(ResultExport, Reporter):
    """Self-supervised denoising of the layers of ``viewer`` (see the module docstring); its
    model files are :attr:`files`."""

    #: The model, when training ends (completed, stopped or time budget).
    training_finished = Signal(object)
    #: ``{"denoised": layer, ["uncertainty": layer]}`` when denoising ends.
    denoising_finished = Signal(object)
    #: A model file was loaded (the view shows its settings).
    model_loaded = Signal(object)
    #: The job name (``"training"``, ``"denoising"``) whenever a job is over.
    job_done = Signal(str)

    def __init__(self, viewer: Any, runner: Runner) -> None:
        self.viewer = viewer
        self.runner = runner
        self.state = ControllerState()
        self.losses = LossHistory()
        #: The noise model's curves (HQ-SSL): the run's, then the model's.
        self.noise_curves = NoiseCurveSet()
        self.preview = LivePreview(viewer, self._show_preview_text)
        self.model: DenoisingModel | None = None
        self.model_origin = ""
        #: How many progress / preview events arrived (diagnostics and tests).
        self.events_seen: Counter[str] = Counter()
        super().__init__()
        self._job: Job | None = None
        self._run: TrainingRun | None = None
        self._source: Source | None = None
        self._sources: list[Source] = []  # every layer trained on (several selected layers)
        self._queue: list[Source] = []  # more layers to denoise after this one
        self._streamed: StreamedResult | None = None  # a result too big for memory, being written
        self._tta = False
        self._finished: TrainingFinished | None = None
        self._collector = CollectorPause()
        self._connections: list[tuple[Any, Callable]] = []
        #: Load, save and export the model.
        self.files = ModelFiles(viewer, self.state, self, self._start, lambda: self.model,
                                self._adopt_loaded)

    # ================================================================== state
    def _show_preview_text(self, text: str) -> None:
        self.state.preview_text = text

    @property
    def busy(self) -> str | None:
        """The running job: ``"training"``, ``"denoising"``, ``"exporting"`` (``"closing"``) or None."""
        return self.state.job.job

    @property
    def run(self) -> TrainingRun | None:
        """The training run in progress, if any."""
        return self._run

    @property
    def job(self) -> Job | None:
        """The running job's handle, if any."""
        return self._job

    def follow(self, emitter: Any, callback: Callable) -> None:
        """Connect ``callback`` to a viewer event until :meth:`shutdown`."""
        emitter.connect(callback)
        self._connections.append((emitter, callback))

    def _set_model(self, model: DenoisingModel | None, origin: str = "") -> None:
        self.model, self.model_origin = model, origin
        self.state.own_model = model is not None and model.native
        self.state.has_model = model is not None
        self.state.model_text = NO_MODEL if model is None else describe_model(model, origin)

    def _start(self, state: JobState, events: Any, on_event: Callable[[Any], None],
               on_done: Callable[[Any], None]) -> Job:
        job = self.runner(events, on_event, lambda result: self._job_done(state.job, on_done, result))
        self._job = job
        self._collector.hold()
        self.state.job = state
        return job

    def _job_done(self, kind: str | None, finish: Callable[[Any], None], result: Any) -> None:
        closing = self.state.job in (JobState.CLOSING, JobState.CLOSED)
        self._job = None
        try:
            if closing:
                self._run = None
                self.preview.stop()
                self.preview.drop()
            else:
                finish(result)
        finally:
            if self._job is None:  # no next job was started (training starts denoising)
                self._collector.release()
                self.state.job = JobState.CLOSED if closing else JobState.IDLE
        if kind:
            self.job_done.emit(kind)

    # ================================================================== training
    def train(self, request: TrainRequest) -> None:
        """Train a new model on ``request.layer``, then denoise it."""
        with self.reporting("starting training"):
            self._start_training(request, continuing=False)

    def continue_training(self, request: TrainRequest) -> None:
        """Train the current model further on ``request.layer`` (same network)."""
        with self.reporting("continuing training"):
            if self.model is None:
                raise LayerError("There is no model to continue: train one or load a model file.")
            if not self.model.native:
                raise LayerError("This bioimage.io model comes from another tool and cannot be trained "
                                 "further here: press Train for a new napari-blindspot model.")
            self._start_training(request, continuing=True)

    def _start_training(self, request: TrainRequest, continuing: bool) -> None:
        if not self.state.job.can_start:
            return
        plan = plan_training(self.viewer, request, self.model if continuing else None,
                             PREVIEW_INTERVAL_S)
        run, config, source, sources = plan.run, plan.config, plan.source, plan.sources
        method = method_class(config.method)
        self._sources = sources
        if not continuing:
            self.losses.clear(config.method)
            self.state.noise_text = ""
            self.noise_curves.clear()
        self._run, self._source, self._tta, self._finished = run, source, request.tta, None
        self.preview.stop()
        if request.live_preview:
            self.preview.start(source, run)
        self.state.progress, self.state.progress_text = 0.0, "preparing…"
        job = self._start(JobState.TRAINING, guarded(run.events(), "training"), self._on_training_event,
                          self._finish_training)
        self.refresh_preview(force=True)
        names = ", ".join(repr(s.name) for s in sources)
        self.say(f"{'Continuing' if continuing else 'Preparing'} {method.display_name} training on "
                 f"{names} (axes {config.axes}{', 3D' if config.train_3d else ''})…")
        job.start()

    def stop(self) -> None:
        """Stop training after the current step; the model trained so far is kept and used."""
        if self.state.job is JobState.TRAINING and self._run is not None:
            self._run.stop()
            self.state.job = JobState.STOPPING

    def refresh_preview(self, force: bool = False) -> None:
        """Preview the slice the viewer shows now (the view calls this after it moved)."""
        if self.state.job in (JobState.TRAINING, JobState.STOPPING):
            self.preview.refresh(force)

    def _on_training_event(self, ev: Any) -> None:
        run = self._run
        if isinstance(ev, TrainingProgress) and run is not None:
            self.events_seen["progress"] += 1
            self.losses.add(run.steps_done_before + ev.step, ev.train_loss,
                            ev.val_loss if ev.validated else None, ev.elapsed_s)
            self.state.progress, self.state.progress_text = ev.progress, progress_line(ev)
            if ev.noise:
                self.state.noise_text = noise_text(run.method, ev.noise)
        elif isinstance(ev, Preview):
            self.events_seen["preview"] += 1
            self.preview.show(ev)
        elif isinstance(ev, NoiseCurves) and run is not None:
            self.noise_curves.set(ev.curves, run.steps_done_before + ev.step)
        elif isinstance(ev, DurationWarning):
            self.say(duration_warning(ev, command_line=False), "warning")
        elif isinstance(ev, DivergenceRecovered):
            self.say(divergence_warning(ev), "warning")
        elif isinstance(ev, CompileFallback):
            self.say(compile_fallback(ev), "warning")
        elif isinstance(ev, TrainingStarted):
            self.state.device_text = f"Device: {ev.device}"
            self.say(training_started(ev))
        elif isinstance(ev, TrainingFinished):
            self._finished = ev

    def _finish_training(self, result: Any) -> None:
        run, source, fin = self._run, self._source, self._finished
        self._run = None
        self.preview.stop()
        if isinstance(result, Failed) or result is None:
            self.preview.drop()
            kept = ""
            if run is not None and run.step > 0 and source is not None:
                with contextlib.suppress(Exception):  # nothing to keep
                    self._set_model(run.model, f"trained on {source.name!r}, interrupted")
                    kept = (f" The model trained so far ({run.step:,} steps) is kept: press Denoise, "
                            "or Continue.")
            self.state.progress_text = "failed" if isinstance(result, Failed) else "cancelled"
            if isinstance(result, Failed):
                self.say(result.message + kept, "error")
            else:
                self.say("Training was cancelled." + kept, "warning")
            return
        assert source is not None and fin is not None  # events() yields TrainingFinished last
        sources = self._sources or [source]
        self._set_model(result, f"trained on {source.name!r}" if len(sources) == 1
                        else f"trained on {len(sources)} layers")
        if fin.reason in ("completed", "converged"):
            self.state.progress = 1.0
        self.state.progress_text = finished_progress(fin)
        noise = result.noise_parameters()
        if noise:
            self.state.noise_text = noise_text(result.method, noise)
        self.noise_curves.show_model(result)
        self.training_finished.emit(result)
        if fin.step == 0:
            self.preview.drop()
            self.say("Training stopped before its first step; train again to get a model worth "
                     "using.", "warning")
            return
        # the last preview stays up while the layer is denoised, then becomes the result
        self.say(f"{training_finished(fin)}; denoising {', '.join(repr(s.name) for s in sources)}…")
        self._queue = [s for s in sources if s.layer is not source.layer]
        self._start_denoising(source, result.config.tile_size, self._tta)

    # ================================================================== denoising
    def denoise(self, request: DenoiseRequest) -> None:
        """Apply the current model (trained or loaded) to ``request.layer``."""
        with self.reporting("starting denoising"):
            if not self.state.job.can_start:
                return
            if self.model is None:
                raise LayerError("There is no model yet: train one, or load a model file.")
            sources = selected_sources(self.viewer, request.layer, request.axes)
            self.say(f"Denoising {', '.join(repr(s.name) for s in sources)}…")
            self._queue = sources[1:]  # every selected layer, one after another
            self._start_denoising(sources[0], request.tile_size, request.tta)

    def _start_denoising(self, source: Source, tile_size: int | None, tta: bool | int) -> None:
        model = self.model
        assert model is not None
        if model.device.type == "cpu":
            configure_threads(interactive_threads())
        keys = ("denoised", "uncertainty") if model.has_uncertainty else ("denoised",)
        # test-time augmentation as one-shot `blindspot denoise` does it (rotations and mirror
        # images, up to 1 MP); a bioimage.io model from another tool predicts as its package says
        tta = one_shot_tta(tuple(source.data.shape), model.shares_tta) if tta and model.native else False
        if should_stream(source.data, len(keys)):  # lazy layers that fill in as they are written
            if not model.native:
                raise LayerError(f"{source.name!r} is too big for memory, and a bioimage.io model from "
                                 "another tool denoises in memory only: crop the layer.")
            self.preview.drop()
            self._streamed = StreamedResult(self.viewer, model, source, keys)
            self.say(f"The result of {source.name!r} is too big for memory: it is written to "
                     f"{self._streamed.scratch.folder} and shown as it is written.")
            events = self._streamed.events(model, source, tile_size=tile_size, tta=tta)
        else:
            events = model.predict_iter(source.data, source.axes, tile_size=tile_size, tta=tta,
                                        uncertainty=model.has_uncertainty)
        self.state.denoise_progress, self.state.denoise_text = 0.0, "denoising…"
        slices = model.slice_warning(source.axes)
        if slices:
            self.say(f"{source.name!r}: {slices}", "warning")
        self._start(JobState.DENOISING, guarded(events, "denoising"), self._on_prediction_progress,
                    lambda result: self._finish_denoising(source, result, tile_size, tta)).start()

    def cancel(self) -> None:
        """Stop denoising; no layer is changed."""
        if self.state.job is JobState.DENOISING and self._job is not None:
            self._job.quit()
            self.state.job = JobState.CANCELLING

    def _on_prediction_progress(self, ev: Any) -> None:
        if self._streamed is not None:
            self._streamed.refresh()
        self.state.denoise_progress = ev.done / max(1, ev.total)
        self.state.denoise_text = denoising_progress(ev.done, ev.total, ev.elapsed_s)

    def _finish_denoising(self, source: Source, result: Any, tile_size: int | None = None,
                          tta: bool = False) -> None:
        streamed, self._streamed = self._streamed, None
        if not isinstance(result, dict):
            self._queue = []
            if streamed is not None:  # a streamed result that did not finish: nothing is kept
                streamed.discard()
            self.preview.drop()
            self.state.denoise_progress = 0.0
            self.state.denoise_text = "failed" if isinstance(result, Failed) else "cancelled"
            if isinstance(result, Failed):
                self.say(result.message, "error")
            else:
                self.say("Denoising was cancelled; no layer was changed.", "warning")
            return
        layers = put_denoised_layers(self.viewer, source, result, reuse=self.preview.take())
        show_result(self.viewer, layers["denoised"])
        self.state.denoise_progress, self.state.denoise_text = 1.0, "done"
        names = " and ".join(repr(layer.name) for layer in reversed(list(layers.values())))
        self.say(f"Done: {names} in the layer list. Export them with 'Export TIFF…'.")
        self.denoising_finished.emit(layers)
        queue, self._queue = self._queue, []
        if queue:  # the next selected layer
            self._queue = queue[1:]
            self.say(f"Denoising {queue[0].name!r}…")
            self._start_denoising(queue[0], tile_size, tta)

    # ================================================================== model
    def _adopt_loaded(self, model: Any, origin: str) -> None:
        """A model loaded from a file replaces the current one (and its curves)."""
        self._set_model(model, origin)
        self.losses.clear()
        own = model.native
        self.state.noise_text = noise_text(model.method, model.noise_parameters()) if own else ""
        self.noise_curves.show_model(model if own else None)
        self.model_loaded.emit(model)

    def reset(self) -> None:
        """Forget the model, the loss curves and the progress (layers are kept)."""
        if not self.state.job.can_start:
            return
        self._set_model(None)
        self.losses.clear()
        self.noise_curves.clear()
        self.state.noise_text = ""
        self.state.progress, self.state.progress_text = 0.0, "ready"
        self.state.denoise_progress, self.state.denoise_text = 0.0, ""
        self.say("Reset: the next Train starts a new model.")

    # ================================================================== closing
    def close_jobs(self) -> None:
        """The widget is going away: stop the job; its results are dropped."""
        if self.busy is not None:
            self.state.job = JobState.CLOSING
            if self._run is not None:
                self._run.stop()
            if self._job is not None:
                self._job.quit()

    def shutdown(self, *_: Any) -> None:
        """Stop any job, stop following the viewer, and stop reporting (the view is closing)."""
        self.close_jobs()
        if self.state.job is JobState.IDLE:
            self.state.job = JobState.CLOSED
        for emitter, callback in self._connections:
            with contextlib.suppress(Exception):  # the viewer is already torn down
                emitter.disconnect(callback)
        self._connections = []
        if self._job is None:
            self._collector.release()
        for signal in (self.message, self.training_finished, self.denoising_finished,
                       self.model_loaded, self.job_done, self.losses.changed,
                       self.noise_curves.changed):
            signal.disconnect()
        self.state.events.disconnect()
