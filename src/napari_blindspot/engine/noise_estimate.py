"""Quick, robust estimates of the noise level from the noisy data alone.

Used to initialise HQ-SSL's learned noise models (the network then refines them)
and reported to the user.  The residual ``r = y - mean(4 neighbours)`` has variance
``1.25 * sigma_n^2`` for independent noise on a locally flat signal; medians of
``r^2`` over bins of local brightness are robust to edges and give the
signal-dependent variance, to which ``var = a * x + b`` is fitted.
"""

from __future__ import annotations

import numpy as np

#: median of a chi-square variable with one degree of freedom
_CHI2_MEDIAN = 0.45493642


def _residuals(frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Residual ``y - mean(4-neighbours)`` and 3x3 local mean of the interior of a 2D frame."""
    y = frame.astype(np.float64)
    c = y[1:-1, 1:-1]
    nb = (y[:-2, 1:-1] + y[2:, 1:-1] + y[1:-1, :-2] + y[1:-1, 2:]) / 4.0
    local = (nb * 4 + c + y[:-2, :-2] + y[:-2, 2:] + y[2:, :-2] + y[2:, 2:]) / 9.0
    return c - nb, local


def estimate_noise(frames: list[np.ndarray], bins: int = 16) -> dict[str, float]:
    """Estimate ``{"sigma", "a", "b"}`` (intensity units) from 2D noisy frames.

    ``sigma`` is a global Gaussian noise level; ``a``/``b`` fit ``var = a * x + b``
    (both >= 0) with ``x`` the local brightness.
    """
    res, loc = [], []
    for f in frames:
        r, m = _residuals(np.asarray(f))
        res.append(r.ravel())
        loc.append(m.ravel())
    r = np.concatenate(res)
    m = np.concatenate(loc)
    var_all = float(np.median(r ** 2) / _CHI2_MEDIAN / 1.25)
    edges = np.unique(np.quantile(m, np.linspace(0, 1, bins + 1)))
    xs, vs, ws = [], [], []
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = (m >= lo) & (m <= hi)
        if sel.sum() < 50:
            continue
        xs.append(float(np.median(m[sel])))
        vs.append(float(np.median(r[sel] ** 2) / _CHI2_MEDIAN / 1.25))
        ws.append(float(sel.sum()))
    a, b = 0.0, var_all
    if len(xs) >= 2:
        x, v, w = np.array(xs), np.array(vs), np.sqrt(np.array(ws))
        A = np.stack([x, np.ones_like(x)], axis=1) * w[:, None]
        (a, b), *_ = np.linalg.lstsq(A, v * w, rcond=None)
        if b < 0:  # refit through the origin
            a, b = float(np.sum(w * w * x * v) / np.sum(w * w * x * x)), 0.0
        if a < 0:
            a, b = 0.0, float(np.average(v, weights=w))
    return {"sigma": var_all ** 0.5, "a": float(a), "b": float(b)}
