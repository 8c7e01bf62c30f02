"""The widget's background jobs: napari generator workers over the engine's generators.

Each job is a generator function run by napari's ``thread_worker``: every value it
yields reaches the widget on the main thread through the worker's ``yielded``
signal, its return value through ``returned``.  Nothing here touches Qt widgets.
Errors are caught here and *returned* as :class:`Failed` (with a message for the
user) so the widget reports them in its own words instead of a raw traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

from napari.qt.threading import thread_worker

from ..engine import BlindspotError, DenoisingModel, TrainingRun

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Failed:
    """A job ended with ``error``; ``message`` says what happened and what to do."""

    error: BaseException
    message: str


def _is_out_of_memory(exc: BaseException) -> bool:
    if isinstance(exc, MemoryError):
        return True
    try:
        import torch

        if isinstance(exc, torch.cuda.OutOfMemoryError):
            return True
    except (ImportError, AttributeError):  # pragma: no cover - old torch
        pass
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def user_message(exc: BaseException, doing: str) -> str:
    """A message for the user about ``exc`` raised while ``doing`` (e.g. "training")."""
    if isinstance(exc, BlindspotError):
        return str(exc)
    if _is_out_of_memory(exc):
        where = "GPU memory" if isinstance(exc, RuntimeError) else "memory"
        return (f"Out of {where} while {doing}: lower the batch size or the patch size (training), "
                "or the tile size under Advanced (denoising), or close other programs using it.")
    if isinstance(exc, FloatingPointError):
        return str(exc)
    if isinstance(exc, OSError):
        return f"File error while {doing}: {exc}"
    return (f"Unexpected error while {doing}: {type(exc).__name__}: {exc}. "
            "The full traceback is in the log; please report it.")


def _failed(exc: Exception, doing: str) -> Failed:
    if not isinstance(exc, BlindspotError):
        log.error("napari-blindspot: error while %s", doing, exc_info=exc)
    return Failed(exc, user_message(exc, doing))


@thread_worker(start_thread=False)
def training_job(run: TrainingRun) -> Generator[Any, None, Any]:
    """The run's events (its preparation first); returns the trained model, or Failed."""
    try:
        return (yield from run.events())
    except Exception as exc:  # noqa: BLE001 - reported to the user
        return _failed(exc, "training")


@thread_worker(start_thread=False)
def prediction_job(model: DenoisingModel, data: Any, axes: str, *, tile_size: int | None,
                   tta: bool, uncertainty: bool) -> Generator[Any, None, Any]:
    """Denoise ``data`` with ``model``, yielding its progress; returns the outputs or Failed."""
    try:
        return (yield from model.predict_iter(data, axes, tile_size=tile_size, tta=tta,
                                              uncertainty=uncertainty))
    except Exception as exc:  # noqa: BLE001 - reported to the user
        return _failed(exc, "denoising")
