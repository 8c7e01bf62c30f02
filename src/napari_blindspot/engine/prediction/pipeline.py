"""Denoising a whole image with a :class:`~..model.DenoisingModel`: axes, tiles, memory, streaming.

The model is the value (network, configuration, normalisation); this module is what applying it
to an image of any size takes: the image is cut into prediction units (samples, data channels,
row ranges, :class:`PredictionUnit`), each is read a tile row at a time, normalised, predicted in
tiles (:mod:`.tiling`) that the memory guard (:func:`..system.memory.plan_prediction`) sizes to
fit, and converted back to the image's intensity units, block by block
(:func:`predict_stream`), or assembled in memory (:func:`predict_iter`).  On a CPU the thread
count follows the load (:class:`..system.threads.ThreadTuner`).  :class:`DenoisingModel`'s
``predict*`` methods call these functions.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ..axes import CanonicalView
from ..config import ALL_CHANNELS_AT_ONCE
from ..errors import ConfigError, DataError
from ..events import PredictedBlock, PredictionProgress
from ..normalization import check_finite
from ..system.device import default_tile_batch
from ..system.memory import PredictionPlan, plan_prediction
from ..system.threads import ThreadTuner
from .tiling import Slab, minimal_tile, predict_slabs, predict_whole

if TYPE_CHECKING:  # pragma: no cover
    from ..config import TrainConfig
    from ..model import DenoisingModel

#: ``{"denoised": float32 array}`` plus ``"uncertainty"`` (or ``"std"`` in streamed blocks).
PredictionResult = dict[str, np.ndarray]


@dataclass(frozen=True)
class PredictionUnit:
    """One part of a prediction: canonical sample ``sample``, data ``channel`` (independent-
    channel models; None: all channels) and optionally only ``rows=(start, stop)`` of its first
    spatial axis (Y in 2D, Z in 3D)."""

    sample: int
    channel: int | None = None
    rows: tuple[int, int] | None = None


def check_prediction_options(*, tile_size: Any = None, tile_size_z: Any = None,
                             tile_batch: Any = None) -> None:
    """Raise :class:`ConfigError` for tile settings that cannot work (None: the model's)."""
    for name, value, lo in (("tile_size", tile_size, 16), ("tile_size_z", tile_size_z, 4),
                            ("tile_batch", tile_batch, 1)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lo:
            raise ConfigError(f"Invalid {name}={value!r}: must be an integer >= {lo}, or None for "
                              "the model's setting" + (" (--tile-size)" if name == "tile_size" else "")
                              + ".")


def check_result(result: dict[str, np.ndarray], sample: int) -> None:
    """Raise :class:`DataError` if a prediction came out NaN or infinite (an unusable model)."""
    for key, value in result.items():
        if not np.isfinite(value).all():
            bad = int(value.size - np.count_nonzero(np.isfinite(value)))
            raise DataError(f"The model produced {bad} NaN or infinite value(s) in sample {sample} "
                            f"({'the denoised image' if key == 'denoised' else 'the uncertainty'}): "
                            "it is unusable (its training diverged, or its file is damaged); "
                            "retrain it. Nothing was written.")


def tile_shape(config: "TrainConfig", tile_size: int | None, tile_size_z: int | None) -> tuple[int, ...]:
    """The tile ``([Z,] Y, X)``, pixels: the given sizes, else the model's ``config``'s."""
    ts = tile_size or config.tile_size
    return (tile_size_z or config.tile_size_z, ts, ts) if config.train_3d else (ts, ts)


def prediction_units(model: "DenoisingModel", view: CanonicalView) -> list[PredictionUnit]:
    """The parts prediction of ``view`` is done in, in order: every sample, and for
    independent-channel models every data channel of it."""
    channels = [None] if model.config.channels in ALL_CHANNELS_AT_ONCE else range(view.n_channels)
    return [PredictionUnit(s, c) for s in range(view.n_samples) for c in channels]


def predict_stream(model: "DenoisingModel", data: Any, axes: str | None = None, *,
                   units: Sequence[PredictionUnit] | None = None, tile_size: int | None = None,
                   tile_size_z: int | None = None, tile_batch: int | None = None,
                   tta: bool = False, uncertainty: bool = False, result_in_memory: bool = False,
                   ) -> Generator[PredictionProgress | PredictedBlock, None, None]:
    """Denoise ``data`` with ``model`` tile row by tile row, yielding the result as it is
    finished; see :meth:`~..model.DenoisingModel.predict_stream`."""
    check_prediction_options(tile_size=tile_size, tile_size_z=tile_size_z, tile_batch=tile_batch)
    view = model.view(data, axes)
    model.log_slice_warning(view.axes)
    cfg = model.config
    want = ("denoised", "std") if (uncertainty and model.has_uncertainty) else ("denoised",)
    units = prediction_units(model, view) if units is None else list(units)
    multiple = model.method.size_multiple(cfg)
    margin = model.method.receptive_radius(cfg)
    plan = plan_tiles(model, view, tile_shape(cfg, tile_size, tile_size_z),
                      tile_batch or cfg.tile_batch or default_tile_batch(model.device),
                      len(want), multiple, margin, tta, result_in_memory)
    start = time.perf_counter()
    # on a CPU, the thread count follows the load, up to the count the caller set
    tuner = ThreadTuner(torch.get_num_threads()) if model.device.type == "cpu" else None
    try:
        yield from _stream_units(model, view, units, plan, want, multiple, margin, tta, start, tuner)
    finally:
        if tuner is not None:
            tuner.restore()


def _stream_units(model: "DenoisingModel", view: CanonicalView, units: list, plan: Any,
                  want: tuple[str, ...], multiple: int, margin: int, tta: bool, start: float,
                  tuner: ThreadTuner | None) -> Generator[PredictionProgress | PredictedBlock, None, None]:
    normalization = model.normalization
    for i, unit in enumerate(units):
        s, c = unit.sample, unit.channel

        def read_rows(a: int, b: int, s: int = s, c: int | None = c) -> np.ndarray:
            region = (slice(a, b),) + tuple(slice(None) for _ in view.spatial_axes[1:])
            block = view.read(s, region, private=True)  # normalised in place below
            check_finite(block, f"sample {s}")
            if c is not None:
                block = block[c:c + 1]  # a contiguous view: the channel axis comes first
            return normalization.normalize(block, c, inplace=True)

        infer = model.infer_fn(c) if tuner is None else tuner.timed(model.infer_fn(c))
        gen = predict_slabs(infer, read_rows, view.spatial_shape,
                            tile_shape=plan.tile_shape, multiple=multiple, margin=margin,
                            batch_size=plan.tile_batch,
                            device=model.device, tta=tta, keys=want,
                            pad_mode=model.method.pad_mode, rows=unit.rows)
        try:
            for ev in gen:
                if isinstance(ev, Slab):
                    with np.errstate(over="ignore", invalid="ignore"):  # overflow: refused below
                        done = {"denoised": normalization.denormalize(
                            ev.outputs["denoised"], c, inplace=True)}
                        if normalization.clips:  # bright sparse spots: as measured
                            normalization.restore(done["denoised"], measured_rows(view, s, c, ev), c)
                        if "std" in ev.outputs:
                            done["std"] = normalization.scale_std(ev.outputs["std"], c)
                    check_result(done, s)
                    yield PredictedBlock(s, c, ev.start, ev.stop, done["denoised"], done.get("std"))
                else:
                    frac = (i + ev.done / max(ev.total, 1)) / len(units)
                    yield PredictionProgress(int(round(frac * 1000)), 1000,
                                             time.perf_counter() - start)
        finally:
            gen.close()


def measured_rows(view: CanonicalView, sample: int, channel: int | None, slab: Slab) -> np.ndarray:
    """The input's rows ``[slab.start, slab.stop)`` of ``sample`` (channel ``channel``'s
    ``(1, ...)`` or all ``(C, ...)``), as measured (float32)."""
    region = (slice(slab.start, slab.stop),) + tuple(slice(None) for _ in view.spatial_axes[1:])
    block = view.read(sample, region)
    return np.asarray(block if channel is None else block[channel:channel + 1], np.float32)


def predict_iter(model: "DenoisingModel", data: Any, axes: str | None = None, *,
                 tile_size: int | None = None, tile_size_z: int | None = None,
                 tile_batch: int | None = None, tta: bool = False, uncertainty: bool = False,
                 ) -> Generator[PredictionProgress, None, PredictionResult]:
    """:func:`predict_stream` assembled into arrays in memory; see
    :meth:`~..model.DenoisingModel.predict_iter`."""
    view = model.view(data, axes)
    outputs: dict[str, np.ndarray] = {}
    for ev in predict_stream(model, data, axes, tile_size=tile_size, tile_size_z=tile_size_z,
                             tile_batch=tile_batch, tta=tta, uncertainty=uncertainty,
                             result_in_memory=True):
        if isinstance(ev, PredictedBlock):
            for key, block in ev.outputs.items():
                if key not in outputs:
                    outputs[key] = view.empty_like_source(np.float32)
                view.write(outputs[key], ev.sample, block, ev.channel, rows=(ev.start, ev.stop))
        else:
            yield ev
    return outputs


def plan_tiles(model: "DenoisingModel", view: CanonicalView, tiles: tuple[int, ...],
               tile_batch: int, n_out: int, multiple: int, margin: int, tta: bool,
               result_in_memory: bool = True) -> PredictionPlan:
    """Tiles and tiles in flight that fit into memory (see :func:`..system.memory.plan_prediction`)."""
    per_pixel = model.inference_bytes_per_pixel(tiles, multiple)
    # a tile row's input rows and blended sums (up to two tile rows' worth of buffer)
    rows = min(view.spatial_shape[0], 2 * tiles[0])
    pixels = float(rows * np.prod(view.spatial_shape[1:]))
    result_bytes = 4.0 * n_out * float(np.prod(view.data.shape)) if result_in_memory else 0.0
    sample_bytes = 4.0 * pixels * (2 * view.n_channels + n_out * view.n_channels + 1)
    return plan_prediction(per_pixel, tiles, tile_batch, result_bytes,
                           sample_bytes, minimal_tile(margin, multiple), model.device, tta)


def predict_block(model: "DenoisingModel", block: np.ndarray, channel: int | None = None) -> PredictionResult:
    """Denoise one small canonical block ``(C, [Z,] Y, X)`` in one piece (previews); see
    :meth:`~..model.DenoisingModel.predict_block`."""
    normalization, net = model.normalization, model.net
    x = normalization.normalize(np.asarray(block, np.float32), channel)
    was_training = net.training
    net.eval()
    try:
        out = predict_whole(model.infer_fn(channel), x, model.device)
    finally:
        net.train(was_training)
    res = {"denoised": normalization.denormalize(out["denoised"], channel)}
    if normalization.clips:  # bright sparse spots: as measured
        normalization.restore(res["denoised"], np.asarray(block, np.float32), channel)
    if "std" in out:
        res["uncertainty"] = normalization.scale_std(out["std"], channel)
    return res


__all__ = ["PredictionResult", "PredictionUnit", "check_prediction_options", "check_result",
           "measured_rows", "plan_tiles", "predict_block", "predict_iter", "predict_stream", "prediction_units",
           "tile_shape"]
