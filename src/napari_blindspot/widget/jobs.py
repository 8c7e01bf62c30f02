"""How the widget's jobs run, without Qt: a job is a generator of events (training's or
prediction's) driven by a *runner*, which hands every event and then the result back.

The controller takes the runner it is given: :func:`._qt.worker.napari_runner` runs jobs in napari
generator workers (events reach the main thread through Qt signals), :func:`run_now` runs them
at once in the calling thread (tests, scripts).  Errors are caught by :func:`guarded` and
*returned* as :class:`Failed`, with a message for the user, so that the controller reports them
in its own words instead of a raw traceback.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from psygnal import Signal

from ..engine import BlindspotError, failures

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Failed:
    """A job ended with ``error``; ``message`` says what happened and what to do."""

    error: BaseException
    message: str


class Job(Protocol):
    """A started-on-demand job (see :data:`Runner`)."""

    #: Whether it is running now.
    is_running: bool

    def start(self) -> None:
        """Run it (in the background, or at once for :func:`run_now`)."""

    def quit(self) -> None:
        """Ask it to end early; its result is then None."""


#: ``runner(events, on_event, on_done) -> Job``: ``on_event(event)`` for every event, then
#: ``on_done(result)`` once with the generator's return value (None when it was quit).
Runner = Callable[[Generator[Any, None, Any], Callable[[Any], None], Callable[[Any], None]], Job]


#: How the widget names the settings an out-of-memory message asks to lower.
SETTING_NAMES = {"batch_size": "the batch size", "patch_size": "the patch size",
                 "tile_size": "the tile size (Advanced settings)",
                 "tta": "test-time augmentation (Advanced settings)"}


def user_message(exc: BaseException, doing: str) -> str:
    """A message for the user about ``exc`` raised while ``doing`` (e.g. "training")."""
    return failures.user_message(exc, doing, SETTING_NAMES)


def failed(exc: BaseException, doing: str) -> Failed:
    """``exc`` as a :class:`Failed` (logged with its traceback unless it is the user's error)."""
    if not isinstance(exc, BlindspotError):
        log.error("napari-blindspot: error while %s", doing, exc_info=exc)
    return Failed(exc, user_message(exc, doing))


def guarded(events: Generator[Any, None, Any], doing: str) -> Generator[Any, None, Any]:
    """``events``, whose exception (if any) becomes the returned :class:`Failed`."""
    try:
        return (yield from events)
    except Exception as exc:  # noqa: BLE001 - reported to the user
        return failed(exc, doing)


class Reporter:
    """Messages for the user: :meth:`say`, and :meth:`reporting` for the errors of a block."""

    #: ``(text, level)`` for the user; level ``"info"``, ``"warning"`` or ``"error"``.
    message = Signal(str, str)

    def __init__(self) -> None:
        #: The last message, as ``(text, level)``.
        self.last_message: tuple[str, str] = ("", "info")

    def say(self, text: str, level: str = "info") -> None:
        """Tell the user ``text`` (the view shows it; warnings and errors also notify)."""
        self.last_message = (text, level)
        if level == "error":
            log.warning("napari-blindspot: %s", text)
        self.message.emit(text, level)

    @contextlib.contextmanager
    def reporting(self, doing: str) -> Iterator[None]:
        """Report an exception raised in the block as an error message (``doing``: what failed)."""
        try:
            yield
        except Exception as exc:  # noqa: BLE001 - shown to the user
            if not isinstance(exc, BlindspotError):
                log.error("napari-blindspot: error while %s", doing, exc_info=exc)
            self.say(user_message(exc, doing), "error")


class SyncJob:
    """A job that runs to its end inside :meth:`start` (see :func:`run_now`)."""

    def __init__(self, events: Generator[Any, None, Any], on_event: Callable[[Any], None],
                 on_done: Callable[[Any], None]) -> None:
        self._events, self._on_event, self._on_done = events, on_event, on_done
        self._quit = False
        self.is_running = False

    def start(self) -> None:
        self.is_running = True
        result = None
        try:
            while not self._quit:
                try:
                    event = next(self._events)
                except StopIteration as stop:
                    result = stop.value
                    break
                self._on_event(event)
        finally:
            self._events.close()
            self.is_running = False
        self._on_done(result)

    def quit(self) -> None:
        self._quit = True


def run_now(events: Generator[Any, None, Any], on_event: Callable[[Any], None],
            on_done: Callable[[Any], None]) -> SyncJob:
    """A :data:`Runner` that runs the job in the calling thread when it is started."""
    return SyncJob(events, on_event, on_done)
