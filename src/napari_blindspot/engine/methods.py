"""One small object per denoising method: build its network, compute a batch loss, denoise.

All tensors here are in normalised intensity units, shape ``(B, C, *spatial)``.
A new method is one :class:`Method` subclass registered in :data:`METHODS`;
training, tiling, model files, CLI and widget need no change for it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .axes import CanonicalView
from .config import TrainConfig
from .masking import apply_mask, masked_mse
from .normalization import Normalization
from .nets.unet import UNet


class Method:
    """Interface of a denoising method."""

    name = ""
    #: Number of aligned arrays a training batch holds (2 for Noise2Noise).
    n_views = 1
    #: Whether prediction also returns a per-pixel posterior standard deviation.
    has_uncertainty = False
    #: How prediction pads images to the network's size multiple (``"reflect"`` or ``"zeros"``).
    pad_mode = "reflect"

    def build(self, config: TrainConfig, channels: int, ndim: int,
              normalization: Normalization | None = None) -> nn.Module:
        """The network for ``channels`` channels in ``ndim`` spatial dimensions.

        ``normalization`` (the training data's statistics) lets noise models express
        user-given noise levels in normalised units; it is None when loading a file.
        """
        raise NotImplementedError

    def calibrate(self, net: nn.Module, view: CanonicalView, normalization: Normalization,
                  independent_channels: bool, reference: CanonicalView | None = None) -> list:
        """Data-driven initialisation before training (e.g. noise levels); returns what was
        measured (stored with the model), default nothing.  ``reference``: a second acquisition."""
        return []

    def before_step(self, net: nn.Module, progress: float) -> None:
        """Called before every training step with the progress in [0, 1]; default nothing."""

    def param_groups(self, net: nn.Module, lr: float) -> list[dict]:
        """Optimizer parameter groups (each with its ``lr_scale``)."""
        return [{"params": list(net.parameters()), "lr_scale": 1.0}]

    def loss(self, net: nn.Module, batch: torch.Tensor, generator: torch.Generator,
             channels: torch.Tensor | None = None) -> torch.Tensor:
        """Scalar loss of ``batch`` ``(V, B, C, *sp)``; randomness only from ``generator``.

        ``channels`` ``(B,)``: the data channel of each patch with independent channels, else None.
        """
        raise NotImplementedError

    def infer(self, net: nn.Module, x: torch.Tensor,
              channels: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Denoise ``x``: ``{"denoised": ..., ["std": ...]}``, same shape as ``x``."""
        return {"denoised": net(x)}

    def noise_parameters(self, net: nn.Module, normalization: Normalization) -> dict[str, float]:
        """Learned noise parameters in the image's intensity units (empty if none)."""
        return {}

    def size_multiple(self, config: TrainConfig) -> int:
        """Spatial sizes the network needs (it pads internally, tiles are aligned to this)."""
        return 2 ** config.unet_depth

    def receptive_radius(self, config: TrainConfig) -> int:
        """Pixels of context each output pixel depends on (bounds the tile overlap)."""
        d = config.unet_depth
        # two 3x3 convs per level down and up, at scale 2**level, plus pooling/blur
        return int(2 * sum(2 ** lvl for lvl in range(d)) * 2 + 2 * 2 ** d + 2 * 2 ** d)


class Noise2Void(Method):
    """Noise2Void: uniform random neighbour replacement, max-pool U-Net, residual output."""

    name = "n2v"
    replacement = "random"

    def build(self, config: TrainConfig, channels: int, ndim: int,
              normalization: Normalization | None = None) -> nn.Module:
        return UNet(channels, channels, depth=config.unet_depth, features=config.unet_features,
                    ndim=ndim, batch_norm=True, blurpool=False, top_skip=True, residual=True)

    def __init__(self, config: TrainConfig) -> None:
        self.fraction = config.mask_fraction
        self.radius = config.mask_radius

    def loss(self, net: nn.Module, batch: torch.Tensor, generator: torch.Generator,
             channels: torch.Tensor | None = None) -> torch.Tensor:
        x = batch[0]
        masked, coords = apply_mask(x, self.fraction, self.radius, self.replacement, generator)
        return masked_mse(net(masked), x, coords)


class N2V2(Noise2Void):
    """N2V2: median replacement, BlurPool, no top-level skip, no residual output."""

    name = "n2v2"
    replacement = "median"

    def build(self, config: TrainConfig, channels: int, ndim: int,
              normalization: Normalization | None = None) -> nn.Module:
        return UNet(channels, channels, depth=config.unet_depth, features=config.unet_features,
                    ndim=ndim, batch_norm=True, blurpool=True, top_skip=False, residual=False)


class Noise2Noise(Method):
    """Noise2Noise: L2 between the prediction from one acquisition and the other."""

    name = "n2n"
    n_views = 2

    def __init__(self, config: TrainConfig) -> None:
        pass

    def build(self, config: TrainConfig, channels: int, ndim: int,
              normalization: Normalization | None = None) -> nn.Module:
        return UNet(channels, channels, depth=config.unet_depth, features=config.unet_features,
                    ndim=ndim, batch_norm=True, blurpool=False, top_skip=True, residual=True)

    def loss(self, net: nn.Module, batch: torch.Tensor, generator: torch.Generator,
             channels: torch.Tensor | None = None) -> torch.Tensor:
        a, b = batch[0], batch[1]
        if torch.rand((), generator=generator).item() < 0.5:
            a, b = b, a
        return F.mse_loss(net(a).float(), b.float())


def _registry() -> dict[str, type[Method]]:
    from .hqssl import HQSSL

    return {"n2v": Noise2Void, "n2v2": N2V2, "n2n": Noise2Noise, "hqssl": HQSSL}


def get_method(config: TrainConfig) -> Method:
    """The :class:`Method` object for ``config.method``."""
    return _registry()[config.method](config)
