"""Shared, separate or joint channels, chosen from the data (``TrainConfig.channels = "auto"``).

*Independent* channels train one single-channel network *shared* by every channel (each channel
normalised on its own, HQ-SSL with a noise model per channel); *separate* channels train one
single-channel network per channel (:mod:`.nets.per_channel`), each exactly as the channel
would train alone; *joint* channels give one network all channels at once, so one channel's
signal could inform another's.

What the data are measured for (:func:`measure_channels`, on a small sample: :data:`MAX_SIDE`
pixels square from the middle of up to :data:`MAX_FRAMES` frames):

* the noise variance of every channel (:func:`.noise_estimate.calibrate_image`, the
  pixel-weighted mean of the channel's noise curve, intensity units);
* the correlation of the *signal* between two channels: the covariance of the noisy channels
  (channels' noise is independent, so it is the signals' covariance) over the root of the
  product of their signal variances (noisy variance minus noise variance).

The rule, from the measurements in docs/channels.md (HQ-SSL, equal steps per channel): channels
whose signals all correlate at least :data:`SAME_STRUCTURE` show the same structure, and one
network shared by them learns it from all of them (it matched or beat every channel alone, by
0.0-1.1 dB); channels with different structures lost 0.7-2.6 dB per channel with one shared
network from random weights (from the trained prior: -0.04 to +0.6 dB, a loss on the F-actin),
so each gets its own (separate channels: as good as alone, by construction).  Joint channels measured
worst in both cases (the blind spot hides a pixel in every channel at once, so a joint network
cannot use the other channels' value there); they stay available by name.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from ..axes import CanonicalView
from ..methods.hqssl.noise_estimate import calibrate_image

log = logging.getLogger(__name__)

#: Channels whose signals all correlate at least this much show the same structure.
SAME_STRUCTURE = 0.8
#: What each mode is, in the message.
MODE_WORDS = {"independent": ", one network shared by the channels",
              "separate": ", one network per channel"}
#: The measurement's sample: frames (evenly spread over the samples) and the side of the crop.
MAX_FRAMES = 4
MAX_SIDE = 256


@dataclass(frozen=True)
class ChannelChoice:
    """The channel mode chosen for training and what it was measured from.

    ``mode``: ``"independent"`` (one shared network) or ``"separate"``; ``noise_sigma``: per
    channel, the root mean noise variance in the image's intensity units; ``snr``: per channel, signal standard
    deviation over noise standard deviation; ``correlation``: ``(C, C)`` signal correlation
    (1 on the diagonal); ``reason``: one sentence for the user.
    """

    mode: str
    noise_sigma: tuple[float, ...]
    snr: tuple[float, ...]
    correlation: tuple[tuple[float, ...], ...]
    reason: str

    @property
    def least_correlation(self) -> float:
        """The smallest signal correlation of two different channels (1.0 for one channel)."""
        c = np.asarray(self.correlation)
        if c.shape[0] < 2:
            return 1.0
        return float(c[~np.eye(c.shape[0], dtype=bool)].min())

    def message(self) -> str:
        """E.g. ``Channels: separate (signal correlation between channels down to 0.04: the
        channels show different structures (...); noise sigma per channel 4.7, 17.2, 21.6).``"""
        return f"Channels: {self.mode}{MODE_WORDS.get(self.mode, '')} ({self.reason})."


def _frames(view: CanonicalView) -> np.ndarray:
    """``(F, C, Y, X)`` float64: central crops of up to :data:`MAX_FRAMES` 2D frames."""
    picks = np.unique(np.linspace(0, view.n_samples - 1, min(MAX_FRAMES, view.n_samples)).round().astype(int))
    spatial = view.spatial_shape
    region = []
    for size in spatial[-2:]:
        side = min(size, MAX_SIDE)
        start = (size - side) // 2
        region.append(slice(start, start + side))
    if view.ndim_spatial == 3:
        region.insert(0, slice(spatial[0] // 2, spatial[0] // 2 + 1))
    blocks = [view.read(int(s), tuple(region)) for s in picks]
    return np.stack([b.reshape(b.shape[0], *b.shape[-2:]) for b in blocks]).astype(np.float64)


def measure_channels(view: CanonicalView) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-channel noise variance ``(C,)``, signal variance ``(C,)`` and signal correlation
    ``(C, C)`` of a sample of ``view`` (intensity units squared)."""
    frames = _frames(view)
    n_ch = frames.shape[1]
    noise = np.empty(n_ch)
    for c in range(n_ch):
        try:
            cal = calibrate_image([f for f in frames[:, c]])
            noise[c] = cal.sigma ** 2
        except ValueError:  # too small to measure: take no noise off
            noise[c] = 0.0
    flat = frames.transpose(1, 0, 2, 3).reshape(n_ch, -1)
    cov = np.cov(flat)
    cov = np.atleast_2d(cov)
    signal = np.maximum(np.diag(cov) - noise, 1e-12 * np.maximum(np.diag(cov), 1e-30))
    corr = cov / np.sqrt(np.outer(signal, signal))
    np.fill_diagonal(corr, 1.0)
    return noise, signal, np.clip(corr, -1.0, 1.0)


def choose_channels(view: CanonicalView) -> ChannelChoice:
    """Shared (independent) or separate channel networks for ``view`` (see the module docstring)."""
    if view.n_channels == 1:
        return ChannelChoice("independent", (), (), ((1.0,),), "one channel")
    noise, signal, corr = measure_channels(view)
    sigma = tuple(float(np.sqrt(v)) for v in noise)
    snr = tuple(float(np.sqrt(s / v)) if v > 0 else float("inf") for s, v in zip(signal, noise))
    corr_rows = tuple(tuple(float(v) for v in row) for row in corr)
    least = ChannelChoice("independent", sigma, snr, corr_rows, "").least_correlation
    noise_text = ", ".join(f"{s:.3g}" for s in sigma)
    if least >= SAME_STRUCTURE:
        mode = "independent"
        case = (f"signal correlation between channels at least {least:.2f}: the channels show the "
                "same structure, which one network shared by all channels learns from all of them "
                "(measured as good as or better than each channel alone)")
    else:
        mode = "separate"
        case = (f"signal correlation between channels down to {least:.2f}: the channels show "
                "different structures, so each channel trains a network of its own, as it would "
                "alone (one shared network measured worse on a channel of such data: by 0.04 dB "
                "from the trained prior, up to 2.6 dB from random weights)")
    choice = ChannelChoice(mode, sigma, snr, corr_rows, f"{case}; noise sigma per channel {noise_text}")
    log.info("%s", choice.message())
    return choice


__all__ = ["ChannelChoice", "SAME_STRUCTURE", "choose_channels", "measure_channels"]
