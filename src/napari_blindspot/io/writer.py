"""File > Save Layers: write an image layer as an ImageJ-compatible TIFF.

The layer's scale becomes the pixel size (resolution and Z spacing) and, for a ``T`` axis
with a time unit, the time between frames (``finterval``); its axes come from
``metadata["axes"]`` (set by napari-blindspot's reader and widget), its axis labels or a guess.
Pixel types ImageJ reads (uint8, uint16, float32) are kept; others become float32.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .tiff import write_tiff
from .layer_meta import axes_for, imagej_time, layer_axes, pixel_size, time_interval

_KEPT_DTYPES = (np.uint8, np.uint16, np.float32)


def write_image_tiff(path: str, data: Any, meta: dict[str, Any]) -> list[str]:
    """npe2 single-layer writer: write ``data`` (an image layer) to ``path``."""
    if isinstance(data, list | tuple):  # multiscale: write full resolution
        data = data[0]
    arr = np.asarray(data)
    rgb = bool(meta.get("rgb", False))
    axes = axes_for(arr.shape, rgb, meta.get("metadata"), meta.get("axis_labels"))
    dims = layer_axes(axes, rgb)
    scale = meta.get("scale") or [1.0] * len(dims)
    sizes, unit = pixel_size(scale, meta.get("units"), dims)
    interval = time_interval(scale, meta.get("units"), dims)
    dtype = arr.dtype if arr.dtype in _KEPT_DTYPES else np.float32
    if not str(path).lower().endswith((".tif", ".tiff")):
        path = f"{path}.tif"
    write_tiff(path, arr, axes, pixel_size=sizes, unit=unit, dtype=dtype,
               metadata=imagej_time(interval))
    return [str(path)]
