"""Vendor microscope files (Zeiss CZI, Nikon ND2, Leica LIF) read lazily through ``bioio``.

:func:`read_vendor` returns a :class:`VendorImage` (the same fields as
:class:`~.tiff.TiffImage` and :class:`~.omezarr.ZarrImage`): the first scene as a lazy dask
array, its axes from the file's metadata (bioio's ``dims``, in the order ``T C Z Y X``, with
axes of length 1 other than Y and X left out, as a TIFF reader would have them) and its pixel
sizes in micrometres (bioio's ``physical_pixel_sizes``; sizes the file does not give are left
out, none is invented).

bioio and its readers are the optional extra ``vendor``
(``pip install "napari-blindspot[vendor]"``); without them, or without the reader of the
file's format, :func:`read_vendor` raises :class:`~..engine.errors.DataError` with one line
naming the install command.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import os
from dataclasses import dataclass, field
from typing import Any

from ..engine.errors import DataError

log = logging.getLogger(__name__)

#: File name endings read through bioio -> the bioio reader package for them.
VENDOR_READERS = {".czi": "bioio-czi", ".nd2": "bioio-nd2", ".lif": "bioio-lif"}
VENDOR_SUFFIXES = tuple(VENDOR_READERS)
INSTALL = 'pip install "napari-blindspot[vendor]"'


@dataclass
class VendorImage:
    """What :func:`read_vendor` returns (the same fields as :class:`~.tiff.TiffImage`).

    ``data``: a dask array (reads only the planes asked for); ``axes``: letters of ``TCZYX``
    (``S``: a scene's RGB samples become ``C``); ``pixel_size``: ``{"X", "Y"[, "Z"]}`` in
    ``unit`` (``"micron"``, bioio's unit); ``axes_source``: ``"bioio"``; ``metadata``: the
    reader, the scenes and the channel names.
    """

    data: Any
    axes: str
    axes_source: str
    pixel_size: dict[str, float] = field(default_factory=dict)
    unit: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)


def is_vendor_path(path: str | os.PathLike) -> bool:
    """Whether ``path`` ends with a vendor format's suffix (``.czi``, ``.nd2``, ``.lif``)."""
    return os.fspath(path).lower().endswith(VENDOR_SUFFIXES)


def _reader_package(path: str) -> str:
    return VENDOR_READERS.get(os.path.splitext(path)[1].lower(), "a bioio reader")


def _bioimage(path: str) -> Any:
    """bioio's ``BioImage`` of ``path``; a one-line :class:`DataError` when bioio or the
    format's reader is missing or the file cannot be read."""
    package = _reader_package(path)
    try:
        from bioio import BioImage
    except ImportError as exc:
        raise DataError(f"Reading {os.path.basename(path)!r} needs bioio and {package}: "
                        f"{INSTALL}") from exc
    try:
        return BioImage(path)
    except Exception as exc:  # noqa: BLE001 - bioio raises many types
        text = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
        if "Unsupported" in type(exc).__name__:  # no installed reader took it
            text = f"{package} does not recognise it"
        if package in VENDOR_READERS.values() and importlib.util.find_spec(package.replace("-", "_")) is None:
            raise DataError(f"Reading {os.path.basename(path)!r} needs the bioio reader {package}: "
                            f"{INSTALL}") from exc
        raise DataError(f"Cannot read {os.path.basename(path)!r} as a {os.path.splitext(path)[1]} "
                        f"file ({text}): copy it again from the original, or re-export it "
                        "from the acquisition software.") from exc


def _size(value: Any) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) and v > 0 else None


def read_vendor(path: str | os.PathLike) -> VendorImage:
    """Open a CZI, ND2 or LIF file lazily: its first scene, axes and pixel sizes (see the
    module docstring).  Missing files and missing readers raise :class:`DataError`."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise DataError(f"No such file: {path!r}.")
    img = _bioimage(path)
    scenes = [str(s) for s in getattr(img, "scenes", ())]
    if len(scenes) > 1:
        log.info("%s has %d scenes; reading the first (%s).", path, len(scenes), scenes[0])
    order = str(img.dims.order).upper()
    data = img.dask_data
    if "S" in order:  # samples of a colour (RGB) image: its channels
        si = order.index("S")
        ci = order.index("C") if "C" in order else None
        if data.shape[si] == 1:
            data, order = data.squeeze(axis=si), order.replace("S", "")
        elif ci is not None and data.shape[ci] > 1:
            raise DataError(f"{path!r} has both channels and RGB samples; export it as one of them.")
        else:
            if ci is not None:
                data, order = data.squeeze(axis=ci), order.replace("C", "")
            order = order.replace("S", "C")
    drop = tuple(i for i, a in enumerate(order) if data.shape[i] == 1 and a not in "YX")
    if drop:
        data = data.squeeze(axis=drop)
        order = "".join(a for i, a in enumerate(order) if i not in drop)
    sizes = getattr(img, "physical_pixel_sizes", None)
    pixel_size = {}
    for axis in "ZYX":
        value = _size(getattr(sizes, axis, None)) if sizes is not None else None
        if value is not None and (axis in order):
            pixel_size[axis] = value
    try:
        channel_names = [str(n) for n in (img.channel_names or [])]
    except Exception:  # noqa: BLE001 - some readers fail on odd metadata: names are optional
        channel_names = []
    meta = {"reader": type(img.reader).__module__.split(".")[0], "scenes": scenes,
            "channel_names": channel_names}
    log.info("%s: %s through bioio (%s), axes %s, shape %s, pixel sizes %s micron", path,
             os.path.splitext(path)[1], meta["reader"], order, tuple(data.shape), pixel_size)
    return VendorImage(data, order, "bioio", pixel_size, "micron" if pixel_size else "", meta)


__all__ = ["INSTALL", "VENDOR_READERS", "VENDOR_SUFFIXES", "VendorImage", "is_vendor_path",
           "read_vendor"]
