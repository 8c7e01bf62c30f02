"""A noise model's curve of noise against brightness, for tables (``blindspot info``) and plots
(the widget), from the model and the calibration it was measured by.

Everything is in the image's intensity units: ``signal`` the clean brightness, ``variance`` the
noise variance there (plots show its root, the noise standard deviation).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np
from torch import nn

from ...normalization import Normalization

#: Points of the model curve of a plot (between the lowest and highest measured brightness).
PLOT_POINTS = 64


@dataclass(frozen=True)
class ChannelNoiseCurve:
    """The noise of data channel ``channel`` against brightness, float64, intensity units.

    ``signal`` (N,) brightness, ``std`` (N,) the model's noise standard deviation there,
    ``posterior_std`` (N,) the posterior's after a refit (else None); ``measured_signal`` and
    ``measured_std`` (K,) the calibration's binned points (empty when not measured);
    ``source`` how they were measured (``"image"``, ``"repeats"``, or ``""``); ``warnings``
    what the calibration found wrong with the data (clipping, saturation, correlated noise).
    """

    channel: int
    signal: np.ndarray
    std: np.ndarray
    posterior_std: np.ndarray | None
    measured_signal: np.ndarray
    measured_std: np.ndarray
    source: str
    warnings: tuple[str, ...]


def _cpu(noise: nn.Module) -> nn.Module:
    """``noise`` itself on a CPU, else a CPU copy (the curve is evaluated there)."""
    tensors = list(noise.parameters()) + list(noise.buffers())
    if all(t.device.type == "cpu" for t in tensors):
        return noise
    return copy.deepcopy(noise).cpu()


def _calibration(calibrations: list[Any], channel: int) -> dict[str, Any] | None:
    if channel >= len(calibrations):
        return None
    cal = calibrations[channel]
    return cal if isinstance(cal, dict) else cal.to_dict()


def noise_table(noise: nn.Module | None, normalization: Normalization, calibrations: list[Any],
                channel: int = 0, points: int = 24) -> dict[str, np.ndarray] | None:
    """``signal``, the model's ``variance`` there and, when calibrated, ``measured`` (the
    calibration's own points, whose brightness ``signal`` then is) and, after a refit,
    ``refit``; float64 ``(N,)``.  None without a noise model (see
    :meth:`~.model.DenoisingModel.noise_curve`)."""
    if noise is None:
        return None
    noise = _cpu(noise)
    cal = _calibration(calibrations, channel)
    if cal is not None:
        signal = np.asarray(cal["signal"], np.float64)
        measured = np.asarray(cal["variance"], np.float64)
    else:
        m, s = normalization.mean[channel], normalization.std[channel]
        signal, measured = np.linspace(m - 2 * s, m + 3 * s, points), None
    out = {"signal": signal, "variance": noise.curve(normalization, signal, channel)}
    if measured is not None:
        out["measured"] = measured
    if getattr(noise, "refitted", False):
        out["refit"] = noise.curve(normalization, signal, channel, posterior=True)
    return out


def channel_curves(noise: nn.Module | None, normalization: Normalization, calibrations: list[Any],
                   channels: int) -> list[ChannelNoiseCurve]:
    """The curves of data channels ``0 .. channels - 1`` to plot ([] without a noise model)."""
    if noise is None:
        return []
    noise = _cpu(noise)
    out = []
    for ch in range(channels):
        cal = _calibration(calibrations, ch)
        if cal is not None and len(cal["signal"]):
            xs = np.asarray(cal["signal"], np.float64)
            mstd = np.sqrt(np.maximum(np.asarray(cal["variance"], np.float64), 0.0))
            lo, hi = float(xs.min()), float(xs.max())
        else:
            xs, mstd = np.zeros(0), np.zeros(0)
            m, s = normalization.mean[ch], normalization.std[ch]
            lo, hi = m - 2 * s, m + 3 * s
        grid = np.linspace(lo, hi if hi > lo else lo + 1.0, PLOT_POINTS)
        std = np.sqrt(np.maximum(noise.curve(normalization, grid, ch), 0.0))
        post = (np.sqrt(np.maximum(noise.curve(normalization, grid, ch, posterior=True), 0.0))
                if getattr(noise, "refitted", False) else None)
        out.append(ChannelNoiseCurve(ch, grid, std, post, xs, mstd,
                                     str(cal.get("source", "")) if cal else "",
                                     tuple(cal.get("warnings", [])) if cal else ()))
    return out
