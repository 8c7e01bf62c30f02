"""Keeping Python's full garbage collections from freezing the viewer while a job runs.

A full (generation 2) collection holds the GIL while it walks every object the collector
tracks.  With napari, Qt and torch loaded that takes 100-200 ms on a 2-core machine (165 ms
measured under Xvfb), and allocations in any thread can trigger one: when the training worker
triggers it, napari's main thread waits for the GIL and the viewer freezes.

While a job of the widget runs, :class:`CollectorPause` freezes the objects that existed when
it started (:func:`gc.freeze`), so that collections only walk objects created since (a few
milliseconds); when the last job ends they are unfrozen (:func:`gc.unfreeze`) and collectable
again.  Cyclic garbage created during the job is collected as usual.
"""

from __future__ import annotations

import gc


class CollectorPause:
    """Freeze the collector's view of existing objects while jobs run (idempotent)."""

    def __init__(self) -> None:
        self.active = False

    def hold(self) -> None:
        """A job starts: freeze the objects that exist now (once per series of jobs)."""
        if not self.active:
            gc.freeze()
            self.active = True

    def release(self) -> None:
        """The last job ended: make the frozen objects collectable again."""
        if self.active:
            gc.unfreeze()
            self.active = False
