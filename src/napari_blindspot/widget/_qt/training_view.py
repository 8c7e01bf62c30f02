"""The widget's training section: settings, device, Train/Stop, Continue, Reset, progress,
loss curves and learned noise, shown from the controller's state."""

from __future__ import annotations

from typing import Any

from qtpy.QtCore import QTimer
from qtpy.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from ...text import device_line
from ..controller import DenoiseController
from ..state import JobState
from .inputs_view import ERROR_STYLE, small
from .loss_plot import LossPlot
from .noise_plot import NoisePanel
from .settings import SettingsPanel

TRAIN_TIP = ("Train a new model on the layer (then denoise it). While training this is Stop: it "
             "keeps the model trained so far.")
#: Training progress (bar, loss plot, noise) is repainted at most this often.
PROGRESS_REPAINT_MS = 250


def progress_bar() -> QProgressBar:
    bar = QProgressBar()
    bar.setRange(0, 1000)
    bar.setTextVisible(True)
    return bar


class TrainingView(QWidget):
    """Settings, buttons and progress of training (see the module docstring)."""

    def __init__(self, controller: DenoiseController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        state = controller.state
        self.settings = SettingsPanel()
        self.settings.device_changed.connect(self._on_device_changed)
        self.device_label = small(QLabel())
        self.train_button = QPushButton("Train")
        self.train_button.setToolTip(TRAIN_TIP)
        self.continue_button = QPushButton("Continue")
        self.continue_button.setToolTip("Train the current model further (training length above).")
        self.reset_button = QPushButton("Reset")
        self.reset_button.setToolTip("Forget the current model and the loss curves.")
        self.progress = progress_bar()
        self.loss_plot = LossPlot(controller.losses)
        self.preview_label = small(QLabel())
        self.preview_label.setVisible(False)
        self.preview_label.setToolTip("The '[preview]' layer: the part of the layer in view that is "
                                      "previewed while training (move the view to preview another "
                                      "part).")
        self.noise_label = small(QLabel())
        self.noise_panel = NoisePanel(controller.noise_curves)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.settings)
        buttons = QHBoxLayout()
        buttons.addWidget(self.train_button, 2)
        buttons.addWidget(self.continue_button, 1)
        buttons.addWidget(self.reset_button, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.loss_plot)  # right under Train and its progress: in view in a short window
        layout.addWidget(self.preview_label)
        layout.addWidget(self.noise_label)
        layout.addWidget(self.device_label)
        # the noise panel is not part of this section: the dock shows it in a section of its own
        # below the results, so that it never pushes Export TIFF and the message below the fold

        # progress is repainted at most every PROGRESS_REPAINT_MS: in a window holding napari's
        # OpenGL canvas every repaint of a widget recomposes the window, which costs tens of
        # milliseconds with software OpenGL
        self._repaint_timer = QTimer(self)
        self._repaint_timer.setSingleShot(True)
        self._repaint_timer.setInterval(PROGRESS_REPAINT_MS)
        self._repaint_timer.timeout.connect(self.repaint_progress)
        for event in (state.events.progress, state.events.progress_text, state.events.noise_text,
                      controller.losses.changed):
            event.connect(self._schedule_repaint)
        state.events.device_text.connect(self._show_device)
        state.events.preview_text.connect(self._show_preview_text)
        self._expected = ("", "")
        self._on_device_changed()
        self.repaint_progress()

    def show_expected(self, short: str, long: str) -> None:
        """The expected duration before Train: in the idle progress bar (``short``) and the
        tooltips of the bar and of Train (``long``)."""
        self._expected = (short, long)
        self.progress.setToolTip(long)
        self.train_button.setToolTip(TRAIN_TIP + (f"\n{long}" if long else ""))
        self.repaint_progress()

    def _schedule_repaint(self, *_: Any) -> None:
        if self.controller.state.job in (JobState.TRAINING, JobState.STOPPING):
            if not self._repaint_timer.isActive():
                self._repaint_timer.start()
        else:
            self.repaint_progress()

    def repaint_progress(self) -> None:
        state = self.controller.state
        self.progress.setValue(int(round(state.progress * 1000)))
        idle = state.job.can_start and state.progress_text == "ready"
        self.progress.setFormat(self._expected[0] if idle and self._expected[0] else state.progress_text)
        self.noise_label.setText(state.noise_text)
        self.loss_plot.update()

    def stop_repainting(self) -> None:
        self._repaint_timer.stop()

    def _on_device_changed(self, *_: Any) -> None:
        text, ok = device_line(self.settings.device_name)
        self.device_label.setStyleSheet("" if ok else ERROR_STYLE)
        self.device_label.setText(text)

    def _show_preview_text(self, text: str) -> None:
        self.preview_label.setText(text)
        self.preview_label.setVisible(bool(text))

    def _show_device(self, text: str) -> None:
        self.device_label.setStyleSheet("")
        self.device_label.setText(text)

    def show_job(self, job: JobState) -> None:
        """Enable what can be used during ``job``."""
        idle = job.can_start
        has_model = self.controller.model is not None
        self.settings.setEnabled(idle)
        self.train_button.setEnabled(idle or job is JobState.TRAINING)
        self.train_button.setText({JobState.TRAINING: "Stop", JobState.STOPPING: "Stopping…"}
                                  .get(job, "Train"))
        self.continue_button.setEnabled(idle and self.controller.state.own_model)
        self.reset_button.setEnabled(idle and (has_model or bool(self.controller.losses.train)))
        if idle:
            self._repaint_timer.stop()
            self.repaint_progress()
