"""Tiled, blended, batched prediction over one canonical sample.

A sample ``(C, [Z,] Y, X)`` is cut into equal, overlapping tiles whose origins are
aligned to the network's size multiple on the sample padded up to that multiple
(reflect or zero padding, exactly as a whole-image prediction pads; only the tiles
at the far border are padded, the sample itself is never copied), predicted in
batches, and blended with weights that are zero in a ``margin`` at every inner tile
border (where the tile lacks context) and ramp up smoothly over ``blend`` pixels.
With ``margin`` at least the network's receptive radius the result equals the
whole-image prediction up to float rounding, without seams.

:func:`predict_slabs` streams: it predicts a tile row (along the first spatial axis) at a
time and yields the rows no later tile row reaches, so its memory is one tile row's input and
blended sums, whatever the size of the sample.  :func:`predict_sample` assembles its rows into
whole arrays (in-memory results).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass

import numpy as np
import torch

from ..events import PredictionProgress

InferFn = Callable[[torch.Tensor], dict[str, torch.Tensor]]

BLEND = 8


def tile_starts(size: int, tile: int, margin: int, multiple: int) -> list[int]:
    """Aligned origins of tiles of length ``tile`` covering ``[0, size)`` (``size`` a multiple)."""
    if tile >= size:
        return [0]
    stride = max(multiple, (tile - 2 * margin - BLEND) // multiple * multiple)
    starts = list(range(0, size - tile, stride)) + [size - tile]
    return sorted(set(starts))


def _fit_tile(tile: int, margin: int, multiple: int) -> int:
    """``tile`` rounded up to ``multiple``; a tile too small to hold ``margin`` of context on
    both sides is enlarged (to a core of ``2 * margin``, so that tiles do not overlap wastefully)."""
    if tile < 2 * margin + BLEND + multiple:
        tile = 2 * margin + BLEND + max(multiple, 2 * margin)
    return -(-tile // multiple) * multiple


def minimal_tile(margin: int, multiple: int) -> int:
    """The smallest tile side prediction uses (any smaller tile is enlarged to it)."""
    return _fit_tile(1, margin, multiple)


def _ramp(length: int, margin: int, lo_inner: bool, hi_inner: bool) -> np.ndarray:
    """1D weights: 0 in ``margin``, cosine ramp over ``BLEND``, 1 inside, at inner ends only."""
    w = np.ones(length, np.float32)
    ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(BLEND) + 0.5) / BLEND)
    edge = np.concatenate([np.zeros(margin, np.float32), ramp.astype(np.float32)])[:length]
    if lo_inner:
        w[:len(edge)] = np.minimum(w[:len(edge)], edge)
    if hi_inner:
        w[length - len(edge):] = np.minimum(w[length - len(edge):], edge[::-1])
    return w


def _tta(x: torch.Tensor, k: int, flip: bool) -> torch.Tensor:
    x = torch.rot90(x, k, dims=(-2, -1))
    return torch.flip(x, dims=(-1,)) if flip else x


def _untta(x: torch.Tensor, k: int, flip: bool) -> torch.Tensor:
    x = torch.flip(x, dims=(-1,)) if flip else x
    return torch.rot90(x, -k, dims=(-2, -1))


#: The transforms of each test-time augmentation size: ``(quarter turns, mirrored)``.
TTA_TRANSFORMS = {
    1: ((0, False),),
    2: ((0, False), (2, False)),
    4: tuple((k, False) for k in range(4)),
    8: tuple(itertools.product(range(4), (False, True))),
}


def tta_count(tta: bool | int) -> int:
    """How many transforms ``tta`` means: False 1, True 8, or the number itself (1, 2, 4, 8)."""
    if isinstance(tta, bool):
        return 8 if tta else 1
    if int(tta) not in TTA_TRANSFORMS:
        raise ValueError(f"tta={tta!r}: use True/False or one of {sorted(TTA_TRANSFORMS)}")
    return int(tta)


def infer_with_tta(infer: InferFn, x: torch.Tensor, tta: bool | int) -> dict[str, torch.Tensor]:
    """Run ``infer``; with ``tta`` average over flips/rotations of the YX plane (True: all 8,
    or 2 (half turn), 4 (the quarter turns) or 8 transforms).  An ``infer`` with a ``with_tta(x,
    transforms)`` attribute (:meth:`.DenoisingModel.infer_fn`) computes the average itself
    where it can (None where not)."""
    transforms = TTA_TRANSFORMS[tta_count(tta)]
    if len(transforms) == 1:
        return infer(x)
    shared = getattr(infer, "with_tta", None)  # a faster way of the method's (HQ-SSL's), if any
    if shared is not None and x.ndim == 4:
        out = shared(x, transforms)
        if out is not None:
            return out
    total: dict[str, torch.Tensor] = {}
    for k, flip in transforms:
        out = infer(_tta(x, k, flip))
        for key, value in out.items():
            value = _untta(value, k, flip)
            total[key] = total[key] + value if key in total else value
    return {key: value / len(transforms) for key, value in total.items()}


def pad_mode_for(spatial: tuple[int, ...], padded: tuple[int, ...], pad_mode: str) -> str:
    """The :func:`numpy.pad` mode that pads a sample of shape ``spatial`` up to ``padded`` as
    :func:`~.nets.layers.pad_to_multiple` does: constant for ``"zeros"``, else reflect where every
    padded axis is long enough, else edge."""
    if pad_mode == "zeros":
        return "constant"
    return "reflect" if all(p - s < s for p, s in zip(padded, spatial)) else "edge"


def _pad_end(block: np.ndarray, lengths: tuple[int, ...], mode: str) -> np.ndarray:
    """``block`` ``(C, *spatial)`` padded at the end of its first spatial axes up to ``lengths``."""
    short = [(0, 0)] + [(0, max(0, t - s)) for t, s in zip(lengths, block.shape[1:])]
    short += [(0, 0)] * (block.ndim - len(short))
    return np.pad(block, short, mode=mode) if any(after for _, after in short) else block


@dataclass(frozen=True)
class Slab:
    """Finished rows ``[start, stop)`` along a sample's first spatial axis (Y in 2D, Z in 3D):
    ``outputs[key]`` is float32 ``(C_out, stop - start, *other spatial axes)``."""

    start: int
    stop: int
    outputs: dict[str, np.ndarray]


RowReader = Callable[[int, int], np.ndarray]


@dataclass(frozen=True)
class TilePlan:
    """Where the tiles of one sample go: their shape, per-axis origins, blend weights."""

    spatial: tuple[int, ...]
    tiles: tuple[int, ...]
    starts: list[list[int]]
    weights: list[list[np.ndarray]]
    mode: str

    @classmethod
    def make(cls, spatial: tuple[int, ...], tile_shape: tuple[int, ...], multiple: int,
             margin: int, pad_mode: str) -> "TilePlan":
        padded = tuple(-(-s // multiple) * multiple for s in spatial)
        tile_shape = tuple(_fit_tile(int(t), margin, multiple) for t in tile_shape)
        tiles = tuple(min(t, p) for t, p in zip(tile_shape, padded))
        margins = tuple(max(0, min(margin, (t - BLEND - multiple) // 2)) for t in tiles)
        starts = [tile_starts(p, t, m, multiple) for p, t, m in zip(padded, tiles, margins)]
        weights = [[_ramp(t, m, s > 0, s + t < p) for s in axis_starts]
                   for axis_starts, t, m, p in zip(starts, tiles, margins, padded)]
        return cls(tuple(spatial), tiles, starts, weights, pad_mode_for(spatial, padded, pad_mode))

    def rows_for(self, start: int, stop: int) -> list[int]:
        """Indices of the tile rows (along the first spatial axis) that reach ``[start, stop)``."""
        t = self.tiles[0]
        return [i for i, s in enumerate(self.starts[0]) if s < stop and s + t > start]

    def n_tiles(self, start: int, stop: int) -> int:
        per_row = int(np.prod([len(s) for s in self.starts[1:]], dtype=np.int64))
        return len(self.rows_for(start, stop)) * per_row


def predict_slabs(infer: InferFn, read_rows: RowReader, spatial: tuple[int, ...], *,
                  tile_shape: tuple[int, ...], multiple: int, margin: int, batch_size: int,
                  device: torch.device, tta: bool = False, keys: tuple[str, ...] = ("denoised",),
                  pad_mode: str = "reflect", rows: tuple[int, int] | None = None,
                  ) -> Generator[PredictionProgress | Slab, None, None]:
    """Predict one sample of spatial shape ``spatial`` tile row by tile row, streaming the result.

    ``read_rows(start, stop)`` returns the normalised sample's rows ``[start, stop)`` along the
    first spatial axis as float32 ``(C, stop - start, *rest)`` (an array the caller does not
    need back).  Tiles are predicted a tile row at a time (in batches of ``batch_size`` within
    the row) and blended into a buffer of rows; as soon as no later tile row reaches a row, it
    is finished and yielded in a :class:`Slab` (in order, together covering ``rows``, default
    the whole sample), followed by a :class:`PredictionProgress` after every batch.  Memory: one
    tile row's input rows and its blended sums, whatever the size of the sample.  Every output
    pixel is the same sum, in the same order, whichever ``rows`` it is computed for, so a sample
    cut into row ranges gives bit-identical results.  Closing the generator cancels.
    """
    start_time = time.perf_counter()
    plan = TilePlan.make(spatial, tile_shape, multiple, margin, pad_mode)
    r0, r1 = (0, spatial[0]) if rows is None else (max(0, rows[0]), min(spatial[0], rows[1]))
    if r1 <= r0:
        return
    row_ids = plan.rows_for(r0, r1)
    inner = list(itertools.product(*plan.starts[1:]))
    total, done = len(row_ids) * len(inner), 0
    rest = spatial[1:]
    t0 = plan.tiles[0]
    lo = r0  # first row not yet yielded; the buffers hold rows [lo, lo + len)
    acc: dict[str, np.ndarray] = {}
    norm = np.zeros((0,) + rest, np.float32)
    for i in row_ids:
        s0 = plan.starts[0][i]
        slab = _pad_end(read_rows(s0, min(s0 + t0, spatial[0])), (t0,), plan.mode)
        # grow the buffers to the rows this tile row reaches (inside the sample)
        need = min(s0 + t0, spatial[0]) - lo
        if need > norm.shape[0]:
            extra = need - norm.shape[0]
            norm = np.concatenate([norm, np.zeros((extra,) + rest, np.float32)])
            for k in acc:
                acc[k] = np.concatenate([acc[k], np.zeros(acc[k].shape[:1] + (extra,) + rest,
                                                          np.float32)], axis=1)
        w0 = plan.weights[0][i]
        for first in range(0, len(inner), batch_size):
            chunk = inner[first:first + batch_size]
            batch = torch.from_numpy(np.stack([
                _pad_end(slab[(slice(None), slice(None))
                              + tuple(slice(o, o + t) for o, t in zip(org, plan.tiles[1:]))],
                         plan.tiles, plan.mode) for org in chunk])).to(device)
            with torch.no_grad():
                out = infer_with_tta(infer, batch, tta)
            out_np = {k: out[k].float().cpu().numpy() for k in keys}
            del batch, out
            for j, org in enumerate(chunk):
                full = (s0,) + org
                # the part of the tile inside the sample (tiles at the far border reach into padding)
                inside = tuple(slice(0, min(t, s - o)) for o, t, s in zip(full, plan.tiles, spatial))
                # and below ``lo`` (a row range starting inside the tile row): rows not wanted
                inside = (slice(max(0, lo - s0), inside[0].stop),) + inside[1:]
                w = w0[inside[0]]
                for axis in range(1, len(spatial)):
                    weights = plan.weights[axis][plan.starts[axis].index(full[axis])]
                    w = np.multiply.outer(w, weights[inside[axis]])
                region = (slice(s0 + inside[0].start - lo, s0 - lo + inside[0].stop),) + tuple(
                    slice(o, o + sl.stop) for o, sl in zip(org, inside[1:]))
                for k, v in out_np.items():
                    if k not in acc:
                        acc[k] = np.zeros((v.shape[1],) + norm.shape, np.float32)
                    acc[k][(slice(None),) + region] += v[j][(slice(None),) + inside] * w
                norm[region] += w
            done += len(chunk)
            yield PredictionProgress(done, total, time.perf_counter() - start_time)
        del slab
        later = [plan.starts[0][j] for j in range(i + 1, len(plan.starts[0]))]
        final = min(r1, later[0]) if later else r1
        if final > lo:
            n = final - lo
            part = np.maximum(norm[:n], 1e-12)
            yield Slab(lo, final, {k: v[:, :n] / part for k, v in acc.items()})
            norm = norm[n:].copy()
            acc = {k: v[:, n:].copy() for k, v in acc.items()}
            lo = final


def predict_sample(infer: InferFn, sample: np.ndarray, *, tile_shape: tuple[int, ...],
                   multiple: int, margin: int, batch_size: int, device: torch.device,
                   tta: bool = False, keys: tuple[str, ...] = ("denoised",),
                   pad_mode: str = "reflect",
                   ) -> Generator[PredictionProgress, None, dict[str, np.ndarray]]:
    """Predict one normalised sample ``(C, *spatial)`` float32 tile by tile, in memory.

    Yields :class:`PredictionProgress` after every batch of tiles; returns
    ``{key: array (C_out, *spatial)}`` float32 for each requested output ``key``
    (:func:`predict_slabs` assembled). Tiles are rounded up to ``multiple`` and enlarged where
    too small to hold the context ``margin`` on both sides, so that the result does not depend
    on the tile size.  ``pad_mode`` (``"reflect"`` or ``"zeros"``) pads the sample to
    ``multiple``.  Closing the generator cancels the prediction.
    """
    spatial = tuple(sample.shape[1:])
    result: dict[str, np.ndarray] = {}
    for ev in predict_slabs(infer, lambda a, b: sample[:, a:b], spatial,
                            tile_shape=tile_shape, multiple=multiple, margin=margin,
                            batch_size=batch_size, device=device, tta=tta, keys=keys,
                            pad_mode=pad_mode):
        if isinstance(ev, Slab):
            for k, v in ev.outputs.items():
                if k not in result:
                    result[k] = np.empty((v.shape[0],) + spatial, np.float32)
                result[k][:, ev.start:ev.stop] = v
        else:
            yield ev
    return result


def predict_whole(infer: InferFn, sample: np.ndarray, device: torch.device,
                  tta: bool = False) -> dict[str, np.ndarray]:
    """Predict a normalised sample ``(C, *spatial)`` in one piece (small images, previews)."""
    x = torch.from_numpy(np.ascontiguousarray(sample))[None].to(device)
    with torch.no_grad():
        out = infer_with_tta(infer, x, tta)
    return {k: v[0].float().cpu().numpy() for k, v in out.items()}


__all__ = ["Slab", "TilePlan", "predict_slabs", "predict_sample", "predict_whole", "tile_starts",
           "infer_with_tta", "pad_mode_for", "TTA_TRANSFORMS", "tta_count"]
