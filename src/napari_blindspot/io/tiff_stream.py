"""Writing a TIFF page by page while the image is being predicted.

:class:`TiffPageWriter` takes pieces of the image in the source's axes (as
:class:`~.omezarr.OmeZarrWriter` does), assembles them into whole Y-X pages
(:mod:`.chunks`) and hands the pages, in the file's order, to tifffile, which writes them
on a thread of its own as they come (a bounded queue between the two).  The file is an
ImageJ hyperstack (``TZCYX``, uint8/uint16/int16/float32, pixel size as resolution and Z
spacing), or an OME-TIFF with the same axes and the pixel sizes in its OME metadata for the
pixel types ImageJ cannot hold and, in BigTIFF format, above 4 GB, where ImageJ's format ends.  Pages that come before their turn (sources
whose axes order differs from the file's) wait in memory.  The file is written under a
temporary name beside the target and renamed when complete.
"""

from __future__ import annotations

import os
import queue
import threading
from typing import Any

import numpy as np
import tifffile

from ..engine.atomic import clean_debris, resolve_target, temporary_name, write_failed
from .chunks import ChunkAssembler
from .layout import IMAGEJ_ORDER, OutputLayout
from .tiff import imagej_unit, tiff_format

#: ImageJ hyperstacks hold at most this many bytes of image data (a classic TIFF's offsets).
IMAGEJ_LIMIT = 2 ** 32 - 2 ** 25
#: Pages queued for tifffile's thread at most (each page waits here until written).
QUEUE_PAGES = 8
_DONE = object()


def tiff_dtype(dtype: Any) -> np.dtype:
    """The pixel type a streamed TIFF is written in: the types ImageJ or OME-TIFF hold
    (:func:`~.tiff.tiff_format`) kept, others float32."""
    dtype = np.dtype(dtype)
    return dtype if tiff_format(dtype) is not None else np.dtype(np.float32)


class TiffPageWriter:
    """Write an image with ``axes``/``shape`` (the source's, any order) to the TIFF ``path``
    page by page.  ``dtype``: float32 or an integer type (rounded and clipped); ``pixel_size``
    maps X/Y/Z to sizes in ``unit``.  ``bigtiff``: None chooses by size (see the module)."""

    def __init__(self, path: str | os.PathLike, axes: str, shape: tuple[int, ...], *,
                 dtype: Any = np.float32, pixel_size: dict[str, float] | None = None,
                 unit: str = "micron", bigtiff: bool | None = None) -> None:
        self.target = resolve_target(path)
        self.existed = os.path.exists(self.target)
        clean_debris(self.target)
        self.path = temporary_name(self.target)
        self.layout = OutputLayout(axes, tuple(shape), IMAGEJ_ORDER)
        self.file_axes, self.file_shape = self.layout.file_axes, self.layout.file_shape
        self.dtype = tiff_dtype(dtype)
        nbytes = int(np.prod(self.file_shape, dtype=np.int64)) * self.dtype.itemsize
        self.bigtiff = nbytes > IMAGEJ_LIMIT if bigtiff is None else bool(bigtiff)
        self.ome = self.bigtiff or tiff_format(self.dtype) == "ome"  # ImageJ cannot hold it
        self.page_grid = self.file_shape[:-2]
        self.n_pages = int(np.prod(self.page_grid, dtype=np.int64)) if self.page_grid else 1
        self._next = 0
        self._waiting: dict[int, np.ndarray] = {}
        self._queue: queue.Queue = queue.Queue(maxsize=QUEUE_PAGES)
        self._error: BaseException | None = None
        self.assembler = ChunkAssembler(self.file_shape, (1,) * len(self.page_grid)
                                        + self.file_shape[-2:], self.dtype, self._emit)
        kwargs = self._tiff_kwargs(dict(pixel_size or {}), unit)
        self._thread = threading.Thread(target=self._run, args=(kwargs,), daemon=True,
                                        name="blindspot-tiff-writer")
        self._thread.start()

    def _tiff_kwargs(self, px: dict[str, float], unit: str) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"shape": self.file_shape, "dtype": self.dtype}
        # no unit without a pixel size (see write_tiff)
        unit = imagej_unit(unit) if "X" in px and "Y" in px else ""
        if self.ome:
            meta: dict[str, Any] = {"axes": self.file_axes}
            for a in "XYZ":
                if a in px and a in self.file_axes:
                    meta[f"PhysicalSize{a}"] = float(px[a])
                    if unit:
                        meta[f"PhysicalSize{a}Unit"] = "µm" if unit == "micron" else unit
            kwargs.update(ome=True, bigtiff=self.bigtiff, metadata=meta)
        else:
            meta = {"axes": self.file_axes}
            if unit:
                meta["unit"] = unit
            if "Z" in px and "Z" in self.file_axes:
                meta["spacing"] = float(px["Z"])
            kwargs.update(imagej=True, metadata=meta)
        kwargs["photometric"] = "minisblack"
        if "X" in px and "Y" in px:
            kwargs["resolution"] = (1.0 / float(px["X"]), 1.0 / float(px["Y"]))
        return kwargs

    # ---------------------------------------------------------------- the writer thread
    def _pages(self) -> Any:
        while True:
            page = self._queue.get()
            if page is _DONE:
                return
            yield page

    def _run(self, kwargs: dict[str, Any]) -> None:
        try:
            tifffile.imwrite(self.path, data=self._pages(), **kwargs)
        except BaseException as exc:  # noqa: BLE001 - reported to the caller by _check
            self._error = exc
            while True:  # unblock the producer
                try:
                    if self._queue.get_nowait() is _DONE:
                        break
                except queue.Empty:
                    break

    def _check(self) -> None:
        if self._error is not None:
            if isinstance(self._error, OSError):  # a full disk, a read-only mount: say so
                raise write_failed(self.target, self._error, self.existed) from self._error
            raise self._error

    def _put(self, item: Any) -> None:
        while True:
            self._check()
            try:
                self._queue.put(item, timeout=0.2)
                return
            except queue.Full:
                if not self._thread.is_alive():
                    self._check()
                    raise RuntimeError("the TIFF writer stopped")

    # ---------------------------------------------------------------- writing
    def _emit(self, pos: tuple[int, ...], region: tuple[slice, ...], data: np.ndarray) -> None:
        number = int(np.ravel_multi_index(pos[:-2], self.page_grid)) if self.page_grid else 0
        self._waiting[number] = data.reshape(data.shape[-2:])
        while self._next in self._waiting:
            self._put(self._waiting.pop(self._next))
            self._next += 1

    def write(self, index: tuple[Any, ...], block: np.ndarray) -> None:
        """Write ``block`` at the source-order ``index`` (see :class:`~.layout.OutputLayout`)."""
        self._check()
        self.assembler.write(*self.layout.to_file(index, block))

    def waiting_pages(self) -> int:
        """Finished pages held until their turn (plus those queued for the writer thread)."""
        return len(self._waiting) + self._queue.qsize()

    def finish(self) -> str:
        """Wait for the last page to be written and move the file into place; returns its path."""
        self.assembler.check_complete()
        if self._next != self.n_pages:
            raise RuntimeError(f"only {self._next} of {self.n_pages} TIFF pages were written")
        self._put(_DONE)
        self._thread.join()
        self._check()
        try:
            os.replace(self.path, self.target)
        except OSError as exc:
            self.abort()
            raise write_failed(self.target, exc, self.existed) from exc
        return self.target

    def abort(self) -> None:
        """Stop writing and remove the partial file (the target, if it existed, is unchanged)."""
        if self._thread.is_alive():
            self._error = self._error or RuntimeError("aborted")
            try:
                self._queue.put_nowait(_DONE)
            except queue.Full:
                pass
            # tifffile raises when the page iterator ends early; wait for the thread
            while self._thread.is_alive():
                try:
                    self._queue.put(_DONE, timeout=0.1)
                except queue.Full:
                    pass
            self._thread.join()
        if os.path.exists(self.path):
            os.unlink(self.path)


__all__ = ["IMAGEJ_LIMIT", "TiffPageWriter", "tiff_dtype"]
