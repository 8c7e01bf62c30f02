"""Dimension-generic building blocks (2D and 3D) shared by the networks."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _cpu_autocast_on() -> bool:
    try:
        return torch.is_autocast_enabled("cpu")
    except TypeError:  # pragma: no cover - torch < 2.4
        return torch.is_autocast_cpu_enabled()


class Conv3d(nn.Conv3d):
    """``nn.Conv3d`` that computes inputs exactly two voxels deep in float32 under CPU autocast.

    oneDNN's bfloat16 3D convolution on CPUs (seen with torch 2.13 and 2.14 on an AVX512-BF16
    CPU) now and then returns non-finite weight gradients when the input is two voxels deep
    and the kernel is deeper: 1 to 65% of the steps, depending on the layout and size
    (``tests/test_nets_bf16.py``).  A 3D U-Net meets that depth at its bottom levels
    (a Z patch of 8 at depth 2, of 16 at depth 3).  Other depths, 2D convolutions and the
    forward pass were always finite; those stay in bfloat16.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[2] == 2 and self.kernel_size[0] > 1 and x.device.type == "cpu" and _cpu_autocast_on():
            with torch.autocast("cpu", enabled=False):
                return super().forward(x.float())
        return super().forward(x)


def conv_cls(ndim: int) -> type[nn.Module]:
    return {2: nn.Conv2d, 3: Conv3d}[ndim]


def batchnorm_cls(ndim: int) -> type[nn.Module]:
    return {2: nn.BatchNorm2d, 3: nn.BatchNorm3d}[ndim]


def pad_to_multiple(x: torch.Tensor, multiple: int | tuple[int, ...],
                    mode: str = "reflect") -> tuple[torch.Tensor, tuple[int, ...]]:
    """Pad the spatial dims of ``x`` (N, C, *sp) at the end up to a multiple.

    Returns the padded tensor and the original spatial shape (to crop back).
    ``mode`` is ``"reflect"`` (falls back to replicate padding where a dimension is
    too small to reflect) or ``"zeros"``.
    """
    spatial = tuple(x.shape[2:])
    mult = multiple if isinstance(multiple, tuple) else (multiple,) * len(spatial)
    extra = [(-s) % m for s, m in zip(spatial, mult)]
    if not any(extra):
        return x, spatial
    pad: list[int] = []
    for e in reversed(extra):
        pad += [0, e]
    if mode == "zeros":
        return F.pad(x, pad), spatial
    mode = "reflect" if all(e < s for e, s in zip(extra, spatial)) else "replicate"
    return F.pad(x, pad, mode=mode), spatial


def crop_to(x: torch.Tensor, spatial: tuple[int, ...]) -> torch.Tensor:
    return x[(slice(None), slice(None)) + tuple(slice(0, s) for s in spatial)]


class BlurPool(nn.Module):
    """N2V2 anti-aliased downsampling: max-pool with stride 1, then a [1,2,1] blur with stride 2.

    Input ``(N, C, *sp)`` with even spatial sizes; output ``(N, C, *sp/2)``.
    """

    def __init__(self, channels: int, ndim: int) -> None:
        super().__init__()
        self.ndim = ndim
        self.channels = channels
        k1 = torch.tensor([1.0, 2.0, 1.0])
        kernel = k1
        for _ in range(ndim - 1):
            kernel = kernel[..., None] * k1
        kernel = kernel / kernel.sum()
        self.register_buffer("kernel", kernel[None, None].repeat(channels, 1, *([1] * ndim)),
                             persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled() and x.requires_grad:
            # training: max-pooling's backward (one index per output) is faster than that of
            # elementwise maxima, whose forward is faster
            pool = {2: F.max_pool2d, 3: F.max_pool3d}[self.ndim]
            x = pool(F.pad(x, [0, 1] * self.ndim, mode="replicate"), kernel_size=2, stride=1)
        else:
            x = max_window2(x)
        conv = {2: F.conv2d, 3: F.conv3d}[self.ndim]
        x = F.pad(x, [1, 1] * self.ndim, mode="reflect")
        return conv(x, self.kernel.to(x.dtype), stride=2, groups=self.channels)


def max_window2(x: torch.Tensor) -> torch.Tensor:
    """Maximum over the window ``[i, i+1]`` along every spatial axis of ``x`` (N, C, *sp).

    The same as replicate-padding one pixel at the end of each axis and max-pooling with
    kernel 2 and stride 1, computed axis by axis with elementwise maxima (faster than
    ``max_pool2d`` with stride 1 on CPU, in float32 and bfloat16).
    """
    for dim in range(2, x.ndim):
        n = x.shape[dim]
        if n > 1:
            x = torch.cat([torch.maximum(x.narrow(dim, 0, n - 1), x.narrow(dim, 1, n - 1)),
                           x.narrow(dim, n - 1, 1)], dim=dim)
    return x
