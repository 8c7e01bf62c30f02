"""Measuring the noise of a camera from the data: a curve of variance against signal.

HQ-SSL needs the noise variance of every pixel, and its likelihood cannot learn it (see
``docs/noise.md``: too little noise costs it nothing), so the noise is measured before training:

* :func:`calibrate_image` from one noisy image (or a few frames): the residual of every pixel
  against the mean of its four neighbours, binned by the mean of the 20 other pixels of its
  5x5 neighbourhood.  The two never share a pixel, so the binning does not favour pixels whose
  own noise is high (binning by a mean that includes the pixel would); within every bin only the
  smoother half of the pixels counts (edges and texture inflate residuals).
* :func:`calibrate_repeats` from repeated acquisitions of a still scene (a second acquisition,
  or a time-lapse of a fixed sample): the variance across repeats, binned by their mean.

Both give a :class:`NoiseCalibration`: binned points in intensity units (the camera's own
curve, which need not be affine: offsets, 8-bit quantisation and saturation bend it), the
weighted affine fit ``var = a * x + b`` with an intercept of either sign, and warnings about
data the models do not fit (clipped, saturated, noise correlated between pixels).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Bins of the curve (quantiles of the signal) and the fewest pixels a bin may hold.
N_BINS = 24
MIN_BIN_PIXELS = 200
#: A pixel is smooth enough to measure noise if its roughness is below this quantile of its bin.
SMOOTH_QUANTILE = 0.5
#: Neighbour correlation of the noise above which it counts as structured (stripes, blur).
CORRELATION_WARNING = 0.15
#: Share of pixels at the lowest (or highest) value above which the data counts as clipped.
CLIPPED_WARNING = 0.01
#: At most this many pixels enter a calibration (frames are subsampled evenly beyond it).
MAX_PIXELS = 4_000_000
#: The full scales of integer cameras (8- to 16-bit): values there are saturated.
CAMERA_FULL_SCALES = tuple(2 ** bits - 1 for bits in (8, 10, 12, 14, 16))

#: Count thin lines as rough too (second differences across four orientations), not only edges:
#: a 1-2 pixel line through a pixel has no gradient but a large residual, and on filament or
#: membrane images it made the measured noise ~2x too high in the bright bins (docs/fine_structures.md).
RIDGE_AWARE = True


@dataclass
class NoiseCalibration:
    """A measured noise curve of one channel, in the image's intensity units.

    ``signal`` (K,) bin centres, ``variance`` (K,) noise variance there, ``counts`` (K,) pixels per
    bin; ``a``, ``b``: weighted affine fit ``variance = a * signal + b`` (``b`` of either sign);
    ``floor``: the smallest variance a model may use (the quantisation variance of integer data);
    ``source``: ``"image"``, ``"repeats"`` or ``"given"``.
    """

    signal: np.ndarray
    variance: np.ndarray
    counts: np.ndarray
    a: float
    b: float
    floor: float
    source: str
    warnings: list[str] = field(default_factory=list)

    @property
    def sigma(self) -> float:
        """One Gaussian noise level: the root of the pixel-weighted mean variance."""
        return float(np.sqrt(np.average(self.variance, weights=self.counts)))

    def affine_misfit(self) -> float:
        """Pixel-weighted mean relative deviation of the points from the affine fit."""
        fit = np.maximum(self.a * self.signal + self.b, self.floor)
        return float(np.average(np.abs(fit - self.variance) / self.variance, weights=self.counts))

    def to_dict(self) -> dict[str, Any]:
        return {"signal": [float(v) for v in self.signal], "variance": [float(v) for v in self.variance],
                "counts": [int(v) for v in self.counts], "a": self.a, "b": self.b,
                "floor": self.floor, "source": self.source, "warnings": list(self.warnings)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "NoiseCalibration":
        return cls(np.asarray(d["signal"], np.float64), np.asarray(d["variance"], np.float64),
                   np.asarray(d["counts"], np.int64), float(d["a"]), float(d["b"]),
                   float(d["floor"]), str(d["source"]), list(d.get("warnings", [])))


def quantisation_floor(dtype: Any, variances: np.ndarray) -> float:
    """The smallest noise variance to assume: 1/12 (rounding to integers) for integer data,
    else a thousandth of the median measured variance."""
    if np.dtype(dtype).kind in "ui":
        return 1.0 / 12.0
    med = float(np.median(variances)) if np.size(variances) else 0.0
    return max(1e-3 * med, 1e-12)


def saturation_level(frames: list[np.ndarray], dtype: Any) -> float | None:
    """The value at which the data saturate, or None: the largest value when it is a camera's
    full scale (integer data: 255, 1023, 4095, 16383, 65535) or, for float data, when several
    pixels share it exactly (clipped)."""
    hi = max(float(np.max(f)) for f in frames)
    if np.dtype(dtype).kind in "ui":
        return hi if hi in CAMERA_FULL_SCALES else None
    return hi if sum(int(np.count_nonzero(f == hi)) for f in frames) >= 2 else None


def _near_saturated(y: np.ndarray, level: float) -> np.ndarray:
    """For the interior of a 2D frame (as :func:`_neighbourhoods`): whether the pixel's 5x5
    neighbourhood holds a saturated pixel (saturated pixels carry no noise)."""
    sat = y >= level
    H, W = y.shape
    out = np.zeros((H - 4, W - 4), bool)
    for dy in range(5):
        for dx in range(5):
            out |= sat[dy:H - 4 + dy, dx:W - 4 + dx]
    return out


def _neighbourhoods(y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For the interior of a 2D frame: residual (unit variance scale), proxy signal, roughness."""
    H, W = y.shape
    s = {(dy, dx): y[2 + dy:H - 2 + dy, 2 + dx:W - 2 + dx] for dy in range(-2, 3) for dx in range(-2, 3)}
    cross = [(-1, 0), (1, 0), (0, -1), (0, 1)]
    # y - mean of 4 neighbours has variance sigma^2 (1 + 1/4) on a locally flat signal
    residual = (s[(0, 0)] - sum(s[o] for o in cross) / 4.0) / np.sqrt(1.25)
    ring = [o for o in s if o != (0, 0) and o not in cross]  # the other 20 pixels of the 5x5
    proxy = sum(s[o] for o in ring) / len(ring)

    def half(pred: Any) -> np.ndarray:
        sel = [s[o] for o in ring if pred(o)]
        return sum(sel) / len(sel)

    rough = np.hypot(half(lambda o: o[1] < 0) - half(lambda o: o[1] > 0),
                     half(lambda o: o[0] < 0) - half(lambda o: o[0] > 0))
    if RIDGE_AWARE:
        rough = np.hypot(rough, _ridge(s))
    return residual, proxy, rough


#: (on the line, beside it) offsets for lines through the centre in four orientations, from the
#: 5x5 ring only: the centre and its 4 neighbours make the residual, and must not choose it.
_RIDGES = (
    (((0, -2), (0, 2)), ((-2, -1), (-2, 0), (-2, 1), (2, -1), (2, 0), (2, 1))),
    (((-2, 0), (2, 0)), ((-1, -2), (0, -2), (1, -2), (-1, 2), (0, 2), (1, 2))),
    (((-1, -1), (1, 1), (-2, -2), (2, 2)), ((-1, 1), (1, -1), (-2, 0), (0, 2), (2, 0), (0, -2))),
    (((-1, 1), (1, -1), (-2, 2), (2, -2)), ((-1, -1), (1, 1), (-2, 0), (0, -2), (2, 0), (0, 2))),
)


def _ridge(s: dict[tuple[int, int], np.ndarray]) -> np.ndarray:
    """Largest second difference across a line through the centre (four orientations)."""
    def mean(offsets: tuple[tuple[int, int], ...]) -> np.ndarray:
        return sum(s[o] for o in offsets) / len(offsets)

    return np.max(np.abs(np.stack([mean(on) - mean(off) for on, off in _RIDGES])), axis=0)


def _bins(x: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Bin index of every value (quantile bins; ties kept together) and the bin count."""
    edges = np.unique(np.quantile(x, np.linspace(0.0, 1.0, bins + 1)))
    if len(edges) < 2:
        edges = np.array([x.min(), x.max() + 1.0])
    idx = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(edges) - 2)
    return idx, len(edges) - 1


def _binned_curve(x: np.ndarray, v: np.ndarray, bins: int,
                  keep: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean ``v`` in quantile bins of ``x`` (only pixels in ``keep``); small images get fewer
    bins, at the least one bin over every pixel (a constant noise level)."""
    usable = int(keep.sum()) if keep is not None else x.size
    bins = int(np.clip(usable // (2 * MIN_BIN_PIXELS), 1, bins))
    least = min(MIN_BIN_PIXELS, max(1, usable // (2 * bins)))
    idx, n = _bins(x, bins)
    xs, vs, ns = [], [], []
    for b in range(n):
        sel = idx == b
        if keep is not None:
            sel &= keep
        count = int(sel.sum())
        if count < least:
            continue
        xs.append(float(x[sel].mean()))
        vs.append(float(v[sel].mean()))
        ns.append(count)
    return np.array(xs), np.array(vs), np.array(ns, np.int64)


def _smooth_mask(proxy: np.ndarray, rough: np.ndarray, bins: int) -> np.ndarray:
    """The smoother ``SMOOTH_QUANTILE`` of the pixels within every signal bin."""
    idx, n = _bins(proxy, bins)
    keep = np.zeros(proxy.shape, bool)
    for b in range(n):
        sel = np.flatnonzero(idx == b)
        if sel.size:
            keep[sel[rough[sel] <= np.quantile(rough[sel], SMOOTH_QUANTILE)]] = True
    return keep


def _affine_fit(x: np.ndarray, v: np.ndarray, n: np.ndarray, floor: float) -> tuple[float, float]:
    """Weighted least squares ``v = a x + b`` minimising relative errors; ``a >= 0``."""
    if len(x) < 2 or np.ptp(x) <= 0:
        return 0.0, float(np.average(v, weights=n)) if len(v) else floor
    w = np.sqrt(n) / np.maximum(v, floor)
    A = np.stack([x, np.ones_like(x)], axis=1) * w[:, None]
    (a, b), *_ = np.linalg.lstsq(A, v * w, rcond=None)
    if a < 0:  # noise falling with the signal: keep a constant level
        return 0.0, float(np.average(v, weights=n))
    return float(a), float(b)


def _finish(x: np.ndarray, v: np.ndarray, n: np.ndarray, dtype: Any, source: str,
            warnings: list[str]) -> NoiseCalibration:
    if len(x) == 0:
        raise ValueError("too few pixels to measure the noise")
    floor = quantisation_floor(dtype, v)
    v = np.maximum(v, floor)
    a, b = _affine_fit(x, v, n, floor)
    return NoiseCalibration(x, v, n, a, b, floor, source, warnings)


def _subsample(frames: list[np.ndarray]) -> list[np.ndarray]:
    total = sum(f.size for f in frames)
    if total <= MAX_PIXELS:
        return frames
    keep = max(1, int(len(frames) * MAX_PIXELS / total))
    picks = np.unique(np.linspace(0, len(frames) - 1, keep).round().astype(int))
    return [frames[i] for i in picks]


def data_warnings(frames: list[np.ndarray], dtype: Any) -> list[str]:
    """Warnings about data the noise models do not fit: clipped or saturated values."""
    flat = np.concatenate([np.asarray(f).ravel() for f in frames])
    out = []
    lo, hi = float(flat.min()), float(flat.max())
    at_lo, at_hi = float(np.mean(flat == lo)), float(np.mean(flat == hi))
    if at_lo > CLIPPED_WARNING:
        out.append(f"{100 * at_lo:.1f}% of the pixels sit at the lowest value ({lo:g}): the data look "
                   "clipped (or background-subtracted) there, so the noise near that level is not "
                   "Poisson-Gaussian. Denoise the raw camera data if you have it; the 'curve' noise "
                   "model copes best otherwise.")
    kind = np.dtype(dtype).kind
    full_scale = kind in "ui" and (hi >= np.iinfo(dtype).max or hi in CAMERA_FULL_SCALES)
    if at_hi > CLIPPED_WARNING / 10 and (full_scale or at_hi > CLIPPED_WARNING):
        out.append(f"{100 * at_hi:.2f}% of the pixels sit at the highest value ({hi:g}): the data look "
                   "saturated, and saturated pixels carry no noise; denoised values there are "
                   "unreliable (the noise was measured without them). Acquire with less gain or "
                   "exposure if you can.")
    return out


def _correlation_warning(residuals: list[np.ndarray]) -> list[str]:
    """Noise correlated between neighbouring pixels (structured noise) gets a warning."""
    def corr(a: np.ndarray, b: np.ndarray) -> float:
        a, b = a - a.mean(), b - b.mean()
        den = np.sqrt((a * a).mean() * (b * b).mean())
        return float((a * b).mean() / den) if den > 0 else 0.0

    # the residual of a pixel and that of its neighbour two pixels away share no pixel
    cx = np.mean([corr(r[:, :-2], r[:, 2:]) for r in residuals])
    cy = np.mean([corr(r[:-2], r[2:]) for r in residuals])
    worst, axis, line = max((cx, "along rows (X)", "horizontal"), (cy, "along columns (Y)", "vertical"))
    if worst > CORRELATION_WARNING:
        return [f"The noise is correlated between pixels {axis} (correlation {worst:.2f}): stripes, "
                "line noise or a blurred detector. Blind-spot methods keep such noise in part; try "
                f"structN2V (N2V2 with struct mask '{line}'), and treat the measured noise curve as "
                "approximate."]
    return []


def calibrate_image(frames: list[np.ndarray], *, dtype: Any = np.float32,
                    bins: int = N_BINS) -> NoiseCalibration:
    """Measure the noise curve of one channel from 2D noisy frames ``(Y, X)`` (intensity units).

    ``dtype`` is the data's own type (integer data get the quantisation floor).  Pixels near
    saturated ones (:func:`saturation_level`) are left out: clipping removes their noise and
    would bend the curve down at the bright end.  Raises ``ValueError`` if the frames are too
    small (under 5x5) or too few pixels are smooth.
    """
    frames = _subsample([np.asarray(f, np.float64) for f in frames if min(np.shape(f)[-2:]) >= 5])
    if not frames:
        raise ValueError("the image is too small to measure its noise (under 5x5 pixels)")
    res, prox, rough = zip(*(_neighbourhoods(f) for f in frames))
    r = np.concatenate([x.ravel() for x in res])
    p = np.concatenate([x.ravel() for x in prox])
    g = np.concatenate([x.ravel() for x in rough])
    level = saturation_level(frames, dtype)
    if level is not None:
        near = np.concatenate([_near_saturated(f, level).ravel() for f in frames])
        if near.mean() < 0.5:  # a mostly saturated image: measure what there is
            r, p, g = r[~near], p[~near], g[~near]
    keep = _smooth_mask(p, g, bins)
    x, v, n = _binned_curve(p, r * r, bins, keep)
    warnings = data_warnings(frames, dtype) + _correlation_warning(list(res))
    return _finish(x, v, n, dtype, "image", warnings)


def calibrate_repeats(stack: np.ndarray, *, dtype: Any = np.float32,
                      bins: int = N_BINS) -> NoiseCalibration:
    """Measure the noise curve of one channel from ``(R, ...)`` repeated acquisitions of a
    still scene (``R >= 2``): the unbiased variance across repeats binned by their mean."""
    stack = np.asarray(stack, np.float64)
    if stack.shape[0] < 2:
        raise ValueError("measuring noise from repeats needs at least two acquisitions")
    mean = stack.mean(axis=0).ravel()
    var = stack.var(axis=0, ddof=1).ravel()
    frames = [f for f in stack.reshape((-1,) + stack.shape[-2:])]
    level = saturation_level(frames, dtype)
    keep = None if level is None else ~(stack >= level).any(axis=0).ravel()  # clipped: no noise
    if keep is not None and keep.mean() < 0.5:
        keep = None
    x, v, n = _binned_curve(mean, var, bins, keep)
    return _finish(x, v, n, dtype, "repeats", data_warnings(frames, dtype))


def estimate_noise(frames: list[np.ndarray], bins: int = 16) -> dict[str, float]:
    """``{"sigma", "a", "b"}`` (intensity units) of 2D noisy frames, from :func:`calibrate_image`."""
    cal = calibrate_image(frames, bins=bins)
    return {"sigma": cal.sigma, "a": cal.a, "b": cal.b}
