"""The widget's :data:`~.jobs.Runner` inside napari: jobs run in napari generator workers.

Every event a job yields reaches the controller on the main thread through the worker's
``yielded`` signal; its return value through ``returned``, then ``finished``.

napari's workers run in Qt's thread pool, threads Python did not start.  The first time code
there asks for its thread (a log record does, for its ``threadName``), Python registers a
``Dummy-N`` thread object, and before Python 3.12 never forgets it: ``threading.enumerate()``
then lists a thread that outlived the finished run (issue 20).  The job forgets it when it ends.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator
from typing import Any

from napari.qt.threading import create_worker


def forget_dummy_thread(ident: int) -> None:
    """Drop Python's ``Dummy-N`` record of the foreign thread ``ident`` (its job is over)."""
    active = getattr(threading, "_active", None)
    dummy = getattr(threading, "_DummyThread", None)
    lock = getattr(threading, "_active_limbo_lock", None)
    if active is None or dummy is None or lock is None:  # pragma: no cover - another Python
        return
    with lock:
        if isinstance(active.get(ident), dummy):
            del active[ident]


def _relay(events: Generator[Any, None, Any]) -> Generator[Any, None, Any]:
    ident = threading.get_ident()  # the generator starts in the worker's thread
    try:
        return (yield from events)
    finally:
        forget_dummy_thread(ident)


class WorkerJob:
    """A job in a napari ``GeneratorWorker`` (started by :meth:`start`)."""

    def __init__(self, events: Generator[Any, None, Any], on_event: Callable[[Any], None],
                 on_done: Callable[[Any], None]) -> None:
        self._result: Any = None
        self.worker = create_worker(_relay, events, _start_thread=False)
        self.worker.yielded.connect(on_event)
        self.worker.returned.connect(self._keep)
        self.worker.finished.connect(lambda: on_done(self._result))

    def _keep(self, value: Any) -> None:
        self._result = value

    @property
    def is_running(self) -> bool:
        return bool(self.worker.is_running)

    def start(self) -> None:
        self.worker.start()

    def quit(self) -> None:
        try:
            self.worker.quit()
        except RuntimeError:  # pragma: no cover - worker already deleted
            pass


def napari_runner(events: Generator[Any, None, Any], on_event: Callable[[Any], None],
                  on_done: Callable[[Any], None]) -> WorkerJob:
    """Run jobs in napari generator workers (see the module docstring)."""
    return WorkerJob(events, on_event, on_done)
