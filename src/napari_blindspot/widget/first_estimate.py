"""The preview's first estimate: a cheap Gaussian smoothing of the previewed block, shown the
moment Train is clicked, until the network's own preview is worth showing.

A Gaussian of ``sigma`` = 1 pixel (numpy only, separable, a few milliseconds on a 256x256
block) removes part of the noise and keeps most structure: a first look at what denoising
will do, clearly labelled as such, instead of a transparent layer while the run prepares.
"""

from __future__ import annotations

import numpy as np

#: The smoothing's standard deviation, in pixels (each spatial axis).
FIRST_ESTIMATE_SIGMA = 1.0


def gaussian_kernel(sigma: float) -> np.ndarray:
    """A normalised 1D Gaussian of radius ``3 sigma`` (at least 1)."""
    radius = max(1, int(round(3 * sigma)))
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-0.5 * (x / sigma) ** 2)
    return (k / k.sum()).astype(np.float32)


def smooth(block: np.ndarray, spatial_dims: int, sigma: float = FIRST_ESTIMATE_SIGMA) -> np.ndarray:
    """``block`` smoothed along its last ``spatial_dims`` axes (edges reflected), float32."""
    out = np.asarray(block, np.float32)
    kernel = gaussian_kernel(sigma)
    radius = len(kernel) // 2
    for axis in range(out.ndim - spatial_dims, out.ndim):
        if out.shape[axis] < 2:
            continue
        pad = [(0, 0)] * out.ndim
        pad[axis] = (radius, radius)
        padded = np.pad(out, pad, mode="reflect" if out.shape[axis] > radius else "edge")
        acc = np.zeros_like(out)
        n = out.shape[axis]
        for i, weight in enumerate(kernel):
            acc += weight * np.take(padded, np.arange(i, i + n), axis=axis)
        out = acc
    return out
