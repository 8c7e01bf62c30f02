"""Axes and pixel sizes of napari image layers, without Qt (shared by the writer and the widget).

A napari layer knows its ``scale`` (one entry per layer dimension), its ``units`` and
``axis_labels``, and an ``rgb`` flag (then the data has one more, last, colour axis
that is not a layer dimension).  napari-blindspot stores the axes string of layers it
creates or opens in ``layer.metadata["axes"]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..engine.axes import VALID_AXES, check_axes, guess_axes
from ..engine.errors import AxesError

#: napari (pint) unit names -> ImageJ unit strings.
_IMAGEJ_UNITS = {
    "micrometer": "micron", "micron": "micron", "um": "micron", "µm": "micron", "\u03bcm": "micron",
    "nanometer": "nm", "nm": "nm", "millimeter": "mm", "mm": "mm", "centimeter": "cm",
    "meter": "m", "angstrom": "angstrom",
}


def axes_from_labels(labels: Sequence[str] | None, shape: tuple[int, ...], rgb: bool) -> str | None:
    """An axes string from napari axis labels such as ``("t", "y", "x")``, or None."""
    if not labels:
        return None
    letters = "".join(str(label).strip().upper()[:1] if len(str(label).strip()) == 1 else "?"
                      for label in labels)
    if rgb:
        letters += "C"
    if any(a not in VALID_AXES for a in letters):
        return None
    try:
        return check_axes(letters, shape)
    except AxesError:
        return None


def axes_for(shape: tuple[int, ...], rgb: bool = False, metadata: dict[str, Any] | None = None,
             axis_labels: Sequence[str] | None = None) -> str:
    """The axes of a layer's data: ``metadata["axes"]``, else axis labels, else a guess."""
    meta_axes = (metadata or {}).get("axes")
    if isinstance(meta_axes, str):
        try:
            return check_axes(meta_axes, shape)
        except AxesError:
            pass
    from_labels = axes_from_labels(axis_labels, shape, rgb)
    if from_labels is not None:
        return from_labels
    return guess_axes(shape, rgb=rgb)


def layer_axes(axes: str, rgb: bool) -> str:
    """The axes of the layer's dimensions (an RGB layer's colour axis is not one)."""
    return axes[:-1] if rgb else axes


def pixel_size(scale: Sequence[float], units: Sequence[Any] | None,
               dims: str) -> tuple[dict[str, float], str]:
    """Pixel sizes ``{"X":…, "Y":…, ["Z":…]}`` and an ImageJ unit from a layer's scale.

    ``dims`` names the layer dimensions (see :func:`layer_axes`).  The unit is the layer's
    own length unit, ``""`` when it has none (napari's default ``pixel``): no unit is
    invented; a layer with scale 1 and no unit has no pixel size either (uncalibrated).
    """
    sizes = {a: float(s) for a, s in zip(dims, scale) if a in "XYZ"}
    unit_names = {a: str(u) for a, u in zip(dims, units or ()) if a in "XYZ" and u is not None}
    unit = _IMAGEJ_UNITS.get(unit_names.get("X", "pixel"), "")
    if not unit and all(abs(v - 1.0) < 1e-12 for v in sizes.values()):
        sizes = {}
    return sizes, unit


#: ImageJ length unit strings -> napari (pint) unit names.
NAPARI_LENGTH_UNITS = {"micron": "micrometer", "nm": "nanometer", "mm": "millimeter",
                       "cm": "centimeter", "m": "meter", "angstrom": "angstrom"}
#: Time unit names in files (ImageJ ``tunit``, OME ``TimeIncrementUnit``, NGFF) and napari's
#: -> napari (pint) unit names.
_TIME_UNITS = {"s": "second", "sec": "second", "second": "second", "seconds": "second",
               "ms": "millisecond", "msec": "millisecond", "millisecond": "millisecond",
               "us": "microsecond", "µs": "microsecond", "\u03bcs": "microsecond",
               "microsecond": "microsecond", "min": "minute", "minute": "minute",
               "minutes": "minute", "h": "hour", "hr": "hour", "hour": "hour", "hours": "hour"}
#: napari time units -> ImageJ ``tunit`` strings (seconds, ImageJ's default, are not written).
_IMAGEJ_TIME_UNITS = {"second": "sec", "millisecond": "ms", "microsecond": "us", "minute": "min",
                      "hour": "hour"}


def time_unit(name: Any) -> str | None:
    """The napari (pint) name of a time unit (``"second"``, ``"minute"``…), or None."""
    return _TIME_UNITS.get(str(name or "").strip().lower()) if name is not None else None


def time_interval(scale: Sequence[float], units: Sequence[Any] | None,
                  dims: str) -> tuple[float, str] | None:
    """``(interval, unit)`` between time points of a layer: the scale of its ``T`` dimension
    when that has a time unit (napari's default ``pixel`` is none); None otherwise."""
    if "T" not in dims or not units:
        return None
    i = dims.index("T")
    unit = time_unit(units[i]) if i < len(units) else None
    return (float(scale[i]), unit) if unit else None


def imagej_time(interval: tuple[float, str] | None) -> dict[str, Any]:
    """ImageJ metadata for a time interval: ``{"finterval": …[, "tunit": …]}`` (or ``{}``)."""
    if interval is None:
        return {}
    value, unit = interval
    tunit = _IMAGEJ_TIME_UNITS.get(unit, unit)
    return {"finterval": float(value)} | ({} if tunit == "sec" else {"tunit": tunit})


_SHORT_UNITS = {"micron": "µm", "nm": "nm", "mm": "mm", "cm": "cm", "m": "m", "angstrom": "Å"}
_SHORT_TIME = {"second": "s", "millisecond": "ms", "microsecond": "µs", "minute": "min", "hour": "h"}


def calibration_text(scale: Sequence[float], units: Sequence[Any] | None, dims: str) -> str:
    """The calibration of a layer in a few words, e.g. ``"pixel 0.1 µm, Z step 0.5 µm, 2 s per
    frame"``; ``""`` for an uncalibrated layer (scale 1, no units)."""
    sizes, unit = pixel_size(scale, units, dims)
    short = f" {_SHORT_UNITS.get(unit, unit)}" if unit else ""
    parts = []
    if "X" in sizes:
        parts.append(f"pixel {sizes['X']:g}{short}")
    if "Z" in sizes:
        parts.append(f"Z step {sizes['Z']:g}{short}")
    interval = time_interval(scale, units, dims)
    if interval is not None:
        parts.append(f"{interval[0]:g} {_SHORT_TIME.get(interval[1], interval[1])} per frame")
    return ", ".join(parts)
