"""The widget's results section: Denoise/Cancel with its progress, the model (save, load,
export to bioimage.io), export as TIFF, and the message line (which the dock places below
the section)."""

from __future__ import annotations

from qtpy.QtCore import Qt
from qtpy.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from ..controller import DenoiseController
from ..state import JobState
from .inputs_view import ERROR_STYLE, WARNING_STYLE, small
from .training_view import progress_bar


class ResultsView(QWidget):
    """Denoising, the model and export (see the module docstring)."""

    def __init__(self, controller: DenoiseController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        state = controller.state
        self.denoise_button = QPushButton("Denoise")
        self.denoise_button.setToolTip("Apply the current (trained or loaded) model to the selected layer.")
        self.cancel_button = QPushButton("Cancel")
        self.denoise_progress = progress_bar()
        self.model_label = small(QLabel(state.model_text))
        self.save_button = QPushButton("Save model…")
        self.load_button = QPushButton("Load model…")
        self.load_button.setToolTip("Load a napari-blindspot model (.safetensors) or a bioimage.io model "
                                    "package (.zip or rdf.yaml).")
        self.bioimageio_button = QPushButton("Export to bioimage.io…")
        self.bioimageio_button.setToolTip(
            "Write the model as a bioimage.io model package (.zip) for Fiji (deepImageJ), QuPath, "
            "ilastik and bioimageio.core; a crop of the selected layer becomes its test image.")
        self.export_button = QPushButton("Export TIFF…")
        self.export_button.setToolTip("Write the selected layer's denoised (and uncertainty) layer as "
                                      "ImageJ TIFF files, with the pixel size from the layer's scale.")
        self.export_dtype = QComboBox()
        self.export_dtype.addItem("float32", "float32")
        self.export_dtype.addItem("source pixel type", "source")
        self.export_dtype.setToolTip("float32 keeps every value; the source type (e.g. uint8) rounds "
                                     "the denoised values and clips them to its range (a denoised "
                                     "uint8 image may pass 255): the message says how many were "
                                     "clipped.")
        self.message = small(QLabel())
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
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
        layout.addWidget(self.bioimageio_button)
        export_row = QHBoxLayout()
        export_row.addWidget(self.export_button)
        export_row.addWidget(self.export_dtype)
        layout.addLayout(export_row)
        # the message line is not part of the section's layout: the dock shows it below the
        # section, also when the section is folded away

        state.events.denoise_progress.connect(self._show_progress)
        state.events.denoise_text.connect(self._show_progress)
        state.events.model_text.connect(self._show_model)
        self._show_progress()

    def _show_progress(self, *_: object) -> None:
        state = self.controller.state
        self.denoise_progress.setValue(int(round(state.denoise_progress * 1000)))
        self.denoise_progress.setFormat(state.denoise_text)

    def _show_model(self, text: str) -> None:
        self.model_label.setText(text)

    def show_message(self, text: str, level: str) -> None:
        self.message.setStyleSheet({"error": ERROR_STYLE, "warning": WARNING_STYLE}.get(level, ""))
        self.message.setText(text)

    def show_job(self, job: JobState) -> None:
        """Enable what can be used during ``job``."""
        idle = job.can_start
        state = self.controller.state
        for widget in (self.load_button, self.export_button, self.export_dtype):
            widget.setEnabled(idle)
        self.denoise_button.setEnabled(idle and state.has_model)
        self.save_button.setEnabled(idle and state.own_model)
        self.bioimageio_button.setEnabled(idle and state.own_model)
        self.cancel_button.setEnabled(job is JobState.DENOISING)
