"""Layer in/out for the widget: the source layer, the preview slice, result layers, export.

No Qt here: these functions work on napari layer and viewer models and numpy arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from napari.layers import Image

from ..engine import BlindspotError, CanonicalView, check_axes
from ..engine.errors import AxesError
from ..engine.atomic import same_file, staged
from ..io.layer_meta import axes_for, layer_axes, pixel_size
from ..io.tiff import write_tiff

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


# --------------------------------------------------------------------------- preview
@dataclass(frozen=True)
class PreviewSpec:
    """Which block of the source the preview shows.

    ``sample``/``region`` select the block of the canonical view (``region`` in
    ``view.spatial_axes`` order); ``channel`` is the block's channel for
    independent-channel models (else None); ``show`` the channel of the prediction to
    display; ``index`` the data index of every layer dimension at the viewer's position.
    """

    sample: int
    channel: int | None
    show: int
    region: tuple[tuple[int, int], ...]
    index: tuple[tuple[str, int], ...]

    @property
    def slices(self) -> tuple[slice, ...]:
        return tuple(slice(a, b) for a, b in self.region)


def camera(viewer: Any) -> Any:
    """The viewer's camera (``viewer.scene.camera`` since napari 0.9, ``viewer.camera`` before)."""
    scene = getattr(viewer, "scene", None)
    return scene.camera if scene is not None and hasattr(scene, "camera") else viewer.camera


def viewer_position(viewer: Any, source: Source) -> np.ndarray:
    """The data coordinates (one per layer dimension) the viewer shows: the dims slider
    position, and the camera centre along the displayed dimensions."""
    point = [float(p) for p in viewer.dims.point]
    displayed = list(viewer.dims.displayed)
    center = list(camera(viewer).center)[-len(displayed):]
    for d, c in zip(displayed, center):
        point[d] = float(c)
    ndim = len(source.dims)
    if len(point) < ndim:
        point = [0.0] * (ndim - len(point)) + point
    return np.asarray(source.layer.world_to_data(point[-ndim:]), dtype=float)


def preview_spec(viewer: Any, source: Source, view: CanonicalView, independent: bool,
                 max_yx: int = 256, max_z: int = 32) -> PreviewSpec:
    """The preview block for the slice (and region) the viewer is showing."""
    pos = viewer_position(viewer, source)
    shape = tuple(source.data.shape)
    index: dict[str, int] = {}
    for i, letter in enumerate(source.dims):
        size = shape[source.axes.index(letter)]
        index[letter] = int(np.clip(np.round(pos[i]), 0, size - 1))
    if view.sample_shape:
        sample = int(np.ravel_multi_index(tuple(index[a] for a in view.sample_axes), view.sample_shape))
    else:
        sample = 0
    region = []
    for letter in view.spatial_axes:
        size = shape[source.axes.index(letter)]
        limit = max_z if letter == "Z" else max_yx
        if size <= limit:
            region.append((0, size))
        else:
            start = int(np.clip(index[letter] - limit // 2, 0, size - limit))
            region.append((start, start + limit))
    if "C" in source.axes:
        c = 0 if source.rgb else index["C"]
        channel, show = (c, 0) if independent else (None, c)
    else:
        channel, show = None, 0
    return PreviewSpec(sample, channel, show, tuple(region), tuple(index.items()))


def preview_block(view: CanonicalView, spec: PreviewSpec) -> np.ndarray:
    """The raw canonical block for :meth:`TrainingRun.set_preview`."""
    block = view.read(spec.sample, spec.slices)
    if spec.channel is not None:
        block = block[spec.channel:spec.channel + 1]
    return np.ascontiguousarray(block)


def preview_layer_data(image: np.ndarray, spec: PreviewSpec, source: Source,
                       view: CanonicalView) -> tuple[np.ndarray, tuple[float, ...]]:
    """Preview prediction ``(C, [Z,] Y, X)`` -> data with the source layer's dimensions
    (size 1 along non-spatial ones) and the translate that puts it in place."""
    img = np.asarray(image)[spec.show]
    dims = source.dims
    spatial = view.spatial_axes
    in_dims = [a for a in dims if a in spatial]
    img = np.transpose(img, [spatial.index(a) for a in in_dims])
    starts = {a: r[0] for a, r in zip(spatial, spec.region)}
    index = dict(spec.index)
    translate = tuple(t + (starts[a] if a in spatial else index[a]) * s
                      for a, s, t in zip(dims, source.scale, source.translate))
    shape = [img.shape[in_dims.index(a)] if a in spatial else 1 for a in dims]
    return img.reshape(shape), translate


# --------------------------------------------------------------------------- results
def robust_limits(data: Any, lo: float = 0.5, hi: float = 99.8
                  ) -> tuple[tuple[float, float], tuple[float, float]]:
    """Percentile contrast limits and the data range (both from a subsample)."""
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


# --------------------------------------------------------------------------- export
def export_results(viewer: Any, source_name: str, path: str | Path, dtype: str = "float32"
                   ) -> list[Path]:
    """Write ``"<source> [denoised]"`` (and ``[uncertainty]``) as ImageJ TIFF files, both
    atomically (a failed export changes no file) and never over a file a layer was opened from.

    ``dtype``: ``"float32"`` or ``"source"`` (the source layer's pixel type, values rounded
    and clipped; the uncertainty stays float32).  The uncertainty goes next to ``path``
    with ``_uncertainty`` added to the name.  Pixel sizes come from the layer's scale.
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
    sizes, unit = pixel_size(layer.scale, getattr(layer, "units", None),
                             layer_axes(axes, bool(layer.rgb)))
    out_dtype: Any = np.float32
    if dtype == "source" and kind == "denoised":
        out_dtype = np.dtype((layer.metadata.get("blindspot") or {}).get("source_dtype", "float32"))
    write_tiff(path, np.asarray(data), axes, pixel_size=sizes, unit=unit, dtype=out_dtype,
               atomic=False)
