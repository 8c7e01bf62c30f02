"""``noise_fit="auto"``: keep the refit noise curve only when the image calibration was inflated.

The image calibration (:mod:`.noise_estimate`) measures the noise from residuals against the
neighbours in the smoother pixels.  On thin, dense structure (filaments, membranes) the centre of
a 1-2 px line looks smooth but its residual is mostly signal, and the calibration comes out too
high in the bright bins, where the structure is; the posterior then leans on the blind-spot prior
and blurs the lines.  The refit after training (:mod:`.noise_refit`) measures the noise again with
the trained prior, which sees along the lines.  On textures (Set12's Barbara) the refit is the one
that errs (the prior's own error is under-estimated there), on nuclei (FMD) both agree.

The evidence used: the ratio of the calibration's variance to the refit's in the bright part of
the calibration's brightness range (the median over those bins).  Structure inflates the
calibration in the bright bins only, so a ratio well above 1 there says "inflated by structure"
and the refit is kept; otherwise the calibration is.  Measured in docs/fine_structures.md
("Choosing the noise fit").
"""

from __future__ import annotations

import numpy as np

from .noise_estimate import NoiseCalibration

#: The refit is kept when the calibration's bright-half variance is more than this many times
#: the refit's: between the dark bins' agreement (0.96-0.99) and the filaments' and membranes'
#: 1.25 (docs/fine_structures.md, "Choosing the noise fit"; Barbara's texture: 0.67).
REFIT_BELOW = 1.1
#: The ratio is taken over the calibration's bins in the upper part of its brightness range,
#: from this fraction of the way from its darkest to its brightest bin on (the bins are
#: quantiles of the pixels, so on sparse structure most of them are background).
BRIGHT_FROM = 0.5


def inflation(calibration: NoiseCalibration, refit: NoiseCalibration) -> float:
    """Median over ``calibration``'s bins in the bright part of its range (:data:`BRIGHT_FROM`)
    of its variance divided by ``refit``'s variance at the same brightness (linear
    interpolation, intensity units).  1.0 when either curve is empty."""
    xs, vs = np.asarray(calibration.signal, np.float64), np.asarray(calibration.variance, np.float64)
    rx, rv = np.asarray(refit.signal, np.float64), np.asarray(refit.variance, np.float64)
    if xs.size == 0 or rx.size == 0:
        return 1.0
    order = np.argsort(rx)
    bright = xs >= xs.min() + BRIGHT_FROM * (xs.max() - xs.min())
    ref = np.interp(xs[bright], rx[order], rv[order])
    floor = max(float(refit.floor), float(calibration.floor), 1e-12)
    return float(np.median(vs[bright] / np.maximum(ref, floor)))


def training_curve(knots: np.ndarray, values: np.ndarray, floor: float) -> NoiseCalibration:
    """The curve a :class:`~.noise.NoiseCurve` was calibrated to, from one channel's ``knots`` and
    ``values`` (intensity units, ``(K,)``), without the padding points it adds past the last
    calibration point (steps of a millionth of the brightness)."""
    x, v = np.asarray(knots, np.float64), np.asarray(values, np.float64)
    real = np.ones(x.size, bool)
    real[1:] = np.diff(x) > 2e-6 * np.maximum(1.0, np.abs(x[1:]))
    return NoiseCalibration(x[real], v[real], np.zeros(int(real.sum()), np.int64), 0.0,
                            float(np.mean(v)), float(floor), "image")


def keep_refit(calibration: NoiseCalibration, refit: NoiseCalibration) -> tuple[bool, float]:
    """Whether ``noise_fit="auto"`` keeps ``refit`` instead of the image ``calibration`` (only a
    calibration measured on the image itself can be inflated by structure), and the
    :func:`inflation` that decided it."""
    ratio = inflation(calibration, refit)
    usable = calibration.source == "image" and np.asarray(refit.signal).size > 0
    return bool(usable and ratio > REFIT_BELOW), ratio
