"""Saturation levels for very bright sparse spots (beads, hot pixels), per channel.

One bead in ~2,000 pixels at 15 times the brightest structure made HQ-SSL's result away from the
beads worse than the noisy input (docs/channels.md, "very bright sparse beads"): the beads set
the normalisation's scale.  Training and predicting on the image clipped at
``q99.5 + 0.5 (q99.5 - median)``, with the clipped pixels returned as measured, recovered most of
it (HQ-SSL 8.74 -> 17.73 dB, N2V2 -5.45 -> 9.67) and was neutral without beads.

The level acts only where the pixels above it are *few* (at most :data:`MAX_SHARE`) and *far
above it* (their mean at least :data:`MIN_EXCESS` times ``q99.5 - median`` above the median):
on ordinary images (FMD confocal, filaments, membranes, natural images) that mean is 1.6-1.7
times, with 3x beads 3.1, with 15x beads 4.2; so ordinary images are left exactly as they were.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: The upper quantile the level is measured from, and how far above it the level lies
#: (as a multiple of ``quantile - median``).
QUANTILE = 0.995
HEADROOM = 0.5
#: At most this share of the pixels may lie above the level (more: not sparse spots).
MAX_SHARE = 0.01
#: The pixels above the level must average at least this many ``q99.5 - median`` above the median.
MIN_EXCESS = 2.5


@dataclass(frozen=True)
class SaturationLevel:
    """One channel's level (input intensity units) and the share of the pixels (0..1) above it
    in the training data."""

    level: float
    share: float

    def to_dict(self) -> dict:
        return {"level": self.level, "share": self.share}

    @classmethod
    def from_dict(cls, data: dict) -> "SaturationLevel":
        return cls(float(data["level"]), float(data["share"]))


def find_level(values: np.ndarray) -> SaturationLevel | None:
    """The saturation level of one channel's pixel values (any shape, float), or None where
    bright sparse spots do not call for one."""
    x = np.asarray(values, np.float64).ravel()
    if x.size == 0:
        return None
    median, high = np.quantile(x, [0.5, QUANTILE])
    span = float(high - median)
    if not np.isfinite(span) or span <= 0:
        return None
    level = float(high + HEADROOM * span)
    above = x[x > level]
    share = above.size / x.size
    if above.size == 0 or share > MAX_SHARE or (above.mean() - median) < MIN_EXCESS * span:
        return None
    return SaturationLevel(level, share)


def find_levels(values: np.ndarray) -> tuple[SaturationLevel | None, ...]:
    """:func:`find_level` of every channel of ``values`` ``(C, N)``."""
    return tuple(find_level(row) for row in values)


def level_message(level: SaturationLevel, channel: int | None = None) -> str:
    """What the user is told, e.g. "channel 1: 0.4% of pixels above 4,020 (bright sparse spots)
    are kept as measured; the network trains below that level"."""
    where = f"channel {channel}: " if channel is not None else ""
    value = f"{level.level:,.0f}" if abs(level.level) >= 100 else f"{level.level:.4g}"
    return (f"{where}{100 * level.share:.2g}% of pixels above {value} (bright sparse spots) are kept "
            "as measured; the network trains below that level")


__all__ = ["HEADROOM", "MAX_SHARE", "MIN_EXCESS", "QUANTILE", "SaturationLevel", "find_level",
           "find_levels", "level_message"]
