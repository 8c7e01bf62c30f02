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
from ..engine import failures

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Failed:
    """A job ended with ``error``; ``message`` says what happened and what to do."""

    error: BaseException
    message: str


#: How the widget names the settings an out-of-memory message asks to lower.
SETTING_NAMES = {"batch_size": "the batch size", "patch_size": "the patch size",
                 "tile_size": "the tile size (Advanced settings)",
                 "tta": "test-time augmentation (Advanced settings)"}


def user_message(exc: BaseException, doing: str) -> str:
    """A message for the user about ``exc`` raised while ``doing`` (e.g. "training")."""
    return failures.user_message(exc, doing, SETTING_NAMES)


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
