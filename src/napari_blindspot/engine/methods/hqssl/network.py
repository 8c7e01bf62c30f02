"""The HQ-SSL network: a blind-spot network plus the noise model, and its prior.

The blind-spot network's raw output per pixel is the prior mean of every channel and a
log-Cholesky factor of the prior covariance (one log standard deviation per channel when the
channels are diagonal); :meth:`HQSSLNet.prior` turns it into the mean and the (co)variance, in
float32 whatever precision the network ran in.
"""

from __future__ import annotations

import torch
from torch import nn

from .noise import MIN_VARIANCE, NoiseModel
from .posterior import lower_triangular

LOG_STD_LIMIT = 10.0  # prior std within exp(+-10) normalised units


def float32_maths(t: torch.Tensor) -> torch.autocast:
    """A context switching autocast off on ``t``'s device: likelihoods, covariances (matrix
    products would otherwise run in bfloat16) and posteriors are computed in float32."""
    return torch.autocast(device_type=t.device.type, enabled=False)


class HQSSLNet(nn.Module):
    """Blind-spot network plus noise model; ``forward`` returns the raw network output.

    ``diagonal``: the prior of every channel is its own (one channel, or separate channel
    networks, :mod:`..nets.per_channel`): a variance per channel, no covariance."""

    def __init__(self, net: nn.Module, noise: NoiseModel | None, channels: int,
                 diagonal: bool = False) -> None:
        super().__init__()
        self.net = net
        self.noise = noise
        self.channels = channels
        self.diagonal = diagonal or channels == 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def prior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``mu (B, C, *sp)`` and prior ``var (B, C, *sp)`` (C=1) or ``cov (B, *sp, C, C)``.

        The network may run under mixed precision; everything after it is float32.
        """
        out = self.net(x)
        with float32_maths(out):
            return self._prior_from(out.float())

    def _prior_from(self, out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        c = self.channels
        mu, rest = out[:, :c], out[:, c:]
        # log-Cholesky parameterisation: the diagonal of the factor is exp(output), so the
        # variance moves on a log scale.  (The paper squares the output; with its A^2 the
        # gradient on a too-large variance shrinks like 1/variance^2 and a short run keeps
        # the inflated prior variance of the first steps.)
        if self.diagonal:
            return mu, torch.exp(2.0 * torch.clamp(rest, -LOG_STD_LIMIT, LOG_STD_LIMIT)) + MIN_VARIANCE
        L = lower_triangular(rest, c)
        diag = torch.diagonal(L, dim1=-2, dim2=-1)
        L = L - torch.diag_embed(diag) + torch.diag_embed(
            torch.exp(torch.clamp(diag, -LOG_STD_LIMIT, LOG_STD_LIMIT)))
        eye = torch.eye(c, device=out.device, dtype=L.dtype)
        return mu, L @ L.transpose(-2, -1) + MIN_VARIANCE * eye
