"""Noise models for HQ-SSL, in normalised intensity units.

With the normalisation ``y_n = (y - m) / s`` (per channel), a noise variance
``v`` in intensity units is ``v / s**2`` in normalised units.  The models give the
per-pixel noise variance ``sigma_n^2`` of the observation given the clean signal:

* ``gaussian-known``: a fixed sigma given by the user (intensity units);
* ``gaussian``: one learned sigma;
* ``poisson-gaussian``: ``sigma_n^2 = a * x + b`` with learned ``a, b >= 0`` where
  ``x`` is the clean intensity, approximated by the network's prior mean
  (as in the paper's Poisson approximation).  In normalised units
  ``sigma_n^2 = a_n * (mu_n + m / s) + b_n`` with ``a = a_n * s`` and ``b = b_n * s**2``.

Each model holds one parameter set per network channel (one for independent-channel
training, where all channels share it in normalised units).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .normalization import Normalization

MIN_VARIANCE = 1e-6


def _inv_softplus(v: float) -> float:
    v = max(float(v), 1e-4)
    return v + math.log(-math.expm1(-v))


class NoiseModel(nn.Module):
    """Base class: ``variance(mu)`` gives ``sigma_n^2`` in normalised units, float32."""

    learned = True

    def variance(self, mu: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def in_units(self, normalization: Normalization) -> dict[str, float]:
        """The parameters in the image's intensity units (for reports and model files)."""
        raise NotImplementedError

    def initialize(self, estimates: list[dict[str, float]]) -> None:
        """Start from noise estimates in *normalised* units, one dict per network channel."""


class KnownGaussian(NoiseModel):
    """Gaussian noise of a known sigma (given in intensity units).

    ``normalization_std`` is the normalisation scale of each network channel (one value
    is used for all ``channels``): the same sigma is a different normalised level per channel.
    """

    learned = False

    def __init__(self, sigma: float, normalization_std: float | list[float] | tuple[float, ...],
                 channels: int = 1) -> None:
        super().__init__()
        std = torch.as_tensor(normalization_std, dtype=torch.float32).flatten()
        std = std.expand(channels) if std.numel() == 1 else std[:channels]
        self.register_buffer("sigma_n", float(sigma) / std.clone())

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):  # type: ignore[override]
        key = prefix + "sigma_n"
        if key in state_dict and state_dict[key].ndim == 0:  # files from before per-channel sigma
            state_dict[key] = state_dict[key].reshape(1).expand(self.sigma_n.shape).clone()
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def variance(self, mu: torch.Tensor) -> torch.Tensor:
        shape = (1, -1) + (1,) * (mu.ndim - 2)
        return (self.sigma_n.float() ** 2).view(shape).expand_as(mu)

    def in_units(self, normalization: Normalization) -> dict[str, float]:
        return {"sigma": float(self.sigma_n) * normalization.std[0]}


class LearnedGaussian(NoiseModel):
    """Gaussian noise with one learned sigma per network channel."""

    def __init__(self, channels: int, initial_sigma: float = 0.5) -> None:
        super().__init__()
        self.raw = nn.Parameter(torch.full((channels,), _inv_softplus(initial_sigma)))

    def sigma(self) -> torch.Tensor:
        return F.softplus(self.raw.float()) + 1e-4

    def variance(self, mu: torch.Tensor) -> torch.Tensor:
        shape = (1, -1) + (1,) * (mu.ndim - 2)
        return (self.sigma() ** 2).view(shape).expand_as(mu)

    def initialize(self, estimates: list[dict[str, float]]) -> None:
        with torch.no_grad():
            self.raw.copy_(torch.tensor([_inv_softplus(e["sigma"]) for e in estimates]))

    def in_units(self, normalization: Normalization) -> dict[str, float]:
        s = self.sigma().detach().cpu()
        if len(s) == 1:
            return {"sigma": float(s[0]) * normalization.std[0]}
        return {f"sigma_c{c}": float(s[c]) * normalization.std[c] for c in range(len(s))}


class PoissonGaussian(NoiseModel):
    """Signal-dependent noise ``sigma_n^2 = a * x + b`` with learned ``a, b >= 0``.

    ``offset`` is ``m / s`` per network channel: it turns the normalised mean back into
    a quantity proportional to the intensity.
    """

    def __init__(self, offset: torch.Tensor, initial_a: float = 0.05, initial_b: float = 0.05) -> None:
        super().__init__()
        channels = offset.numel()
        self.register_buffer("offset", offset.float().clone())
        self.raw_a = nn.Parameter(torch.full((channels,), _inv_softplus(initial_a)))
        self.raw_b = nn.Parameter(torch.full((channels,), _inv_softplus(initial_b)))

    def ab(self) -> tuple[torch.Tensor, torch.Tensor]:
        return F.softplus(self.raw_a.float()), F.softplus(self.raw_b.float())

    def initialize(self, estimates: list[dict[str, float]]) -> None:
        with torch.no_grad():
            self.raw_a.copy_(torch.tensor([_inv_softplus(e["a"]) for e in estimates]))
            self.raw_b.copy_(torch.tensor([_inv_softplus(e["b"]) for e in estimates]))

    def variance(self, mu: torch.Tensor) -> torch.Tensor:
        shape = (1, -1) + (1,) * (mu.ndim - 2)
        a, b = self.ab()
        signal = torch.clamp(mu.float() + self.offset.view(shape), min=0.0)
        return a.view(shape) * signal + b.view(shape)

    def in_units(self, normalization: Normalization) -> dict[str, float]:
        a, b = (t.detach().cpu() for t in self.ab())
        if len(a) == 1:
            s = normalization.std[0]
            return {"a": float(a[0]) * s, "b": float(b[0]) * s * s}
        out: dict[str, float] = {}
        for c in range(len(a)):
            s = normalization.std[c]
            out[f"a_c{c}"], out[f"b_c{c}"] = float(a[c]) * s, float(b[c]) * s * s
        return out


def build_noise_model(kind: str, channels: int, normalization: Normalization | None,
                      sigma: float | None) -> NoiseModel | None:
    """The noise model named ``kind`` (``None`` for the mean-only ablation).

    ``normalization`` may be None when only the parameter shapes matter (loading a file).
    """
    if kind == "mean-only":
        return None
    std = normalization.std[0] if normalization is not None else 1.0
    if kind == "gaussian-known":
        stds = (list(normalization.std) if normalization is not None and len(normalization.std) == channels
                else [std])
        return KnownGaussian(float(sigma), stds, channels)
    if kind == "gaussian":
        return LearnedGaussian(channels)
    if kind == "poisson-gaussian":
        if normalization is None:
            offset = torch.zeros(channels)
        else:
            ratios = [m / s for m, s in zip(normalization.mean, normalization.std)]
            offset = torch.tensor(ratios[:channels] if channels == len(ratios) else ratios[:1] * channels)
        return PoissonGaussian(offset)
    raise ValueError(f"unknown noise model {kind!r}")
