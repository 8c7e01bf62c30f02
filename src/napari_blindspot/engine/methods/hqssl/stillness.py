"""Is a time-lapse a still scene?  Then its frames are repeated acquisitions, and HQ-SSL can
measure the noise across them (``noise_calibration="repeats"``) instead of on each image.

The test is cheap (a few frames, a central crop, tens of milliseconds for 20x512x512) and
does not depend on the noise level: every frame is split into its even and odd columns, and
each half is smoothed (block means of 2x2).  Within one frame the two halves see the same
scene with independent noise, so their correlation is the highest a still scene can reach at
that noise level; between frames (the even half of one, the odd half of another) it is as
high only when the scene did not move (both ways: even with odd and odd with even).  A still
scene keeps the ratio above :data:`STILL_RATIO` on average over neighbouring frames and for the
first against the last (a slow drift); small or very noisy frames get a wider margin (the
correlations' own scatter).  Measured on 96-512 pixel frames: still scenes 0.98-1.004 (FMD's 20
confocal repeats 0.998, margin 0.01), the bundled sample's sub-pixel random drift 0.75-0.988
(not still at every size), a 2-pixel jump 0.973, a pixel every frame 0.49-0.83.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

#: Between-frame over within-frame correlation of a still scene (see the module docstring).
STILL_RATIO = 0.99
#: Standard errors of the correlations a still scene's ratio may fall below 1 by.
NOISE_MARGIN = 2.5
#: Below this within-frame correlation the noise hides the scene: no verdict.
MIN_WITHIN = 0.5
#: Frames compared (spread over the time-lapse) and the side of the central crop.
FRAMES = 8
CROP = 512
BLOCK = 2


@dataclass(frozen=True)
class Stillness:
    """``still``: the frames look like repeats of one scene; ``ratio``: the lowest between-
    over within-frame correlation; ``within``: the within-frame correlation; ``frames``: the
    number of frames along T."""

    still: bool
    ratio: float
    within: float
    frames: int


def _halves(frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    f = np.asarray(frame, np.float32)
    w = f.shape[1] - f.shape[1] % 2
    out = []
    for half in (f[:, 0:w:2], f[:, 1:w:2]):
        h, ww = half.shape[0] // BLOCK * BLOCK, half.shape[1] // BLOCK * BLOCK
        out.append(half[:h, :ww].reshape(h // BLOCK, BLOCK, ww // BLOCK, BLOCK).mean(axis=(1, 3)))
    return out[0], out[1]


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    denom = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum()) / denom if denom > 0 else float("nan")


def frames_of(data: Any, axes: str) -> np.ndarray | None:
    """Up to :data:`FRAMES` frames along T (a central crop; first channel, middle Z, first of
    any other axis), or None without a T axis of three frames or more."""
    axes = axes.upper()
    if "T" not in axes or len(axes) != len(data.shape) or "Y" not in axes or "X" not in axes:
        return None
    n = int(data.shape[axes.index("T")])
    if n < 3:
        return None
    picks = np.unique(np.linspace(0, n - 1, min(n, FRAMES)).round().astype(int))
    frames = []
    for t in picks:  # one frame at a time: lazy arrays (zarr, dask) read only these
        index: list[Any] = []
        for a, size in zip(axes, data.shape):
            if a == "T":
                index.append(int(t))
            elif a in "YX":
                start = max(0, (int(size) - CROP) // 2)
                index.append(slice(start, start + CROP))
            else:
                index.append(int(size) // 2 if a == "Z" else 0)
        frames.append(np.asarray(data[tuple(index)], np.float32))
    return np.stack(frames)


def stillness(data: Any, axes: str) -> Stillness | None:
    """Whether the T frames of ``data`` show a still scene (None: no time-lapse of 3+ frames,
    or too small or too noisy to tell)."""
    frames = frames_of(data, axes)
    if frames is None or min(frames.shape[-2:]) < 4 * BLOCK:
        return None
    halves = [_halves(f) for f in frames]
    within = float(np.mean([_corr(e, o) for e, o in halves]))
    if not np.isfinite(within) or within < MIN_WITHIN:
        return None
    def between(i: int, j: int) -> float:  # both ways: the even half of one with the odd of the other
        return 0.5 * (_corr(halves[i][0], halves[j][1]) + _corr(halves[i][1], halves[j][0]))

    neighbours = np.mean([between(k, k + 1) for k in range(len(halves) - 1)])
    span = between(0, len(halves) - 1)  # a slow drift shows between the first and the last
    ratio = float(min(neighbours, span)) / within
    if not np.isfinite(ratio):
        return None
    # a correlation of n values scatters by about (1 - r^2) / sqrt(n): small, noisy frames get
    # a wider margin below 1 than STILL_RATIO's
    n = halves[0][0].size
    margin = max(1.0 - STILL_RATIO, NOISE_MARGIN * (1.0 - within ** 2) / (within * np.sqrt(n)))
    return Stillness(bool(ratio >= 1.0 - margin), ratio, within, int(data.shape[axes.upper().index("T")]))


__all__ = ["STILL_RATIO", "Stillness", "stillness"]
