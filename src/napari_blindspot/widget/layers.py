"""Layer in/out for the widget: the source layer, result layers, export, axes hints.

No Qt here: these functions work on napari layer and viewer models and numpy arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from napari.layers import Image

from ..engine import BlindspotError, check_axes
from ..engine.errors import AxesError
from ..engine.atomic import same_file, staged
from ..io.layer_meta import (axes_for, calibration_text, imagej_time, layer_axes, pixel_size,
                              time_interval)
from ..io.tiff import write_tiff
from .file_meta import adopt_file_metadata

KINDS = ("denoised", "uncertainty", "preview")


class LayerError(BlindspotError):
    """The chosen layer cannot be used (not an image, missing, ...)."""


def layer_data(layer: Image) -> Any:
    """The full-resolution data of an image layer (level 0 of a multiscale layer)."""
    return layer.data[0] if getattr(layer, "multiscale", False) else layer.data


def guess_layer_axes(layer: Image) -> str:
    """Axes of a layer's data from its metadata, axis labels, or shape (user confirms)."""
    return axes_for(tuple(layer_data(layer).shape), bool(layer.rgb), layer.metadata,
                    getattr(layer, "axis_labels", None))


def result_name(source_name: str, kind: str) -> str:
    """``"<layer> [denoised]"``, ``"<layer> [uncertainty]"`` or ``"<layer> [preview]"``."""
    return f"{source_name} [{kind}]"


def result_kind(layer: Any) -> str | None:
    """The kind of a layer made by the widget (``"denoised"``…), else None."""
    info = getattr(layer, "metadata", {}).get("blindspot") or {}
    return info.get("kind") if isinstance(info, dict) else None


@dataclass
class Source:
    """An image layer frozen for one job: data, axes and geometry at the time it started."""

    layer: Image
    name: str
    data: Any
    axes: str
    rgb: bool
    scale: tuple[float, ...]
    translate: tuple[float, ...]
    units: tuple[Any, ...] | None
    axis_labels: tuple[str, ...] | None
    dtype: np.dtype
    colormap: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def dims(self) -> str:
        """Axes of the layer's dimensions (without an RGB colour axis)."""
        return layer_axes(self.axes, self.rgb)

    @classmethod
    def from_layer(cls, layer: Any, axes: str) -> "Source":
        """Check ``layer`` and ``axes``; raise :class:`LayerError` / ``AxesError`` with advice."""
        if layer is None:
            raise LayerError("Pick an image layer first (open an image, or File > Open Sample).")
        if not isinstance(layer, Image):
            kind = type(layer).__name__.lower()
            raise LayerError(f"{layer.name!r} is a {kind} layer, not an image: pick an image layer "
                             "to denoise.")
        adopt_file_metadata(layer)  # opened by napari's reader: the file's pixel sizes
        data = layer_data(layer)
        axes = check_axes(axes, tuple(data.shape))
        if layer.rgb and not axes.endswith("C"):
            raise AxesError(f"{layer.name!r} is an RGB layer: its last axis is the colour channel, "
                            f"so the axes must end with C (e.g. {guess_layer_axes(layer)!r}).")
        units = getattr(layer, "units", None)
        labels = getattr(layer, "axis_labels", None)
        return cls(layer=layer, name=layer.name, data=data, axes=axes, rgb=bool(layer.rgb),
                   scale=tuple(float(s) for s in layer.scale),
                   translate=tuple(float(t) for t in layer.translate),
                   units=tuple(units) if units is not None else None,
                   axis_labels=tuple(labels) if labels is not None else None,
                   dtype=np.dtype(data.dtype), colormap=getattr(layer.colormap, "name", "gray"))


# --------------------------------------------------------------------------- results
def robust_limits(data: Any, lo: float = 0.5, hi: float = 99.8
                  ) -> tuple[tuple[float, float], tuple[float, float]]:
    """Percentile contrast limits and the data range (both from a subsample; a lazy array is
    read strided, never whole)."""
    if not isinstance(data, np.ndarray):
        shape = tuple(data.shape)
        step = max(1, int((float(np.prod(shape)) / 1e6) ** (1.0 / max(1, len(shape)))))
        data = data[tuple(slice(None, None, step) for _ in shape)]
    flat = np.asarray(data).reshape(-1)
    flat = flat[:: max(1, flat.size // 1_000_000)]
    flat = flat[np.isfinite(flat)]
    if not flat.size:
        return (0.0, 1.0), (0.0, 1.0)
    a, b = (float(v) for v in np.percentile(flat, [lo, hi]))
    if not b > a:
        b = a + max(abs(a) * 1e-3, 1e-6)
    return (a, b), (min(float(flat.min()), a), max(float(flat.max()), b))


def put_result_layer(viewer: Any, source: Source, kind: str, data: np.ndarray, *,
                     translate: tuple[float, ...] | None = None, colormap: str | None = None,
                     limits: tuple[float, float] | None = None, visible: bool = True,
                     rgb: bool | None = None, reuse: Any = None) -> Image:
    """Add ``"<source> [kind]"`` to the viewer, or replace the data of the existing one.

    The layer gets the source's scale, translate (unless given), units and axis labels,
    and contrast limits from percentiles of ``data`` (unless ``limits`` is given).
    ``reuse``: a layer of ours (the training preview) to rename and fill with this result
    when there is no ``"<source> [kind]"`` layer yet, instead of adding one; the caller then
    need not remove it (napari runs a full garbage collection, a visible stall, on every
    layer removal).
    """
    name = result_name(source.name, kind)
    rgb = source.rgb if rgb is None else rgb
    (lo, hi), value_range = robust_limits(data)
    if limits is not None:
        lo, hi = limits
        value_range = (min(value_range[0], lo), max(value_range[1], hi))
    translate = source.translate if translate is None else translate
    metadata = {"axes": source.axes if rgb == source.rgb else layer_axes(source.axes, source.rgb),
                "blindspot": {"kind": kind, "source": source.name, "source_dtype": str(source.dtype),
                              **source.extra}}
    existing = next((layer for layer in viewer.layers if layer.name == name), None)

    def fits(layer: Any) -> bool:
        return (isinstance(layer, Image) and layer.ndim == len(source.dims) and layer.rgb == rgb
                and not layer.multiscale)

    if existing is None and reuse is not None and reuse in viewer.layers and fits(reuse):
        reuse.name = name
        reuse.colormap = colormap or source.colormap
        reuse.visible = visible
        reuse.opacity = 1.0  # the preview placeholder may never have been shown
        existing = reuse
    if fits(existing):
        # set only what changed: every assignment makes napari refresh the layer
        existing.data = data
        if not np.allclose(existing.scale, source.scale):
            existing.scale = source.scale
        if not np.allclose(existing.translate, translate):
            existing.translate = translate
        if existing.metadata != metadata:
            existing.metadata = metadata
        if not np.allclose(existing.contrast_limits_range, value_range):
            existing.contrast_limits_range = value_range
        existing.contrast_limits = (lo, hi)
        return existing
    kwargs: dict[str, Any] = {"name": name, "scale": source.scale, "translate": translate, "rgb": rgb,
                              "metadata": metadata, "colormap": colormap or source.colormap,
                              "contrast_limits": (lo, hi), "visible": visible}
    if source.units is not None:
        kwargs["units"] = source.units
    if source.axis_labels is not None:
        kwargs["axis_labels"] = source.axis_labels
    layer = Image(data, **kwargs)
    layer.contrast_limits_range = value_range
    layer.contrast_limits = (lo, hi)
    if existing is not None:
        position = viewer.layers.index(existing)
        viewer.layers.remove(existing)
        viewer.layers.insert(position, layer)
    else:
        viewer.layers.append(layer)
    return layer


def placeholder_result_layer(viewer: Any, source: Source, kind: str, shape: tuple[int, ...],
                             translate: tuple[float, ...]) -> Image:
    """A transparent ``"<source> [kind]"`` layer of zeros (``shape``, at ``translate``) to
    fill later with :func:`put_result_layer`, which then only replaces its data.

    Adding a layer costs napari's main thread about 100 ms (layer controls, visual, first
    draw); done when the user clicks, it does not stall the viewer while a job runs.  Set
    ``opacity`` to show it.
    """
    layer = put_result_layer(viewer, source, kind, np.zeros(shape, np.float32), translate=translate,
                             rgb=False)
    layer.opacity = 0.0
    return layer


def remove_layer(viewer: Any, layer: Any) -> None:
    """Remove ``layer`` from the viewer if it is still there."""
    if layer is not None and layer in viewer.layers:
        viewer.layers.remove(layer)


def find_result(viewer: Any, source_name: str, kind: str) -> Image | None:
    name = result_name(source_name, kind)
    layer = next((layer for layer in viewer.layers if layer.name == name), None)
    return layer if isinstance(layer, Image) else None


def put_denoised_layers(viewer: Any, source: Source, result: dict[str, np.ndarray],
                        reuse: Any = None) -> dict[str, Image]:
    """Show a prediction: ``"<source> [denoised]"`` (filling ``reuse``, the training preview, when
    there is no such layer yet) and ``"<source> [uncertainty]"`` (hidden; a stale one is removed
    when the result has none).  Returns ``{"denoised": layer, ["uncertainty": layer]}``."""
    layers: dict[str, Image] = {}
    if "uncertainty" in result:
        (_, hi), _ = robust_limits(result["uncertainty"], 0.0, 99.5)
        layers["uncertainty"] = put_result_layer(viewer, source, "uncertainty", result["uncertainty"],
                                                 colormap="magma", limits=(0.0, hi), visible=False)
    else:
        remove_layer(viewer, find_result(viewer, source.name, "uncertainty"))
    layers["denoised"] = put_result_layer(viewer, source, "denoised", result["denoised"], reuse=reuse)
    if reuse is not layers["denoised"]:
        remove_layer(viewer, reuse)
    return layers


def show_result(viewer: Any, layer: Image) -> None:
    """Make ``layer`` (a new result) the selected layer, so napari's layer controls show it,
    and refresh the viewer's status line, which still names the layer it was computed from
    (e.g. the ``[preview]`` layer that became ``layer``) until the mouse moves."""
    viewer.layers.selection.active = layer
    update = getattr(viewer, "update_status_from_cursor", None)
    if callable(update):
        update()
    status = viewer.status
    preview = result_name(str((layer.metadata.get("blindspot") or {}).get("source", "")), "preview")
    if isinstance(status, dict) and preview in str(status.get("layer_name", "")):
        viewer.status = dict(status, layer_name=str(status["layer_name"]).replace(preview, layer.name))
    elif isinstance(status, str) and preview in status:
        viewer.status = status.replace(preview, layer.name)


# --------------------------------------------------------------------------- export
def export_source(viewer: Any, layer: Any) -> str:
    """The name of the source whose results export writes when ``layer`` (the source or one of
    its results) is selected; :class:`LayerError` when it has no denoised layer."""
    if layer is None:
        raise LayerError("Pick the layer whose denoised result you want to export.")
    source_name = layer.name
    if result_kind(layer) in ("denoised", "uncertainty"):
        source_name = layer.metadata["blindspot"].get("source", source_name)
    if find_result(viewer, source_name, "denoised") is None:
        raise LayerError(f"There is no '{source_name} [denoised]' layer to export: train a model "
                         "or press Denoise first.")
    return source_name


def export_results(viewer: Any, source_name: str, path: str | Path, dtype: str = "float32"
                   ) -> list[Path]:
    """Write ``"<source> [denoised]"`` (and ``[uncertainty]``) as ImageJ TIFF files, both
    atomically (a failed export changes no file) and never over a file a layer was opened from.

    ``dtype``: ``"float32"`` or ``"source"`` (the source layer's pixel type, values rounded
    and clipped; the uncertainty stays float32).  The uncertainty goes next to ``path``
    with ``_uncertainty`` added to the name.  The axes come from the layer's metadata (an
    ImageJ hyperstack: T, Z, C as they were), the pixel sizes (and the time between frames,
    when ``T`` has a time unit) from its scale and units.
    """
    denoised = find_result(viewer, source_name, "denoised")
    if denoised is None:
        raise LayerError(f"There is no {result_name(source_name, 'denoised')!r} layer to export: "
                         "train a model or press Denoise first.")
    path = Path(path)
    if path.suffix.lower() not in (".tif", ".tiff"):
        path = path.with_name(path.name + ".tif")
    jobs = [(kind, target, denoised if kind == "denoised" else find_result(viewer, source_name, kind))
            for kind, target in (("denoised", path),
                                 ("uncertainty", path.with_name(f"{path.stem}_uncertainty{path.suffix}")))]
    jobs = [(kind, target, layer) for kind, target, layer in jobs if layer is not None]
    for kind, target, _ in jobs:
        for layer in viewer.layers:
            opened_from = getattr(getattr(layer, "source", None), "path", None)
            if opened_from and same_file(target, opened_from):
                raise LayerError(f"{target} is the file the layer {layer.name!r} was opened from: "
                                 "exporting there would replace it; choose another name.")
    with staged() as stage:  # both files are replaced together, or neither
        for kind, target, layer in jobs:
            _export_layer(layer, kind, stage.path(target), dtype)
    return [target for _, target, _ in jobs]


def _export_layer(layer: Any, kind: str, path: str, dtype: str) -> None:
    """Write one result layer to ``path`` (a temporary file of :func:`export_results`)."""
    data = layer_data(layer)
    axes = axes_for(tuple(data.shape), bool(layer.rgb), layer.metadata,
                    getattr(layer, "axis_labels", None))
    dims = layer_axes(axes, bool(layer.rgb))
    sizes, unit = pixel_size(layer.scale, getattr(layer, "units", None), dims)
    interval = time_interval(layer.scale, getattr(layer, "units", None), dims)
    out_dtype: Any = np.float32
    if dtype == "source" and kind == "denoised":
        out_dtype = np.dtype((layer.metadata.get("blindspot") or {}).get("source_dtype", "float32"))
    write_tiff(path, np.asarray(data), axes, pixel_size=sizes, unit=unit, dtype=out_dtype,
               metadata=imagej_time(interval), atomic=False)


# --------------------------------------------------------------------------- inputs
AXIS_NAMES = {"S": "sample", "T": "time", "Z": "depth", "C": "channel", "Y": "Y", "X": "X"}


def check_layer_axes(layer: Any, text: str) -> tuple[str | None, str]:
    """``(axes, hint)``: the axes ``text`` gives ``layer`` (None if they do not fit) and a line
    for the user (the size of every axis, the pixel type and calibration, or what is wrong)."""
    if layer is None:
        return None, "No image layer: open an image or File > Open Sample."
    shape = tuple(layer_data(layer).shape)
    try:
        axes = check_axes(text.strip(), shape)
        if layer.rgb and not axes.endswith("C"):
            raise AxesError("This is an RGB layer: the axes must end with C.")
    except BlindspotError as exc:
        return None, str(exc)
    calibration = calibration_text(layer.scale, getattr(layer, "units", None),
                                   layer_axes(axes, bool(layer.rgb)))
    return axes, (" · ".join(f"{AXIS_NAMES[a]} {n}" for a, n in zip(axes, shape))
                  + f"  ({layer.dtype}{'; ' + calibration if calibration else ''})")


def suggest_target(source: Any, candidates: list[Any]) -> Any:
    """Another layer of ``source``'s shape (a second acquisition for Noise2Noise), or None."""
    if source is None:
        return None
    shape = tuple(layer_data(source).shape)
    return next((layer for layer in candidates
                 if layer is not source and tuple(layer_data(layer).shape) == shape), None)


def selected_sources(viewer: Any, picked: Any, axes: str) -> list[Source]:
    """The sources of a job: the image layers selected in the layer list when there are
    several (each with its own axes; ``axes`` for the picked one), else the picked layer.
    Our own result layers are never sources."""
    chosen = [layer for layer in viewer.layers.selection if isinstance(layer, Image)
              and result_kind(layer) is None]
    if len(chosen) < 2:
        return [Source.from_layer(picked, axes)]
    chosen.sort(key=lambda layer: list(viewer.layers).index(layer))
    for layer in chosen:
        adopt_file_metadata(layer)
    return [Source.from_layer(layer, axes if layer is picked else guess_layer_axes(layer))
            for layer in chosen]
