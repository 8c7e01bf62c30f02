"""The Noise2Void family: masked blind-spot training of a U-Net (N2V and N2V2)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from ...errors import ConfigError
from .masking import apply_mask, masked_mse, window_offsets
from ...nets.per_channel import build_per_channel, channels_summed
from ...nets.unet import UNet
from .struct_mask import (DEFAULT_STRUCT_SPAN, MAX_STRUCT_SIZE, STRUCT_MASK_NAMES, struct_extent,
                          struct_offsets)
from ..base import Method, Setting

if TYPE_CHECKING:  # pragma: no cover
    from ...config import TrainConfig
    from ...normalization import Normalization

MASK_SETTING = Setting(
    "mask_fraction", "Masked pixels", "share of the pixels masked per patch (0.2 % is the usual)",
    kind="percent", flag="--mask-fraction", default=0.002, minimum=0.0, open_minimum=True,
    maximum=0.25, method_only=True, hint="; N2V uses about 0.002 (0.2%)", step=0.001, decimals=2)
STRUCT_MASK_SETTING = Setting(
    "struct_mask", "structN2V mask", "structN2V (Broaddus et al. 2020) for noise correlated along "
    "rows or columns (sCMOS line noise, scan stripes): also hide the neighbours on a 'horizontal' "
    "line (along X, for row stripes) or a 'vertical' one (along Y) of --struct-span pixels, or "
    "those of a 0/1 pattern with odd sides and the blind spot in the centre, rows separated by "
    "'/' (e.g. 010/111/010) or read from a text FILE; 'none' is plain N2V/N2V2",
    kind="text", flag="--struct-mask", labels=tuple((n, n) for n in STRUCT_MASK_NAMES),
    default="none", validated=False,  # with struct_span: struct_mask.check_struct_mask
    placeholder="none|horizontal|vertical|PATTERN|FILE",
    note="For stripes: hide the pixels on the stripe's line too, e.g. 'horizontal' for noise "
         "correlated along rows.")
STRUCT_SPAN_SETTING = Setting(
    "struct_span", "structN2V span", "length in pixels of the 'horizontal'/'vertical' structN2V line, "
    "the blind spot in its middle (odd; at least twice the stripes' correlation length)",
    kind="int", flag="--struct-span", default=DEFAULT_STRUCT_SPAN, minimum=3,
    maximum=MAX_STRUCT_SIZE, step=2, validated=False,
    only_if=("struct_mask", ("horizontal", "vertical")))


class Noise2Void(Method):
    """Noise2Void: uniform random neighbour replacement, max-pool U-Net, residual output."""

    name = "n2v"
    display_name = "N2V"
    tagline = "The original Noise2Void; may show checkerboard artefacts."
    help = ("Noise2Void (Krull et al. 2019): the original masked blind-spot training. "
            "Assumes pixel-wise independent noise; may show checkerboard artefacts.")
    full_name = "Noise2Void"
    citations = (("Krull, A., Buchholz, T.-O., Jug, F. Noise2Void - Learning Denoising from Single "
                  "Noisy Images. CVPR 2019.", "https://arxiv.org/abs/1811.10980"),)
    settings = (MASK_SETTING, STRUCT_MASK_SETTING, STRUCT_SPAN_SETTING)
    #: 3D on a CPU: four 16x64x64 patches per step instead of sixteen (a 3D step of the
    #: general defaults took about 5.8 s on two cores: 1,500 steps would take 2.4 hours).
    cpu_3d_defaults = {"batch_size": 4}
    replacement = "random"
    blurpool, top_skip, residual = False, True, True

    def __init__(self, config: TrainConfig) -> None:
        super().__init__(config)
        self.fraction = config.mask_fraction
        self.radius = config.mask_radius
        ndim = 3 if config.train_3d else 2
        self.struct = struct_offsets(config.struct_mask, config.struct_span, ndim)

    @classmethod
    def validate(cls, config: TrainConfig) -> None:
        def bad(name: str, why: str) -> ConfigError:
            err = ConfigError(f"Invalid setting {name}={getattr(config, name)!r}: {why}")
            err.setting = name  # type: ignore[attr-defined]  # front ends name their own option
            return err

        smallest = min(config.patch_size, config.patch_size_z) if config.train_3d else config.patch_size
        if 2 * config.mask_radius > smallest:
            # a larger window would reach past the patch even after mirroring the offset
            raise bad("mask_radius", f"must be at most half the smallest patch side ({smallest // 2})")
        extent = struct_extent(config.struct_mask, config.struct_span)
        if 2 * extent > config.patch_size:
            which = "struct_span" if config.struct_mask in STRUCT_MASK_NAMES else "struct_mask"
            raise bad(which, f"reaches {extent} pixels from the blind spot: at most half the patch "
                      f"size ({config.patch_size // 2}); use a larger patch_size or a shorter mask")
        ndim = 3 if config.train_3d else 2
        try:
            window_offsets(config.mask_radius, ndim,
                           struct_offsets(config.struct_mask, config.struct_span, ndim))
        except ValueError:
            raise bad("struct_mask", f"covers every neighbour the blind spot's replacement is taken "
                      f"from (mask_radius {config.mask_radius}); raise mask_radius") from None

    def build(self, config: TrainConfig, channels: int, ndim: int,
              normalization: Normalization | None = None) -> nn.Module:
        def make(c: int) -> nn.Module:
            return UNet(c, c, depth=config.unet_depth, features=config.unet_features, ndim=ndim,
                        batch_norm=True, blurpool=self.blurpool, top_skip=self.top_skip,
                        residual=self.residual)

        if config.channels == "separate" and channels > 1:  # one network per channel
            return build_per_channel(lambda: make(1), channels)
        return make(channels)

    def network_summary(self) -> str:
        return "is a blind-spot U-Net trained with masked pixels"

    def loss(self, net: nn.Module, batch: torch.Tensor, generator: torch.Generator,
             channels: torch.Tensor | None = None) -> torch.Tensor:
        x = batch[0]
        masked, coords = apply_mask(x, self.fraction, self.radius, self.replacement, generator,
                                    self.struct)
        return channels_summed(masked_mse(net(masked), x, coords), net)


class N2V2(Noise2Void):
    """N2V2: median replacement, BlurPool, no top-level skip, no residual output."""

    name = "n2v2"
    display_name = "N2V2"
    tagline = "A robust default for noise that is independent between pixels."
    help = ("Noise2Void 2 (Hoeck et al. 2022): blind-spot masking with median replacement and "
            "BlurPool; no checkerboard artefacts. Assumes pixel-wise independent noise.")
    citations = (("Hoeck, E., Buchholz, T.-O., Brachmann, A., Jug, F., Freytag, A. N2V2 - Fixing "
                  "Noise2Void Checkerboard Artifacts with Modified Sampling Strategies and a Tweaked "
                  "Network Architecture. ECCV 2022 Workshops.", "https://arxiv.org/abs/2211.08512"),
                 ("Krull, A., Buchholz, T.-O., Jug, F. Noise2Void - Learning Denoising from Single "
                  "Noisy Images. CVPR 2019.", "https://arxiv.org/abs/1811.10980"))
    replacement = "median"
    blurpool, top_skip, residual = True, False, False

    def network_summary(self) -> str:
        return "is a blind-spot U-Net (BlurPool, no top skip) trained with masked pixels"
