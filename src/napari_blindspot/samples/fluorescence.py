"""Procedurally generated fluorescence-like sample data (no downloads, deterministic).

``fluorescence_timelapse`` draws nuclei (textured ellipses) and filaments (smooth
random curves) that drift slowly over time, as photon counts, then applies
Poisson-Gaussian camera noise.  The clean image is returned too, for comparison
and benchmarks.  Plain numpy; no Qt, no napari.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Sample:
    """A noisy image, its clean version (same shape, float32 photon-scaled units) and axes.

    Synthetic images have no physical pixel size: they are shown and written uncalibrated
    (scale 1, no unit), so that other images open next to them at the same size.
    """

    noisy: np.ndarray
    clean: np.ndarray
    axes: str
    noise: dict


def _gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Periodic Gaussian blur of a 2D image via FFT (sigma in pixels)."""
    fy = np.fft.fftfreq(image.shape[0])[:, None]
    fx = np.fft.rfftfreq(image.shape[1])[None, :]
    kernel = np.exp(-2 * (np.pi * sigma) ** 2 * (fy ** 2 + fx ** 2))
    return np.fft.irfft2(np.fft.rfft2(image) * kernel, s=image.shape)


def _scene(rng: np.random.Generator, shape: tuple[int, int], n_nuclei: int, n_filaments: int,
           shift: np.ndarray) -> np.ndarray:
    """One clean frame in [0, 1] (before photon scaling), objects displaced by ``shift``."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    frame = np.zeros(shape, np.float32)
    state = np.random.default_rng(rng.integers(1 << 31))
    for _ in range(n_nuclei):
        cy, cx = state.uniform(0, h), state.uniform(0, w)
        cy, cx = cy + shift[0], cx + shift[1]
        ry, rx = state.uniform(0.035, 0.08) * h, state.uniform(0.035, 0.08) * w
        angle = state.uniform(0, np.pi)
        c, s = np.cos(angle), np.sin(angle)
        dy, dx = yy - cy, xx - cx
        u, v = (c * dy + s * dx) / ry, (-s * dy + c * dx) / rx
        inside = np.clip(1.0 - (u ** 2 + v ** 2), 0, 1) ** 0.5
        frame += state.uniform(0.5, 1.0) * inside
    texture = _gaussian_blur(state.standard_normal(shape).astype(np.float32), 1.5)
    frame *= 1.0 + 0.8 * texture / (np.abs(texture).max() + 1e-6)
    lines = np.zeros(shape, np.float32)
    for _ in range(n_filaments):
        y, x = state.uniform(0, h), state.uniform(0, w)
        angle = state.uniform(0, 2 * np.pi)
        for _ in range(int(1.5 * max(h, w))):
            angle += state.normal(0, 0.08)
            y, x = y + np.sin(angle), x + np.cos(angle)
            iy, ix = int(round(y + shift[0])) % h, int(round(x + shift[1])) % w
            lines[iy, ix] = 1.0
    frame += 0.6 * np.clip(_gaussian_blur(lines, 0.9) * 6.0, 0, 1)
    frame = np.clip(_gaussian_blur(frame, 0.8), 0, None)
    return frame / max(frame.max(), 1e-6)


def fluorescence_timelapse(frames: int = 8, size: int = 256, *, peak_photons: float = 30.0,
                           background_photons: float = 2.0, gain: float = 4.0,
                           read_noise: float = 3.0, offset: float = 100.0, seed: int = 0) -> Sample:
    """A noisy ``TYX`` uint16 time-lapse of nuclei and filaments with its clean version.

    Noise: ``noisy = offset + gain * Poisson(photons) + N(0, read_noise^2)``, rounded to
    uint16, so the variance is ``gain * (clean - offset) + read_noise^2`` with ``clean =
    offset + gain * photons`` (a Poisson-Gaussian model with ``a = gain``, ``b =
    read_noise^2``, above the camera's ``offset``).  The offset (a camera's baseline) keeps the
    dark background's noise whole: without it a tenth of the background would be clipped at 0,
    and the noise calibration would rightly warn that the data look clipped.
    """
    rng = np.random.default_rng(seed)
    drift = rng.normal(0, 0.6, size=(frames, 2)).cumsum(axis=0)
    scene_seed = int(rng.integers(1 << 31))
    clean = np.empty((frames, size, size), np.float32)
    n_nuclei = max(3, size * size // 4000)
    n_fil = max(2, size // 40)
    for t in range(frames):
        frame = _scene(np.random.default_rng(scene_seed), (size, size), n_nuclei, n_fil, drift[t])
        clean[t] = gain * (background_photons + peak_photons * frame)
    photons = rng.poisson(clean / gain)
    noisy = offset + gain * photons + rng.normal(0, read_noise, size=clean.shape)
    noisy = np.clip(np.round(noisy), 0, 65535).astype(np.uint16)
    clean += offset
    return Sample(noisy=noisy, clean=clean, axes="TYX",
                  noise={"a": gain, "b": read_noise ** 2, "offset": offset})
