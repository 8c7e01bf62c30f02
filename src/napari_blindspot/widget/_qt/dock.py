"""The dock widget: a Qt view of a :class:`~.controller.DenoiseController`.

The controller holds the logic and the state (and runs jobs in napari generator workers,
:mod:`.worker`); the three sections show it and turn clicks into its calls: inputs
(:mod:`.inputs_view`), training (:mod:`.training_view`) and results (:mod:`.results_view`).
See ``docs/widget.md`` for the user guide.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from napari.layers import Image
from napari.utils.notifications import show_error, show_warning
from qtpy.QtCore import QEvent, Qt, QTimer, Signal
from qtpy.QtWidgets import (QFileDialog, QFrame, QLabel, QMessageBox, QScrollArea, QVBoxLayout,
                            QWidget)

from ...engine import BlindspotError, DenoisingModel, TrainingRun
from ...text import short_notice
from ..controller import DenoiseController
from ..expected import StillHint, expected_text
from ..layers import Source
from ..preview import camera
from ..state import DenoiseRequest, JobState, TrainRequest
from .fold import Fold
from .inputs_view import InputsView
from .results_view import ResultsView
from .training_view import TrainingView
from .window_watch import WindowWatch
from .worker import napari_runner

log = logging.getLogger(__name__)

#: The preview follows the viewer this long after its slider or camera last moved.
PREVIEW_DEBOUNCE_MS = 150
MODEL_FILES = "napari-blindspot model (*.safetensors)"
#: The expected duration is estimated again this long after the last change of a setting.
EXPECTED_DEBOUNCE_MS = 200
#: The dock's narrowest width (pixels): every row fits in it (long texts wrap).
MIN_WIDTH = 320
LOADABLE_FILES = ("Models (*.safetensors *.zip *.yaml);;napari-blindspot model (*.safetensors);;"
                  "bioimage.io package (*.zip rdf.yaml *.bioimageio.yaml);;All files (*)")
PACKAGE_FILES = "bioimage.io model package (*.zip)"


def _header(text: str) -> QLabel:
    label = QLabel(f"<b>{text}</b>")
    label.setContentsMargins(0, 6, 0, 0)
    return label


class BlindspotWidget(QWidget):
    """Self-supervised denoising of an image layer, with any registered method.

    Public methods mirror the buttons (``train``, ``stop``, ``continue_training``, ``reset``,
    ``denoise``, ``cancel_denoising``, ``save_model``, ``load_model``, ``export_bioimageio``,
    ``export``) so the widget
    can also be driven from scripts and tests; ``controller`` holds the logic and state.
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
        self.controller = c = DenoiseController(napari_viewer, napari_runner)
        self._window = WindowWatch(self, self.shutdown)
        self._build()
        c.message.connect(self._show_message)
        c.training_finished.connect(self._relay_training_finished)
        c.denoising_finished.connect(self._relay_denoising_finished)
        c.job_done.connect(self._relay_job_done)
        c.model_loaded.connect(self._show_loaded_model)
        c.state.events.job.connect(self._show_job)
        c.state.events.has_model.connect(self._show_model_change)
        c.state.events.own_model.connect(self._show_model_change)
        self._preview_timer = QTimer(self)
        self._preview_timer.setSingleShot(True)
        self._preview_timer.setInterval(PREVIEW_DEBOUNCE_MS)
        self._preview_timer.timeout.connect(lambda: c.refresh_preview())
        for emitter in (self.viewer.dims.events.current_step, camera(self.viewer).events.center):
            c.follow(emitter, self._schedule_preview)
        self.destroyed.connect(c.shutdown)  # a plain-Python slot: runs after the Qt object is gone
        self._still = StillHint()
        self._expected_timer = QTimer(self)
        self._expected_timer.setSingleShot(True)
        self._expected_timer.setInterval(EXPECTED_DEBOUNCE_MS)
        self._expected_timer.timeout.connect(self.update_expected)
        self._follow_expected()
        self.inputs.start()
        self._show_job(c.state.job)
        self.update_expected()

    # ================================================================== expected duration
    def _follow_expected(self) -> None:
        """Estimate again (debounced) when the layer, axes, method or a setting changes."""
        schedule = lambda *_: self._expected_timer.start()  # noqa: E731
        self.inputs.context_changed.connect(schedule)
        self.inputs.method_changed.connect(schedule)
        self.layer_picker.layer_changed.connect(schedule)
        s = self.settings
        s.length.textChanged.connect(schedule)
        s.patch.valueChanged.connect(schedule)
        s.patch_z.valueChanged.connect(schedule)
        s.device_changed.connect(schedule)
        s.tta.toggled.connect(schedule)
        for panel in s.panels.values():
            panel.batch.valueChanged.connect(schedule)
            for editor in panel.editors.values():
                if hasattr(editor, "currentIndexChanged"):  # e.g. where the noise is measured
                    editor.currentIndexChanged.connect(schedule)

    def update_expected(self) -> None:
        """Show how long training and denoising the selected layer are expected to take, and
        whether its frames are repeats of a still scene."""
        layer = self.layer_picker.current_layer()
        shape = None
        if layer is not None:
            data = layer.data[0] if getattr(layer, "multiscale", False) else layer.data
            shape = tuple(int(n) for n in getattr(data, "shape", ()))
        try:
            settings = self.settings.overrides()
        except BlindspotError:
            self.training.show_expected("", "")
            return
        self.inputs.show_still_hint(self._still.text(layer, self.inputs.axes, self.inputs.method, settings))
        self.training.show_expected(*expected_text(self.inputs.method, settings, shape, self.inputs.axes,
                                                   self.inputs.three_d, self.settings.tta.isChecked()))

    def _build(self) -> None:
        c = self.controller
        self.inputs = InputsView(self.viewer)
        self.training = TrainingView(c)
        self.results = ResultsView(c)
        self.inputs.context_changed.connect(
            lambda three_d, channels: self.settings.set_context(three_d=three_d, has_channels=channels))
        self.inputs.method_changed.connect(lambda name: self.settings.set_method(name))
        # the widgets scripts and tests use, by their names
        for section, names in (
                (self.inputs, ("layer_picker", "axes_edit", "dim_combo", "axes_hint", "method_combo",
                               "method_help", "target_picker", "target_label")),
                (self.training, ("settings", "device_label", "train_button", "continue_button",
                                 "reset_button", "progress", "loss_plot", "noise_label")),
                (self.results, ("denoise_button", "cancel_button", "denoise_progress", "model_label",
                                "save_button", "load_button", "bioimageio_button", "export_button",
                                "export_dtype", "message"))):
            for name in names:
                setattr(self, name, getattr(section, name))
        self.train_button.clicked.connect(self._on_train_clicked)
        self.continue_button.clicked.connect(lambda: self.continue_training())
        self.reset_button.clicked.connect(lambda: self.reset())
        self.denoise_button.clicked.connect(lambda: self.denoise())
        self.cancel_button.clicked.connect(lambda: self.cancel_denoising())
        self.save_button.clicked.connect(lambda: self.save_model())
        self.load_button.clicked.connect(lambda: self.load_model())
        self.bioimageio_button.clicked.connect(lambda: self.export_bioimageio())
        self.export_button.clicked.connect(lambda: self.export())

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
        layout.addWidget(self.inputs)
        layout.addWidget(_header("Training"))
        layout.addWidget(self.training)
        # below the loss plot, and folds away: in a short window Train, its progress and the
        # loss plot stay in view (docs/widget.md)
        self.results_fold = Fold("Denoising, model and export", self.results)
        layout.addWidget(self.results_fold)
        layout.addWidget(self.results.message)
        # the noise model (HQ-SSL) last: after a run Train, the loss plot, Export TIFF and the
        # message stay in view above it (issue 20); shown only while there is a noise model
        holder = QWidget()
        QVBoxLayout(holder).setContentsMargins(0, 0, 0, 0)
        holder.layout().addWidget(self.training.noise_panel)
        self.noise_fold = Fold("Noise model", holder)
        layout.addWidget(self.noise_fold)
        c.noise_curves.changed.connect(self._show_noise_fold)
        self._show_noise_fold()
        layout.addStretch(1)
        self.setMinimumWidth(MIN_WIDTH)

    # ================================================================== state
    @property
    def busy(self) -> str | None:
        """The running job: ``"training"``, ``"denoising"`` or None."""
        return self.controller.busy

    @property
    def run(self) -> TrainingRun | None:
        """The training run in progress, if any."""
        return self.controller.run

    @property
    def model(self) -> DenoisingModel | None:
        return self.controller.model

    @property
    def events_seen(self) -> Any:
        """How many progress / preview events arrived (diagnostics and tests)."""
        return self.controller.events_seen

    def _show_noise_fold(self) -> None:
        curves = self.controller.noise_curves
        self.noise_fold.setVisible(bool(curves.curves))
        self.noise_fold.header.setText("Noise model" + (" ⚠" if curves.warnings else ""))

    def _relay_training_finished(self, model: Any) -> None:
        self.training_finished.emit(model)

    def _relay_denoising_finished(self, layers: Any) -> None:
        self.denoising_finished.emit(layers)

    def _relay_job_done(self, job: str) -> None:
        self.job_done.emit(job)

    def _show_model_change(self, *_: Any) -> None:
        self._show_job(self.controller.state.job)

    def _show_message(self, text: str, level: str) -> None:
        self.results.show_message(text, level)
        if level == "error":
            show_error(text)
        elif level == "warning":  # a toast shows only its start: the whole text is in the dock
            show_warning(short_notice(text))

    def _show_job(self, job: JobState) -> None:
        self.inputs.set_idle(job.can_start)
        self.training.show_job(job)
        self.results.show_job(job)
        if job is JobState.DENOISING:
            self.results_fold.set_open(True)  # its progress bar and Cancel button
        if job.can_start:
            self._preview_timer.stop()
        else:
            self._window.watch()

    def _show_loaded_model(self, model: Any) -> None:
        if not model.native:  # a bioimage.io model from another tool: no settings
            return
        self.set_method(model.config.method)
        self.settings.apply_config(model.config)
        self.dim_combo.setCurrentIndex(1 if model.config.train_3d else 0)

    def _schedule_preview(self, event: Any = None) -> None:
        if self.busy == "training":
            self._preview_timer.start()

    # ================================================================== inputs
    def select_layer(self, layer: Any) -> bool:
        """Pick ``layer`` (as if chosen in the list); a non-image layer is refused with a message."""
        if self.layer_picker.set_layer(layer):
            return True
        if not isinstance(layer, Image):
            try:
                Source.from_layer(layer, "")
            except BlindspotError as exc:
                self.controller.say(str(exc), "error")
                return False
        self.controller.say(f"{getattr(layer, 'name', layer)!r} is not one of this viewer's image "
                            "layers.", "error")
        return False

    def set_method(self, method: str) -> None:
        """Choose the method by its name (e.g. ``"n2v2"``)."""
        self.inputs.set_method(method)

    def set_axes(self, axes: str) -> bool:
        """Type ``axes`` into the axes field; return whether it fits the layer."""
        return self.inputs.set_axes(axes)

    def _train_request(self) -> TrainRequest:
        return TrainRequest(self.layer_picker.current_layer(), self.inputs.axes, self.inputs.method,
                            self.settings.overrides(), train_3d=self.inputs.three_d,
                            target=self.inputs.target(),
                            live_preview=self.settings.live_preview.isChecked(),
                            tta=self.settings.tta.isChecked())

    # ================================================================== buttons
    def _on_train_clicked(self) -> None:
        if self.busy == "training":
            self.stop()
        else:
            self.train()

    def train(self) -> None:
        """Train a new model on the selected layer, then denoise it."""
        with self.controller.reporting("starting training"):
            self.controller.train(self._train_request())

    def continue_training(self) -> None:
        """Train the current model further on the selected layer (same network)."""
        with self.controller.reporting("continuing training"):
            self.controller.continue_training(self._train_request())

    def stop(self) -> None:
        """Stop training after the current step; the model trained so far is kept and used."""
        self.controller.stop()

    def denoise(self) -> None:
        """Apply the current model (trained or loaded) to the selected layer."""
        self.controller.denoise(DenoiseRequest(self.layer_picker.current_layer(), self.inputs.axes,
                                               self.settings.tile_size, self.settings.tta.isChecked()))

    def cancel_denoising(self) -> None:
        """Stop denoising; no layer is changed."""
        self.controller.cancel()

    def reset(self) -> None:
        """Forget the model, the loss curves and the progress (layers are kept)."""
        self.controller.reset()

    def save_model(self, path: str | Path | None = None) -> Path | None:
        """Write the current model to ``path`` (asks for a file when None)."""
        return self.controller.files.save_model(path, ask=lambda: QFileDialog.getSaveFileName(
            self, "Save model", "model.safetensors", MODEL_FILES)[0])

    def load_model(self, path: str | Path | None = None) -> Any:
        """Load a model file or bioimage.io package (asks for one when None); then Denoise
        applies it.  A package that would run its own code is loaded only if the user says so
        in a dialog (default: No)."""
        return self.controller.files.load_model(path, self.settings.device_name, ask=lambda: (
            QFileDialog.getOpenFileName(self, "Load model", "", LOADABLE_FILES)[0]),
            confirm=self.confirm_code)

    def confirm_code(self, question: str) -> bool:
        """Ask whether a model package may run its own code (No unless the user says Yes)."""
        answer = QMessageBox.warning(self, "Run the package's code?", question,
                                     QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                     QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def export_bioimageio(self, path: str | Path | None = None) -> Path | None:
        """Export the model as a bioimage.io package (asks for a ``.zip`` when None; the dialog
        asks before replacing a file, a given ``path`` must not exist), in the background; a
        crop of the selected layer is its test image.  Returns the package path, or None."""
        layer = self.layer_picker.current_layer()
        name = re.sub(r"[^\w.-]+", "_", f"{layer.name}_model.zip" if layer is not None else "model.zip")
        return self.controller.files.export_bioimageio(layer, self.inputs.axes, path, ask=lambda: (
            QFileDialog.getSaveFileName(self, "Export to bioimage.io", name, PACKAGE_FILES)[0]))

    def export(self, path: str | Path | None = None, dtype: str | None = None) -> list[Path] | None:
        """Write the selected layer's denoised (and uncertainty) layers as ImageJ TIFF.

        ``dtype``: ``"float32"`` or ``"source"`` (default: the choice in the widget).
        """
        return self.controller.export(
            self.layer_picker.current_layer(), path, dtype or str(self.export_dtype.currentData()),
            ask=lambda name: QFileDialog.getSaveFileName(self, "Export denoised layer as TIFF", name,
                                                         "TIFF (*.tif *.tiff)")[0])

    # ================================================================== closing
    def event(self, event: QEvent) -> bool:  # noqa: D102 - Qt API
        if event.type() == QEvent.Type.ParentChange and hasattr(self, "_window"):
            if self.parent() is None:
                self.controller.close_jobs()
            else:
                self._window.watch()
        return super().event(event)

    def showEvent(self, event: Any) -> None:  # noqa: N802 - Qt API
        if hasattr(self, "_window"):
            self._window.watch()
        super().showEvent(event)

    def closeEvent(self, event: Any) -> None:  # noqa: N802 - Qt API
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Stop any job and stop following the viewer (the widget or viewer is closing)."""
        self._preview_timer.stop()
        self._expected_timer.stop()
        self.training.stop_repainting()
        self.controller.shutdown()
        self._window.unwatch()
        self.inputs.disconnect_viewer()
