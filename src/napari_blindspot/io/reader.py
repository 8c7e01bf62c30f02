"""The npe2 reader: TIFF (ImageJ, OME-TIFF) and OME-Zarr files as napari image layers that
keep the file's axes, pixel sizes, units and time interval.

napari's own reader opens a TIFF as a bare array: a ``TYX`` time-lapse with a 0.1 µm pixel
size becomes three unnamed dimensions of size 1.  This reader opens the file as the command
line does (:func:`~.image.open_image`: lazily, a memmap or a zarr array, never loaded whole)
and returns one layer-data tuple ``(data, kwargs, "image")`` per file, with

- ``scale``: the pixel size of ``X``/``Y``/``Z`` (1 when the file gives none), the time
  between frames for ``T`` when the file gives it (ImageJ ``finterval``, OME
  ``TimeIncrement``, an OME-Zarr ``t`` scale), 1 for ``C``/``S`` and unknown sizes;
- ``units``: the length unit of ``X``/``Y``/``Z`` and the time unit of ``T`` as napari (pint)
  names, ``"pixel"`` (napari's default: no unit) where the file names none;
- ``axis_labels``: the axes letters in lower case (``"t", "y", "x"``);
- ``metadata``: ``axes`` (the whole axes string, e.g. ``"TZCYX"``), ``axes_source``
  (``"imagej"``, ``"ome"``, ``"ome-ngff"`` or ``"guessed"``), ``pixel_size`` (``{"X": 0.1,
  …}`` in ``unit``, an ImageJ unit string such as ``"micron"``), ``time_interval`` and
  ``time_unit`` when known, and ``source_path``.

Channels stay one layer: ``C`` is a dimension with its own slider (not napari's
``channel_axis``, one layer per channel), so the widget trains on all channels of the one
layer and exports the same hyperstack (``TZCYX`` as it was).  A last axis of 3 or 4
channels is shown as RGB(A).  An OME-Zarr opens with all its resolution levels (a multiscale
layer).  Dimensions are put in the order napari shows (``Y``, ``X`` last; lazily, by a
transposed view) when a file stores them otherwise.

No napari import here: :mod:`napari_blindspot.widget` uses :func:`file_layer_meta` to read
the same calibration for a layer that another reader opened (from its ``source.path``).
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable
from typing import Any

import numpy as np

from .image import ImageFile, image_format, open_image
from .layer_meta import NAPARI_LENGTH_UNITS, layer_axes, time_unit

log = logging.getLogger(__name__)

LayerData = tuple[Any, dict[str, Any], str]


def get_reader(path: str | list[str]) -> Callable[[str | list[str]], list[LayerData]] | None:
    """npe2 ``get_reader``: :func:`read_layers` for a TIFF file or a zarr store, else None."""
    paths = path if isinstance(path, list | tuple) else [path]
    if not paths or any(image_format(p) is None for p in paths):
        return None
    return read_layers


def read_layers(path: str | list[str]) -> list[LayerData]:
    """One image layer per path (see the module docstring); raises
    :class:`~napari_blindspot.engine.errors.DataError` for a file it cannot read."""
    paths = path if isinstance(path, list | tuple) else [path]
    return [_layer_tuple(os.fspath(p)) for p in paths]


def _layer_tuple(path: str) -> LayerData:
    image = open_image(path)
    levels = _levels(path, image)
    axes = image.axes
    if len(levels) == 1:
        data, axes = _yx_last(image.data, image.axes)
        levels = [data]
    kwargs = layer_kwargs(image, path, axes, tuple(levels[0].shape))
    kwargs["name"] = layer_name(path)
    if len(levels) > 1:
        kwargs["multiscale"] = True
    log.info("Read %s: axes %s (%s), scale %s", path, axes, image.axes_source, kwargs["scale"])
    return (levels if len(levels) > 1 else levels[0]), kwargs, "image"


def layer_name(path: str) -> str:
    """The file's name without ``.tif``/``.tiff``/``.zarr`` (and ``.ome``)."""
    name = os.path.basename(os.fspath(path).rstrip("/\\"))
    for suffix in (".tiff", ".tif", ".zarr"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
            break
    return name[:-4] if name.lower().endswith(".ome") else name


def is_rgb(axes: str, shape: tuple[int, ...]) -> bool:
    """Whether napari shows the data as RGB(A): a last ``C`` axis of 3 or 4 after ``Y``, ``X``."""
    return axes.endswith("YXC") and shape[-1] in (3, 4)


def time_of(image: ImageFile) -> tuple[float, str] | None:
    """``(interval, napari time unit)`` between the image's time points, or None."""
    meta = image.metadata or {}
    if "finterval" in meta:  # ImageJ (and OME-TIFF's TimeIncrement, see read_tiff)
        try:
            value = float(meta["finterval"])
        except (TypeError, ValueError):
            return None
        unit = time_unit(meta.get("tunit", "sec"))
        return (value, unit) if value > 0 and unit else None
    multiscale = meta.get("multiscales")
    if isinstance(multiscale, dict) and "T" in image.axes:  # OME-Zarr: the t axis's scale
        axis = (multiscale.get("axes") or [None] * len(image.axes))[image.axes.index("T")]
        unit = time_unit(axis.get("unit")) if isinstance(axis, dict) else None
        if unit:
            scale = 1.0
            for transforms in ((multiscale.get("datasets") or [{}])[0].get("coordinateTransformations"),
                               multiscale.get("coordinateTransformations")):
                for t in transforms or []:
                    if t.get("type") == "scale":
                        scale *= float(t["scale"][image.axes.index("T")])
            return scale, unit
    return None


def layer_kwargs(image: ImageFile, path: str, axes: str, shape: tuple[int, ...]) -> dict[str, Any]:
    """``scale``, ``units``, ``axis_labels``, ``rgb`` and ``metadata`` of a layer showing
    ``image`` (read from ``path``) with ``axes`` and ``shape`` (see the module docstring)."""
    rgb = is_rgb(axes, shape)
    dims = layer_axes(axes, rgb)
    length = NAPARI_LENGTH_UNITS.get(image.unit)
    interval = time_of(image) if "T" in dims else None
    scale: list[float] = []
    units: list[str] = []
    for a in dims:
        if a in "XYZ":
            scale.append(float(image.pixel_size.get(a, 1.0)))
            units.append(length if length and a in image.pixel_size else "pixel")
        elif a == "T" and interval is not None:
            scale.append(interval[0])
            units.append(interval[1])
        else:
            scale.append(1.0)
            units.append("pixel")
    metadata: dict[str, Any] = {"axes": axes, "axes_source": image.axes_source,
                                "pixel_size": dict(image.pixel_size), "unit": image.unit,
                                "source_path": os.path.abspath(path)}
    if interval is not None:
        metadata["time_interval"], metadata["time_unit"] = interval
    return {"scale": scale, "units": units, "axis_labels": [a.lower() for a in dims], "rgb": rgb,
            "metadata": metadata}


def _yx_last(data: Any, axes: str) -> tuple[Any, str]:
    """``data`` with ``Y``, ``X`` (then an RGB ``C``) last, as napari shows it: the same
    object when they already are, else a lazy transposed view."""
    tail = "YXC" if axes.endswith("C") and data.shape[-1] in (3, 4) and {"Y", "X"} <= set(axes) else "YX"
    if axes.endswith(tail) or not set(tail) <= set(axes):
        return data, axes
    new_axes = "".join(a for a in axes if a not in tail) + tail
    order = [axes.index(a) for a in new_axes]
    if isinstance(data, np.ndarray):
        return np.transpose(data, order), new_axes
    import dask.array as da  # napari's dependency: the reader runs in napari

    return da.from_array(data, chunks=getattr(data, "chunks", "auto")).transpose(order), new_axes


def _levels(path: str, image: ImageFile) -> list[Any]:
    """All resolution levels of an OME-Zarr multiscale image (full resolution first), else
    ``[image.data]``."""
    multiscale = (image.metadata or {}).get("multiscales")
    datasets = multiscale.get("datasets") if isinstance(multiscale, dict) else None
    if not datasets or len(datasets) < 2:
        return [image.data]
    try:
        import zarr

        node = zarr.open(path, mode="r")
        if "bioformats2raw.layout" in node.attrs and "0" in node:
            node = node["0"]
        levels = [node[d["path"]] for d in datasets]
    except Exception as exc:  # noqa: BLE001 - a level that does not open: show the full one
        log.info("Only the full resolution of %s: %s", path, exc)
        return [image.data]
    if tuple(levels[0].shape) != tuple(image.data.shape):
        return [image.data]
    return levels


@functools.lru_cache(maxsize=64)
def _file_meta(path: str, mtime_ns: int, size: int) -> tuple[str, tuple[int, ...], ImageFile] | None:
    """The axes, shape and (pixel-less) image of a file, cached by its modification time."""
    try:
        image = open_image(path)
    except Exception as exc:  # noqa: BLE001 - not our kind of file after all
        log.info("Cannot read the calibration of %s: %s", path, exc)
        return None
    shape = tuple(int(n) for n in image.data.shape)
    image.data = None  # keep no file open or mapped
    return image.axes, shape, image


def file_layer_meta(path: str | os.PathLike, shape: tuple[int, ...]) -> dict[str, Any] | None:
    """The layer kwargs (``scale``, ``units``, ``axis_labels``, ``rgb``, ``metadata``) this
    reader would give the file at ``path`` when its image has ``shape`` (the layer's data,
    full resolution, as another reader opened it), else None: not a file we read, or the
    other reader shaped the data otherwise (split channels, stacked files…)."""
    path = os.fspath(path)
    if image_format(path) is None:
        return None
    try:
        stat = os.stat(path)
    except OSError:
        return None
    found = _file_meta(os.path.abspath(path), stat.st_mtime_ns, stat.st_size)
    if found is None:
        return None
    axes, file_shape, image = found
    if tuple(shape) != file_shape:
        return None
    return layer_kwargs(image, path, axes, file_shape)


__all__ = ["file_layer_meta", "get_reader", "is_rgb", "layer_kwargs", "layer_name", "read_layers",
           "time_of"]
