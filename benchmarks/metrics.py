"""Image-quality metrics and the classical (non-learned) baseline for the benchmark.

PSNR is scikit-image's ``10 log10(R^2 / MSE)`` (``napari_blindspot.samples.comparison.psnr``) with
``R`` the data range given by the caller (255 for 8-bit test images, the clean image's range
for microscopy), computed per 2D frame and averaged.  SSIM comes from scikit-image (``structural_similarity`` with its default
7x7 uniform window) when it is installed, else it is reported as unavailable.  Nothing is
clipped: the noisy input and every output are compared as they are.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from napari_blindspot.samples import comparison


def psnr(clean: np.ndarray, test: np.ndarray, data_range: float) -> float:
    """PSNR in dB of ``test`` against ``clean`` (same shape, one image): scikit-image's
    ``peak_signal_noise_ratio`` (through :func:`napari_blindspot.samples.comparison.psnr`)."""
    clean = np.asarray(clean, np.float64)
    test = np.asarray(test, np.float64)
    if clean.shape != test.shape:
        raise ValueError(f"shape mismatch {clean.shape} vs {test.shape}")
    if np.array_equal(clean, test):
        return float("inf")
    return comparison.psnr(clean, test, float(data_range))


def ssim(clean: np.ndarray, test: np.ndarray, data_range: float,
         channel_axis: int | None = None) -> float | None:
    """SSIM (scikit-image) of one image, or None when scikit-image is missing."""
    try:
        from skimage.metrics import structural_similarity
    except ImportError:
        return None
    return float(structural_similarity(np.asarray(clean, np.float64), np.asarray(test, np.float64),
                                       data_range=float(data_range), channel_axis=channel_axis))


def frames_of(array: np.ndarray, axes: str) -> tuple[np.ndarray, int | None]:
    """Reshape to ``(N, Y, X[, C])`` frames for per-frame metrics; return the channel axis."""
    axes = axes.upper()
    a = np.asarray(array)
    if "C" in axes:
        order = [i for i, ax in enumerate(axes) if ax not in "YXC"] + \
                [axes.index("Y"), axes.index("X"), axes.index("C")]
        a = np.transpose(a, order)
        return a.reshape((-1,) + a.shape[-3:]), -1
    order = [i for i, ax in enumerate(axes) if ax not in "YX"] + [axes.index("Y"), axes.index("X")]
    a = np.transpose(a, order)
    return a.reshape((-1,) + a.shape[-2:]), None


def evaluate(clean: np.ndarray, test: np.ndarray, axes: str, data_range: float,
             frames: list[int] | None = None) -> dict[str, Any]:
    """Mean PSNR and SSIM over the 2D frames (optionally only ``frames``) of a stack.

    ``clean`` may have a single frame (e.g. FMD's avg50 ground truth of a 50-frame stack):
    it is then compared with every frame of ``test``.
    """
    t, channel_axis = frames_of(test, axes)
    c, _ = frames_of(clean, axes)
    if c.shape[0] == 1 and t.shape[0] > 1:
        c = np.broadcast_to(c, t.shape)
    idx = list(range(t.shape[0])) if frames is None else list(frames)
    ps = [psnr(c[i], t[i], data_range) for i in idx]
    ss = [ssim(c[i], t[i], data_range, channel_axis) for i in idx]
    return {"psnr": float(np.mean(ps)),
            "ssim": None if any(s is None for s in ss) else float(np.mean(ss)),
            "frames": len(idx)}


def classical_name() -> str:
    try:
        import bm3d  # noqa: F401

        return "BM3D"
    except ImportError:
        return "NLM (scikit-image; bm3d not installed)"


def classical_denoise(image: np.ndarray, sigma: float, color: bool = False) -> np.ndarray:
    """BM3D (``bm3d`` package) given the noise standard deviation, else scikit-image NLM.

    ``image`` is one 2D frame (``(Y, X)``, or ``(Y, X, 3)`` with ``color``), any intensity scale.
    """
    x = np.asarray(image, np.float64)
    try:
        import bm3d
    except ImportError:
        bm3d = None
    if bm3d is not None:
        if color:
            return np.asarray(bm3d.bm3d_rgb(x, sigma), np.float32)
        return np.asarray(bm3d.bm3d(x, sigma_psd=sigma), np.float32)
    from skimage.restoration import denoise_nl_means

    out = denoise_nl_means(x, h=0.8 * sigma, sigma=sigma, fast_mode=True, patch_size=5,
                           patch_distance=6, channel_axis=-1 if color else None,
                           preserve_range=True)
    return np.asarray(out, np.float32)
