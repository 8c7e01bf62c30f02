"""A combo box of the viewer's image layers that follows additions, removals and renames."""

from __future__ import annotations

from typing import Any

from napari.layers import Image
from qtpy.QtCore import Signal
from qtpy.QtWidgets import QComboBox, QWidget

from .layers import result_kind


class LayerPicker(QComboBox):
    """Lists the image layers of ``viewer`` (top layer first); preview layers are left out.

    ``layer_changed`` is emitted with the newly selected layer (or None).  The selection
    stays on the same layer object when the list changes or the layer is renamed.
    """

    layer_changed = Signal(object)

    def __init__(self, viewer: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.viewer = viewer
        self._layers: list[Image] = []
        self._named: list[Any] = []
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(12)
        events = viewer.layers.events
        self._connections = [(events.inserted, self._on_inserted), (events.removed, self._on_removed),
                             (events.moved, self.refresh), (events.reordered, self.refresh)]
        for emitter, callback in self._connections:
            emitter.connect(callback)
        for layer in viewer.layers:
            self._watch_name(layer)
        self.currentIndexChanged.connect(self._on_index)
        self._last: Image | None = None
        self.refresh()

    # ------------------------------------------------------------- public
    def current_layer(self) -> Image | None:
        i = self.currentIndex()
        return self._layers[i] if 0 <= i < len(self._layers) else None

    def layers(self) -> list[Image]:
        """The listed layers, in the order shown."""
        return list(self._layers)

    def set_layer(self, layer: Image) -> bool:
        """Select ``layer`` if it is listed; return whether it is."""
        for i, listed in enumerate(self._layers):
            if listed is layer:
                self.setCurrentIndex(i)
                return True
        return False

    def disconnect_viewer(self) -> None:
        """Stop following the viewer (the widget is closing)."""
        for emitter, callback in self._connections:
            emitter.disconnect(callback)
        for layer in self._named:
            layer.events.name.disconnect(self.refresh)
        self._connections, self._named = [], []

    # ------------------------------------------------------------- internals
    def _watch_name(self, layer: Any) -> None:
        layer.events.name.connect(self.refresh)
        self._named.append(layer)

    def _on_inserted(self, event: Any) -> None:
        self._watch_name(event.value)
        self.refresh()

    def _on_removed(self, event: Any) -> None:
        layer = event.value
        if any(layer is named for named in self._named):
            layer.events.name.disconnect(self.refresh)
            self._named = [named for named in self._named if named is not layer]
        self.refresh()

    def refresh(self, event: Any = None) -> None:
        """Rebuild the list from the viewer, keeping the selected layer if it is still there."""
        current = self.current_layer()
        layers = [layer for layer in reversed(list(self.viewer.layers))
                  if isinstance(layer, Image) and result_kind(layer) != "preview"]
        self.blockSignals(True)
        try:
            self.clear()
            self._layers = layers
            for layer in layers:
                self.addItem(layer.name)
            index = next((i for i, layer in enumerate(layers) if layer is current), 0 if layers else -1)
            self.setCurrentIndex(index)
        finally:
            self.blockSignals(False)
        self._on_index()

    def _on_index(self, *_: Any) -> None:
        layer = self.current_layer()
        if layer is not self._last:
            self._last = layer
            self.layer_changed.emit(layer)
