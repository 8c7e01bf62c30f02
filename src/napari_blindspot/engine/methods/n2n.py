"""Noise2Noise: a U-Net maps one noisy acquisition of a scene to a second, independent one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import DataError
from ..nets.per_channel import build_per_channel, channels_summed
from ..nets.unet import UNet
from .base import Method

if TYPE_CHECKING:  # pragma: no cover
    from ..config import TrainConfig
    from ..normalization import Normalization


class Noise2Noise(Method):
    """Noise2Noise: L2 between the prediction from one acquisition and the other."""

    name = "n2n"
    display_name = "Noise2Noise"
    tagline = "Needs a second, independent acquisition of the same scene."
    help = ("Noise2Noise (Lehtinen et al. 2018): needs two independent noisy acquisitions of "
            "the same scene; learns to map one to the other.")
    citations = (("Lehtinen, J., Munkberg, J., Hasselgren, J., Laine, S., Karras, T., Aittala, M., "
                  "Aila, T. Noise2Noise: Learning Image Restoration without Clean Data. ICML 2018.",
                  "https://arxiv.org/abs/1803.04189"),)
    defaults = {"batch_size": 8}
    cpu_3d_defaults = {"batch_size": 2}
    n_views = 2
    struct_mask_refusal = ("it trains against a second acquisition, whose stripes are independent "
                           "of the input's, so it needs no mask")

    def network_summary(self) -> str:
        return "maps one noisy acquisition to a second independent one"

    @classmethod
    def check_inputs(cls, data: Any, target: Any) -> None:
        if target is None:
            raise DataError("Noise2Noise needs a second, independent acquisition of the same scene "
                            "(the target); pick one, or use N2V2 or HQ-SSL for a single image.")
        if target is data:
            raise DataError("Noise2Noise needs a second, independent acquisition of the same scene, "
                            "not the image itself as the target: pick another acquisition.")
        if tuple(target.shape) != tuple(data.shape):
            raise DataError(f"Noise2Noise needs two acquisitions of the same shape, got "
                            f"{tuple(data.shape)} and {tuple(target.shape)}.")

    def build(self, config: TrainConfig, channels: int, ndim: int,
              normalization: Normalization | None = None) -> nn.Module:
        def make(c: int) -> nn.Module:
            return UNet(c, c, depth=config.unet_depth, features=config.unet_features, ndim=ndim,
                        batch_norm=True, blurpool=False, top_skip=True, residual=True)

        if config.channels == "separate" and channels > 1:  # one network per channel
            return build_per_channel(lambda: make(1), channels)
        return make(channels)

    def loss(self, net: nn.Module, batch: torch.Tensor, generator: torch.Generator,
             channels: torch.Tensor | None = None) -> torch.Tensor:
        a, b = batch[0], batch[1]
        if torch.rand((), generator=generator).item() < 0.5:
            a, b = b, a
        return channels_summed(F.mse_loss(net(a).float(), b.float()), net)
