"""HQ-SSL as a method: blind-spot prior network + noise model + Bayesian posterior mean.

The network predicts, per pixel, the prior mean ``mu`` and (a factor of) the prior
covariance of the clean signal from the surroundings only.  Training maximises the
likelihood of the noisy pixel itself, ``y ~ N(mu, Sigma_x + Sigma_n)``, so every
pixel trains the network; the denoised value is the posterior mean of the clean
signal given both the prior and ``y``.

The likelihood only sees ``Sigma_x + Sigma_n``: too little noise costs it nothing (the prior
variance takes up the rest), so a noise level learned with the network slides down.  The noise
is therefore measured from the data before training (:mod:`.noise_estimate`) and kept fixed by
during training; ``noise_fit="auto"`` (the default) then measures it again with the trained prior
and keeps that refit only where the image calibration was inflated by thin structure
(:mod:`..noise_fit_choice`), ``"refit"`` always keeps it, ``"fixed"`` never; ``"fine-tune"`` learns a per-channel gain once the prior has
settled (the second half of training) and ``"joint"`` learns the noise from the start, as the
paper does, both with the paper's regulariser pushing the noise up, here on ``log sigma_n`` so
that its strength does not depend on the data's units.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ...axes import CanonicalView
from ...errors import ConfigError, DataError
from .blindspot import BlindSpotUNet
from ...nets.per_channel import build_per_channel, channels_summed
from .noise import KnownGaussian, build_noise_model
from .noise_estimate import NoiseCalibration, calibrate_image, calibrate_repeats
from . import noise_fit_choice
from .noise_fit_choice import keep_refit, training_curve
from .noise_refit import refit_channel
from .network import HQSSLNet, float32_maths  # noqa: F401 (HQSSLNet: re-exported)
from .prior_weights import blend_with_prior, load_prior
from .posterior import nll_diagonal, nll_full
from ..base import Method, Setting

if TYPE_CHECKING:  # pragma: no cover
    from ...config import TrainConfig
    from ...normalization import Normalization

log = logging.getLogger(__name__)

#: Strength of the regulariser ``-REGULARIZER * log(sigma_n)`` on the NLL (learned noise only).
REGULARIZER = 0.02
NOISE_LR_SCALE = 10.0
#: A network that starts from the trained prior is fine-tuned at this share of the learning rate
#: (of the rate for random weights): the full rate undoes much of what the prior knows (issue
#: 22: 5e-4 against 2e-3, 500 steps, three seeds: +0.43, +0.20, 0.00 dB on unseen stress fibres,
#: Set12 +0.02, FMD +0.01; docs/fine_structures.md, "The fourth round")...
PRIOR_LR_SCALE = 0.25
#: ...and its weights end as this share of the fine-tuned ones plus the rest of the prior's
#: (:func:`.prior_weights.blend_with_prior`; docs/fine_structures.md, "The seventh round").
PRIOR_KEEP = 0.8
#: ``noise_fit="fine-tune"`` learns the noise gain from this share of the training on.
FINE_TUNE_FROM = 0.5
#: Frames (2D samples, or the middle slice of volumes) the noise is measured on, per channel.
CALIBRATION_FRAMES = 8
#: Repeated acquisitions of a still scene read for ``noise_calibration="repeats"``.
MAX_REPEATS = 32

#: The values of HQ-SSL's settings that take one of a few names.
NOISE_MODELS = ("curve", "affine", "gaussian", "gaussian-known", "poisson-gaussian", "mean-only")
NOISE_FITS = ("auto", "fixed", "fine-tune", "joint", "refit")
NOISE_CALIBRATIONS = ("image", "repeats", "pair")
#: How front ends name the noise models.
NOISE_MODEL_LABELS = (
    ("curve", "measured curve (any camera)"),
    ("affine", "Poisson-Gaussian with offset"),
    ("gaussian", "Gaussian (one sigma)"),
    ("gaussian-known", "Gaussian, known sigma"),
    ("poisson-gaussian", "Poisson-Gaussian, no offset (0.1)"),
    ("mean-only", "none (mean only)"),
)
NOISE_FIT_LABELS = (
    ("auto", "measured, refit if structure inflated it"),
    ("fixed", "measured, kept fixed"),
    ("fine-tune", "measured, then fine-tuned"),
    ("joint", "learned with the network"),
    ("refit", "measured, refit after training"),
)
WARM_START_LABELS = (("prior", "a trained prior (where it fits)"), ("none", "random weights"))
NOISE_CALIBRATION_LABELS = (
    ("image", "the image itself"),
    ("repeats", "repeats of a still scene (T)"),
    ("pair", "a second acquisition"),
)


class HQSSL(Method):
    """High-Quality Self-Supervised denoising (Laine et al. 2019)."""

    #: This run's network started from the prior (or continues a model that did): it trains at
    #: :data:`PRIOR_LR_SCALE` of the rate (:meth:`param_groups`).
    from_prior: bool = False
    #: This run started from the prior (not a resumed one): :meth:`finish` blends it back in.
    blend_prior: bool = False

    name = "hqssl"
    display_name = "HQ-SSL"
    tagline = "Best for camera noise; every pixel trains; gives an uncertainty map."
    help = ("HQ-SSL (Laine et al. 2019): blind-spot network with a noise model measured from the "
            "data and a Bayesian posterior mean; every pixel trains the network. Best quality for "
            "camera noise that is independent from pixel to pixel; also gives an uncertainty map.")
    #: HQ-SSL trains on every pixel of a patch, so small batches suffice.  On two CPU cores,
    #: one 128x128 patch per step (the network reaches 75 pixels into its half-plane at depth 3,
    #: past a 64x64 patch) at a learning rate of 2e-3 gave 0.3-0.5 dB more on FMD frames than
    #: four 64x64 patches at 1e-3, at the same cost per step (docs/benchmarks.md).
    defaults = {"batch_size": 1, "patch_size": 128, "learning_rate": 2e-3}
    #: On a GPU: the paper's network (48 features, 5 levels) on four 256x256 patches at the
    #: paper's learning rate, 3e-4: the CPU's 2e-3 made that network diverge on a real
    #: 512x512 confocal image at step 374 (loss ~1e21); a run that still diverges goes back
    #: to its best weights at half the rate (:mod:`..divergence`).
    gpu_defaults = {"hq_features": 48, "hq_depth": 5, "patch_size": 256, "batch_size": 4,
                    "learning_rate": 3e-4}
    #: 3D on a CPU: one 16x64x64 patch (six half-space branches per step).
    cpu_3d_defaults = {"patch_size": 64, "patch_size_z": 16, "batch_size": 1}
    network_size = ("hq_features", "hq_depth")
    settings = (
        Setting("noise_model", "Noise model", "the noise model: a curve of noise variance against "
                "brightness measured from the data (any camera), Poisson-Gaussian with an offset, "
                "or Gaussian for constant noise", kind="choice", flag="--noise-model",
                labels=NOISE_MODEL_LABELS, default="curve", choices=NOISE_MODELS),
        Setting("noise_fit", "Noise in training", "how training treats the measured noise: kept "
                "fixed, then refit with the trained prior where thin structure had inflated the "
                "measurement (auto), kept fixed (the likelihood cannot learn it), fine-tuned in "
                "the second half, learned with the network (the paper's way), or refit after training with the trained "
                "prior (curve model)", kind="choice", flag="--noise-fit",
                labels=NOISE_FIT_LABELS, default="auto", choices=NOISE_FITS),
        Setting("noise_calibration", "Measure noise on", "what the noise is measured on: the image "
                "itself, repeated acquisitions of a still scene along the sample axis, or a second "
                "acquisition (--noise-from)", kind="choice", flag="--noise-calibration",
                labels=NOISE_CALIBRATION_LABELS, default="image", choices=NOISE_CALIBRATIONS),
        Setting("warm_start", "Start from", "the network's starting weights: a prior trained ahead "
                "of time on synthetic fluorescence-like images and natural pictures and "
                "fine-tuned on yours at a quarter of the learning rate (the CPU network, 2D, one "
                "channel per network; benchmarks/prior_training.py), "
                "or random weights",
                kind="choice", flag="--warm-start", labels=WARM_START_LABELS, default="prior",
                choices=("prior", "none")),
        Setting("noise_sigma", "Noise sigma", "the known Gaussian noise standard deviation, in the "
                "image's intensity units", kind="optional-float", flag="--noise-sigma",
                only_if=("noise_model", "gaussian-known"), placeholder="sigma, in image units"),
    )
    citations = (("Laine, S., Karras, T., Lehtinen, J., Aila, T. High-Quality Self-Supervised Deep "
                  "Image Denoising. NeurIPS 2019.", "https://arxiv.org/abs/1901.10277"),)
    gives_uncertainty = True
    struct_mask_refusal = ("its shifted-convolution network and per-pixel noise model are not "
                           "built for structured noise (docs/struct_n2v.md); train with N2V2 "
                           "(method n2v2) and the struct mask instead")
    #: Reflect padding would show a pixel near the bottom/right border its own value
    #: through its mirror image and break the blind spot; zeros keep it (as the network does).
    pad_mode = "zeros"

    @classmethod
    def network_fields(cls, config: TrainConfig) -> tuple[str, ...]:
        known = ("noise_sigma",) if config.noise_model == "gaussian-known" else ()
        return super().network_fields(config) + ("noise_model",) + known

    @classmethod
    def check_noise_reference(cls, config: TrainConfig, data: Any, reference: Any) -> None:
        if config.noise_calibration != "pair":
            super().check_noise_reference(config, data, reference)
            return
        if reference is None:
            raise DataError("noise_calibration='pair' measures the noise against a second acquisition of "
                            "the same scene: give one (noise_reference), or calibrate from the image.")
        if tuple(reference.shape) != tuple(data.shape):
            raise DataError(f"The second acquisition for the noise calibration has shape "
                            f"{tuple(reference.shape)}, the image {tuple(data.shape)}: they must match.")

    @property
    def has_uncertainty(self) -> bool:
        return self.config.noise_model != "mean-only"

    def network_summary(self) -> str:
        if self.config.noise_model == "mean-only":
            return "outputs the blind-spot network's prior mean (mean-only ablation, no noise model)"
        return ("outputs the Bayesian posterior mean of the clean image given a blind-spot prior "
                "network and the noise model of the training data, and the posterior standard "
                "deviation as a second output ('uncertainty')")

    @property
    def parameters_heading(self) -> str:
        return "Measured noise" if self.config.noise_fit in ("fixed", "auto") else "Learned noise"

    def describe_parameters(self, parameters: dict[str, float]) -> str:
        if self.config.noise_model == "curve" and parameters:
            lows = [v for k, v in parameters.items() if k.startswith("var_min")]
            highs = [v for k, v in parameters.items() if k.startswith("var_max")]
            return f"variance {min(lows):.3g} to {max(highs):.3g} across the brightness (a curve)"
        text = super().describe_parameters(parameters)
        if text and self.config.noise_model in ("poisson-gaussian", "affine"):
            text += " (variance = a · signal + b)"
        return text

    def build(self, config: TrainConfig, channels: int, ndim: int,
              normalization: Normalization | None = None) -> nn.Module:
        mean_only = config.noise_model == "mean-only"
        separate = config.channels == "separate" and channels > 1
        if separate:  # one single-channel network per channel, each with a noise parameter set
            net: nn.Module = build_per_channel(lambda: BlindSpotUNet(
                1, 1 if mean_only else 2, depth=config.hq_depth, features=config.hq_features,
                ndim=ndim), channels)
        else:
            k = channels if mean_only else channels + channels * (channels + 1) // 2
            net = BlindSpotUNet(channels, k, depth=config.hq_depth, features=config.hq_features, ndim=ndim)
        sets = len(normalization.mean) if normalization is not None else channels
        noise = build_noise_model(config.noise_model, sets, normalization, config.noise_sigma)
        return HQSSLNet(net, noise, channels, diagonal=separate)

    def start_weights(self, net: nn.Module) -> str:
        """The shipped prior (:mod:`.prior_weights`) in every network it fits, unless
        ``warm_start="none"``."""
        if self.config.warm_start != "prior":
            return ""
        n = load_prior(net)
        self.from_prior = self.blend_prior = n > 0
        if not n:
            return ""
        blend = f", then blended with it ({PRIOR_KEEP:g} fine-tuned weights)" if PRIOR_KEEP < 1 else ""
        return ("started from the trained prior" + (f" ({n} networks)" if n > 1 else "")
                + self._rate_note() + blend)

    def continue_weights(self, info: dict[str, Any]) -> str:
        """A model that started from the prior goes on at :data:`PRIOR_LR_SCALE` of the rate."""
        self.from_prior = bool(info.get("warm_start"))
        if not self.from_prior:
            return ""
        return "come from a model that started from the trained prior" + self._rate_note()

    def _rate_note(self) -> str:
        return (f", fine-tuned at a learning rate of {PRIOR_LR_SCALE * self.config.learning_rate:.2g}"
                f" ({PRIOR_LR_SCALE:g}x the rate set)")

    def size_multiple(self, config: TrainConfig) -> int:
        return 2 ** config.hq_depth

    def receptive_radius(self, config: TrainConfig) -> int:
        # Reach of a branch towards its half-plane: shifted 3x3 convs, shifted poolings and
        # nearest upsampling add up to 5 * (2**(depth+1) - 1) pixels (15, 35, 75, 155 for
        # depth 1..4; checked against the network's exact gradients in the tests).
        return int(5 * (2 ** (config.hq_depth + 1) - 1))

    def calibrate(self, net: nn.Module, view: CanonicalView, normalization: Normalization,
                  independent_channels: bool, reference: CanonicalView | None = None
                  ) -> list[NoiseCalibration]:
        """Measure the noise of every data channel and set the noise model from it.

        ``config.noise_calibration``: ``"image"`` (the noisy frames themselves), ``"repeats"``
        (the samples are repeated acquisitions of a still scene) or ``"pair"`` (``reference``
        is a second acquisition of the same scene).  Returns the calibrations (intensity units)."""
        if net.noise is None or isinstance(net.noise, KnownGaussian):
            return []
        if self.config.noise_fit == "refit" and not net.diagonal:  # "auto" keeps the calibration
            raise DataError("noise_fit='refit' re-splits the variance of one channel at a time: train "
                            "with independent or separate channels, or keep the noise fixed.")
        how = self.config.noise_calibration
        views = [view] if isinstance(view, CanonicalView) else list(view)
        if len(views) > 1 and how != "image":
            raise ConfigError(f"noise_calibration={how!r} measures the noise on one image's repeated "
                              "acquisitions; to train on several images use 'image'.")
        view = views[0]
        dtype = np.dtype(getattr(view.data, "dtype", np.float32))
        # several images are pooled: their frames share out CALIBRATION_FRAMES
        per_view = max(1, CALIBRATION_FRAMES // len(views))
        picks = [np.unique(np.linspace(0, v.n_samples - 1, min(v.n_samples, per_view))
                           .round().astype(int)) for v in views]
        cals = []
        clip = normalization.clip  # bright sparse spots: measured below their level, as trained
        for c in range(view.n_channels):
            if how == "repeats":
                repeats = np.unique(np.linspace(0, view.n_samples - 1, min(view.n_samples, MAX_REPEATS))
                                    .round().astype(int))
                stack = np.stack([clip(view.read(int(s))[c:c + 1], c)[0] for s in repeats])
                cal = calibrate_repeats(stack, dtype=dtype)
            elif how == "pair":
                assert reference is not None
                stack = np.stack([np.stack([clip(v.read(int(s))[c:c + 1], c)[0] for s in picks[0]])
                                  for v in (view, reference)])
                cal = calibrate_repeats(stack, dtype=dtype)
            else:
                frames = [_middle_slice(clip(v.read(int(s))[c:c + 1], c)[0])
                          for v, ps in zip(views, picks) for s in ps]
                cal = calibrate_image(frames, dtype=dtype)
            cals.append(cal)
        net.noise.calibrate(cals, normalization)
        for cal in cals:
            for warning in cal.warnings:
                log.warning("noise calibration: %s", warning)
        return cals

    def finish(self, net: nn.Module, view: CanonicalView, normalization: Normalization,
               independent_channels: bool) -> list[NoiseCalibration]:
        """``noise_fit="refit"``: measure the noise again with the trained prior
        (:mod:`..noise_refit`) and let the posterior use it; ``"auto"``: the same, kept only for
        the channels whose image calibration structure had inflated (:mod:`..noise_fit_choice`;
        the curve model, one channel per prior, calibration on the image).  Returns the refits
        the posterior uses.  First, a network that started from the prior is blended with it
        (:data:`PRIOR_KEEP`)."""
        if self.blend_prior:
            blend_with_prior(net, PRIOR_KEEP)
        fit = self.config.noise_fit
        if fit not in ("refit", "auto") or net.noise is None or not hasattr(net.noise, "refit"):
            return []
        if fit == "auto" and (not net.diagonal or self.config.noise_calibration != "image"):
            return []
        cals = [refit_channel(net, view, normalization, c, independent_channels)
                for c in range(view.n_channels)]
        keep = [cal.signal.size > 0 for cal in cals]  # an image too small to bin keeps its calibration
        if fit == "auto":
            for c, cal in enumerate(cals):
                if not keep[c]:
                    continue
                before = training_curve(net.noise.knots[c].cpu().numpy(),
                                        net.noise.values[c].cpu().numpy(), float(net.noise.floor[c]))
                keep[c], ratio = keep_refit(before, cal)
                log.info("noise fit (auto), channel %d: calibration / refit %.2f (rule %s): %s",
                         c, ratio, noise_fit_choice.RULE, "refit kept" if keep[c] else "calibration kept")
        if not any(keep):
            return []
        net.noise.refit(cals)
        with torch.no_grad():
            for c, k in enumerate(keep):
                if not k:
                    net.noise.post_values[c] = net.noise.values[c]
        return [cal for cal, k in zip(cals, keep) if k]

    def param_groups(self, net: nn.Module, lr: float) -> list[dict]:
        """The network's parameters (at :data:`PRIOR_LR_SCALE` of the rate when it started from
        the prior); the noise's too (``NOISE_LR_SCALE`` times faster) unless the noise is kept
        fixed."""
        scale = PRIOR_LR_SCALE if self.from_prior else 1.0
        groups = [{"params": list(net.net.parameters()), "lr_scale": scale}]
        noise_params = list(net.noise.parameters()) if net.noise is not None else []
        for p in noise_params:
            p.requires_grad_(self.config.noise_fit == "joint")
        if noise_params and self.config.noise_fit not in ("fixed", "auto"):
            groups.append({"params": noise_params, "lr_scale": NOISE_LR_SCALE})
        return groups

    def before_step(self, net: nn.Module, progress: float) -> None:
        """Fine-tuning: the noise gain learns from :data:`FINE_TUNE_FROM` of the training on."""
        if net.noise is not None and self.config.noise_fit == "fine-tune":
            for p in net.noise.parameters():
                p.requires_grad_(progress >= FINE_TUNE_FROM)

    # ------------------------------------------------------------------
    def loss(self, net: nn.Module, batch: torch.Tensor, generator: torch.Generator,
             channels: torch.Tensor | None = None) -> torch.Tensor:
        y = batch[0].float()
        if net.noise is None:  # mean-only ablation: L2 to the noisy pixel itself
            return channels_summed(F.mse_loss(net(y).float(), y), net)
        mu, prior = net.prior(y)
        with float32_maths(y):
            var_n = net.noise.variance(mu, channels)
            if net.diagonal:
                nll = nll_diagonal(y, mu, prior, var_n)
            else:
                nll = nll_full(y, mu, prior, var_n)
            loss = nll.mean()
            if any(p.requires_grad for p in net.noise.parameters()):
                loss = loss - REGULARIZER * 0.5 * torch.log(var_n).mean()
        return channels_summed(loss, net)

    def infer(self, net: nn.Module, x: torch.Tensor,
              channels: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        y = x.float()
        if net.noise is None:
            return {"denoised": net(y).float()}
        mu, prior = net.prior(y)
        return net.posterior(y, mu, prior, channels)

    @classmethod
    def shares_tta(cls, config: TrainConfig) -> bool:
        return not config.train_3d and config.noise_model != "mean-only"

    def infer_tta(self, net: nn.Module, x: torch.Tensor, transforms: tuple[tuple[int, bool], ...],
                  channels: torch.Tensor | None = None) -> dict[str, torch.Tensor] | None:
        """:meth:`.HQSSLNet.tta_posterior`: one blind-spot pass per mirror state."""
        return net.tta_posterior(x.float(), transforms, channels) if net.noise is not None else None

    def noise_parameters(self, net: nn.Module, normalization: Normalization) -> dict[str, float]:
        if net.noise is None:
            return {}
        return net.noise.in_units(normalization)


def _middle_slice(block: np.ndarray) -> np.ndarray:
    """A 2D frame of a ``([Z,] Y, X)`` block: itself, or the middle Z slice of a volume."""
    return block if block.ndim == 2 else block[block.shape[0] // 2]
