"""Thin bright lines must not pass for noise in the image calibration (RIDGE_AWARE)."""

import numpy as np
import pytest
from scipy import ndimage

from napari_blindspot.engine.methods.hqssl import noise_estimate


def _lines(seed: int = 0, size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Lines 1-2 pixels wide (every 8th row and column) on a dark background, Poisson noise."""
    rng = np.random.default_rng(seed)
    grid = np.zeros((size, size))
    grid[::8, :] = 1.0
    grid[:, 3::8] = 1.0
    grid = ndimage.gaussian_filter(grid, 0.6)
    clean = 5.0 + 30.0 * grid / grid.max()
    return clean, rng.poisson(clean).astype(np.float32)


@pytest.fixture
def ridge_flag():
    saved = noise_estimate.RIDGE_AWARE
    yield
    noise_estimate.RIDGE_AWARE = saved


def test_thin_lines_do_not_inflate_the_measured_noise(ridge_flag):
    _, noisy = _lines()
    ratios = {}
    for flag in (False, True):
        noise_estimate.RIDGE_AWARE = flag
        cal = noise_estimate.calibrate_image([noisy])
        true = np.maximum(cal.signal, 1.0)  # Poisson: variance = signal
        ratios[flag] = float(np.average(cal.variance / true, weights=cal.counts))
    assert ratios[True] < 0.7 * ratios[False]  # 2.9x the true variance before, 1.6x now
    assert ratios[True] < 2.0


def test_flat_noise_is_measured_the_same(ridge_flag):
    rng = np.random.default_rng(1)
    noisy = (100 + rng.normal(0, 5.0, (200, 200))).astype(np.float32)
    noise_estimate.RIDGE_AWARE = True
    assert noise_estimate.calibrate_image([noisy]).sigma == pytest.approx(5.0, rel=0.05)
