"""HQ-SSL as a method: blind-spot prior network + noise model + Bayesian posterior mean.

The network predicts, per pixel, the prior mean ``mu`` and (a factor of) the prior
covariance of the clean signal from the surroundings only.  Training maximises the
likelihood of the noisy pixel itself, ``y ~ N(mu, Sigma_x + Sigma_n)``, so every
pixel trains the network; the denoised value is the posterior mean of the clean
signal given both the prior and ``y``.  With learned noise levels the paper's small
regulariser (``-0.1 * sigma_n`` on twice the NLL) keeps the noise estimate from
collapsing into the prior.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..nets.blindspot import BlindSpotUNet
from ..noise import MIN_VARIANCE, NoiseModel, build_noise_model
from ..noise_estimate import estimate_noise
from ..posterior import (lower_triangular, nll_diagonal, nll_full, posterior_full,
                         posterior_mean_diagonal, posterior_std_diagonal)
from .base import Method, Setting

if TYPE_CHECKING:  # pragma: no cover
    from ..axes import CanonicalView
    from ..config import TrainConfig
    from ..normalization import Normalization

REGULARIZER = 0.05  # on the NLL; the paper's 0.1 on 2 x NLL
NOISE_LR_SCALE = 10.0
LOG_STD_LIMIT = 10.0  # prior std within exp(+-10) normalised units

#: How front ends name the noise models (the values are :data:`..config.NOISE_MODELS`).
NOISE_MODEL_LABELS = (
    ("poisson-gaussian", "Poisson-Gaussian (camera)"),
    ("gaussian", "Gaussian (learned sigma)"),
    ("gaussian-known", "Gaussian, known sigma"),
    ("mean-only", "none (mean only)"),
)


def float32_maths(t: torch.Tensor) -> torch.autocast:
    """A context switching autocast off on ``t``'s device: likelihoods, covariances (matrix
    products would otherwise run in bfloat16) and posteriors are computed in float32."""
    return torch.autocast(device_type=t.device.type, enabled=False)


class HQSSLNet(nn.Module):
    """Blind-spot network plus noise model; ``forward`` returns the raw network output."""

    def __init__(self, net: BlindSpotUNet, noise: NoiseModel | None, channels: int) -> None:
        super().__init__()
        self.net = net
        self.noise = noise
        self.channels = channels

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
        if c == 1:
            return mu, torch.exp(2.0 * torch.clamp(rest, -LOG_STD_LIMIT, LOG_STD_LIMIT)) + MIN_VARIANCE
        L = lower_triangular(rest, c)
        diag = torch.diagonal(L, dim1=-2, dim2=-1)
        L = L - torch.diag_embed(diag) + torch.diag_embed(
            torch.exp(torch.clamp(diag, -LOG_STD_LIMIT, LOG_STD_LIMIT)))
        eye = torch.eye(c, device=out.device, dtype=L.dtype)
        return mu, L @ L.transpose(-2, -1) + MIN_VARIANCE * eye


class HQSSL(Method):
    """High-Quality Self-Supervised denoising (Laine et al. 2019)."""

    name = "hqssl"
    display_name = "HQ-SSL"
    help = ("HQ-SSL (Laine et al. 2019): blind-spot network with a learned noise model and a "
            "Bayesian posterior mean; every pixel trains the network. Best quality for independent "
            "Gaussian or Poisson-Gaussian (camera) noise; also gives an uncertainty map.")
    #: HQ-SSL trains on every pixel of a patch, so small batches suffice.
    defaults = {"batch_size": 4, "learning_rate": 1e-3}
    network_size = ("hq_features", "hq_depth")
    settings = (
        Setting("noise_model", "Noise model", "the noise model: Poisson-Gaussian for cameras "
                "(variance grows with brightness), Gaussian for constant noise", kind="choice",
                flag="--noise-model", labels=NOISE_MODEL_LABELS),
        Setting("noise_sigma", "Noise sigma", "the known Gaussian noise standard deviation, in the "
                "image's intensity units", kind="optional-float", flag="--noise-sigma",
                only_if=("noise_model", "gaussian-known"), placeholder="sigma, in image units"),
    )
    gives_uncertainty = True
    #: Reflect padding would show a pixel near the bottom/right border its own value
    #: through its mirror image and break the blind spot; zeros keep it (as the network does).
    pad_mode = "zeros"

    @classmethod
    def network_fields(cls, config: TrainConfig) -> tuple[str, ...]:
        known = ("noise_sigma",) if config.noise_model == "gaussian-known" else ()
        return super().network_fields(config) + ("noise_model",) + known

    @property
    def has_uncertainty(self) -> bool:
        return self.config.noise_model != "mean-only"

    def describe_parameters(self, parameters: dict[str, float]) -> str:
        text = super().describe_parameters(parameters)
        if text and self.config.noise_model == "poisson-gaussian":
            text += " (variance = a · signal + b)"
        return text

    def build(self, config: TrainConfig, channels: int, ndim: int,
              normalization: Normalization | None = None) -> nn.Module:
        mean_only = config.noise_model == "mean-only"
        k = channels if mean_only else channels + channels * (channels + 1) // 2
        net = BlindSpotUNet(channels, k, depth=config.hq_depth, features=config.hq_features, ndim=ndim)
        noise = build_noise_model(config.noise_model, channels, normalization, config.noise_sigma)
        return HQSSLNet(net, noise, channels)

    def size_multiple(self, config: TrainConfig) -> int:
        return 2 ** config.hq_depth

    def receptive_radius(self, config: TrainConfig) -> int:
        # Reach of a branch towards its half-plane: shifted 3x3 convs, shifted poolings and
        # nearest upsampling add up to 5 * (2**(depth+1) - 1) pixels (15, 35, 75, 155 for
        # depth 1..4; checked against the network's exact gradients in the tests).
        return int(5 * (2 ** (config.hq_depth + 1) - 1))

    def calibrate(self, net: nn.Module, view: CanonicalView, normalization: Normalization,
                  independent_channels: bool) -> None:
        """Initialise learned noise levels from a quick estimate on a few frames."""
        if net.noise is None or not net.noise.learned:
            return
        picks = np.unique(np.linspace(0, view.n_samples - 1, min(view.n_samples, 4)).round().astype(int))
        blocks = [view.read(int(s)) for s in picks]
        per_channel = []
        for c in range(view.n_channels):
            frames = [b[c].reshape((-1,) + b.shape[-2:]) for b in blocks]
            frames = [f[len(f) // 2] for f in frames]  # middle Z slice of volumes
            est = estimate_noise(frames)
            s = normalization.std[c]
            per_channel.append({"sigma": est["sigma"] / s, "a": est["a"] / s, "b": est["b"] / s ** 2})
        if independent_channels:
            per_channel = [{k: float(np.mean([e[k] for e in per_channel])) for k in per_channel[0]}]
        net.noise.initialize(per_channel)

    def param_groups(self, net: nn.Module, lr: float) -> list[dict]:
        """Noise parameters learn ``NOISE_LR_SCALE`` times faster than the network."""
        groups = [{"params": list(net.net.parameters()), "lr_scale": 1.0}]
        if net.noise is not None and any(True for _ in net.noise.parameters()):
            groups.append({"params": list(net.noise.parameters()), "lr_scale": NOISE_LR_SCALE})
        return groups

    # ------------------------------------------------------------------
    def loss(self, net: nn.Module, batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        y = batch[0].float()
        if net.noise is None:  # mean-only ablation: L2 to the noisy pixel itself
            return F.mse_loss(net(y).float(), y)
        mu, prior = net.prior(y)
        with float32_maths(y):
            var_n = net.noise.variance(mu)
            if net.channels == 1:
                nll = nll_diagonal(y, mu, prior, var_n)
            else:
                nll = nll_full(y, mu, prior, var_n)
            loss = nll.mean()
            if net.noise.learned:
                loss = loss - REGULARIZER * torch.sqrt(var_n).mean()
        return loss

    def infer(self, net: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
        y = x.float()
        if net.noise is None:
            return {"denoised": net(y).float()}
        mu, prior = net.prior(y)
        with float32_maths(y):
            var_n = net.noise.variance(mu)
            if net.channels == 1:
                return {"denoised": posterior_mean_diagonal(y, mu, prior, var_n),
                        "std": posterior_std_diagonal(prior, var_n)}
            mean, std = posterior_full(y, mu, prior, var_n)
        return {"denoised": mean, "std": std}

    def noise_parameters(self, net: nn.Module, normalization: Normalization) -> dict[str, float]:
        if net.noise is None:
            return {}
        return net.noise.in_units(normalization)
