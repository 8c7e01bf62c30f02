"""Axes and pixel sizes for a layer another reader opened: read them from the layer's file.

napari's own TIFF reader (and some plugins' readers) give an image layer the pixels only: a
``TYX`` time-lapse with a 0.1 µm pixel size becomes an unnamed 3D array of scale 1, which
the widget would guess to be a ``ZYX`` stack.  :func:`adopt_file_metadata` reads the file the
layer came from (``layer.source.path``) with napari-blindspot's reader and, when the file's
image has the layer's shape, gives the layer what that reader would have: its axes in
``metadata`` and, where the layer still has napari's defaults (scale 1, no units, axis
labels ``-3, -2, -1``), the file's scale, units and axis labels.  Layers with axes of their
own (napari-blindspot's reader, result layers, metadata set by hand) are left alone.  No Qt.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from ..io.layer_meta import axes_from_labels
from ..io.reader import file_layer_meta

log = logging.getLogger(__name__)


def _default_labels(labels: Any, ndim: int) -> bool:
    return labels is None or tuple(str(a) for a in labels) == tuple(str(-i) for i in range(ndim, 0, -1))


def _default_geometry(layer: Any) -> bool:
    units = getattr(layer, "units", None) or ()
    return (np.allclose(layer.scale, 1.0) and all(str(u) == "pixel" for u in units))


def adopt_file_metadata(layer: Any) -> bool:
    """Give ``layer`` (a napari image layer) the axes, pixel sizes, units and axis labels of
    the file it was opened from (see the module docstring); returns whether it did."""
    metadata = getattr(layer, "metadata", None)
    if metadata is None or isinstance(metadata.get("axes"), str):
        return False
    path = getattr(getattr(layer, "source", None), "path", None)
    if not path:
        return False
    data = layer.data[0] if getattr(layer, "multiscale", False) else layer.data
    found = file_layer_meta(str(path), tuple(int(n) for n in data.shape))
    if found is None or bool(found["rgb"]) != bool(layer.rgb):
        return False
    meta = found["metadata"]
    if meta["axes_source"] == "guessed" and not meta["pixel_size"] and "time_interval" not in meta:
        return False  # the file knows no more than the widget's own guess
    axes = found["metadata"]["axes"]
    labels = getattr(layer, "axis_labels", None)
    if not _default_labels(labels, layer.ndim):
        own = axes_from_labels(labels, tuple(data.shape), bool(layer.rgb))
        if own is not None and own != axes:  # the other reader named the axes otherwise
            return False
    layer.metadata = {**metadata, **found["metadata"]}
    if _default_geometry(layer):
        layer.scale = found["scale"]
        layer.units = found["units"]
    if _default_labels(labels, layer.ndim):
        layer.axis_labels = found["axis_labels"]
    log.info("Layer %r: axes %s and scale %s from %s", layer.name, axes, list(layer.scale), path)
    return True


__all__ = ["adopt_file_metadata"]
