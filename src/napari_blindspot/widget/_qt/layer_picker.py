"""magicgui's combo box over a viewer's image layers, following additions, removals, moves and
renames."""

from __future__ import annotations

from typing import Any

from magicgui.widgets import ComboBox
from napari.layers import Image
from psygnal import Signal
from qtpy.QtWidgets import QComboBox

from ..layers import result_kind


class LayerPicker(ComboBox):
    """The image layers of ``viewer`` (top layer first; preview layers are left out).

    ``layer_changed`` is emitted with the newly selected layer (or None).  The selection stays
    on the same layer object when the list changes or the layer is renamed.  ``native`` is the
    Qt combo box.
    """

    layer_changed = Signal(object)

    def __init__(self, viewer: Any, **kwargs: Any) -> None:
        self.viewer = viewer
        self._last: Image | None = None
        self._refreshing = False
        self._named: list[Any] = []
        super().__init__(choices=self._image_layers, **kwargs)
        self.native.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.native.setMinimumContentsLength(12)
        events = viewer.layers.events
        self._connections = [(events.inserted, self._on_inserted), (events.removed, self._on_removed),
                             (events.moved, self.refresh), (events.reordered, self.refresh)]
        for emitter, callback in self._connections:
            emitter.connect(callback)
        for layer in viewer.layers:
            self._watch_name(layer)
        self.changed.connect(self._on_changed)
        self.refresh()

    def _image_layers(self, *_: Any) -> list[tuple[str, Image]]:
        return [(layer.name, layer) for layer in reversed(list(self.viewer.layers))
                if isinstance(layer, Image) and result_kind(layer) != "preview"]

    # ------------------------------------------------------------- public
    def current_layer(self) -> Image | None:
        return self.value if len(self) else None

    def layers(self) -> list[Image]:
        """The listed layers, in the order shown."""
        return [layer for layer in self.choices if layer is not None]

    def set_layer(self, layer: Any) -> bool:
        """Select ``layer`` if it is listed; return whether it is."""
        if not any(layer is listed for listed in self.layers()):
            return False
        self.value = layer
        return True

    def disconnect_viewer(self) -> None:
        """Stop following the viewer (the widget is closing)."""
        for emitter, callback in self._connections:
            emitter.disconnect(callback)
        for layer in self._named:
            layer.events.name.disconnect(self.refresh)
        self._connections, self._named = [], []

    def refresh(self, event: Any = None) -> None:
        """Rebuild the list from the viewer, keeping the selected layer if it is still there."""
        current = self.current_layer()
        self._refreshing = True
        try:
            # magicgui keeps items it already has in place (and matches them by name): rebuild,
            # so that the order is the viewer's and a renamed layer stays selected
            self.native.blockSignals(True)
            self.native.clear()
            self.native.blockSignals(False)
            self.reset_choices()
            if current is not None and any(current is layer for layer in self.layers()):
                self.value = current
        finally:
            self._refreshing = False
        self._on_changed()

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

    def _on_changed(self, *_: Any) -> None:
        if self._refreshing:
            return
        layer = self.current_layer()
        if layer is not self._last:
            self._last = layer
            self.layer_changed.emit(layer)
