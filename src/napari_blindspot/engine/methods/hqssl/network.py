"""The HQ-SSL network: a blind-spot network plus the noise model, and its prior.

The blind-spot network's raw output per pixel is the prior mean of every channel and a
log-Cholesky factor of the prior covariance (one log standard deviation per channel when the
channels are diagonal); :meth:`HQSSLNet.prior` turns it into the mean and the (co)variance, in
float32 whatever precision the network ran in.
"""

from __future__ import annotations

import torch
from torch import nn

from ...nets.per_channel import PerChannel
from .noise import MIN_VARIANCE, NoiseModel
from .posterior import (lower_triangular, posterior_full, posterior_mean_diagonal,
                        posterior_std_diagonal)

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

    def tta_priors(self, x: torch.Tensor, transforms: tuple[tuple[int, bool], ...]
                   ) -> list[tuple[torch.Tensor, torch.Tensor]] | None:
        """:meth:`prior` of ``x`` turned by each ``(quarter turns, mirrored)`` of ``transforms``,
        turned back, from the blind-spot networks' shared branch passes
        (:meth:`.BlindSpotUNet.tta_outputs`); None where the network cannot (then transform the
        input and call :meth:`prior` per transform)."""
        raws = _tta_raw(self.net, x, transforms)
        if raws is None:
            return None
        with float32_maths(raws[0]):
            return [self._prior_from(raw.float()) for raw in raws]

    def tta_posterior(self, y: torch.Tensor, transforms: tuple[tuple[int, bool], ...],
                      channels: torch.Tensor | None = None) -> dict[str, torch.Tensor] | None:
        """:meth:`posterior` of ``y`` averaged over the test-time ``transforms`` (each turned
        back), from :meth:`tta_priors`; None where the network cannot share its passes."""
        priors = self.tta_priors(y, transforms)
        if priors is None:
            return None
        total: dict[str, torch.Tensor] = {}
        for mu, prior in priors:
            for key, value in self.posterior(y, mu, prior, channels).items():
                total[key] = total[key] + value if key in total else value
        return {key: value / len(priors) for key, value in total.items()}

    def posterior(self, y: torch.Tensor, mu: torch.Tensor, prior: torch.Tensor,
                  channels: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """The posterior mean and std of the clean image given the noisy ``y (B, C, *sp)`` and the
        prior ``mu``, ``prior`` (:meth:`prior`), with the noise model (float32 maths)."""
        with float32_maths(y):
            var_n = self.noise.variance(mu, channels)
            if self.diagonal:
                if getattr(self.noise, "refitted", False):  # keep the total variance, re-split it
                    post_n = self.noise.posterior_variance(mu, channels)
                    prior = torch.clamp(prior + var_n - post_n, min=MIN_VARIANCE)
                    var_n = post_n
                return {"denoised": posterior_mean_diagonal(y, mu, prior, var_n),
                        "std": posterior_std_diagonal(prior, var_n)}
            mean, std = posterior_full(y, mu, prior, var_n)
        return {"denoised": mean, "std": std}

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


def _tta_raw(net: nn.Module, x: torch.Tensor,
             transforms: tuple[tuple[int, bool], ...]) -> list[torch.Tensor] | None:
    """The raw outputs of ``net`` (a blind-spot network, or separate ones per channel) for each
    transform, turned back; None where a network has no shared-branch test-time augmentation."""
    if isinstance(net, PerChannel):
        per = [_tta_raw(n, x[:, c:c + 1], transforms) for c, n in enumerate(net.nets)]
        if any(p is None for p in per):
            return None
        return [PerChannel.combine([p[t] for p in per]) for t in range(len(transforms))]
    tta_outputs = getattr(net, "tta_outputs", None)
    return None if tta_outputs is None else tta_outputs(x, transforms)
