"""The plain U-Net used by Noise2Void, N2V2 and Noise2Noise (2D or 3D)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .layers import BlurPool, batchnorm_cls, conv_cls, crop_to, pad_to_multiple


class ConvBlock(nn.Sequential):
    """Two 3x3 (3x3x3) convolutions, each with optional batch norm and ReLU."""

    def __init__(self, cin: int, cout: int, ndim: int, batch_norm: bool) -> None:
        layers: list[nn.Module] = []
        for c in (cin, cout):
            layers.append(conv_cls(ndim)(c, cout, 3, padding=1, bias=not batch_norm))
            if batch_norm:
                layers.append(batchnorm_cls(ndim)(cout))
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


class UNet(nn.Module):
    """U-Net of ``depth`` poolings, ``features`` channels at the top, doubling per level.

    Input and output: ``(N, C, Y, X)`` (``ndim=2``) or ``(N, C, Z, Y, X)`` (``ndim=3``),
    float, any spatial size (padded internally to a multiple of ``2**depth``).

    ``blurpool``/``top_skip``/``residual`` select the variant: Noise2Void uses max-pool,
    all skips and a residual output (``out = input + net(input)``); N2V2 uses BlurPool,
    drops the top-level skip connection and predicts directly.
    """

    def __init__(self, in_channels: int = 1, out_channels: int = 1, depth: int = 2,
                 features: int = 32, ndim: int = 2, batch_norm: bool = True,
                 blurpool: bool = False, top_skip: bool = True, residual: bool = True) -> None:
        super().__init__()
        if residual and in_channels != out_channels:
            raise ValueError("a residual U-Net needs as many output as input channels")
        self.depth, self.ndim, self.residual, self.top_skip = depth, ndim, residual, top_skip
        widths = [features * 2 ** i for i in range(depth + 1)]
        self.down_blocks = nn.ModuleList()
        self.pools = nn.ModuleList()
        cin = in_channels
        for w in widths[:-1]:
            self.down_blocks.append(ConvBlock(cin, w, ndim, batch_norm))
            self.pools.append(BlurPool(w, ndim) if blurpool else
                              {2: nn.MaxPool2d, 3: nn.MaxPool3d}[ndim](2))
            cin = w
        self.bottom = ConvBlock(cin, widths[-1], ndim, batch_norm)
        self.up_blocks = nn.ModuleList()
        for level in reversed(range(depth)):
            skip = widths[level] if (level > 0 or top_skip) else 0
            self.up_blocks.append(ConvBlock(widths[level + 1] + skip, widths[level], ndim, batch_norm))
        self.head = conv_cls(ndim)(widths[0], out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xp, spatial = pad_to_multiple(x, 2 ** self.depth)
        skips = []
        h = xp
        for block, pool in zip(self.down_blocks, self.pools):
            h = block(h)
            skips.append(h)
            h = pool(h)
        h = self.bottom(h)
        for i, block in enumerate(self.up_blocks):
            level = self.depth - 1 - i
            h = F.interpolate(h, scale_factor=2, mode="nearest")
            if level > 0 or self.top_skip:
                h = torch.cat([h, skips[level]], dim=1)
            h = block(h)
        out = self.head(h)
        if self.residual:
            out = out + xp
        return crop_to(out, spatial)
