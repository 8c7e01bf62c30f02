"""The napari dock widget (Qt).  ``BlindspotWidget`` is imported lazily so that the
Qt-free helpers in this package (:mod:`.layers`, :mod:`.tasks`) load without a display."""

from __future__ import annotations

from typing import Any

__all__ = ["BlindspotWidget"]


def __getattr__(name: str) -> Any:
    if name == "BlindspotWidget":
        from .dock import BlindspotWidget

        return BlindspotWidget
    raise AttributeError(name)
