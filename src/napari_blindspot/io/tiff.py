"""TIFF input and output with tifffile, keeping axes and pixel sizes.

``read_tiff`` returns the image, an axes string guessed from the file's own
metadata (ImageJ hyperstack or OME) where it has any, and the pixel sizes.  The image is
lazy: memory-mapped where the file stores it contiguously and uncompressed, else a
``zarr.Array`` over tifffile's zarr store (compressed or tiled files: only the pages or
tiles asked for are read); ``lazy=False`` loads it into memory.
``write_tiff`` writes an ImageJ-compatible hyperstack (axes reordered to ImageJ's
``TZCYX`` order when needed) with the pixel size as resolution and spacing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import tifffile

from ..engine.axes import check_axes, guess_axes
from ..engine.errors import AxesError, DataError

_IMAGEJ_ORDER = "TZCYX"


@dataclass
class TiffImage:
    """An image read from a TIFF file.

    ``pixel_size`` maps spatial axis letters (``"X"``, ``"Y"``, ``"Z"``) to sizes in ``unit``.
    ``axes_source`` says where the axes came from: ``"imagej"``, ``"ome"`` or ``"guessed"``.
    """

    data: Any  # numpy array, numpy.memmap or zarr.Array: shape, dtype, numpy-style indexing
    axes: str
    axes_source: str
    pixel_size: dict[str, float] = field(default_factory=dict)
    unit: str = "micron"
    metadata: dict[str, Any] = field(default_factory=dict)


def _normalize_axes(axes: str) -> str | None:
    """Map tifffile's axes letters onto ours; None if some letter has no meaning for us."""
    mapping = {"I": "S", "Q": "S", "S": "C", "E": "S", "R": "S", "H": "S", "V": "S", "L": "S", "A": "S"}
    out = "".join(mapping.get(a, a) for a in axes.upper())
    if len(set(out)) != len(out):
        # several unknown axes map to S: only one S allowed
        return None
    return out


def _resolution_to_size(tag: Any) -> float | None:
    try:
        num, den = tag.value
        return den / num if num else None
    except Exception:  # noqa: BLE001 - malformed tag
        return None


def _lazy_data(path: str, tif: tifffile.TiffFile) -> Any:
    """The first series without reading it: a memmap when contiguous and uncompressed, else a
    read-only zarr array over tifffile's store (which keeps the file open)."""
    series = tif.series[0]
    if series.dataoffset is not None and len(series.levels) == 1:
        try:
            return tifffile.memmap(path, series=0, mode="r")
        except Exception:  # noqa: BLE001 - tifffile refuses some layouts: read through zarr
            pass
    import zarr

    return zarr.open(series.aszarr(level=0), mode="r")


def read_tiff(path: str | os.PathLike, *, lazy: bool = True) -> TiffImage:
    """Read a TIFF file: data (lazy unless ``lazy=False``, see the module docstring), axes
    (from ImageJ/OME metadata, else guessed), pixel sizes."""
    path = os.fspath(path)
    try:
        tif = tifffile.TiffFile(path)
    except FileNotFoundError:
        raise
    except Exception as exc:  # noqa: BLE001 - tifffile raises many types
        raise DataError(f"Cannot read {path!r} as a TIFF file: {exc}") from exc
    try:
        series = tif.series[0]
        data = _lazy_data(path, tif) if lazy else series.asarray()
        axes_raw = series.axes
        source = "guessed"
        pixel: dict[str, float] = {}
        unit = "micron"
        meta: dict[str, Any] = {}
        if tif.is_imagej and tif.imagej_metadata is not None:
            meta = dict(tif.imagej_metadata)
            source = "imagej"
            unit = str(meta.get("unit", "micron")).replace("\\u00B5m", "micron")
            if "spacing" in meta:
                pixel["Z"] = float(meta["spacing"])
        elif tif.is_ome:
            source = "ome"
            try:
                ome = tifffile.xml2dict(tif.ome_metadata)["OME"]["Image"]
                px = (ome[0] if isinstance(ome, list) else ome)["Pixels"]
                for letter in "XYZ":
                    if f"PhysicalSize{letter}" in px:
                        pixel[letter] = float(px[f"PhysicalSize{letter}"])
            except Exception:  # noqa: BLE001 - OME XML variants
                pass
        page = series.pages[0]
        if page is not None and "X" not in pixel:
            tags = page.tags
            if "XResolution" in tags and "YResolution" in tags:
                x, y = _resolution_to_size(tags["XResolution"]), _resolution_to_size(tags["YResolution"])
                if x and y and not (x == 1.0 and y == 1.0):
                    pixel["X"], pixel["Y"] = x, y
    except Exception as exc:  # noqa: BLE001 - tifffile raises many types
        tif.close()
        if isinstance(exc, DataError):
            raise
        raise DataError(f"Cannot read {path!r} as a TIFF file: {exc}") from exc
    if not lazy or isinstance(data, np.ndarray):
        tif.close()  # a memmap keeps its own handle; a zarr store needs the file open
    axes = _normalize_axes(axes_raw) if source != "guessed" else None
    if axes is not None:
        try:
            axes = check_axes(axes, data.shape)
        except AxesError:
            axes = None
    if axes is None:
        source = "guessed"
        axes = guess_axes(data.shape, rgb=data.ndim >= 3 and data.shape[-1] in (3, 4))
    return TiffImage(data, axes, source, pixel, unit, meta)


def write_tiff(path: str | os.PathLike, data: np.ndarray, axes: str, *,
               pixel_size: dict[str, float] | None = None, unit: str = "micron",
               dtype: Any = np.float32, metadata: dict[str, Any] | None = None) -> None:
    """Write ``data`` (axes ``axes``) as an ImageJ-compatible TIFF.

    ``dtype``: ``float32`` (default) or the source's integer dtype (values are rounded
    and clipped to its range).  ``pixel_size`` maps ``"X"``/``"Y"``/``"Z"`` to sizes in ``unit``.
    """
    axes = check_axes(axes, data.shape)
    arr = np.asarray(data)
    dtype = np.dtype(dtype)
    if dtype.kind in "ui":
        info = np.iinfo(dtype)
        arr = np.clip(np.round(arr), info.min, info.max).astype(dtype)
    else:
        arr = arr.astype(np.float32)
    # ImageJ hyperstacks know T, Z, C, Y, X: S becomes T (or is merged into T)
    work_axes = axes
    if "S" in work_axes:
        if "T" in work_axes:
            s, t = work_axes.index("S"), work_axes.index("T")
            arr = np.moveaxis(arr, s, t if t > s else t + 1)
            moved = work_axes.replace("S", "")
            arr = arr.reshape(arr.shape[:moved.index("T")] + (-1,) + arr.shape[moved.index("T") + 2:])
            work_axes = moved
        else:
            work_axes = work_axes.replace("S", "T")
    order = [work_axes.index(a) for a in _IMAGEJ_ORDER if a in work_axes]
    arr = np.transpose(arr, order)
    ij_axes = "".join(work_axes[i] for i in order)
    if arr.dtype not in (np.uint8, np.uint16, np.float32):
        arr = arr.astype(np.float32)
    ij_meta: dict[str, Any] = {"axes": ij_axes, "unit": unit}
    if metadata:
        ij_meta.update({k: v for k, v in metadata.items() if k not in ("axes", "unit")})
    px = pixel_size or {}
    if "Z" in px and "Z" in axes:
        ij_meta["spacing"] = float(px["Z"])
    kwargs: dict[str, Any] = {}
    if "X" in px and "Y" in px:
        kwargs["resolution"] = (1.0 / float(px["X"]), 1.0 / float(px["Y"]))
    tifffile.imwrite(os.fspath(path), arr, imagej=True, metadata=ij_meta, **kwargs)
