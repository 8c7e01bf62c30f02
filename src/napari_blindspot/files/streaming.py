"""Prediction straight into files: the engine's streamed blocks go to OME-Zarr or TIFF writers.

    from napari_blindspot.engine import load_model
    from napari_blindspot.files.streaming import predict_to_file
    from napari_blindspot.io.image import open_image
    model = load_model("model.safetensors")
    image = open_image("stack.tif")                      # lazy: memmap or zarr
    predict_to_file(model, image, "denoised.ome.zarr")   # never holds the whole result

Host memory: the tiles in flight (one tile row of one sample) plus the output chunks (or
TIFF pages) being filled, not the size of the stack.  Outputs are written under temporary
names and moved into place when complete; an error or a cancel removes them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Generator
from typing import Any

import numpy as np

from ..engine import PredictionProgress
from ..engine.axes import CanonicalView
from ..engine.denoiser import Denoiser
from ..engine.events import PredictedBlock, PredictedImage, run_to_end
from ..io.image import ImageFile, Writer, open_writer
from ..io.omezarr import ZarrImage
from ..io.tiff import TiffImage
from ..io.vendor import VendorImage

log = logging.getLogger(__name__)


class ResultWriter:
    """Writers for the outputs of one image (``{"denoised": path, "uncertainty": path}``),
    fed with :class:`PredictedBlock` events of ``view``."""

    def __init__(self, view: CanonicalView, outputs: dict[str, str], *, dtype: Any = np.float32,
                 pixel_size: dict[str, float] | None = None, unit: str = "micron",
                 zarr_format: int = 2) -> None:
        self.view = view
        self.writers: dict[str, Writer] = {}
        try:
            for key, path in outputs.items():
                self.writers[key] = open_writer(
                    path, view.axes, tuple(view.data.shape),
                    dtype=dtype if key == "denoised" else np.float32, pixel_size=pixel_size,
                    unit=unit, z_spatial=view.train_3d, zarr_format=zarr_format, name=key)
        except BaseException:
            self.abort()
            raise

    def put(self, block: PredictedBlock) -> None:
        """Write one finished block (its outputs that have a writer)."""
        index = self.view.index(block.sample, block.channel, (block.start, block.stop))
        for key, data in block.outputs.items():
            writer = self.writers.get(key)
            if writer is not None:
                writer.write(index, self.view.to_source_order(data, block.channel))

    def put_whole(self, key: str, data: np.ndarray) -> None:
        """Write a whole in-memory result (models that cannot stream)."""
        if key in self.writers:
            self.writers[key].write(tuple(slice(None) for _ in data.shape), np.asarray(data))

    def finish(self) -> dict[str, str]:
        """Complete every output; returns ``{key: path}``.  What an integer pixel type
        clipped is logged as a warning (the float32 output keeps those values)."""
        try:
            paths = {key: w.finish() for key, w in self.writers.items()}
        except BaseException:
            self.abort()
            raise
        for key, w in self.writers.items():
            note = w.assembler.clipped.note()
            if note:
                log.warning("%s: %s in the %s file; --dtype float32 keeps them.", paths[key], note,
                            w.assembler.dtype.name)
        return paths

    def abort(self) -> None:
        for w in self.writers.values():
            w.abort()


def _as_outputs(output: str | os.PathLike | dict[str, str]) -> dict[str, str]:
    if isinstance(output, dict):
        return {k: os.fspath(v) for k, v in output.items() if v}
    return {"denoised": os.fspath(output)}


def predict_to_file_iter(model: Denoiser, image: ImageFile | Any, output: str | os.PathLike | dict[str, str],
                         *, axes: str | None = None, dtype: Any = np.float32,
                         pixel_size: dict[str, float] | None = None, unit: str | None = None,
                         zarr_format: int = 2, tile_size: int | None = None, tta: bool = False,
                         ) -> Generator[PredictionProgress, None, dict[str, str]]:
    """Denoise ``image`` into files, yielding :class:`PredictionProgress`; returns the paths.

    ``image``: an opened image (:func:`~.io.image.open_image`: its axes and pixel sizes are
    used) or any array-like with ``axes``.  ``output``: a path (``.zarr``: OME-Zarr, else TIFF)
    or ``{"denoised": path, "uncertainty": path}``.  ``dtype``: the denoised output's pixel type
    (float32, or an integer type: rounded and clipped).  Closing the generator cancels and
    removes the partial outputs.
    """
    opened = isinstance(image, (TiffImage, ZarrImage, VendorImage))
    data = image.data if opened else image
    axes = axes or (image.axes if opened else None)
    pixel_size = (image.pixel_size if opened else None) if pixel_size is None else pixel_size
    unit = unit or (image.unit if opened else "")
    outputs = _as_outputs(output)
    if "uncertainty" in outputs and not model.has_uncertainty:
        outputs.pop("uncertainty")
    view = model.view(data, axes)
    sink = ResultWriter(view, outputs, dtype=dtype, pixel_size=pixel_size, unit=unit,
                        zarr_format=zarr_format)
    try:
        for ev in model.predict_stream(data, view.axes, tile_size=tile_size, tta=tta,
                                       uncertainty="uncertainty" in outputs):
            if isinstance(ev, PredictedBlock):
                sink.put(ev)
            elif isinstance(ev, PredictedImage):  # a model that predicts in memory
                sink.put_whole("denoised", ev.outputs["denoised"])
            else:
                yield ev
        return sink.finish()
    except BaseException:
        sink.abort()
        raise


def predict_to_file(model: Denoiser, image: ImageFile | Any, output: str | os.PathLike | dict[str, str],
                    *, progress: Callable[[PredictionProgress], None] | None = None,
                    **kwargs: Any) -> dict[str, str]:
    """:func:`predict_to_file_iter` run to the end; ``progress`` gets every event."""
    gen = predict_to_file_iter(model, image, output, **kwargs)
    return run_to_end(gen, progress)


__all__ = ["ResultWriter", "predict_to_file", "predict_to_file_iter"]
