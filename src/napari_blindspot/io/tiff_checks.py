"""Checks a TIFF file must pass before its pixels are read: complete, and of a sane size.

tifffile reads what it can of a damaged file and logs the rest: a truncated ImageJ stack
comes back as its first frame, a page whose strips end past the end of the file is padded.
A file may also declare a shape far larger than its data (or than the machine's memory).
:func:`checked_series` turns all of these into one :class:`~.errors.DataError` that names
the file and the problem, before a byte of pixel data is allocated.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..engine.system import memory
from ..engine.errors import DataError
from ..engine.system.memory import format_bytes

#: tifffile log messages that mean the file is damaged or cut short.
_DAMAGE_WORDS = ("corrupt", "invalid page offset", "invalid offset", "truncat", "incomplete",
                 "missing data", "unexpected end")


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(Exception):
            self.messages.append(record.getMessage())


@contextlib.contextmanager
def tifffile_warnings() -> Iterator[list[str]]:
    """Collect what tifffile logs (and keep it off the user's terminal) inside the block."""
    logger = logging.getLogger("tifffile")
    handler = _Collect()
    logger.addHandler(handler)
    propagate, logger.propagate = logger.propagate, False
    try:
        yield handler.messages
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def damaged(path: str, why: str) -> DataError:
    return DataError(f"{path!r} is damaged or incomplete ({why}): copy it again from the "
                     "original, or re-export it from the acquisition software.")


def _page_extent(page: Any) -> int:
    """The end (byte offset) of the last strip or tile of ``page``; 0 if unknown."""
    offsets = getattr(page, "dataoffsets", None) or ()
    counts = getattr(page, "databytecounts", None) or ()
    return max((int(o) + int(c) for o, c in zip(offsets, counts)), default=0)


def check_series(tif: Any, series: Any, path: str, warnings: list[str]) -> None:
    """Raise :class:`DataError` if ``series`` of ``tif`` (file ``path``) is damaged or too big."""
    bad = [w for w in warnings if any(word in w.lower() for word in _DAMAGE_WORDS)]
    if bad:
        raise damaged(path, bad[0].split("> ", 1)[-1])
    size = os.path.getsize(path)
    meta = tif.imagej_metadata if tif.is_imagej else None
    planes = int(np.prod([n for a, n in zip(series.axes, series.shape) if a not in "YXS"] or [1]))
    if meta and isinstance(meta.get("images"), int) and meta["images"] > planes:
        raise damaged(path, f"its header announces {meta['images']} images but only {planes} "
                      "are in the file")
    nbytes = int(series.nbytes)
    compressed = any(getattr(p, "compression", 1) not in (1, None) for p in series.pages[:1]
                     if p is not None)
    offset = getattr(series, "dataoffset", None)
    if offset is not None and int(offset) + nbytes > size:
        raise damaged(path, f"the image needs {format_bytes(nbytes)} from byte {offset} but the "
                      f"file has {format_bytes(size)}")
    for page in series.pages:
        if page is None:
            continue
        end = _page_extent(page)
        if end > size:
            raise damaged(path, f"image data runs to byte {end} but the file ends at byte {size}")
        if not compressed and 0 < sum(int(c) for c in (page.databytecounts or ())) < page.nbytes:
            raise damaged(path, f"a page declares {page.shape} pixels but holds fewer bytes")
    if not compressed and offset is None and nbytes > size:
        raise damaged(path, f"it declares {series.shape} {series.dtype} pixels "
                      f"({format_bytes(nbytes)}) but the file has {format_bytes(size)}")
    free = memory.available_memory()
    if free is not None and nbytes > 0.8 * free:
        raise DataError(f"{path!r} holds a {' x '.join(map(str, series.shape))} {series.dtype} image "
                        f"({format_bytes(nbytes)}), more than the {format_bytes(free)} of memory "
                        "available: crop or bin it first, or use a machine with more memory.")


__all__ = ["check_series", "tifffile_warnings", "damaged"]
