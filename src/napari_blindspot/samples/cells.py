"""A synthetic three-channel cell (nuclei, F-actin, mitochondria) with different noise per channel,
and camera versions of an image (uint16 with an offset and gain, saturated): deterministic, plain
numpy, for the channel and bit-depth tests and benchmarks.

:func:`three_channel_cell` draws, as photon counts, nuclei (textured ellipses), thin filaments
(F-actin) and short tubules (mitochondria), one structure per channel (``correlated=True``:
the same nuclei-and-filaments scene in every channel, at different brightness), then applies a
Poisson-Gaussian camera noise of its own to every channel.  :func:`camera_counts` turns a
float image into the integer counts of a 12- or 16-bit camera.
"""

from __future__ import annotations

import numpy as np

from .fluorescence import Sample, _gaussian_blur, _scene

#: Per channel: (peak photons, background photons, gain, read noise sd): from a bright, clean
#: nuclei channel to a dim, noisy mitochondria channel.
CHANNEL_NOISE = ((40.0, 2.0, 2.0, 3.0), (15.0, 3.0, 5.0, 8.0), (8.0, 2.0, 10.0, 15.0))


def _tubules(rng: np.random.Generator, shape: tuple[int, int], count: int) -> np.ndarray:
    """Short, bent tubules about 2 pixels wide (mitochondria), in [0, 1]."""
    h, w = shape
    lines = np.zeros(shape, np.float32)
    for _ in range(count):
        y, x = rng.uniform(0, h), rng.uniform(0, w)
        angle = rng.uniform(0, 2 * np.pi)
        for _ in range(int(rng.integers(6, 20))):
            angle += rng.normal(0, 0.3)
            y, x = y + np.sin(angle), x + np.cos(angle)
            lines[int(round(y)) % h, int(round(x)) % w] = 1.0
    out = np.clip(_gaussian_blur(lines, 1.1) * 4.0, 0, None)
    return out / max(float(out.max()), 1e-6)


def three_channel_cell(size: int = 128, *, seed: int = 0, correlated: bool = False) -> Sample:
    """A ``CYX`` float32 image of 3 channels (nuclei, F-actin, mitochondria), noisy and clean.

    Channel ``c`` is ``gain_c * Poisson(bg_c + peak_c * structure_c) + N(0, read_c^2)``
    (:data:`CHANNEL_NOISE`), not rounded; ``clean`` is its expectation, ``noise`` holds the
    per-channel ``a`` (gain) and ``b`` (read noise variance) lists.
    """
    rng = np.random.default_rng(seed)
    shape = (size, size)
    n_nuclei, n_fil = max(3, size * size // 4000), max(4, size // 12)
    if correlated:
        scene = _scene(np.random.default_rng(int(rng.integers(1 << 31))), shape, n_nuclei, n_fil // 2,
                       np.zeros(2))
        structures = [scene, scene, scene]
    else:
        structures = [
            _scene(np.random.default_rng(int(rng.integers(1 << 31))), shape, n_nuclei, 0, np.zeros(2)),
            _scene(np.random.default_rng(int(rng.integers(1 << 31))), shape, 0, n_fil, np.zeros(2)),
            _tubules(np.random.default_rng(int(rng.integers(1 << 31))), shape, max(8, size * size // 300)),
        ]
    clean = np.empty((3, size, size), np.float32)
    noisy = np.empty((3, size, size), np.float32)
    for c, (structure, (peak, bg, gain, read)) in enumerate(zip(structures, CHANNEL_NOISE)):
        clean[c] = gain * (bg + peak * structure)
        noisy[c] = gain * rng.poisson(clean[c] / gain) + rng.normal(0, read, shape)
    return Sample(noisy=noisy, clean=clean, axes="CYX",
                  noise={"a": [n[2] for n in CHANNEL_NOISE], "b": [n[3] ** 2 for n in CHANNEL_NOISE]})


def camera_counts(image: np.ndarray, *, offset: float = 300.0, gain: float = 20.0,
                  bits: int = 16) -> np.ndarray:
    """``image`` as the uint16 counts of a ``bits``-bit camera: ``offset + gain * image``,
    rounded and clipped to ``[0, 2**bits - 1]`` (values above saturate)."""
    counts = np.round(offset + gain * np.asarray(image, np.float64))
    return np.clip(counts, 0, 2 ** bits - 1).astype(np.uint16)


__all__ = ["CHANNEL_NOISE", "camera_counts", "three_channel_cell"]
