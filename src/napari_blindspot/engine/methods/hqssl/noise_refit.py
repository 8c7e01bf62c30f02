"""Measuring the noise again after training, with the trained prior (``noise_fit="refit"``).

The blind-spot network's prior mean ``mu`` never sees the pixel itself, so ``y - mu`` is the
noise plus the prior's own error, whose variance is the prior variance ``sigma_x^2`` the network
predicts.  Where the prior is confident (low ``sigma_x^2``) that error is small, and the mean of
``(y - mu)^2`` over such pixels measures the noise at the brightness ``mu``.  This is the
bootstrapped refit: binned by ``mu``, the pixels in the lowest quarter of ``sigma_x^2`` of their
bin, their mean ``(y - mu)^2 - sigma_x^2``.  The posterior is then re-split: the network's total
variance ``sigma_x^2 + sigma_n^2`` is kept, and the refitted noise takes its share of it.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ...axes import CanonicalView
from .noise_estimate import MIN_BIN_PIXELS, N_BINS, NoiseCalibration, quantisation_floor
from ...normalization import Normalization

#: Frames, and the largest centred crop of each, the refit measures on.
REFIT_FRAMES = 4
REFIT_CROP = 512
#: Within each brightness bin, the most confident share of the pixels counts.
CONFIDENT_SHARE = 0.25


def _crop(frame: np.ndarray) -> np.ndarray:
    slices = []
    for n in frame.shape[-2:]:
        start = max(0, (n - REFIT_CROP) // 2)
        slices.append(slice(start, start + min(n, REFIT_CROP)))
    return frame[(..., *slices)]


def refit_channel(net: nn.Module, view: CanonicalView, normalization: Normalization, channel: int,
                  independent: bool) -> NoiseCalibration:
    """The bootstrapped noise curve of data ``channel`` (intensity units) from the trained ``net``
    (an HQ-SSL network with a single-channel prior, see :mod:`.methods.hqssl`)."""
    picks = np.unique(np.linspace(0, view.n_samples - 1, min(view.n_samples, REFIT_FRAMES))
                      .round().astype(int))
    device = next(net.parameters()).device
    mus, priors, ys = [], [], []
    net.eval()
    for s in picks:
        block = _crop(view.read(int(s)))
        block = block[channel:channel + 1] if independent else block
        if block.ndim == 4:  # a volume: its middle slice is enough for a noise curve
            block = block[:, block.shape[1] // 2:block.shape[1] // 2 + 1]
        x = normalization.normalize(np.ascontiguousarray(block, np.float32), channel if independent else None)
        with torch.no_grad():
            mu, prior = net.prior(torch.from_numpy(x)[None].to(device))
        c = 0 if independent else channel
        mus.append(mu[0, c].float().cpu().numpy().ravel())
        priors.append(prior[0, c].float().cpu().numpy().ravel())
        ys.append(x[c].ravel())
    m, s = normalization.mean[channel], normalization.std[channel]
    mu = np.concatenate(mus) * s + m
    var_x = np.concatenate(priors) * s * s
    r2 = ((np.concatenate(ys) - np.concatenate(mus)) * s) ** 2
    edges = np.unique(np.quantile(mu, np.linspace(0, 1, N_BINS + 1)))
    idx = np.clip(np.searchsorted(edges, mu, side="right") - 1, 0, len(edges) - 2)
    xs, vs, ns = [], [], []
    for b in range(len(edges) - 1):
        sel = np.flatnonzero(idx == b)
        if sel.size < MIN_BIN_PIXELS:
            continue
        keep = sel[var_x[sel] <= np.quantile(var_x[sel], CONFIDENT_SHARE)]
        xs.append(float(mu[keep].mean()))
        vs.append(float(max(np.mean(r2[keep] - var_x[keep]), 0.0)))
        ns.append(int(keep.size))
    dtype = np.dtype(getattr(view.data, "dtype", np.float32))
    floor = quantisation_floor(dtype, np.asarray(vs))
    v = np.maximum(np.asarray(vs), floor)
    return NoiseCalibration(np.asarray(xs), v, np.asarray(ns, np.int64), 0.0, float(np.mean(v)),
                            floor, "refit")
