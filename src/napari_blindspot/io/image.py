"""One entry point for image files, lazy, whatever the format: TIFF or OME-Zarr in, and a
streaming writer for either out.

``open_image(path)`` returns the image (never loaded whole: a memmap or a zarr array) with
its axes, where they came from, and its pixel sizes.  ``open_writer(path, ...)`` returns a
:class:`~.omezarr.OmeZarrWriter` or a :class:`~.tiff_stream.TiffPageWriter` by the path's
name; both take pieces with ``write(index, block)`` and are completed with ``finish()``
(or dropped with ``abort()``).
"""

from __future__ import annotations

import os
from typing import Any, Union

import numpy as np

from ..engine.errors import DataError
from .omezarr import OmeZarrWriter, ZarrImage, is_zarr_path, read_omezarr
from .tiff import TiffImage, read_tiff
from .tiff_stream import TiffPageWriter

ImageFile = Union[TiffImage, ZarrImage]
Writer = Union[OmeZarrWriter, TiffPageWriter]

TIFF_SUFFIXES = (".tif", ".tiff")
#: What `blindspot denoise` reads: TIFF files and zarr stores.
IMAGE_SUFFIXES = TIFF_SUFFIXES + (".zarr",)


def image_format(path: str | os.PathLike) -> str | None:
    """``"zarr"``, ``"tiff"`` or None (not an image path we read or write)."""
    path = os.fspath(path).rstrip("/\\")
    if is_zarr_path(path):
        return "zarr"
    if path.lower().endswith(TIFF_SUFFIXES):
        return "tiff"
    return None


def open_image(path: str | os.PathLike, axes: str | None = None, *,
               allow_missing_chunks: bool = False) -> ImageFile:
    """Open a TIFF file or a zarr store lazily; ``axes`` overrides the file's own.
    ``allow_missing_chunks``: read a zarr store's missing chunks as its fill value (else
    refused, see :mod:`.zarr_checks`)."""
    path = os.fspath(path)
    fmt = image_format(path)
    if fmt == "zarr":
        image: ImageFile = read_omezarr(path, axes, allow_missing_chunks=allow_missing_chunks)
    elif fmt == "tiff" or os.path.isfile(path):
        image = read_tiff(path)
    else:
        raise DataError(f"{path!r} is neither a TIFF file nor a zarr store: give a .tif/.tiff file "
                        "or an OME-Zarr (.zarr) image.")
    if axes:
        image.axes = axes.upper()
        image.axes_source = "given"
    return image


def open_writer(path: str | os.PathLike, axes: str, shape: tuple[int, ...], *,
                dtype: Any = np.float32, pixel_size: dict[str, float] | None = None,
                unit: str = "micron", z_spatial: bool = False, zarr_format: int = 2,
                name: str = "denoised") -> Writer:
    """A streaming writer for ``path``: OME-Zarr for a ``.zarr`` name, else a TIFF."""
    if image_format(path) == "zarr" or os.fspath(path).rstrip("/\\").lower().endswith(".zarr"):
        return OmeZarrWriter(path, axes, shape, dtype=dtype, pixel_size=pixel_size, unit=unit,
                             z_spatial=z_spatial, zarr_format=zarr_format, name=name)
    return TiffPageWriter(path, axes, shape, dtype=dtype, pixel_size=pixel_size, unit=unit)


__all__ = ["IMAGE_SUFFIXES", "ImageFile", "TIFF_SUFFIXES", "Writer", "image_format", "open_image",
           "open_writer"]
