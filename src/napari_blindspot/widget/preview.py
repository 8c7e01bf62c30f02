"""The live preview while training: which block of the source the viewer shows, and the
``"<layer> [preview]"`` layer that shows the run's output on it.

No Qt here: napari layer and viewer models and numpy arrays.  The widget debounces the
viewer's slider and camera events and then calls :meth:`LivePreview.refresh`.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..engine import CanonicalView, Preview, TrainConfig, TrainingRun
from .first_estimate import FIRST_ESTIMATE_SIGMA, smooth
from .layers import Source, placeholder_result_layer, put_result_layer, remove_layer

log = logging.getLogger(__name__)


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


#: The first preview shown comes from at least this training step (fewer for short runs).
MIN_PREVIEW_STEPS = 50


def first_preview_step(total_steps: int | None) -> int:
    """The step from which previews are shown: :data:`MIN_PREVIEW_STEPS`, or half of a
    shorter run (a time budget counts as long)."""
    if total_steps is None:
        return MIN_PREVIEW_STEPS
    return max(1, min(MIN_PREVIEW_STEPS, total_steps // 2))


def source_limits(source: Source) -> tuple[float, float] | None:
    """The source layer's contrast limits now (napari keeps one pair for all the colours of an
    RGB layer), or None when they cannot be read."""
    try:
        lo, hi = (float(v) for v in source.layer.contrast_limits)
    except (AttributeError, TypeError, ValueError):
        return None
    return (lo, hi) if hi > lo else None


def describe_region(spec: PreviewSpec, source: Source, view: CanonicalView) -> str:
    """E.g. ``256x256 pixels around the view's centre, T 3``: what the preview covers."""
    shape = tuple(int(source.data.shape[source.axes.index(a)]) for a in view.spatial_axes)
    sizes = tuple(b - a for a, b in spec.region)
    extent = "x".join(str(n) for n in sizes)
    where = "the whole image" if sizes == shape else f"{extent} pixels around the view's centre"
    index = dict(spec.index)
    others = ", ".join(f"{a} {index[a]}" for a in source.dims if a not in view.spatial_axes
                       and a in index and source.data.shape[source.axes.index(a)] > 1)
    return where + (f" ({others})" if others else "")


class LivePreview:
    """The preview of one training run after another (see the module docstring).

    ``report(text)`` is told what the preview shows (its region; a first estimate or the
    network's output), for the view to show under the loss plot.
    """

    def __init__(self, viewer: Any, report: Callable[[str], None] | None = None) -> None:
        self.viewer = viewer
        self.report = report or (lambda text: None)
        #: The ``"<layer> [preview]"`` layer (the first estimate until the network's preview).
        self.layer: Any = None
        self._run: TrainingRun | None = None
        self._source: Source | None = None
        self._spec: PreviewSpec | None = None
        self._after = -1
        self._shown = False

    def start(self, source: Source, run: TrainingRun) -> None:
        """Preview ``run``: add the preview layer now with a first estimate (a Gaussian
        smoothing of the block in view, :mod:`.first_estimate`), in the shape and place of the
        network's previews: adding a layer stalls napari's main thread ~100 ms, acceptable in
        answer to a click, not while training runs (the previews then only replace its data)."""
        self._run, self._source, self._spec, self._after, self._shown = run, source, None, -1, False
        try:
            spec = self._spec_for(source, run.view, run.config, run.device.type)
            shape = tuple(b - a for a, b in spec.region)
            blank = np.zeros((1,) + shape, np.float32)
            data, translate = preview_layer_data(blank, dataclasses.replace(spec, channel=None, show=0),
                                                 source, run.view)
        except Exception as exc:  # noqa: BLE001 - the preview is a nicety: added on first use
            log.debug("napari-blindspot: no preview placeholder: %s", exc)
            return
        self.layer = placeholder_result_layer(self.viewer, source, "preview", data.shape, translate)
        region = describe_region(spec, source, run.view)
        try:
            block = smooth(preview_block(run.view, spec), len(run.view.spatial_axes))
            first, translate = preview_layer_data(block, spec, source, run.view)
        except Exception as exc:  # noqa: BLE001 - a nicety: the network's preview follows
            log.debug("napari-blindspot: no first estimate: %s", exc)
            self.report(f"Preview of {region}: from step {first_preview_step(run.total_steps)}.")
            return
        self.layer = put_result_layer(self.viewer, source, "preview", first, translate=translate,
                                      rgb=False, limits=source_limits(source))
        self.layer.opacity = 1.0
        self.report(f"Preview of {region}: a first estimate (Gaussian smoothing, sigma "
                    f"{FIRST_ESTIMATE_SIGMA:g} px) until the network's preview from step "
                    f"{first_preview_step(run.total_steps)}.")

    def stop(self) -> None:
        """The run is over: no more previews (the layer stays until :meth:`drop` or :meth:`take`)."""
        self._run = None
        self.report("")

    def _spec_for(self, source: Source, view: CanonicalView, config: TrainConfig,
                  device_type: str) -> PreviewSpec:
        max_yx = 256 if device_type == "cpu" else 512
        # one channel on screen: independent (shared) and separate channel networks
        return preview_spec(self.viewer, source, view, config.channels in ("independent", "separate"),
                            max_yx=max_yx, max_z=max(32, config.patch_size_z))

    def refresh(self, force: bool = False) -> None:
        """Preview the slice the viewer shows: hand its block to the run, ask for it soon."""
        run, source = self._run, self._source
        if run is None or source is None:
            return
        try:
            spec = self._spec_for(source, run.view, run.config, run.device.type)
            if spec == self._spec and not force:
                return
            run.set_preview(preview_block(run.view, spec), spec.channel)
        except Exception as exc:  # noqa: BLE001 - the preview is a nicety, training goes on
            log.warning("napari-blindspot: no preview: %s", exc)
            return
        self._spec = spec
        self._after = run.step
        run.request_preview()

    def show(self, ev: Preview) -> None:
        """Put a preview the run sent into the preview layer (unless the block changed since).

        Until :func:`first_preview_step` the layer keeps the first estimate: an untrained
        network's output is a blocky grey.  The layer takes the source
        layer's contrast limits (the preview is in the source's intensity units), so it looks
        like the source and follows the user's contrast changes.
        """
        run, source, spec = self._run, self._source, self._spec
        if run is None or source is None or spec is None or ev.step <= self._after:
            return
        if not self._shown and ev.step < first_preview_step(run.total_steps):
            return
        data, translate = preview_layer_data(ev.image, spec, source, run.view)
        self.layer = put_result_layer(self.viewer, source, "preview", data, translate=translate,
                                      rgb=False, limits=source_limits(source))
        if not self._shown:
            self._shown = True
            self.layer.opacity = 1.0
            self.report(f"Preview of {describe_region(spec, source, run.view)}: the network's "
                        f"output, from step {ev.step:,} on, updated every few seconds (the whole "
                        "layer is denoised when training ends).")

    def take(self) -> Any:
        """The preview layer, to become the result; the preview forgets it."""
        layer, self.layer = self.layer, None
        return layer

    def drop(self) -> None:
        """Remove the preview layer."""
        remove_layer(self.viewer, self.take())
