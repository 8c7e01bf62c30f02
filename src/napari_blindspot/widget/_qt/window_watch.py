"""Noticing that the window holding a widget closes (napari's viewer window), without keeping
that window alive."""

from __future__ import annotations

import weakref
from collections.abc import Callable

from qtpy.QtCore import QEvent, QObject
from qtpy.QtWidgets import QWidget


class WindowWatch(QObject):
    """Calls ``on_close()`` when the top-level window of ``widget`` is closed (by a program, as
    napari does when the viewer closes); the window is held weakly."""

    def __init__(self, widget: QWidget, on_close: Callable[[], None]) -> None:
        super().__init__(widget)
        self._widget = widget
        self._on_close = on_close
        self._watched: weakref.ref | None = None

    def watch(self) -> None:
        """Follow the widget's current top-level window (call again after re-parenting)."""
        window = self._widget.window()
        watched = self._watched() if self._watched is not None else None
        if window is self._widget or window is watched:
            return
        self.unwatch()
        window.installEventFilter(self)
        self._watched = weakref.ref(window)

    def unwatch(self) -> None:
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
            self._on_close()
        return super().eventFilter(obj, event)
