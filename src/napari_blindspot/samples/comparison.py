"""The demo's comparison of noisy, denoised and clean images: a side-by-side PNG (written by
imageio) and the PSNR (scikit-image's, when it is installed: it comes with napari)."""

from __future__ import annotations

import os

import imageio.v3 as iio
import numpy as np

from ..engine.atomic import atomic_path

try:
    from skimage.metrics import peak_signal_noise_ratio
except ImportError:  # pragma: no cover - the core install (engine and CLI) has no scikit-image
    peak_signal_noise_ratio = None


def psnr(reference: np.ndarray, image: np.ndarray, data_range: float) -> float:
    """Peak signal-to-noise ratio in dB of ``image`` against ``reference`` (``data_range``: the
    range of possible values, e.g. the clean image's max - min)."""
    reference = np.asarray(reference, np.float64)
    image = np.asarray(image, np.float64)
    if peak_signal_noise_ratio is not None:
        return float(peak_signal_noise_ratio(reference, image, data_range=data_range))
    # without scikit-image: the same definition, 10 log10(R^2 / MSE)
    return float(10 * np.log10(data_range ** 2 / np.mean((reference - image) ** 2)))


def to_uint8(image: np.ndarray, low: float, high: float) -> np.ndarray:
    """Scale ``image`` linearly so that ``low -> 0`` and ``high -> 255`` (clipped)."""
    scale = 255.0 / max(high - low, 1e-12)
    return np.clip((np.asarray(image, np.float64) - low) * scale, 0, 255).astype(np.uint8)


def side_by_side(images: list[np.ndarray], gap: int = 4) -> np.ndarray:
    """Concatenate equally sized 2D float images horizontally, scaled together to uint8.

    The display range is the 0.1-99.9 percentile of the first image.
    """
    low, high = np.percentile(images[0], [0.1, 99.9])
    tiles = [to_uint8(im, low, high) for im in images]
    spacer = np.full((tiles[0].shape[0], gap), 255, np.uint8)
    parts: list[np.ndarray] = []
    for i, t in enumerate(tiles):
        parts += ([spacer] if i else []) + [t]
    return np.concatenate(parts, axis=1)


def write_png(path: str | os.PathLike, image: np.ndarray) -> None:
    """Write a 2D uint8 image as a grayscale PNG (atomically, see :mod:`..engine.atomic`)."""
    with atomic_path(path) as tmp:
        iio.imwrite(tmp, np.ascontiguousarray(image, dtype=np.uint8), extension=".png")
