"""Noise models for HQ-SSL: the per-pixel noise variance given the clean signal.

Every model holds one parameter set per *data* channel, each channel with its own
normalisation ``y_n = (y - m_c) / s_c`` (a variance ``v`` in intensity units is ``v / s_c**2``
in normalised units).  With joint channels the network's channel ``c`` is data channel ``c``;
with independent channels one network sees every channel in turn and the batch says which
(``channels``, a ``(B,)`` index tensor), so each patch gets its own channel's noise.

* ``curve`` (:class:`NoiseCurve`): a measured variance-against-signal curve, piecewise linear
  between calibration points; fits cameras whose noise is not affine (offsets, EMCCD gain,
  8-bit quantisation, saturation).
* ``affine`` (:class:`AffineNoise`): Poisson-Gaussian with an offset,
  ``var = max(a * x + b, floor)`` with ``b`` of either sign (a detector offset makes it negative).
* ``gaussian`` (:class:`LearnedGaussian`): one sigma per channel.
* ``gaussian-known`` (:class:`KnownGaussian`): a sigma the user gives.
* ``poisson-gaussian`` (:class:`PoissonGaussian`): ``a * x + b`` with ``a, b >= 0`` and the
  signal measured from zero, the model of napari-blindspot 0.1 (kept so its model files load).

``x``, the clean signal, is the network's prior mean, as in the paper.  The curve and affine
models are calibrated from the data before training (:mod:`.noise_estimate`) and kept fixed by
default; a per-channel gain ``exp(log_gain)`` on top of them is what fine-tuning learns.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ...normalization import Normalization

MIN_VARIANCE = 1e-6
#: Calibration points a curve holds (fewer are padded by repeating the last).
CURVE_POINTS = 24


def _inv_softplus(v: float) -> float:
    v = max(float(v), 1e-4)
    return v + math.log(-math.expm1(-v))


def per_pixel(p: torch.Tensor, mu: torch.Tensor, channels: torch.Tensor | None) -> torch.Tensor:
    """Broadcast per-data-channel values ``p (C_data, ...)`` over ``mu (B, C, *sp)``.

    ``channels`` (``(B,)`` data channel of each sample, independent channels) or None (the
    tensor's channel ``c`` is data channel ``c``; a single parameter set serves every channel).
    """
    extra = p.shape[1:]
    spatial = (1,) * (mu.ndim - 2)
    if channels is not None:
        return p[channels.to(p.device)].reshape((mu.shape[0], 1) + spatial + extra)
    if p.shape[0] == 1:
        return p.reshape((1, 1) + spatial + extra)
    return p[:mu.shape[1]].reshape((1, mu.shape[1]) + spatial + extra)


class NoiseModel(nn.Module):
    """Base class: ``variance(mu, channels)`` is ``sigma_n^2`` in normalised units, float32."""

    #: Whether the model has parameters that training may learn (see ``noise_fit``).
    learned = True

    def variance(self, mu: torch.Tensor, channels: torch.Tensor | None = None) -> torch.Tensor:
        raise NotImplementedError

    def in_units(self, normalization: Normalization) -> dict[str, float]:
        """A few numbers in the image's intensity units (progress lines, model summaries)."""
        raise NotImplementedError

    @property
    def sets(self) -> int:
        """Parameter sets: one per data channel (one for every channel in 0.1's files)."""
        raise NotImplementedError

    def curve(self, normalization: Normalization, signal: np.ndarray, channel: int = 0, *,
              posterior: bool = False) -> np.ndarray:
        """Noise variance (intensity units) of data channel ``channel`` at clean ``signal``
        values (intensity units), float64 ``(N,)``; ``posterior``: the posterior's (refitted) one."""
        c = min(channel, len(normalization.mean) - 1)
        m, s = normalization.mean[c], normalization.std[c]
        mu = torch.as_tensor((np.asarray(signal, np.float64) - m) / s, dtype=torch.float32).view(1, 1, -1)
        index = torch.tensor([min(channel, self.sets - 1)])
        with torch.no_grad():
            var = (self.posterior_variance if posterior else self.variance)(mu, index).reshape(-1)
        return var.double().cpu().numpy() * s * s

    def calibrate(self, calibrations: list[Any], normalization: Normalization) -> None:
        """Set the model from :class:`~.noise_estimate.NoiseCalibration` s, one per data channel."""

    def posterior_variance(self, mu: torch.Tensor, channels: torch.Tensor | None = None) -> torch.Tensor:
        """The noise variance the posterior uses: the training one, unless refitted after training
        (:meth:`NoiseCurve.refit`)."""
        return self.variance(mu, channels)


class _GainMixin:
    """A learnable per-channel gain on a calibrated variance (what fine-tuning adjusts)."""

    log_gain: nn.Parameter

    def gain(self, mu: torch.Tensor, channels: torch.Tensor | None) -> torch.Tensor:
        return torch.exp(per_pixel(self.log_gain.float(), mu, channels))


class KnownGaussian(NoiseModel):
    """Gaussian noise of a known sigma (intensity units): ``sigma / s_c`` per data channel."""

    learned = False

    def __init__(self, sigma: float, normalization_std: float | list[float] | tuple[float, ...],
                 channels: int = 1) -> None:
        super().__init__()
        std = torch.as_tensor(normalization_std, dtype=torch.float32).flatten()
        std = std.expand(channels) if std.numel() == 1 else std[:channels]
        self.register_buffer("sigma_n", float(sigma) / std.clone())

    @property
    def sets(self) -> int:
        return self.sigma_n.numel()

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):  # type: ignore[override]
        _expand_on_load(self, state_dict, prefix, ("sigma_n",))  # older files: one sigma for all
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def variance(self, mu: torch.Tensor, channels: torch.Tensor | None = None) -> torch.Tensor:
        return (per_pixel(self.sigma_n.float(), mu, channels) ** 2).expand_as(mu)

    def in_units(self, normalization: Normalization) -> dict[str, float]:
        s = self.sigma_n.detach().cpu()
        return _named("sigma", [float(s[c]) * normalization.std[min(c, len(normalization.std) - 1)]
                                for c in range(len(s))])


def _named(name: str, values: list[float]) -> dict[str, float]:
    return {name: values[0]} if len(values) == 1 else {f"{name}_c{c}": v for c, v in enumerate(values)}


def _expand_on_load(module: nn.Module, state_dict: dict, prefix: str, names: tuple[str, ...]) -> None:
    """Files of napari-blindspot 0.1 hold one set for all channels: repeat it for each."""
    for name in names:
        key = prefix + name
        own = getattr(module, name)
        if key in state_dict and state_dict[key].shape != own.shape and state_dict[key].numel() == 1:
            state_dict[key] = state_dict[key].reshape(1).expand(own.shape).clone()


class LearnedGaussian(NoiseModel):
    """Gaussian noise with one sigma per data channel (normalised units), calibrated or learned."""

    def __init__(self, channels: int, initial_sigma: float = 0.5) -> None:
        super().__init__()
        self.raw = nn.Parameter(torch.full((channels,), _inv_softplus(initial_sigma)))

    @property
    def sets(self) -> int:
        return self.raw.numel()

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):  # type: ignore[override]
        _expand_on_load(self, state_dict, prefix, ("raw",))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def sigma(self) -> torch.Tensor:
        return F.softplus(self.raw.float()) + 1e-4

    def variance(self, mu: torch.Tensor, channels: torch.Tensor | None = None) -> torch.Tensor:
        return (per_pixel(self.sigma(), mu, channels) ** 2).expand_as(mu)

    def initialize(self, estimates: list[dict[str, float]]) -> None:
        with torch.no_grad():
            self.raw.copy_(torch.tensor([_inv_softplus(e["sigma"]) for e in estimates]))

    def calibrate(self, calibrations: list[Any], normalization: Normalization) -> None:
        self.initialize([{"sigma": cal.sigma / normalization.std[c]} for c, cal in enumerate(calibrations)])

    def in_units(self, normalization: Normalization) -> dict[str, float]:
        s = self.sigma().detach().cpu()
        return _named("sigma", [float(s[c]) * normalization.std[min(c, len(normalization.std) - 1)]
                                for c in range(len(s))])


class PoissonGaussian(NoiseModel):
    """``sigma_n^2 = a * x + b`` with ``a, b >= 0`` and ``x`` measured from zero (0.1's model).

    ``offset`` is ``m_c / s_c`` per data channel: it turns the normalised mean back into a
    quantity proportional to the intensity.
    """

    def __init__(self, offset: torch.Tensor, initial_a: float = 0.05, initial_b: float = 0.05) -> None:
        super().__init__()
        channels = offset.numel()
        self.register_buffer("offset", offset.float().clone())
        self.raw_a = nn.Parameter(torch.full((channels,), _inv_softplus(initial_a)))
        self.raw_b = nn.Parameter(torch.full((channels,), _inv_softplus(initial_b)))

    @property
    def sets(self) -> int:
        return self.raw_a.numel()

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):  # type: ignore[override]
        _expand_on_load(self, state_dict, prefix, ("offset", "raw_a", "raw_b"))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def ab(self) -> tuple[torch.Tensor, torch.Tensor]:
        return F.softplus(self.raw_a.float()), F.softplus(self.raw_b.float())

    def initialize(self, estimates: list[dict[str, float]]) -> None:
        with torch.no_grad():
            self.raw_a.copy_(torch.tensor([_inv_softplus(e["a"]) for e in estimates]))
            self.raw_b.copy_(torch.tensor([_inv_softplus(e["b"]) for e in estimates]))

    def calibrate(self, calibrations: list[Any], normalization: Normalization) -> None:
        est = []
        for c, cal in enumerate(calibrations):
            s = normalization.std[c]
            a, b = cal.a, cal.b
            if b < 0:  # this model cannot hold an offset: the best fit through the origin
                w = np.asarray(cal.counts, np.float64)
                a, b = float(np.sum(w * cal.signal * cal.variance) / np.sum(w * cal.signal ** 2)), 0.0
            est.append({"a": a / s, "b": b / s ** 2})
        self.initialize(est)

    def variance(self, mu: torch.Tensor, channels: torch.Tensor | None = None) -> torch.Tensor:
        a, b = self.ab()
        signal = torch.clamp(mu.float() + per_pixel(self.offset.float(), mu, channels), min=0.0)
        return per_pixel(a, mu, channels) * signal + per_pixel(b, mu, channels)

    def in_units(self, normalization: Normalization) -> dict[str, float]:
        a, b = (t.detach().cpu() for t in self.ab())
        std = [normalization.std[min(c, len(normalization.std) - 1)] for c in range(len(a))]
        return {**_named("a", [float(a[c]) * std[c] for c in range(len(a))]),
                **_named("b", [float(b[c]) * std[c] ** 2 for c in range(len(a))])}


class _Calibrated(_GainMixin, NoiseModel):
    """Common part of the calibrated models: intensity-unit buffers and per-channel scales."""

    def __init__(self, normalization: Normalization | None, channels: int) -> None:
        super().__init__()
        mean = normalization.mean if normalization is not None else (0.0,) * channels
        std = normalization.std if normalization is not None else (1.0,) * channels
        self.register_buffer("norm_mean", torch.tensor(mean[:channels], dtype=torch.float32))
        self.register_buffer("norm_std", torch.tensor(std[:channels], dtype=torch.float32))
        self.register_buffer("floor", torch.full((channels,), MIN_VARIANCE))
        self.log_gain = nn.Parameter(torch.zeros(channels))

    @property
    def sets(self) -> int:
        return self.log_gain.numel()

    def _signal(self, mu: torch.Tensor, channels: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """The clean signal in intensity units and the channel's scale ``s`` (broadcast)."""
        s = per_pixel(self.norm_std.float(), mu, channels)
        return mu.float() * s + per_pixel(self.norm_mean.float(), mu, channels), s

    def _normalised(self, var: torch.Tensor, mu: torch.Tensor, s: torch.Tensor,
                    channels: torch.Tensor | None) -> torch.Tensor:
        var = torch.maximum(var, per_pixel(self.floor.float(), mu, channels))
        return var * self.gain(mu, channels) / (s * s)


class AffineNoise(_Calibrated):
    """Poisson-Gaussian noise with an offset: ``var = max(a * x + b, floor)`` (intensity units)."""

    def __init__(self, normalization: Normalization | None, channels: int) -> None:
        super().__init__(normalization, channels)
        self.register_buffer("a", torch.zeros(channels))
        self.register_buffer("b", torch.ones(channels))

    def calibrate(self, calibrations: list[Any], normalization: Normalization) -> None:
        with torch.no_grad():
            for c, cal in enumerate(calibrations):
                self.a[c], self.b[c], self.floor[c] = cal.a, cal.b, cal.floor

    def variance(self, mu: torch.Tensor, channels: torch.Tensor | None = None) -> torch.Tensor:
        x, s = self._signal(mu, channels)
        var = per_pixel(self.a.float(), mu, channels) * x + per_pixel(self.b.float(), mu, channels)
        return self._normalised(var, mu, s, channels)

    def in_units(self, normalization: Normalization) -> dict[str, float]:
        g = torch.exp(self.log_gain.detach().cpu())
        out: dict[str, float] = {}
        for c in range(len(g)):
            sfx = "" if len(g) == 1 else f"_c{c}"
            out[f"a{sfx}"] = float(self.a[c] * g[c])
            out[f"b{sfx}"] = float(self.b[c] * g[c])
        return out


class NoiseCurve(_Calibrated):
    """A measured noise curve: variance piecewise linear in the signal between calibration
    points (intensity units), constant below the first point, rising with the last segment's
    slope (never falling) above the last one."""

    def __init__(self, normalization: Normalization | None, channels: int,
                 points: int = CURVE_POINTS) -> None:
        super().__init__(normalization, channels)
        self.register_buffer("knots", torch.arange(points, dtype=torch.float32).repeat(channels, 1))
        self.register_buffer("values", torch.ones(channels, points))
        #: the posterior's curve on the same knots: the training curve, or its refit
        self.register_buffer("post_values", torch.ones(channels, points))

    def calibrate(self, calibrations: list[Any], normalization: Normalization) -> None:
        k = self.knots.shape[1]
        with torch.no_grad():
            for c, cal in enumerate(calibrations):
                x, v = np.asarray(cal.signal, np.float64), np.asarray(cal.variance, np.float64)
                if len(x) > k:  # resample onto k points spread like the calibration's own
                    pos = np.linspace(0, len(x) - 1, k)
                    x, v = np.interp(pos, np.arange(len(x)), x), np.interp(pos, np.arange(len(x)), v)
                pad = k - len(x)
                xs = np.concatenate([x, x[-1] + np.arange(1, pad + 1) * max(1e-6, abs(x[-1]) * 1e-6)])
                vs = np.concatenate([v, np.full(pad, v[-1])])
                self.knots[c] = torch.as_tensor(xs, dtype=torch.float32)
                self.values[c] = torch.as_tensor(vs, dtype=torch.float32)
                self.floor[c] = cal.floor
            self.post_values.copy_(self.values)

    def refit(self, calibrations: list[Any]) -> None:
        """Set the posterior's curve from refitted calibrations (intensity units), per channel,
        resampled onto the training curve's points."""
        with torch.no_grad():
            for c, cal in enumerate(calibrations):
                knots = self.knots[c].double().cpu().numpy()
                values = np.interp(knots, np.asarray(cal.signal), np.asarray(cal.variance))
                self.post_values[c] = torch.as_tensor(values, dtype=torch.float32)

    @property
    def refitted(self) -> bool:
        return not torch.equal(self.post_values, self.values)

    def posterior_variance(self, mu: torch.Tensor, channels: torch.Tensor | None = None) -> torch.Tensor:
        if not self.refitted:
            return self.variance(mu, channels)
        return self.variance(mu, channels, table=self.post_values)

    def variance(self, mu: torch.Tensor, channels: torch.Tensor | None = None, *,
                 table: torch.Tensor | None = None) -> torch.Tensor:
        x, s = self._signal(mu, channels)
        table = self.values if table is None else table
        if channels is None and self.knots.shape[0] > 1:
            parts = [self._interp(x[:, c:c + 1], c, table) for c in range(x.shape[1])]
            var = torch.cat(parts, dim=1)
        elif channels is None:
            var = self._interp(x, 0, table)
        else:
            var = torch.empty_like(x)
            for c in torch.unique(channels).tolist():
                sel = (channels == c).to(x.device)
                var[sel] = self._interp(x[sel], int(c), table)
        return self._normalised(var, mu, s, channels)

    def _interp(self, x: torch.Tensor, c: int, table: torch.Tensor) -> torch.Tensor:
        knots, values = self.knots[c].float(), table[c].float()
        i = torch.clamp(torch.searchsorted(knots, x.contiguous()) - 1, 0, len(knots) - 2)
        x0, x1, v0, v1 = knots[i], knots[i + 1], values[i], values[i + 1]
        t = (x - x0) / torch.clamp(x1 - x0, min=1e-12)
        top = t > 1  # above the last point: the last slope, never falling
        t = torch.where(top, 1 + (t - 1) * (v1 >= v0).float(), torch.clamp(t, min=0.0))
        return v0 + t * (v1 - v0)

    def in_units(self, normalization: Normalization) -> dict[str, float]:
        g = torch.exp(self.log_gain.detach().cpu())
        out: dict[str, float] = {}
        for c in range(len(g)):
            sfx = "" if len(g) == 1 else f"_c{c}"
            values = self.values[c].detach().cpu() * g[c]
            out[f"var_min{sfx}"], out[f"var_max{sfx}"] = float(values.min()), float(values.max())
        return out


NOISE_MODELS = {"curve": NoiseCurve, "affine": AffineNoise, "gaussian": LearnedGaussian,
                "gaussian-known": KnownGaussian, "poisson-gaussian": PoissonGaussian}


def build_noise_model(kind: str, channels: int, normalization: Normalization | None,
                      sigma: float | None) -> NoiseModel | None:
    """The noise model named ``kind`` with ``channels`` parameter sets (``None`` for the
    mean-only ablation).  ``normalization`` (the data's, one entry per data channel) may be None
    when only the parameter shapes matter."""
    if kind == "mean-only":
        return None
    if kind not in NOISE_MODELS:
        raise ValueError(f"unknown noise model {kind!r}")
    if normalization is not None and len(normalization.mean) < channels:
        raise ValueError("the normalisation has fewer channels than the noise model")
    if kind == "gaussian-known":
        std = list(normalization.std[:channels]) if normalization is not None else [1.0]
        return KnownGaussian(float(sigma), std, channels)
    if kind == "gaussian":
        return LearnedGaussian(channels)
    if kind == "poisson-gaussian":
        offset = (torch.zeros(channels) if normalization is None else torch.tensor(
            [m / s for m, s in zip(normalization.mean[:channels], normalization.std[:channels])]))
        return PoissonGaussian(offset)
    return NOISE_MODELS[kind](normalization, channels)
