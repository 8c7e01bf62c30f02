"""Per-channel intensity normalisation, computed on the training data and stored with the model.

Very bright sparse spots (beads, hot pixels) would set the scale and ruin the rest of the image
(docs/channels.md, "very bright sparse beads"), so a channel may carry a *saturation level*
(:mod:`.saturation`): the network sees the image clipped there, in training and prediction, and
the pixels above it are returned as measured.  Models without one behave exactly as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..axes import CanonicalView
from ..errors import DataError
from .saturation import SaturationLevel, find_levels, level_message

#: Statistics are estimated on at most this many samples (frames or volumes), evenly spaced.
MAX_STAT_SAMPLES = 64


@dataclass(frozen=True)
class Normalization:
    """Affine map ``(min(x, level) - mean) / std`` per channel; ``mean``/``std``/``level`` in
    input intensity units.  ``saturation``: one :class:`SaturationLevel` or None per channel (None
    for the whole tuple: no channel is clipped, as in model files before 0.2)."""

    mean: tuple[float, ...]
    std: tuple[float, ...]
    saturation: tuple[SaturationLevel | None, ...] | None = None

    @property
    def clips(self) -> bool:
        """True when some channel has a saturation level."""
        return self.saturation is not None and any(s is not None for s in self.saturation)

    def _levels(self, ndim: int, channel: int | None) -> np.ndarray:
        """The levels shaped to broadcast over a ``(C, ...)`` block (+inf: not clipped)."""
        assert self.saturation is not None
        levels = np.asarray([np.inf if s is None else s.level for s in self.saturation], np.float32)
        if channel is not None:
            levels = levels[channel:channel + 1]
        return levels.reshape((len(levels),) + (1,) * (ndim - 1))

    def clip(self, block: np.ndarray, channel: int | None = None, *, inplace: bool = False) -> np.ndarray:
        """A ``(C, ...)`` block (or channel ``channel``'s ``(1, ...)``) clipped at the levels
        (intensity units; ``block`` itself when no channel is clipped)."""
        if not self.clips:
            return block
        levels = self._levels(block.ndim, channel)
        return np.minimum(block, levels, out=block if inplace else None)

    def restore(self, result: np.ndarray, measured: np.ndarray, channel: int | None = None) -> np.ndarray:
        """``result`` (intensity units, in place) with the ``measured`` pixels above the level
        put back as they were measured; both ``(C, ...)`` (or ``(1, ...)`` of ``channel``)."""
        if self.clips:
            above = measured > self._levels(measured.ndim, channel)
            result[above] = measured[above]
        return result

    def messages(self) -> list[str]:
        """One sentence per clipped channel, for the user ([] when none is)."""
        if not self.clips:
            return []
        assert self.saturation is not None
        many = len(self.saturation) > 1
        return [level_message(s, c if many else None) for c, s in enumerate(self.saturation) if s is not None]

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
        if self.clips:
            block = self.clip(block, channel, inplace=inplace)
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
        out: dict = {"mean": list(self.mean), "std": list(self.std)}
        if self.clips:  # absent otherwise: such files read as before with older versions too
            assert self.saturation is not None
            out["saturation"] = [None if s is None else s.to_dict() for s in self.saturation]
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "Normalization":
        mean, std = tuple(float(v) for v in data["mean"]), tuple(float(v) for v in data["std"])
        sat = data.get("saturation")  # absent in model files before 0.2
        levels = None if not sat else tuple(None if s is None else SaturationLevel.from_dict(s)
                                            for s in sat)
        if levels is not None and (len(levels) != len(mean) or not all(
                np.isfinite(s.level) for s in levels if s is not None)):
            raise ValueError(f"saturation levels {sat} do not fit {len(mean)} channel(s)")
        return cls(mean, std, levels)


def check_finite(block: np.ndarray, where: str) -> None:
    """Raise :class:`DataError` if ``block`` holds NaN or infinite values."""
    if not np.isfinite(block).all():
        n_bad = int(np.size(block) - np.count_nonzero(np.isfinite(block)))
        raise DataError(f"The image contains {n_bad} NaN or infinite value(s) in {where}. "
                        "Replace them first (e.g. with the image median) and try again.")


def _picked_blocks(views: list[CanonicalView]):
    """``(label, block)`` for the (up to :data:`MAX_STAT_SAMPLES`) samples the statistics read."""
    per_view = max(1, MAX_STAT_SAMPLES // len(views))
    for k, v in enumerate(views):
        n = v.n_samples
        picks = np.unique(np.linspace(0, n - 1, min(n, per_view)).round().astype(int))
        for s in picks:
            label = f"sample {int(s)}" + (f" of image {k + 1}" if len(views) > 1 else "")
            yield label, v.read(int(s))


def compute_normalization(view: CanonicalView | Sequence[CanonicalView], *,
                          saturation: bool = True) -> Normalization:
    """Per-channel mean and std over (up to :data:`MAX_STAT_SAMPLES`) samples of ``view``, and
    (``saturation``) each channel's saturation level where very bright sparse spots call for
    one (:func:`.saturation.find_levels`); the mean and std are then those of the clipped values.

    Several views (images of one kind, trained on together) are pooled: the samples are
    spread over the images and every pixel read counts once, so one normalisation serves
    all of them (as it must: the model applies one to every image it denoises)."""
    views = [view] if isinstance(view, CanonicalView) else list(view)
    n_channels = views[0].n_channels
    levels: tuple[SaturationLevel | None, ...] | None = None
    for attempt in range(2):  # the second pass, with the levels found, only when some act
        total = np.zeros(n_channels, np.float64)
        total_sq = np.zeros(n_channels, np.float64)
        count = 0
        values: list[np.ndarray] = []
        for label, raw in _picked_blocks(views):
            block = raw.astype(np.float64)
            check_finite(block, label)
            flat = block.reshape(block.shape[0], -1)
            if levels is not None:
                caps = np.asarray([np.inf if lv is None else lv.level for lv in levels])[:, None]
                flat = np.minimum(flat, caps)
            elif saturation:
                values.append(flat[:, ::max(1, flat.shape[1] // 65536)])
            total += flat.sum(axis=1)
            total_sq += (flat ** 2).sum(axis=1)
            count += flat.shape[1]
        if attempt == 0 and saturation:
            found = find_levels(np.concatenate(values, axis=1))
            if any(lv is not None for lv in found):
                levels = found
                continue
        break
    mean = total / count
    var = np.maximum(total_sq / count - mean ** 2, 0.0)
    std = np.sqrt(var)
    if np.any(std <= 1e-12 * np.maximum(1.0, np.abs(mean))):
        raise DataError("The image (or one of its channels) is constant: there is nothing to denoise.")
    return Normalization(tuple(float(m) for m in mean), tuple(float(s) for s in std), levels)
