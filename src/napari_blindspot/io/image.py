"""One entry point for image files, lazy, whatever the format: TIFF, OME-Zarr or a vendor file
(CZI, ND2, LIF through bioio, :mod:`.vendor`) in, and a streaming writer for TIFF or OME-Zarr out.

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
from .vendor import VENDOR_SUFFIXES, VendorImage, read_vendor

ImageFile = Union[TiffImage, ZarrImage, VendorImage]
Writer = Union[OmeZarrWriter, TiffPageWriter]

TIFF_SUFFIXES = (".tif", ".tiff")
#: What `blindspot denoise` reads: TIFF files, zarr stores and vendor files (with bioio).
IMAGE_SUFFIXES = TIFF_SUFFIXES + (".zarr",) + VENDOR_SUFFIXES


def image_format(path: str | os.PathLike) -> str | None:
    """``"zarr"``, ``"tiff"`` or None (not an image path we read or write)."""
    path = os.fspath(path).rstrip("/\\")
    if is_zarr_path(path):
        return "zarr"
    if path.lower().endswith(TIFF_SUFFIXES):
        return "tiff"
    return None


def input_format(path: str | os.PathLike) -> str | None:
    """What `blindspot train|denoise` read: :func:`image_format`, or ``"vendor"`` for a CZI,
    ND2 or LIF name (read through bioio, never written)."""
    fmt = image_format(path)
    if fmt is None and os.fspath(path).rstrip("/\\").lower().endswith(VENDOR_SUFFIXES):
        return "vendor"
    return fmt


def open_image(path: str | os.PathLike, axes: str | None = None, *,
               allow_missing_chunks: bool = False) -> ImageFile:
    """Open a TIFF file, a zarr store or a vendor file lazily; ``axes`` overrides the file's own.
    ``allow_missing_chunks``: read a zarr store's missing chunks as its fill value (else
    refused, see :mod:`.zarr_checks`)."""
    path = os.fspath(path)
    fmt = input_format(path)
    if fmt == "zarr":
        image: ImageFile = read_omezarr(path, axes, allow_missing_chunks=allow_missing_chunks)
    elif fmt == "vendor":
        image = read_vendor(path)
    elif fmt == "tiff" or os.path.isfile(path):
        image = read_tiff(path)
    else:
        raise DataError(f"{path!r} is neither a TIFF file nor a zarr store: give a .tif/.tiff file, "
                        "an OME-Zarr (.zarr) image or a .czi/.nd2/.lif file.")
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


__all__ = ["IMAGE_SUFFIXES", "ImageFile", "TIFF_SUFFIXES", "VENDOR_SUFFIXES", "Writer", "image_format",
           "input_format", "open_image", "open_writer"]
