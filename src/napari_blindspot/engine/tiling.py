"""Tiled, blended, batched prediction over one canonical sample.

A sample ``(C, [Z,] Y, X)`` is cut into equal, overlapping tiles whose origins are
aligned to the network's size multiple on the sample padded up to that multiple
(reflect or zero padding, exactly as a whole-image prediction pads; only the tiles
at the far border are padded, the sample itself is never copied), predicted in
batches, and blended with weights that are zero in a ``margin`` at every inner tile
border (where the tile lacks context) and ramp up smoothly over ``blend`` pixels.
With ``margin`` at least the network's receptive radius the result equals the
whole-image prediction up to float rounding, without seams.  Memory: the tiles in
flight, plus the blended result and its weight sum over the sample (no padding).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Generator

import numpy as np
import torch

from .events import PredictionProgress

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


def infer_with_tta(infer: InferFn, x: torch.Tensor, tta: bool) -> dict[str, torch.Tensor]:
    """Run ``infer``; with ``tta`` average over the 8 flips/rotations of the YX plane."""
    if not tta:
        return infer(x)
    total: dict[str, torch.Tensor] = {}
    for k, flip in itertools.product(range(4), (False, True)):
        out = infer(_tta(x, k, flip))
        for key, value in out.items():
            value = _untta(value, k, flip)
            total[key] = total[key] + value if key in total else value
    return {key: value / 8 for key, value in total.items()}


def _tile_reader(sample: np.ndarray, padded: tuple[int, ...], pad_mode: str,
                 ) -> Callable[[tuple[int, ...], tuple[int, ...]], np.ndarray]:
    """A function reading the tile at ``origin`` of size ``tiles`` from ``sample`` as if it
    were padded at the end to ``padded`` (see :func:`~.nets.layers.pad_to_multiple`)."""
    spatial = sample.shape[1:]
    if pad_mode == "zeros":
        mode = "constant"
    else:  # as pad_to_multiple: reflect where every padded axis is long enough, else edge
        mode = "reflect" if all(p - s < s for p, s in zip(padded, spatial)) else "edge"

    def read(origin: tuple[int, ...], tiles: tuple[int, ...]) -> np.ndarray:
        region = tuple(slice(o, min(o + t, s)) for o, t, s in zip(origin, tiles, spatial))
        tile = sample[(slice(None),) + region]
        short = [(0, 0)] + [(0, o + t - min(o + t, s)) for o, t, s in zip(origin, tiles, spatial)]
        if any(after for _, after in short):
            tile = np.pad(tile, short, mode=mode)
        return tile

    return read


def predict_sample(infer: InferFn, sample: np.ndarray, *, tile_shape: tuple[int, ...],
                   multiple: int, margin: int, batch_size: int, device: torch.device,
                   tta: bool = False, keys: tuple[str, ...] = ("denoised",),
                   pad_mode: str = "reflect",
                   ) -> Generator[PredictionProgress, None, dict[str, np.ndarray]]:
    """Predict one normalised sample ``(C, *spatial)`` float32 tile by tile.

    Yields :class:`PredictionProgress` after every batch of tiles; returns
    ``{key: array (C_out, *spatial)}`` float32 for each requested output ``key``.
    Tiles are rounded up to ``multiple`` and enlarged where too small to hold the context
    ``margin`` on both sides, so that the result does not depend on the tile size.
    ``pad_mode`` (``"reflect"`` or ``"zeros"``) pads the sample to ``multiple``.
    Closing the generator cancels the prediction.
    """
    start = time.perf_counter()
    ndim = sample.ndim - 1
    spatial = tuple(sample.shape[1:])
    padded = tuple(-(-s // multiple) * multiple for s in spatial)
    read_tile = _tile_reader(sample, padded, pad_mode)
    tile_shape = tuple(_fit_tile(int(t), margin, multiple) for t in tile_shape)
    tiles = tuple(min(t, p) for t, p in zip(tile_shape, padded))
    margins = tuple(max(0, min(margin, (t - BLEND - multiple) // 2)) for t in tiles)
    starts = [tile_starts(p, t, m, multiple) for p, t, m in zip(padded, tiles, margins)]
    origins = list(itertools.product(*starts))
    weights_1d = [
        [_ramp(t, m, s > 0, s + t < p) for s in axis_starts]
        for axis_starts, t, m, p in zip(starts, tiles, margins, padded)
    ]
    acc: dict[str, np.ndarray] = {}
    norm = np.zeros(spatial, np.float32)
    total = len(origins)
    for first in range(0, total, batch_size):
        chunk = origins[first:first + batch_size]
        batch = torch.from_numpy(np.stack([read_tile(org, tiles) for org in chunk])).to(device)
        with torch.no_grad():
            out = infer_with_tta(infer, batch, tta)
        out_np = {k: out[k].float().cpu().numpy() for k in keys}
        del batch, out
        for i, org in enumerate(chunk):
            # the part of the tile inside the sample (tiles at the far border reach into padding)
            inside = tuple(slice(0, min(t, s - o)) for o, t, s in zip(org, tiles, spatial))
            w = weights_1d[0][starts[0].index(org[0])][inside[0]]
            for axis in range(1, ndim):
                w = np.multiply.outer(w, weights_1d[axis][starts[axis].index(org[axis])][inside[axis]])
            region = tuple(slice(o, o + sl.stop) for o, sl in zip(org, inside))
            for k, v in out_np.items():
                if k not in acc:
                    acc[k] = np.zeros((v.shape[1],) + spatial, np.float32)
                acc[k][(slice(None),) + region] += v[i][(slice(None),) + inside] * w
            norm[region] += w
        yield PredictionProgress(min(first + batch_size, total), total, time.perf_counter() - start)
    np.maximum(norm, 1e-12, out=norm)
    for v in acc.values():
        v /= norm
    return acc


def predict_whole(infer: InferFn, sample: np.ndarray, device: torch.device,
                  tta: bool = False) -> dict[str, np.ndarray]:
    """Predict a normalised sample ``(C, *spatial)`` in one piece (small images, previews)."""
    x = torch.from_numpy(np.ascontiguousarray(sample))[None].to(device)
    with torch.no_grad():
        out = infer_with_tta(infer, x, tta)
    return {k: v[0].float().cpu().numpy() for k, v in out.items()}


__all__ = ["predict_sample", "predict_whole", "tile_starts", "infer_with_tta"]
