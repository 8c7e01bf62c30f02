"""The dock widget: pick a layer and a method, train in the background, watch, keep, export.

Everything that computes runs in napari generator workers (:mod:`.tasks`) over the
engine's generators; this module only turns their events into widget and layer
updates on the main thread.  See ``docs/widget.md`` for the user guide.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import weakref
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from napari.layers import Image
from napari.utils.notifications import show_error, show_warning
from qtpy.QtCore import QEvent, QObject, Qt, QTimer, Signal
from qtpy.QtWidgets import (QComboBox, QFileDialog, QFrame, QGridLayout, QHBoxLayout, QLabel,
                            QLineEdit, QProgressBar, QPushButton, QScrollArea, QVBoxLayout, QWidget)

from ..engine import (BlindspotError, DenoisingModel, Preview, TrainConfig, TrainingFinished,
                      TrainingProgress, TrainingRun, TrainingStarted, check_axes, describe_device,
                      load_model, method_class, method_classes, method_names, select_device)
from ..engine.axes import CanonicalView
from ..engine.device import configure_threads, interactive_threads
from ..text import (denoising_progress, finished_progress, model_summary, noise_text, progress_line,
                    training_finished, training_started)
from .gc_pause import CollectorPause
from .layer_picker import LayerPicker
from .layers import (LayerError, PreviewSpec, Source, camera, export_results, find_result,
                     guess_layer_axes, layer_data, placeholder_result_layer, preview_block,
                     preview_layer_data, preview_spec, put_result_layer, remove_layer, result_kind,
                     robust_limits)
from .loss_plot import LossPlot
from .settings import SettingsPanel
from .tasks import Failed, prediction_job, training_job, user_message

log = logging.getLogger(__name__)

#: Seconds between preview refreshes while training (plus one right after the slider moves).
PREVIEW_INTERVAL_S = 3.0
PREVIEW_DEBOUNCE_MS = 150
#: Training progress (bar, loss plot, noise) is repainted at most this often.
PROGRESS_REPAINT_MS = 250
AXIS_NAMES = {"S": "sample", "T": "time", "Z": "depth", "C": "channel", "Y": "Y", "X": "X"}
ERROR_STYLE = "color: #ff7070;"
WARNING_STYLE = "color: #ffb347;"


class _Jobs:
    """Plain-Python handle on the running job and the viewer connections.

    It is connected to the widget's ``destroyed`` signal, so a job is stopped even when
    the widget's Qt object goes away with its window.
    """

    def __init__(self) -> None:
        self.run: TrainingRun | None = None
        self.worker: Any = None
        self.connections: list[tuple[Any, Callable]] = []

    def stop(self) -> None:
        if self.run is not None:
            self.run.stop()
        if self.worker is not None:
            try:
                self.worker.quit()
            except RuntimeError:  # pragma: no cover - worker already deleted
                pass

    def shutdown(self, *_: Any) -> None:
        self.stop()
        for emitter, callback in self.connections:
            try:
                emitter.disconnect(callback)
            except Exception:  # noqa: BLE001 - viewer already torn down
                pass
        self.connections = []


def _reports_errors(doing: str) -> Callable:
    """Decorator: an exception in a button action becomes a notification and a message."""

    def decorate(method: Callable) -> Callable:
        @functools.wraps(method)
        def wrapper(self: "BlindspotWidget", *args: Any, **kwargs: Any) -> Any:
            try:
                return method(self, *args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - shown to the user
                if not isinstance(exc, BlindspotError):
                    log.error("napari-blindspot: error while %s", doing, exc_info=exc)
                self._error(user_message(exc, doing))
                return None

        return wrapper

    return decorate


class BlindspotWidget(QWidget):
    """Self-supervised denoising of an image layer (N2V2, N2V, HQ-SSL, Noise2Noise).

    Public methods mirror the buttons (``train``, ``stop``, ``continue_training``,
    ``reset``, ``denoise``, ``cancel_denoising``, ``save_model``, ``load_model``,
    ``export``) so the widget can also be driven from scripts and tests.
    """

    #: Emitted with the model when training ends (completed, stopped or time budget).
    training_finished = Signal(object)
    #: Emitted with ``{"denoised": layer, ["uncertainty": layer]}`` when denoising ends.
    denoising_finished = Signal(object)
    #: Emitted with the job name ("training", "denoising") whenever a job is over.
    job_done = Signal(str)

    def __init__(self, napari_viewer: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.viewer = napari_viewer
        self.model: DenoisingModel | None = None
        self.model_origin = ""
        #: How many progress / preview events arrived (diagnostics and tests).
        self.events_seen: Counter[str] = Counter()
        self._jobs = _Jobs()
        self._job: str | None = None
        self._worker: Any = None
        self._result: Any = None
        self._run: TrainingRun | None = None
        self._source: Source | None = None
        self._denoise_source: Source | None = None
        self._finished_event: TrainingFinished | None = None
        self._preview_spec: Any = None
        self._preview_after = -1
        self._preview_layer: Any = None
        self._preview_shown = False
        self._collector = CollectorPause()
        self._closing = False
        self._watched: weakref.ref | None = None
        self._axes_by_layer: dict[int, tuple[weakref.ref, str]] = {}  # axes typed per layer

        self._pending_progress: TrainingProgress | None = None
        self._progress_timer = QTimer(self)
        self._progress_timer.setSingleShot(True)
        self._progress_timer.setInterval(PROGRESS_REPAINT_MS)
        self._progress_timer.timeout.connect(self._repaint_progress)
        self._preview_timer = QTimer(self)
        self._preview_timer.setSingleShot(True)
        self._preview_timer.setInterval(PREVIEW_DEBOUNCE_MS)
        self._preview_timer.timeout.connect(self._refresh_preview)

        self._build()
        for emitter in (self.viewer.dims.events.current_step, camera(self.viewer).events.center):
            emitter.connect(self._schedule_preview)
            self._jobs.connections.append((emitter, self._schedule_preview))
        self.destroyed.connect(self._jobs.shutdown)
        self._on_layer_changed(self.layer_picker.current_layer())
        self._on_method_changed()
        self._update_device_label()
        self._set_busy(None)

    # ================================================================== UI
    def _build(self) -> None:
        def header(text: str) -> QLabel:
            label = QLabel(f"<b>{text}</b>")
            label.setContentsMargins(0, 6, 0, 0)
            return label

        def small(label: QLabel) -> QLabel:
            label.setWordWrap(True)
            font = label.font()
            font.setPointSizeF(font.pointSizeF() * 0.9)
            label.setFont(font)
            return label

        self.layer_picker = LayerPicker(self.viewer)
        self.layer_picker.setToolTip("The image layer to denoise (image layers only).")
        self.layer_picker.layer_changed.connect(self._on_layer_changed)
        self.axes_edit = QLineEdit()
        self.axes_edit.setToolTip("One letter per dimension: S sample, T time, Z depth, C channel, "
                                  "Y, X (e.g. TYX, ZYX, CZYX).")
        self.axes_edit.setMaxLength(8)
        self.axes_edit.textEdited.connect(self._on_axes_edited)
        self.dim_combo = QComboBox()
        self.dim_combo.addItem("2D", False)
        self.dim_combo.addItem("3D", True)
        self.dim_combo.setToolTip("2D: train on single planes (Z slices are separate samples). "
                                  "3D: train on volumes (needs a Z axis; slower, uses Z context).")
        self.dim_combo.currentIndexChanged.connect(lambda *_: self._update_context())
        self.axes_hint = small(QLabel())
        self.method_combo = QComboBox()
        for cls in method_classes():
            self.method_combo.addItem(cls.display_name, cls.name)
        self.method_combo.currentIndexChanged.connect(lambda *_: self._on_method_changed())
        self.method_help = small(QLabel())
        self.target_picker = LayerPicker(self.viewer)
        self.target_picker.setToolTip("Noise2Noise: a second, independent noisy acquisition of the "
                                      "same scene, with the same shape.")
        self.target_label = QLabel("Second acquisition")
        self.settings = SettingsPanel()
        self.settings.device_changed.connect(lambda *_: self._update_device_label())
        self.device_label = small(QLabel())

        self.train_button = QPushButton("Train")
        self.train_button.setToolTip("Train a new model on the layer (then denoise it). While training "
                                     "this is Stop: it keeps the model trained so far.")
        self.train_button.clicked.connect(self._on_train_clicked)
        self.continue_button = QPushButton("Continue")
        self.continue_button.setToolTip("Train the current model further (training length above).")
        self.continue_button.clicked.connect(lambda: self.continue_training())
        self.reset_button = QPushButton("Reset")
        self.reset_button.setToolTip("Forget the current model and the loss curves.")
        self.reset_button.clicked.connect(lambda: self.reset())
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(True)
        self.loss_plot = LossPlot()
        self.noise_label = small(QLabel())

        self.denoise_button = QPushButton("Denoise")
        self.denoise_button.setToolTip("Apply the current (trained or loaded) model to the selected layer.")
        self.denoise_button.clicked.connect(lambda: self.denoise())
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(lambda: self.cancel_denoising())
        self.denoise_progress = QProgressBar()
        self.denoise_progress.setRange(0, 1000)
        self.denoise_progress.setTextVisible(True)

        self.model_label = small(QLabel())
        self.save_button = QPushButton("Save model…")
        self.save_button.clicked.connect(lambda: self.save_model())
        self.load_button = QPushButton("Load model…")
        self.load_button.clicked.connect(lambda: self.load_model())
        self.export_button = QPushButton("Export TIFF…")
        self.export_button.setToolTip("Write the selected layer's denoised (and uncertainty) layer as "
                                      "ImageJ TIFF files, with the pixel size from the layer's scale.")
        self.export_button.clicked.connect(lambda: self.export())
        self.export_dtype = QComboBox()
        self.export_dtype.addItem("float32", "float32")
        self.export_dtype.addItem("source pixel type", "source")
        self.export_dtype.setToolTip("float32 keeps every value; the source type (e.g. uint16) rounds "
                                     "and clips the denoised values.")
        self.message = small(QLabel())
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        # the content scrolls when the window is too short, instead of being squeezed
        content = QWidget()
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(content)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)

        layout = QVBoxLayout(content)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.setSpacing(4)
        # a grid, not a form: word-wrapped labels get their full height in a grid
        data = QGridLayout()
        data.setColumnStretch(1, 1)
        data.setVerticalSpacing(3)
        data.addWidget(QLabel("Layer"), 0, 0)
        data.addWidget(self.layer_picker, 0, 1)
        axes_row = QHBoxLayout()
        axes_row.addWidget(self.axes_edit, 1)
        axes_row.addWidget(self.dim_combo)
        data.addWidget(QLabel("Axes"), 1, 0)
        data.addLayout(axes_row, 1, 1)
        data.addWidget(self.axes_hint, 2, 1)
        data.addWidget(QLabel("Method"), 3, 0)
        data.addWidget(self.method_combo, 3, 1)
        data.addWidget(self.method_help, 4, 0, 1, 2)
        data.addWidget(self.target_label, 5, 0)
        data.addWidget(self.target_picker, 5, 1)
        layout.addLayout(data)
        layout.addWidget(header("Training"))
        layout.addWidget(self.settings)
        layout.addWidget(self.device_label)
        buttons = QHBoxLayout()
        buttons.addWidget(self.train_button, 2)
        buttons.addWidget(self.continue_button, 1)
        buttons.addWidget(self.reset_button, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.loss_plot)
        layout.addWidget(self.noise_label)
        layout.addWidget(header("Denoising"))
        denoise_row = QHBoxLayout()
        denoise_row.addWidget(self.denoise_button)
        denoise_row.addWidget(self.denoise_progress, 1)
        denoise_row.addWidget(self.cancel_button)
        layout.addLayout(denoise_row)
        layout.addWidget(self.model_label)
        model_row = QHBoxLayout()
        model_row.addWidget(self.save_button)
        model_row.addWidget(self.load_button)
        layout.addLayout(model_row)
        export_row = QHBoxLayout()
        export_row.addWidget(self.export_button)
        export_row.addWidget(self.export_dtype)
        layout.addLayout(export_row)
        layout.addWidget(self.message)
        layout.addStretch(1)
        self.setMinimumWidth(340)
        self._update_model_label()

    # ------------------------------------------------------------- messages
    def _info(self, text: str) -> None:
        self.message.setStyleSheet("")
        self.message.setText(text)

    def _warn(self, text: str) -> None:
        self.message.setStyleSheet(WARNING_STYLE)
        self.message.setText(text)
        show_warning(text)

    def _error(self, text: str) -> None:
        self.message.setStyleSheet(ERROR_STYLE)
        self.message.setText(text)
        log.warning("napari-blindspot: %s", text)
        show_error(text)

    # ------------------------------------------------------------- inputs
    @property
    def busy(self) -> str | None:
        """The running job: ``"training"``, ``"denoising"`` or None."""
        return self._job

    @property
    def run(self) -> TrainingRun | None:
        """The training run in progress, if any."""
        return self._run

    def select_layer(self, layer: Any) -> bool:
        """Pick ``layer`` (as if chosen in the list); a non-image layer is refused with a message."""
        if self.layer_picker.set_layer(layer):
            return True
        if not isinstance(layer, Image):
            try:
                Source.from_layer(layer, "")
            except BlindspotError as exc:
                self._error(str(exc))
                return False
        self._error(f"{getattr(layer, 'name', layer)!r} is not one of this viewer's image layers.")
        return False

    def set_method(self, method: str) -> None:
        """Choose the method (``"n2v2"``, ``"n2v"``, ``"hqssl"`` or ``"n2n"``)."""
        index = self.method_combo.findData(method)
        if index < 0:
            raise ValueError(f"Unknown method {method!r}; choose one of {', '.join(method_names())}.")
        self.method_combo.setCurrentIndex(index)

    def set_axes(self, axes: str) -> bool:
        """Type ``axes`` into the axes field; return whether it fits the layer."""
        self.axes_edit.setText(axes)
        self._on_axes_edited(axes)
        return self._check_axes() is not None

    def _on_layer_changed(self, layer: Any) -> None:
        if layer is None:
            self.axes_edit.setText("")
        else:
            ref, axes = self._axes_by_layer.get(id(layer), (None, ""))
            remembered = axes if ref is not None and ref() is layer else ""
            self.axes_edit.setText(remembered or guess_layer_axes(layer))
            if method_class(self.method_combo.currentData()).takes_target():
                self._suggest_target()
        self._update_context()

    def _on_axes_edited(self, text: str) -> None:
        layer = self.layer_picker.current_layer()
        if layer is not None:
            self._axes_by_layer[id(layer)] = (weakref.ref(layer), text.strip().upper())
        self._update_context()

    def _check_axes(self) -> str | None:
        """Validate the axes field against the layer; show the result under it."""
        layer = self.layer_picker.current_layer()
        if layer is None:
            self.axes_hint.setStyleSheet("")
            self.axes_hint.setText("No image layer: open an image or File > Open Sample.")
            return None
        shape = tuple(layer_data(layer).shape)
        try:
            axes = check_axes(self.axes_edit.text().strip(), shape)
            if layer.rgb and not axes.endswith("C"):
                raise BlindspotError("This is an RGB layer: the axes must end with C.")
        except BlindspotError as exc:
            self.axes_hint.setStyleSheet(ERROR_STYLE)
            self.axes_hint.setText(str(exc))
            return None
        self.axes_hint.setStyleSheet("")
        self.axes_hint.setText(" · ".join(f"{AXIS_NAMES[a]} {n}" for a, n in zip(axes, shape))
                               + f"  ({layer.dtype})")
        return axes

    def _update_context(self) -> None:
        axes = self._check_axes() or ""
        has_z = "Z" in axes
        self.dim_combo.setEnabled(has_z and self._job is None)
        if not has_z and self.dim_combo.currentIndex() != 0:
            self.dim_combo.setCurrentIndex(0)
        self.settings.set_context(three_d=has_z and bool(self.dim_combo.currentData()),
                                  has_channels="C" in axes)

    def _on_method_changed(self) -> None:
        method = method_class(self.method_combo.currentData())
        self.method_help.setText(method.help)
        paired = method.takes_target()
        self.target_label.setVisible(paired)
        self.target_picker.setVisible(paired)
        self.settings.set_method(method.name)
        if paired:
            self._suggest_target()

    def _suggest_target(self) -> None:
        """For Noise2Noise, pre-select another layer of the same shape as the second acquisition."""
        source = self.layer_picker.current_layer()
        if source is None or self.target_picker.current_layer() not in (None, source):
            return
        shape = tuple(layer_data(source).shape)
        for layer in self.target_picker.layers():
            if layer is not source and tuple(layer_data(layer).shape) == shape:
                self.target_picker.set_layer(layer)
                return

    def _update_device_label(self) -> None:
        try:
            device = select_device(self.settings.device_name)
            text = f"Device: {describe_device(device)}"
            if device.type == "cpu":
                n = interactive_threads()
                text = f"Device: CPU, {n} thread{'s' if n > 1 else ''} for training"
            self.device_label.setStyleSheet("")
        except BlindspotError as exc:
            text = str(exc)
            self.device_label.setStyleSheet(ERROR_STYLE)
        self.device_label.setText(text)

    def _update_model_label(self) -> None:
        model = self.model
        if model is None:
            self.model_label.setText("No model yet: train one, or load a model file.")
            return
        self.model_label.setText(f"Model: {model_summary(model, self.model_origin)}.")

    def _set_busy(self, job: str | None) -> None:
        idle = job is None
        for widget in (self.layer_picker, self.axes_edit, self.method_combo, self.target_picker,
                       self.settings, self.load_button, self.export_button, self.export_dtype):
            widget.setEnabled(idle)
        self.dim_combo.setEnabled(idle and "Z" in (self._check_axes() or ""))
        has_model = self.model is not None
        self.train_button.setEnabled(idle or job == "training")
        self.train_button.setText("Stop" if job == "training" else "Train")
        self.continue_button.setEnabled(idle and has_model)
        self.reset_button.setEnabled(idle and (has_model or bool(self.loss_plot.train)))
        self.denoise_button.setEnabled(idle and has_model)
        self.save_button.setEnabled(idle and has_model)
        self.cancel_button.setEnabled(job == "denoising")
        if idle and self.progress.value() <= 0 and not self.loss_plot.train:
            self.progress.setFormat("ready")
            self.progress.setValue(0)
        if job != "denoising" and self.denoise_progress.value() <= 0:
            self.denoise_progress.setFormat("")

    # ================================================================== training
    def _on_train_clicked(self) -> None:
        if self._job == "training":
            self.stop()
        else:
            self.train()

    @_reports_errors("starting training")
    def train(self) -> None:
        """Train a new model on the selected layer, then denoise it."""
        self._start_training(continuing=False)

    @_reports_errors("continuing training")
    def continue_training(self) -> None:
        """Train the current model further on the selected layer (same network)."""
        if self.model is None:
            raise LayerError("There is no model to continue: train one or load a model file.")
        self._start_training(continuing=True)

    def _training_config(self, source: Source, continuing: bool) -> TrainConfig:
        overrides = self.settings.overrides()
        overrides["num_threads"] = interactive_threads()
        if continuing:
            assert self.model is not None
            old = self.model.config
            overrides.update({f: getattr(old, f) for f in self.model.method.network_fields(old)})
            return TrainConfig.for_method(overrides.pop("method"), axes=source.axes, **overrides)
        train_3d = bool(self.dim_combo.currentData()) and "Z" in source.axes
        return TrainConfig.for_method(self.method_combo.currentData(), axes=source.axes,
                                      train_3d=train_3d, **overrides)

    def _start_training(self, continuing: bool) -> None:
        if self._job is not None:
            return
        source = Source.from_layer(self.layer_picker.current_layer(), self.axes_edit.text().strip())
        config = self._training_config(source, continuing)
        target = None
        method = method_class(config.method)
        if method.takes_target():
            other = self.target_picker.current_layer()
            target = None if other is None else layer_data(other)
        run = TrainingRun(source.data, config, target=target,
                          initial=self.model if continuing else None,
                          preview_interval_s=PREVIEW_INTERVAL_S)
        if not continuing:
            self.loss_plot.clear()
            self.noise_label.setText("")
        self._source = source
        if self.settings.live_preview.isChecked():
            self._add_preview_placeholder(source, config)
        self._run = self._jobs.run = run
        self._finished_event = None
        self._preview_spec = None
        self.progress.setValue(0)
        self.progress.setFormat("preparing…")
        worker = training_job(run)
        worker.yielded.connect(self._on_training_event)
        self._start(worker, "training")
        self._refresh_preview(force=True)
        what = "Continuing" if continuing else "Preparing"
        self._info(f"{what} {method.display_name} training on "
                   f"{source.name!r} (axes {config.axes}{', 3D' if config.train_3d else ''})…")

    def _start(self, worker: Any, job: str) -> None:
        worker.returned.connect(self._on_returned)
        worker.finished.connect(self._on_finished)
        self._job, self._worker, self._result = job, worker, None
        self._jobs.worker = worker
        self._collector.hold()
        self._closing = False
        self._set_busy(job)
        self._watch_window()
        worker.start()

    def stop(self) -> None:
        """Stop training after the current step; the model trained so far is kept and used."""
        if self._job != "training" or self._run is None:
            return
        self._run.stop()
        self.train_button.setEnabled(False)
        self.train_button.setText("Stopping…")

    def _on_training_event(self, ev: Any) -> None:
        if isinstance(ev, TrainingProgress):
            self.events_seen["progress"] += 1
            self._show_progress(ev)
        elif isinstance(ev, Preview):
            self.events_seen["preview"] += 1
            self._show_preview(ev)
        elif isinstance(ev, TrainingStarted):
            self.device_label.setText(f"Device: {ev.device}")
            self._info(training_started(ev))
        elif isinstance(ev, TrainingFinished):
            self._finished_event = ev

    def _show_progress(self, ev: TrainingProgress) -> None:
        """Record the event's losses now; repaint progress, plot and noise at most every
        ``PROGRESS_REPAINT_MS``: in a window holding napari's OpenGL canvas every repaint of a
        widget recomposes the window, which costs tens of milliseconds with software OpenGL."""
        step = self._run.steps_done_before + ev.step if self._run is not None else ev.step
        self.loss_plot.add_train(step, ev.train_loss, redraw=False)
        if ev.validated and ev.val_loss is not None:
            self.loss_plot.add_validation(step, ev.val_loss, redraw=False)
        self._pending_progress = ev
        if not self._progress_timer.isActive():
            self._progress_timer.start()

    def _repaint_progress(self) -> None:
        ev, self._pending_progress = self._pending_progress, None
        if ev is None or self._job != "training":
            return
        self.progress.setValue(int(round(ev.progress * 1000)))
        self.progress.setFormat(progress_line(ev))
        self.loss_plot.update()
        if ev.noise:
            self.noise_label.setText(noise_text(self._run.method, ev.noise) if self._run else "")

    # ------------------------------------------------------------- preview
    def _schedule_preview(self, event: Any = None) -> None:
        if self._job == "training" and not self._closing:
            self._preview_timer.start()

    def _refresh_preview(self, force: bool = False) -> None:
        """Preview the slice the viewer shows: hand its block to the run, ask for it soon."""
        run, source = self._run, self._source
        if run is None or source is None or self._job != "training":
            return
        if not self.settings.live_preview.isChecked():
            return
        try:
            spec = self._preview_spec_for(source, run.view, run.config, run.device.type)
            if spec == self._preview_spec and not force:
                return
            run.set_preview(preview_block(run.view, spec), spec.channel)
        except Exception as exc:  # noqa: BLE001 - the preview is a nicety, training goes on
            log.warning("napari-blindspot: no preview: %s", exc)
            return
        self._preview_spec = spec
        self._preview_after = run.step
        run.request_preview()

    def _preview_spec_for(self, source: Source, view: CanonicalView, config: TrainConfig,
                          device_type: str) -> PreviewSpec:
        max_yx = 256 if device_type == "cpu" else 512
        return preview_spec(self.viewer, source, view, config.channels == "independent",
                            max_yx=max_yx, max_z=max(32, config.patch_size_z))

    def _add_preview_placeholder(self, source: Source, config: TrainConfig) -> None:
        """Add the preview layer now, transparent, with the shape and place of the first
        preview: adding a layer stalls napari's main thread ~100 ms, acceptable in answer to
        a click, not while training runs (the previews then only replace its data)."""
        self._preview_shown = False
        try:
            view = CanonicalView(source.data, config.axes, config.train_3d)
            spec = self._preview_spec_for(source, view, config, select_device(config.device).type)
            shape = tuple(b - a for a, b in spec.region)
            block = np.zeros((1,) + shape, np.float32)
            data, translate = preview_layer_data(block, dataclasses.replace(spec, channel=None, show=0),
                                                 source, view)
        except Exception as exc:  # noqa: BLE001 - the preview is a nicety: added on first use
            log.debug("napari-blindspot: no preview placeholder: %s", exc)
            return
        self._preview_layer = placeholder_result_layer(self.viewer, source, "preview", data.shape,
                                                       translate)

    def _show_preview(self, ev: Preview) -> None:
        run, source, spec = self._run, self._source, self._preview_spec
        if run is None or source is None or spec is None:
            return
        if ev.step <= self._preview_after:
            return  # computed before the block changed
        data, translate = preview_layer_data(ev.image, spec, source, run.view)
        self._preview_layer = put_result_layer(self.viewer, source, "preview", data,
                                               translate=translate, rgb=False)
        if not self._preview_shown:
            self._preview_shown = True
            self._preview_layer.opacity = 1.0

    # ------------------------------------------------------------- job end
    def _on_returned(self, value: Any) -> None:
        self._result = value

    def _on_finished(self) -> None:
        job, result = self._job, self._result
        self._job = self._worker = self._result = None
        self._jobs.worker = self._jobs.run = None
        try:
            if job == "training":
                self._finish_training(result)
            elif job == "denoising":
                self._finish_denoising(result)
        finally:
            if self._job is None:
                self._collector.release()
                self._set_busy(None)
        if job:
            self.job_done.emit(job)

    def _drop_preview(self) -> None:
        remove_layer(self.viewer, self._preview_layer)
        self._preview_layer = None

    def _finish_training(self, result: Any) -> None:
        run, self._run = self._run, None
        self._progress_timer.stop()
        self._pending_progress = None
        self.loss_plot.update()
        if self._closing:
            self._drop_preview()
            return
        if isinstance(result, Failed) or result is None:
            self._drop_preview()
            kept = ""
            if run is not None and run.step > 0:
                try:
                    self.model = run.model
                    self.model_origin = f"trained on {self._source.name!r}, interrupted"
                    self._update_model_label()
                    kept = (f" The model trained so far ({run.step:,} steps) is kept: press Denoise, "
                            "or Continue.")
                except Exception:  # noqa: BLE001 - nothing to keep
                    pass
            if isinstance(result, Failed):
                self._error(result.message + kept)
            else:
                self._warn("Training was cancelled." + kept)
            self.progress.setFormat("failed" if isinstance(result, Failed) else "cancelled")
            return
        self.model = result
        assert self._source is not None
        self.model_origin = f"trained on {self._source.name!r}"
        self._update_model_label()
        fin = self._finished_event
        assert fin is not None  # events() yields TrainingFinished before it returns the model
        if fin.reason == "completed":
            self.progress.setValue(1000)
        self.progress.setFormat(finished_progress(fin))
        noise = self.model.noise_parameters()
        if noise:
            self.noise_label.setText(noise_text(self.model.method, noise))
        self.training_finished.emit(self.model)
        if fin.step == 0:
            self._drop_preview()
            self._warn("Training stopped before its first step; train again to get a model worth using.")
            return
        # the last preview stays up while the layer is denoised, then becomes the result
        self._info(f"{training_finished(fin)}; denoising {self._source.name!r}…")
        self._start_denoising(self._source)

    # ================================================================== denoising
    @_reports_errors("starting denoising")
    def denoise(self) -> None:
        """Apply the current model (trained or loaded) to the selected layer."""
        if self._job is not None:
            return
        if self.model is None:
            raise LayerError("There is no model yet: train one, or load a model file.")
        source = Source.from_layer(self.layer_picker.current_layer(), self.axes_edit.text().strip())
        self._info(f"Denoising {source.name!r}…")
        self._start_denoising(source)

    def _start_denoising(self, source: Source) -> None:
        model = self.model
        assert model is not None
        if model.device.type == "cpu":
            configure_threads(interactive_threads())
        worker = prediction_job(model, source.data, source.axes, tile_size=self.settings.tile_size,
                                tta=self.settings.tta.isChecked(), uncertainty=model.has_uncertainty)
        worker.yielded.connect(self._on_prediction_progress)
        self._denoise_source = source
        self.denoise_progress.setValue(0)
        self.denoise_progress.setFormat("denoising…")
        self._start(worker, "denoising")

    def cancel_denoising(self) -> None:
        """Stop denoising; no layer is changed."""
        if self._job == "denoising" and self._worker is not None:
            self._worker.quit()
            self.cancel_button.setEnabled(False)

    def _on_prediction_progress(self, ev: Any) -> None:
        self.denoise_progress.setValue(int(round(ev.done / max(1, ev.total) * 1000)))
        self.denoise_progress.setFormat(denoising_progress(ev.done, ev.total, ev.elapsed_s))

    def _finish_denoising(self, result: Any) -> None:
        source, self._denoise_source = self._denoise_source, None
        if self._closing or source is None:
            self._drop_preview()
            return
        if not isinstance(result, dict):
            self._drop_preview()
        if result is None:
            self.denoise_progress.setValue(0)
            self.denoise_progress.setFormat("cancelled")
            self._warn("Denoising was cancelled; no layer was changed.")
            return
        if isinstance(result, Failed):
            self.denoise_progress.setValue(0)
            self.denoise_progress.setFormat("failed")
            self._error(result.message)
            return
        layers: dict[str, Any] = {}
        if "uncertainty" in result:
            (_, hi), _ = robust_limits(result["uncertainty"], 0.0, 99.5)
            layers["uncertainty"] = put_result_layer(self.viewer, source, "uncertainty",
                                                     result["uncertainty"], colormap="magma",
                                                     limits=(0.0, hi), visible=False)
        else:
            remove_layer(self.viewer, find_result(self.viewer, source.name, "uncertainty"))
        layers["denoised"] = put_result_layer(self.viewer, source, "denoised", result["denoised"],
                                              reuse=self._preview_layer)
        if self._preview_layer is not layers["denoised"]:
            self._drop_preview()
        self._preview_layer = None
        self.denoise_progress.setValue(1000)
        self.denoise_progress.setFormat("done")
        names = " and ".join(repr(layer.name) for layer in reversed(list(layers.values())))
        self._info(f"Done: {names} in the layer list. Export them with 'Export TIFF…'.")
        self.denoising_finished.emit(layers)

    # ================================================================== model
    @_reports_errors("resetting")
    def reset(self) -> None:
        """Forget the model, the loss curves and the progress (layers are kept)."""
        if self._job is not None:
            return
        self.model = None
        self.model_origin = ""
        self.loss_plot.clear()
        self.noise_label.setText("")
        self.progress.setValue(0)
        self.denoise_progress.setValue(0)
        self._update_model_label()
        self._set_busy(None)
        self._info("Reset: the next Train starts a new model.")

    @_reports_errors("saving the model")
    def save_model(self, path: str | Path | None = None) -> Path | None:
        """Write the current model to ``path`` (asks for a file when None)."""
        if self.model is None:
            raise LayerError("There is no model to save: train one first.")
        if path is None:
            name, _ = QFileDialog.getSaveFileName(self, "Save model", "model.safetensors",
                                                  "napari-blindspot model (*.safetensors)")
            if not name:
                return None
            path = name
        path = Path(path)
        if path.suffix != ".safetensors":
            path = path.with_name(path.name + ".safetensors")
        self.model.save(str(path))
        self._info(f"Model saved to {path}.")
        return path

    @_reports_errors("loading a model")
    def load_model(self, path: str | Path | None = None) -> DenoisingModel | None:
        """Load a model file (asks for one when None); then Denoise applies it."""
        if self._job is not None:
            return None
        if path is None:
            name, _ = QFileDialog.getOpenFileName(self, "Load model", "",
                                                  "napari-blindspot model (*.safetensors);;All files (*)")
            if not name:
                return None
            path = name
        model = load_model(str(path), device=self.settings.device_name)
        self.model = model
        self.model_origin = f"loaded from {Path(path).name}"
        self.set_method(model.config.method)
        self.settings.apply_config(model.config)
        self.dim_combo.setCurrentIndex(1 if model.config.train_3d else 0)
        self.loss_plot.clear()
        self.noise_label.setText(noise_text(model.method, model.noise_parameters()))
        self._update_model_label()
        self._set_busy(None)
        self._info(f"Loaded {Path(path).name}. Pick a layer with axes like {model.config.axes!r} "
                   "and press Denoise, or Continue to train it further.")
        return model

    # ================================================================== export
    @_reports_errors("exporting")
    def export(self, path: str | Path | None = None, dtype: str | None = None) -> list[Path] | None:
        """Write the selected layer's denoised (and uncertainty) layers as ImageJ TIFF.

        ``dtype``: ``"float32"`` or ``"source"`` (default: the choice in the widget).
        """
        layer = self.layer_picker.current_layer()
        if layer is None:
            raise LayerError("Pick the layer whose denoised result you want to export.")
        source_name = layer.name
        if result_kind(layer) in ("denoised", "uncertainty"):
            source_name = layer.metadata["blindspot"].get("source", source_name)
        if find_result(self.viewer, source_name, "denoised") is None:
            raise LayerError(f"There is no '{source_name} [denoised]' layer to export: train a model "
                             "or press Denoise first.")
        if path is None:
            name, _ = QFileDialog.getSaveFileName(self, "Export denoised layer as TIFF",
                                                  f"{source_name}_denoised.tif", "TIFF (*.tif *.tiff)")
            if not name:
                return None
            path = name
        written = export_results(self.viewer, source_name, path,
                                 dtype or str(self.export_dtype.currentData()))
        self._info("Wrote " + " and ".join(str(p) for p in written) + ".")
        return written

    # ================================================================== closing
    def _watch_window(self) -> None:
        """Watch the top-level window for closing (held weakly: the widget must not keep a
        closed viewer window alive)."""
        window = self.window()
        watched = self._watched() if self._watched is not None else None
        if window is self or window is watched:
            return
        self._unwatch_window()
        window.installEventFilter(self)
        self._watched = weakref.ref(window)

    def _unwatch_window(self) -> None:
        watched = self._watched() if self._watched is not None else None
        self._watched = None
        if watched is not None:
            try:
                watched.removeEventFilter(self)
            except RuntimeError:  # pragma: no cover - already deleted
                pass

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt API
        if (self._watched is not None and obj is self._watched() and event.type() == QEvent.Type.Close
                and not event.spontaneous()):
            self.shutdown()
        return super().eventFilter(obj, event)

    def event(self, event: QEvent) -> bool:  # noqa: D102 - Qt API
        if event.type() == QEvent.Type.ParentChange and hasattr(self, "_jobs"):
            if self.parent() is None:
                if self._job is not None:
                    self._closing = True
                    self._jobs.stop()
            else:
                self._watch_window()
        return super().event(event)

    def showEvent(self, event: Any) -> None:  # noqa: N802 - Qt API
        if hasattr(self, "_jobs"):
            self._watch_window()
        super().showEvent(event)

    def closeEvent(self, event: Any) -> None:  # noqa: N802 - Qt API
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Stop any job and stop following the viewer (the widget or viewer is closing)."""
        if self._closing and self._job is None and not self._jobs.connections:
            return
        self._closing = True
        self._preview_timer.stop()
        self._progress_timer.stop()
        self._jobs.shutdown()
        self._collector.release()
        self._unwatch_window()
        self.layer_picker.disconnect_viewer()
        self.target_picker.disconnect_viewer()
