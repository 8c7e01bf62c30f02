"""The widget's input section: the layer, its axes (2D or 3D training), the method and, for
methods that learn from two acquisitions, the second one."""

from __future__ import annotations

import weakref
from typing import Any

from qtpy.QtCore import Signal
from qtpy.QtWidgets import QComboBox, QGridLayout, QHBoxLayout, QLabel, QLineEdit, QWidget

from ...engine import method_class, method_names
from ...engine.defaults import DEFAULT_METHOD

from ...engine.system.device import select_device
from ...engine.training.dimensionality import default_train_3d
from ...io.layer_meta import layer_axes, pixel_size
from ..controller import method_choices
from ..file_meta import adopt_file_metadata
from ..layers import check_layer_axes, guess_layer_axes, suggest_target
from .layer_picker import LayerPicker

ERROR_STYLE = "color: #ff7070;"
WARNING_STYLE = "color: #ffb347;"


DIM_TIP = ("2D: train on single planes (Z slices are separate samples). 3D: train on volumes "
           "(needs a Z axis; slower, uses Z context). A layer's default follows its Z scale: 3D "
           "on a GPU when the z-spacing is at most 2x the pixel size, else 2D.")


def small(label: QLabel) -> QLabel:
    """``label`` word-wrapped, in a slightly smaller font."""
    label.setWordWrap(True)
    font = label.font()
    font.setPointSizeF(font.pointSizeF() * 0.9)
    label.setFont(font)
    return label


class InputsView(QWidget):
    """Layer, axes, 2D/3D, method (with its help) and the second acquisition.

    ``context_changed(three_d, has_channels)`` when what the settings depend on changes;
    ``method_changed(name)`` when another method is chosen.
    """

    context_changed = Signal(bool, bool)
    method_changed = Signal(str)

    def __init__(self, viewer: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._axes_by_layer: dict[int, tuple[weakref.ref, str]] = {}  # axes typed per layer
        self._viewer = viewer
        self.layer_picker = LayerPicker(viewer, tooltip="The image layer to denoise (image layers only).")
        self.layer_picker.layer_changed.connect(self._on_layer_changed)
        self.axes_edit = QLineEdit()
        self.axes_edit.setToolTip("One letter per dimension: S sample, T time, Z depth, C channel, "
                                  "Y, X (e.g. TYX, ZYX, CZYX).")
        self.axes_edit.setMaxLength(8)
        self.axes_edit.textEdited.connect(self._on_axes_edited)
        self.dim_combo = QComboBox()
        self.dim_combo.addItem("2D", False)
        self.dim_combo.addItem("3D", True)
        self.dim_combo.setToolTip(DIM_TIP)
        self.dim_combo.currentIndexChanged.connect(lambda *_: self.update_context())
        self.axes_hint = small(QLabel())
        self.still_hint = small(QLabel())  # a still time-lapse: measure the noise on its repeats
        self.still_hint.setStyleSheet(WARNING_STYLE)
        self.still_hint.setVisible(False)
        self.method_combo = QComboBox()
        for label, name in method_choices():
            self.method_combo.addItem(label, name)
        self.method_combo.setCurrentIndex(max(0, self.method_combo.findData(DEFAULT_METHOD)))
        self.method_combo.currentIndexChanged.connect(lambda *_: self._on_method_changed())
        self.method_help = small(QLabel())
        self.target_picker = LayerPicker(viewer, tooltip="A second, independent noisy acquisition of "
                                         "the same scene, with the same shape.")
        self.target_label = QLabel("Second acquisition")
        self.target_label.setWordWrap(True)  # two lines rather than a column too wide for the dock

        # a grid, not a form: word-wrapped labels get their full height in a grid
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setColumnStretch(1, 1)
        grid.setVerticalSpacing(3)
        grid.addWidget(QLabel("Layer"), 0, 0)
        grid.addWidget(self.layer_picker.native, 0, 1)
        axes_row = QHBoxLayout()
        axes_row.addWidget(self.axes_edit, 1)
        axes_row.addWidget(self.dim_combo)
        grid.addWidget(QLabel("Axes"), 1, 0)
        grid.addLayout(axes_row, 1, 1)
        grid.addWidget(self.axes_hint, 2, 1)
        grid.addWidget(self.still_hint, 6, 0, 1, 2)
        grid.addWidget(QLabel("Method"), 3, 0)
        grid.addWidget(self.method_combo, 3, 1)
        grid.addWidget(self.method_help, 4, 0, 1, 2)
        grid.addWidget(self.target_label, 5, 0)
        grid.addWidget(self.target_picker.native, 5, 1)

    def start(self) -> None:
        """Show the current layer and method (once the owner listens to the signals)."""
        self._on_layer_changed(self.layer_picker.current_layer())
        self._on_method_changed()

    # ------------------------------------------------------------------ values
    @property
    def method(self) -> str:
        return str(self.method_combo.currentData())

    @property
    def axes(self) -> str:
        return self.axes_edit.text().strip()

    @property
    def three_d(self) -> bool:
        return bool(self.dim_combo.currentData())

    def target(self) -> Any:
        """The second acquisition's layer when the method takes one, else None."""
        return self.target_picker.current_layer() if method_class(self.method).takes_target() else None

    def set_method(self, method: str) -> None:
        index = self.method_combo.findData(method)
        if index < 0:
            raise ValueError(f"Unknown method {method!r}; choose one of {', '.join(method_names())}.")
        self.method_combo.setCurrentIndex(index)

    def set_axes(self, axes: str) -> bool:
        self.axes_edit.setText(axes)
        self._on_axes_edited(axes)
        return self.checked_axes() is not None

    def show_still_hint(self, text: str) -> None:
        """The suggestion for a still time-lapse (empty: none)."""
        self.still_hint.setText(text)
        self.still_hint.setVisible(bool(text))

    def set_idle(self, idle: bool) -> None:
        """Enable the inputs only while no job runs."""
        for widget in (self.layer_picker.native, self.axes_edit, self.method_combo,
                       self.target_picker.native):
            widget.setEnabled(idle)
        self.dim_combo.setEnabled(idle and "Z" in (self.checked_axes() or ""))

    # ------------------------------------------------------------------ reactions
    def _on_layer_changed(self, layer: Any) -> None:
        if layer is None:
            self.axes_edit.setText("")
        else:
            scale = tuple(layer.scale)
            if adopt_file_metadata(layer) and tuple(layer.scale) != scale:
                self._viewer.reset_view()  # the file's pixel sizes: fit the image again
            ref, axes = self._axes_by_layer.get(id(layer), (None, ""))
            remembered = axes if ref is not None and ref() is layer else ""
            self.axes_edit.setText(remembered or guess_layer_axes(layer))
            if method_class(self.method).takes_target():
                self._suggest_target()
            self._suggest_dimensionality(layer)
        self.update_context()

    def _suggest_dimensionality(self, layer: Any) -> None:
        """2D or 3D from the layer's anisotropy (its scale), as the command line decides."""
        axes = self.checked_axes()
        if not axes or "Z" not in axes:
            return
        try:
            sizes, _ = pixel_size(tuple(layer.scale), getattr(layer, "units", None),
                                  layer_axes(axes, bool(getattr(layer, "rgb", False))))
            three_d, why = default_train_3d(axes, tuple(layer.data.shape), sizes,
                                            select_device("auto").type)
        except (AttributeError, TypeError, ValueError, IndexError):
            return
        self.dim_combo.setCurrentIndex(1 if three_d else 0)
        self.dim_combo.setToolTip(f"{DIM_TIP} This layer: {why}.")

    def _on_axes_edited(self, text: str) -> None:
        layer = self.layer_picker.current_layer()
        if layer is not None:
            self._axes_by_layer[id(layer)] = (weakref.ref(layer), text.strip().upper())
        self.update_context()

    def checked_axes(self) -> str | None:
        """Validate the axes field against the layer; show the result under it."""
        axes, hint = check_layer_axes(self.layer_picker.current_layer(), self.axes_edit.text())
        self.axes_hint.setStyleSheet(ERROR_STYLE if axes is None and self.layer_picker.current_layer()
                                     is not None else "")
        self.axes_hint.setText(hint)
        return axes

    def update_context(self) -> None:
        axes = self.checked_axes() or ""
        has_z = "Z" in axes
        self.dim_combo.setEnabled(has_z and self.layer_picker.native.isEnabled())
        if not has_z and self.dim_combo.currentIndex() != 0:
            self.dim_combo.setCurrentIndex(0)
        self.context_changed.emit(has_z and self.three_d, "C" in axes)

    def _on_method_changed(self) -> None:
        method = method_class(self.method)
        self.method_help.setText(method.tagline or method.help)  # the paragraph: its tooltip
        self.method_help.setToolTip(method.help)
        self.method_combo.setToolTip(method.help)
        paired = method.takes_target()
        self.target_label.setVisible(paired)
        self.target_picker.native.setVisible(paired)
        if paired:
            self._suggest_target()
        self.method_changed.emit(method.name)

    def _suggest_target(self) -> None:
        """Pre-select another layer of the same shape as the second acquisition."""
        source = self.layer_picker.current_layer()
        if self.target_picker.current_layer() not in (None, source):
            return
        layer = suggest_target(source, self.target_picker.layers())
        if layer is not None:
            self.target_picker.set_layer(layer)

    def disconnect_viewer(self) -> None:
        self.layer_picker.disconnect_viewer()
        self.target_picker.disconnect_viewer()
