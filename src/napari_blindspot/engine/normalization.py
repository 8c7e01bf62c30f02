"""Per-channel intensity normalisation, computed on the training data and stored with the model."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .axes import CanonicalView
from .errors import DataError

#: Statistics are estimated on at most this many samples (frames or volumes), evenly spaced.
MAX_STAT_SAMPLES = 64


@dataclass(frozen=True)
class Normalization:
    """Affine map ``(x - mean) / std`` per channel; ``mean``/``std`` in input intensity units."""

    mean: tuple[float, ...]
    std: tuple[float, ...]

    def _stats(self, ndim: int, channel: int | None) -> tuple[np.ndarray, np.ndarray]:
        """Mean and std shaped to broadcast over a ``(C, ...)`` block of ``ndim`` dimensions
        (only ``channel`` when given, for a ``(1, ...)`` block)."""
        mean, std = np.asarray(self.mean, np.float32), np.asarray(self.std, np.float32)
        if channel is not None:
            mean, std = mean[channel:channel + 1], std[channel:channel + 1]
        shape = (len(mean),) + (1,) * (ndim - 1)
        return mean.reshape(shape), std.reshape(shape)

    def normalize(self, block: np.ndarray, channel: int | None = None, *,
                  inplace: bool = False) -> np.ndarray:
        """Normalise a ``(C, ...)`` block (or a single channel ``channel`` of shape ``(1, ...)``).

        ``inplace=True`` overwrites ``block`` (which must be float32) instead of allocating.
        """
        mean, std = self._stats(block.ndim, channel)
        if inplace:
            block -= mean
            block /= std
            return block
        return (block - mean) / std

    def denormalize(self, block: np.ndarray, channel: int | None = None, *,
                    inplace: bool = False) -> np.ndarray:
        """Back to intensity units (the inverse of :meth:`normalize`)."""
        mean, std = self._stats(block.ndim, channel)
        if inplace:
            block *= std
            block += mean
            return block
        return block * std + mean

    def scale_std(self, block: np.ndarray, channel: int | None = None) -> np.ndarray:
        """Convert a standard deviation (e.g. the uncertainty) from normalised to intensity units."""
        return block * self._stats(block.ndim, channel)[1]

    def to_dict(self) -> dict:
        return {"mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_dict(cls, data: dict) -> "Normalization":
        return cls(tuple(float(v) for v in data["mean"]), tuple(float(v) for v in data["std"]))


def check_finite(block: np.ndarray, where: str) -> None:
    """Raise :class:`DataError` if ``block`` holds NaN or infinite values."""
    if not np.isfinite(block).all():
        n_bad = int(np.size(block) - np.count_nonzero(np.isfinite(block)))
        raise DataError(f"The image contains {n_bad} NaN or infinite value(s) in {where}. "
                        "Replace them first (e.g. with the image median) and try again.")


def compute_normalization(view: CanonicalView | Sequence[CanonicalView]) -> Normalization:
    """Per-channel mean and std over (up to :data:`MAX_STAT_SAMPLES`) samples of ``view``.

    Several views (images of one kind, trained on together) are pooled: the samples are
    spread over the images and every pixel read counts once, so one normalisation serves
    all of them (as it must: the model applies one to every image it denoises)."""
    views = [view] if isinstance(view, CanonicalView) else list(view)
    per_view = max(1, MAX_STAT_SAMPLES // len(views))
    total = np.zeros(views[0].n_channels, np.float64)
    total_sq = np.zeros(views[0].n_channels, np.float64)
    count = 0
    for k, v in enumerate(views):
        n = v.n_samples
        picks = np.unique(np.linspace(0, n - 1, min(n, per_view)).round().astype(int))
        for s in picks:
            block = v.read(int(s)).astype(np.float64)
            check_finite(block, f"sample {int(s)}" + (f" of image {k + 1}" if len(views) > 1 else ""))
            flat = block.reshape(block.shape[0], -1)
            total += flat.sum(axis=1)
            total_sq += (flat ** 2).sum(axis=1)
            count += flat.shape[1]
    mean = total / count
    var = np.maximum(total_sq / count - mean ** 2, 0.0)
    std = np.sqrt(var)
    if np.any(std <= 1e-12 * np.maximum(1.0, np.abs(mean))):
        raise DataError("The image (or one of its channels) is constant: there is nothing to denoise.")
    return Normalization(tuple(float(m) for m in mean), tuple(float(s) for s in std))
