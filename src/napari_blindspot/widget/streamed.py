"""Results too big for memory, in napari: a lazy layer backed by a zarr store that fills in
while the prediction writes it (no Qt here).

:func:`should_stream` decides (the result would take a large share of the free memory, or
the layer is lazy, a dask or zarr array, and its result is large).  :class:`ScratchResult`
holds one zarr array per output in a scratch folder, in the layer's own axes order, fed with
the engine's :class:`~napari_blindspot.engine.events.PredictedBlock` events through
:class:`~napari_blindspot.io.chunks.ChunkAssembler` (each chunk written once, whole).
napari reads them through :class:`LockedArray`, which never reads a chunk while it is being
written.  The scratch folder is removed when the widget closes (and at exit).
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Generator
from typing import Any

import numpy as np

from ..engine.axes import CanonicalView
from ..engine.events import PredictedBlock, PredictionProgress
from ..engine.system.memory import available_memory
from ..io.chunks import ChunkAssembler

#: A lazy layer's result of at least this many bytes is streamed to a scratch zarr store.
STREAM_BYTES = 1 << 30
#: Any result larger than this share of the free memory is streamed.
MEMORY_SHARE = 0.4
_SCRATCH: set[str] = set()


def should_stream(data: Any, n_outputs: int, available: int | None = None) -> bool:
    """Whether the result of denoising ``data`` (``n_outputs`` float32 arrays of its shape)
    should be streamed to disk instead of held in memory."""
    size = 4.0 * n_outputs * float(np.prod(tuple(data.shape), dtype=np.float64))
    free = available_memory("cpu") if available is None else available
    if free is not None and size > MEMORY_SHARE * free:
        return True
    return not isinstance(data, np.ndarray) and size >= STREAM_BYTES


class LockedArray:
    """A read-only array-like over a zarr array that waits while a chunk is being written."""

    def __init__(self, array: Any, lock: threading.Lock) -> None:
        self.array, self.lock = array, lock
        self.shape, self.dtype, self.ndim = tuple(array.shape), np.dtype(array.dtype), array.ndim
        self.size = int(np.prod(self.shape, dtype=np.int64))

    def __getitem__(self, index: Any) -> np.ndarray:
        with self.lock:
            return np.asarray(self.array[index])

    def __len__(self) -> int:
        return self.shape[0]

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = self[tuple(slice(None) for _ in self.shape)]
        return out if dtype is None else out.astype(dtype)


def _chunks(view: CanonicalView) -> tuple[int, ...]:
    out = []
    for a, n in zip(view.axes, view.data.shape):
        if a in view.sample_axes or a == "C":
            out.append(1)
        elif a == "Z":
            out.append(min(int(n), 16))
        else:
            out.append(min(int(n), 256 if view.train_3d else 512))
    return tuple(out)


def _remove_all() -> None:
    for folder in list(_SCRATCH):
        shutil.rmtree(folder, ignore_errors=True)
        _SCRATCH.discard(folder)


atexit.register(_remove_all)


class ScratchResult:
    """Zarr arrays (float32, the shape and axes order of ``view``'s source) for the outputs
    ``keys`` (``"denoised"``, ``"uncertainty"``) in a new scratch folder."""

    def __init__(self, view: CanonicalView, keys: tuple[str, ...], folder: str | None = None) -> None:
        import zarr

        self.view = view
        self.folder = tempfile.mkdtemp(prefix="napari-blindspot-", dir=folder)
        _SCRATCH.add(self.folder)
        self.lock = threading.Lock()
        shape, chunks = tuple(view.data.shape), _chunks(view)
        self.zarr = {k: zarr.open_array(os.path.join(self.folder, f"{k}.zarr"), mode="w", shape=shape,
                                        chunks=chunks, dtype=np.float32, fill_value=0.0)
                     for k in keys}
        self.arrays = {k: LockedArray(a, self.lock) for k, a in self.zarr.items()}
        self._assemblers = {k: ChunkAssembler(shape, chunks, np.float32, self._emitter(a))
                            for k, a in self.zarr.items()}

    def _emitter(self, array: Any) -> Any:
        def emit(pos: tuple[int, ...], region: tuple[slice, ...], data: np.ndarray) -> None:
            with self.lock:
                array[region] = data
        return emit

    def put(self, block: PredictedBlock) -> None:
        index = self.view.index(block.sample, block.channel, (block.start, block.stop))
        for key, data in block.outputs.items():
            if key in self._assemblers:
                self._assemblers[key].write(index, self.view.to_source_order(data, block.channel))

    def remove(self) -> None:
        """Delete the scratch folder (its layers must be gone or replaced first)."""
        shutil.rmtree(self.folder, ignore_errors=True)
        _SCRATCH.discard(self.folder)


def stream_into(model: Any, data: Any, axes: str, scratch: ScratchResult, *, tile_size: int | None,
                tta: bool) -> Generator[PredictionProgress, None, dict[str, LockedArray]]:
    """Denoise ``data`` into ``scratch``, yielding progress; returns its arrays."""
    want_uncertainty = "uncertainty" in scratch.arrays
    for ev in model.predict_stream(data, axes, tile_size=tile_size, tta=tta,
                                   uncertainty=want_uncertainty):
        if isinstance(ev, PredictedBlock):
            scratch.put(ev)
        else:
            yield ev
    for assembler in scratch._assemblers.values():
        assembler.check_complete()
    return dict(scratch.arrays)


class StreamedResult:
    """The lazy result layers of one streamed prediction of ``source`` in ``viewer``: added at
    once over a new :class:`ScratchResult` (contrast from the model's statistics, since nothing
    is written yet), refreshed while it fills in, discarded when it does not finish."""

    #: Seconds between refreshes of the layers while they fill in.
    REFRESH_S = 1.0

    def __init__(self, viewer: Any, model: Any, source: Any, keys: tuple[str, ...]) -> None:
        from .layers import put_result_layer

        self.viewer = viewer
        self.scratch = ScratchResult(model.view(source.data, source.axes), keys)
        mean, std = model.normalization.mean[0], model.normalization.std[0]
        self.layers = [put_result_layer(viewer, source, "denoised", self.scratch.arrays["denoised"],
                                        limits=(mean - 2 * std, mean + 3 * std))]
        if "uncertainty" in self.scratch.arrays:
            self.layers.append(put_result_layer(viewer, source, "uncertainty",
                                                self.scratch.arrays["uncertainty"], colormap="magma",
                                                limits=(0.0, std), visible=False))
        self._refreshed = 0.0

    def events(self, model: Any, source: Any, *, tile_size: int | None, tta: bool
               ) -> Generator[PredictionProgress, None, dict[str, LockedArray]]:
        """The prediction's events (:func:`stream_into`); returns the lazy arrays."""
        return stream_into(model, source.data, source.axes, self.scratch, tile_size=tile_size, tta=tta)

    def refresh(self) -> None:
        """Redraw the layers (at most every :attr:`REFRESH_S`) to show what has been written."""
        now = time.monotonic()
        if now - self._refreshed < self.REFRESH_S:
            return
        self._refreshed = now
        for layer in self.layers:
            if layer in self.viewer.layers:
                layer.refresh()

    def discard(self) -> None:
        """Remove the layers and the scratch store (a prediction that failed or was cancelled)."""
        from .layers import remove_layer

        for layer in self.layers:
            remove_layer(self.viewer, layer)
        self.scratch.remove()


__all__ = ["LockedArray", "ScratchResult", "STREAM_BYTES", "StreamedResult", "should_stream",
           "stream_into"]
