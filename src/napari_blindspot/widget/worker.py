"""The widget's :data:`~.jobs.Runner` inside napari: jobs run in napari generator workers.

Every event a job yields reaches the controller on the main thread through the worker's
``yielded`` signal; its return value through ``returned``, then ``finished``.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

from napari.qt.threading import create_worker


def _relay(events: Generator[Any, None, Any]) -> Generator[Any, None, Any]:
    return (yield from events)


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
