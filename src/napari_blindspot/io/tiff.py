"""TIFF input and output with tifffile, keeping axes and pixel sizes.

``read_tiff`` returns the image, an axes string guessed from the file's own
metadata (ImageJ hyperstack or OME) where it has any, and the pixel sizes; a damaged,
truncated or impossibly large file is refused first (:mod:`.tiff_checks`).  The image is
lazy: memory-mapped where the file stores it contiguously and uncompressed, else a
``zarr.Array`` over tifffile's zarr store (compressed or tiled files: only the pages or
tiles asked for are read); ``lazy=False`` loads it into memory.
``write_tiff`` writes an ImageJ-compatible hyperstack (axes reordered to ImageJ's
``TZCYX`` order when needed) with the pixel size as resolution and spacing, or an
OME-TIFF for pixel types ImageJ cannot hold; always atomically (:mod:`..engine.atomic`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import tifffile

from ..engine.atomic import atomic_path
from ..engine.axes import check_axes, guess_axes
from ..engine.errors import AxesError, BlindspotError, DataError
from .tiff_checks import check_series, damaged, tifffile_warnings

_IMAGEJ_ORDER = "TZCYX"


@dataclass
class TiffImage:
    """An image read from a TIFF file.

    ``pixel_size`` maps spatial axis letters (``"X"``, ``"Y"``, ``"Z"``) to sizes in ``unit``
    (an ImageJ unit string such as ``"micron"``; ``""`` when the file names none: no unit is
    invented).  ``axes_source`` says where the axes came from: ``"imagej"``, ``"ome"`` or
    ``"guessed"``.  ``metadata``: the ImageJ metadata (e.g. ``finterval``, the time between
    frames, in ``tunit``, seconds by default); for an OME-TIFF its ``TimeIncrement`` under those
    two names.
    """

    data: Any  # numpy array, numpy.memmap or zarr.Array: shape, dtype, numpy-style indexing
    axes: str
    axes_source: str
    pixel_size: dict[str, float] = field(default_factory=dict)
    unit: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)


def _normalize_axes(axes: str) -> str | None:
    """Map tifffile's axes letters onto ours; None if some letter has no meaning for us."""
    mapping = {"I": "S", "Q": "S", "S": "C", "E": "S", "R": "S", "H": "S", "V": "S", "L": "S", "A": "S"}
    out = "".join(mapping.get(a, a) for a in axes.upper())
    if len(set(out)) != len(out):
        # several unknown axes map to S: only one S allowed
        return None
    return out


#: Unit names in files -> ImageJ unit strings ("" for none: ImageJ's "pixel" is no unit).
_UNIT_NAMES = {"\\u00B5m": "micron", "µm": "micron", "μm": "micron", "um": "micron",
               "micrometer": "micron", "micrometre": "micron", "pixel": "", "pixels": ""}


def imagej_unit(name: Any) -> str:
    """The ImageJ unit string (``"micron"``, ``"nm"``…) for a unit named in a file or given by
    a caller; ``""`` for none, an empty name or ImageJ's ``"pixel"``."""
    text = str(name or "").strip()
    return _UNIT_NAMES.get(text, text)


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
    check_readable(path)
    with tifffile_warnings() as warnings:
        try:
            tif = tifffile.TiffFile(path)
        except Exception as exc:  # noqa: BLE001 - tifffile raises many types
            raise DataError(f"Cannot read {path!r} as a TIFF file ({exc}): choose a TIFF image "
                            "(.tif, .tiff, .ome.tif).") from exc
        keep_open = False
        try:
            if not tif.series:
                raise DataError(f"{path!r} is a TIFF file without images in it.")
            series = tif.series[0]
            check_series(tif, series, path, warnings)  # complete, sane size: before any pixel
            if lazy:
                data = _lazy_data(path, tif)
                keep_open = not isinstance(data, np.ndarray)  # tifffile's zarr store reads from it
            else:
                data = series.asarray()
                check_series(tif, series, path, warnings)  # reading may find more damage
            return _image_from(tif, series, data)
        except (BlindspotError, MemoryError):
            raise
        except Exception as exc:  # noqa: BLE001 - damaged files raise many types
            raise damaged(path, f"{type(exc).__name__}: {exc}") from exc
        finally:
            if not keep_open:
                tif.close()  # a memmap keeps a handle of its own


def check_readable(path: str) -> None:
    """Raise :class:`DataError` unless ``path`` is a file this process can read."""
    if os.path.isdir(path):
        raise DataError(f"{path!r} is a folder, not an image file: give the TIFF file inside it.")
    if not os.path.exists(path):
        raise DataError(f"Input file {path!r} does not exist.")
    if not os.access(path, os.R_OK):
        raise DataError(f"Input file {path!r} cannot be read (permission denied): check its "
                        "permissions.")
    if os.path.getsize(path) == 0:
        raise DataError(f"Input file {path!r} is empty (0 bytes): copy it again.")


def _image_from(tif: Any, series: Any, data: np.ndarray) -> TiffImage:
    """Axes, pixel sizes and metadata of an opened file, with its pixels ``data``."""
    axes_raw = series.axes
    source = "guessed"
    pixel: dict[str, float] = {}
    unit = ""  # only the unit the file names
    meta: dict[str, Any] = {}
    if tif.is_imagej and tif.imagej_metadata is not None:
        meta = dict(tif.imagej_metadata)
        source = "imagej"
        unit = imagej_unit(meta.get("unit"))
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
            if pixel:  # OME's default unit is the micrometre
                unit = imagej_unit(px.get("PhysicalSizeXUnit", "micron"))
            if "TimeIncrement" in px:  # kept under ImageJ's names (OME's default unit: s)
                meta = {"finterval": float(px["TimeIncrement"]),
                        "tunit": str(px.get("TimeIncrementUnit", "s"))}
        except Exception:  # noqa: BLE001 - OME XML variants
            pass
    page = series.pages[0]
    if page is not None and "X" not in pixel:
        tags = page.tags
        if "XResolution" in tags and "YResolution" in tags:
            x, y = _resolution_to_size(tags["XResolution"]), _resolution_to_size(tags["YResolution"])
            if x and y and not (x == 1.0 and y == 1.0):
                pixel["X"], pixel["Y"] = x, y
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


#: Pixel types an ImageJ hyperstack holds; OME-TIFF holds these and :data:`OME_DTYPES`.
IMAGEJ_DTYPES = tuple(np.dtype(t) for t in ("uint8", "uint16", "int16", "float32"))
OME_DTYPES = tuple(np.dtype(t) for t in ("int8", "int32", "uint32", "float64"))
_OME_UNITS = {"micron": "\u00b5m", "um": "\u00b5m", "nm": "nm", "mm": "mm", "cm": "cm", "m": "m"}


def tiff_format(dtype: Any) -> str | None:
    """How :func:`write_tiff` stores ``dtype``: ``"imagej"``, ``"ome"`` or None (it cannot)."""
    dtype = np.dtype(dtype)
    if dtype in IMAGEJ_DTYPES:
        return "imagej"
    return "ome" if dtype in OME_DTYPES else None


def _hyperstack(arr: np.ndarray, axes: str) -> tuple[np.ndarray, str]:
    """``arr`` reordered to ImageJ's ``TZCYX`` order; S becomes T (or is merged into T)."""
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
    return np.transpose(arr, order), "".join(work_axes[i] for i in order)


def write_tiff(path: str | os.PathLike, data: np.ndarray, axes: str, *,
               pixel_size: dict[str, float] | None = None, unit: str = "micron",
               dtype: Any = np.float32, metadata: dict[str, Any] | None = None,
               atomic: bool = True) -> np.dtype:
    """Write ``data`` (axes ``axes``) as a TIFF; returns the pixel type written (``dtype``).

    ``dtype``: ``float32`` (default), or e.g. the source's type: integer types are rounded and
    clipped to their range.  uint8, uint16, int16 and float32 are written as an
    ImageJ-compatible hyperstack; int8, int32, uint32 and float64, which ImageJ hyperstacks
    cannot hold, as OME-TIFF (both keep axes and pixel sizes); other types raise
    :class:`DataError`.  ``pixel_size`` maps ``"X"``/``"Y"``/``"Z"`` to sizes in ``unit``; without X and
    Y sizes (or with ``unit`` ``""``) no unit is written: the file is uncalibrated, as ImageJ
    writes such images.  The file is written atomically (:mod:`..engine.atomic`): a failed write leaves any previous file
    whole; ``atomic=False`` writes ``path`` directly (it is already a temporary file).
    """
    axes = check_axes(axes, data.shape)
    arr = np.asarray(data)
    dtype = np.dtype(dtype)
    kind = tiff_format(dtype)
    if kind is None:
        raise DataError(f"TIFF output cannot hold {dtype} pixels: write float32 (the default) "
                        "or one of " + ", ".join(t.name for t in IMAGEJ_DTYPES + OME_DTYPES) + ".")
    if dtype.kind in "ui":
        info = np.iinfo(dtype)
        arr = np.clip(np.round(arr), info.min, info.max).astype(dtype)
    else:
        arr = arr.astype(dtype)
    arr, ij_axes = _hyperstack(arr, axes)
    px = pixel_size or {}
    kwargs: dict[str, Any] = {}
    # no unit without a pixel size: an uncalibrated image stays uncalibrated
    unit = imagej_unit(unit) if "X" in px and "Y" in px else ""
    if kind == "imagej":
        ij_meta: dict[str, Any] = {"axes": ij_axes}
        if unit:
            ij_meta["unit"] = unit
        if metadata:
            ij_meta.update({k: v for k, v in metadata.items() if k not in ("axes", "unit")})
        if "Z" in px and "Z" in axes:
            ij_meta["spacing"] = float(px["Z"])
        if "X" in px and "Y" in px:
            kwargs["resolution"] = (1.0 / float(px["X"]), 1.0 / float(px["Y"]))
        kwargs.update(imagej=True, metadata=ij_meta)
    else:
        ome_meta: dict[str, Any] = {"axes": ij_axes}
        for letter in "XYZ":
            if letter in px and letter in axes:
                ome_meta[f"PhysicalSize{letter}"] = float(px[letter])
                if unit in _OME_UNITS:
                    ome_meta[f"PhysicalSize{letter}Unit"] = _OME_UNITS[unit]
        kwargs.update(ome=True, metadata=ome_meta)
    if not atomic:
        tifffile.imwrite(os.fspath(path), arr, **kwargs)
        return dtype
    with atomic_path(path) as tmp:
        tifffile.imwrite(tmp, arr, **kwargs)
    return dtype
