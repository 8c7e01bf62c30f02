"""Assembling streamed blocks into whole chunks (or TIFF pages) before they are written.

Prediction finishes an image in pieces (rows of one sample, one channel at a time) that
rarely match the chunks of the output file.  :class:`ChunkAssembler` copies every piece
into the chunks it touches and hands a chunk to the writer as soon as all of its pixels
have arrived, so each chunk is written once, whole (no read-modify-write), and only the
chunks being filled are held in memory.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np

#: ``emit(chunk_position, region, data)``: a finished chunk at ``region`` of the file.
Emit = Callable[[tuple[int, ...], tuple[slice, ...], np.ndarray], None]


class Clipped:
    """What casting to an integer ``dtype`` clipped, added up over the pieces of a file."""

    def __init__(self, dtype: Any) -> None:
        self.dtype = np.dtype(dtype)
        self.total = self.above = self.below = 0
        self.high, self.low = -np.inf, np.inf

    def add(self, data: np.ndarray) -> None:
        """Count the values of ``data`` (before casting) outside the integer type's range."""
        info = np.iinfo(self.dtype)
        self.total += data.size
        above, below = data > info.max + 0.5, data < info.min - 0.5
        if above.any():
            self.above += int(above.sum())
            self.high = max(self.high, float(data.max()))
        if below.any():
            self.below += int(below.sum())
            self.low = min(self.low, float(data.min()))

    def note(self) -> str:
        """E.g. ``312 pixels (0.1%) above 255 (up to 279.4) were clipped to 255``; empty when
        nothing was clipped."""
        info = np.iinfo(self.dtype) if self.dtype.kind in "ui" else None
        parts = []
        if info is not None and self.above:
            parts.append(f"{self.above:,} pixels ({100 * self.above / self.total:.2g}%) above "
                         f"{info.max} (up to {self.high:.5g}) were clipped to {info.max}")
        if info is not None and self.below:
            parts.append(f"{self.below:,} pixels ({100 * self.below / self.total:.2g}%) below "
                         f"{info.min} (down to {self.low:.5g}) were clipped to {info.min}")
        return " and ".join(parts)


def cast_to(data: np.ndarray, dtype: Any, clipped: Clipped | None = None) -> np.ndarray:
    """``data`` as ``dtype``: integer types are rounded and clipped to their range (counted
    in ``clipped`` when given)."""
    dtype = np.dtype(dtype)
    if dtype.kind in "ui":
        info = np.iinfo(dtype)
        if clipped is not None:
            clipped.add(data)
        return np.clip(np.round(data), info.min, info.max).astype(dtype)
    return np.asarray(data, dtype=dtype)


def _full_index(index: tuple[Any, ...], shape: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
    out = []
    for entry, size in zip(index, shape):
        if isinstance(entry, slice):
            start, stop, step = entry.indices(size)
            if step != 1:
                raise ValueError("strided writes are not supported")
            out.append((start, stop))
        else:
            out.append((int(entry), int(entry) + 1))
    return tuple(out)


class ChunkAssembler:
    """Collects pieces of an array of ``shape`` into chunks of ``chunks`` and emits each
    chunk, cast to ``dtype``, once it is complete.

    Pieces may come in any order but must not overlap; :meth:`open_chunks` says how many are
    being filled (what the assembler holds in memory).
    """

    def __init__(self, shape: tuple[int, ...], chunks: tuple[int, ...], dtype: Any, emit: Emit) -> None:
        if len(shape) != len(chunks):
            raise ValueError(f"chunks {chunks} do not fit shape {shape}")
        self.shape = tuple(int(s) for s in shape)
        self.chunks = tuple(int(c) for c in chunks)
        self.dtype = np.dtype(dtype)
        self.emit = emit
        #: What casting to ``dtype`` clipped so far.
        self.clipped = Clipped(self.dtype)
        self._open: dict[tuple[int, ...], list[Any]] = {}  # position -> [buffer, filled]
        self.emitted = 0

    def _region(self, pos: tuple[int, ...]) -> tuple[slice, ...]:
        return tuple(slice(p * c, min((p + 1) * c, s)) for p, c, s in zip(pos, self.chunks, self.shape))

    def write(self, index: tuple[Any, ...], block: np.ndarray) -> None:
        """Place ``block`` at ``index`` (ints or unit-step slices, one per axis; the block has
        the sliced axes only, in order)."""
        bounds = _full_index(index, self.shape)
        want = tuple(b - a for a, b in bounds)
        block = np.asarray(block)
        if block.size != int(np.prod(want)):
            raise ValueError(f"block of shape {block.shape} does not fit index {index!r}")
        full = block.reshape(want)  # the axes an int index takes are of length 1
        ranges = [range(a // c, (b - 1) // c + 1) for (a, b), c in zip(bounds, self.chunks)]
        for pos in itertools.product(*ranges):
            region = self._region(pos)
            lo = [max(a, r.start) for (a, _), r in zip(bounds, region)]
            hi = [min(b, r.stop) for (_, b), r in zip(bounds, region)]
            src = tuple(slice(l - a, h - a) for l, h, (a, _) in zip(lo, hi, bounds))
            dst = tuple(slice(l - r.start, h - r.start) for l, h, r in zip(lo, hi, region))
            entry = self._open.get(pos)
            if entry is None:
                entry = self._open[pos] = [np.zeros(tuple(r.stop - r.start for r in region),
                                                    np.float32), 0]
            entry[0][dst] = full[src]
            entry[1] += int(np.prod([h - l for l, h in zip(lo, hi)]))
            if entry[1] >= entry[0].size:
                del self._open[pos]
                self.emitted += 1
                self.emit(pos, region, cast_to(entry[0], self.dtype, self.clipped))

    def open_chunks(self) -> int:
        return len(self._open)

    def check_complete(self) -> None:
        """Raise ``RuntimeError`` when some chunk never got all of its pixels."""
        if self._open:
            raise RuntimeError(f"{len(self._open)} chunk(s) of the output were not completely written")


__all__ = ["ChunkAssembler", "Clipped", "cast_to"]
