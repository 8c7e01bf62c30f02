"""The HQ-SSL blind-spot network (Laine, Karras, Lehtinen, Aila, NeurIPS 2019), 2D and 3D.

Every convolution and pooling is *shifted* along the first spatial axis so that an
output pixel only sees input at or above its own row; a final one-pixel shift makes
that strictly above.  The input is presented in several orientations (2D: rotations
by 0/90/180/270 degrees; 3D: the six half-spaces +-Z, +-Y, +-X), all through the
same weights, the branches are turned back and fused by 1x1 convolutions.  The
union of the half-planes (half-spaces) is every pixel except the centre: the
output at a pixel never depends on the input at that pixel.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ...nets.layers import conv_cls, crop_to

Transform = tuple[Callable[[torch.Tensor], torch.Tensor], Callable[[torch.Tensor], torch.Tensor]]


def shift_down(x: torch.Tensor, pixels: int = 1) -> torch.Tensor:
    """Shift along the first spatial axis by ``pixels``: zero rows in at the top, last rows out."""
    pad = [0, 0] * (x.ndim - 3) + [pixels, 0]
    return F.pad(x, pad)[:, :, :-pixels]


class ShiftedConv(nn.Module):
    """A ``k``-sized convolution whose output at row ``i`` sees input rows ``<= i`` only."""

    def __init__(self, cin: int, cout: int, ndim: int, kernel: int = 3) -> None:
        super().__init__()
        self.offset = kernel // 2
        self.conv = conv_cls(ndim)(cin, cout, kernel, padding=kernel // 2)
        nn.init.kaiming_normal_(self.conv.weight, a=0.1, nonlinearity="leaky_relu")
        nn.init.zeros_(self.conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.offset == 0:
            return self.conv(x)
        pad = [0, 0] * (x.ndim - 3) + [self.offset, 0]
        return self.conv(F.pad(x, pad))[:, :, :-self.offset]


class ShiftedPool(nn.Module):
    """Shift down one row, then 2x max-pool (keeps the above-only receptive field)."""

    def __init__(self, ndim: int) -> None:
        super().__init__()
        self.pool = {2: nn.MaxPool2d, 3: nn.MaxPool3d}[ndim](2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(shift_down(x))


def _rotations_2d() -> list[Transform]:
    return [((lambda x, k=k: torch.rot90(x, k, dims=(2, 3))),
             (lambda x, k=k: torch.rot90(x, -k, dims=(2, 3)))) for k in range(4)]


def _halfspaces_3d() -> list[Transform]:
    out: list[Transform] = []
    for axis in (2, 3, 4):  # Z, Y, X brought onto the shifted (first spatial) axis
        for flip in (False, True):
            def fwd(x: torch.Tensor, axis: int = axis, flip: bool = flip) -> torch.Tensor:
                y = x.transpose(2, axis) if axis != 2 else x
                return y.flip(2) if flip else y

            def inv(x: torch.Tensor, axis: int = axis, flip: bool = flip) -> torch.Tensor:
                y = x.flip(2) if flip else x
                return y.transpose(2, axis) if axis != 2 else y

            out.append((fwd, inv))
    return out


class BlindSpotUNet(nn.Module):
    """HQ-SSL blind-spot U-Net.

    Parameters
    ----------
    in_channels, out_channels
        Input channels and output components per pixel (e.g. mean and variance factor).
    depth
        Number of (shifted) poolings; the paper uses 5.
    features
        Encoder width; the decoder uses twice as many (the paper: 48 and 96).
    ndim
        2 (4 rotated branches) or 3 (6 half-space branches).

    Input ``(N, C, Y, X)`` or ``(N, C, Z, Y, X)``, any size: it is zero-padded at the
    end to a multiple of ``2**depth`` (zero rather than reflect padding, which would
    feed a pixel's own value back through its mirror image) and cropped back.
    Output ``(N, out_channels, *spatial)``.
    """

    def __init__(self, in_channels: int = 1, out_channels: int = 2, depth: int = 3,
                 features: int = 32, ndim: int = 2) -> None:
        super().__init__()
        self.depth, self.ndim = depth, ndim
        self.transforms = _rotations_2d() if ndim == 2 else _halfspaces_3d()
        f, f2 = features, 2 * features
        act = nn.LeakyReLU(0.1)
        self.act = act
        self.enc0 = ShiftedConv(in_channels, f, ndim)
        self.enc1 = ShiftedConv(f, f, ndim)
        self.pool = ShiftedPool(ndim)
        self.enc = nn.ModuleList([ShiftedConv(f, f, ndim) for _ in range(depth)])  # levels 2..depth+bottom
        self.dec = nn.ModuleList()
        for level in reversed(range(1, depth)):
            self.dec.append(nn.ModuleList([ShiftedConv((f if level == depth - 1 else f2) + f, f2, ndim),
                                           ShiftedConv(f2, f2, ndim)]))
        top_in = (f2 if depth > 1 else f) + in_channels
        self.dec_top = nn.ModuleList([ShiftedConv(top_in, f2, ndim), ShiftedConv(f2, f2, ndim)])
        nb = len(self.transforms)
        conv1 = conv_cls(ndim)
        self.nin_a = conv1(nb * f2, nb * f2, 1)
        self.nin_b = conv1(nb * f2, f2, 1)
        self.nin_c = conv1(f2, out_channels, 1)
        for m in (self.nin_a, self.nin_b):
            nn.init.kaiming_normal_(m.weight, a=0.1, nonlinearity="leaky_relu")
            nn.init.zeros_(m.bias)
        nn.init.kaiming_normal_(self.nin_c.weight, nonlinearity="linear")
        nn.init.zeros_(self.nin_c.bias)

    def branch(self, x: torch.Tensor) -> torch.Tensor:
        """The shared above-only U-Net on one orientation: ``(N, C, *sp) -> (N, 2F, *sp)``."""
        act = self.act
        skips = [x]
        h = act(self.enc1(act(self.enc0(x))))
        h = self.pool(h)
        skips.append(h)
        for level, conv in enumerate(self.enc):
            h = act(conv(h))
            if level < self.depth - 1:
                h = self.pool(h)
                skips.append(h)
        # h is the bottom (scale 2**depth); skips[k] is at scale 2**k (skips[0] = input)
        for i, (ca, cb) in enumerate(self.dec):
            level = self.depth - 1 - i
            h = F.interpolate(h, scale_factor=2, mode="nearest")
            h = torch.cat([h, skips[level]], dim=1)
            h = act(cb(act(ca(h))))
        h = F.interpolate(h, scale_factor=2, mode="nearest")
        h = torch.cat([h, skips[0]], dim=1)
        ca, cb = self.dec_top
        h = act(cb(act(ca(h))))
        return shift_down(h)

    def _padded(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, ...]]:
        """``x`` zero-padded at the end to a multiple of ``2**depth``, and its own spatial size."""
        spatial = tuple(x.shape[2:])
        m = 2 ** self.depth
        extra = [(-s) % m for s in spatial]
        if any(extra):
            pad: list[int] = []
            for e in reversed(extra):
                pad += [0, e]
            x = F.pad(x, pad)
        return x, spatial

    def _branches(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Every orientation through the shared U-Net, each turned back: ``(N, 2F, *sp)`` each."""
        n = x.shape[0]
        views = [fwd(x) for fwd, _ in self.transforms]
        # one batched pass per distinct oriented shape (one pass for square/cubic inputs)
        groups: dict[tuple[int, ...], list[int]] = {}
        for i, v in enumerate(views):
            groups.setdefault(tuple(v.shape), []).append(i)
        feats: list[torch.Tensor | None] = [None] * len(views)
        for idx in groups.values():
            out = self.branch(torch.cat([views[i] for i in idx], dim=0))
            for j, i in enumerate(idx):
                feats[i] = out[j * n:(j + 1) * n]
        return [inv(f) for (_, inv), f in zip(self.transforms, feats)]

    def _fuse(self, feats: list[torch.Tensor]) -> torch.Tensor:
        """The 1x1 convolutions over the branches, in the order given."""
        h = self.act(self.nin_a(torch.cat(feats, dim=1)))
        return self.nin_c(self.act(self.nin_b(h)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, spatial = self._padded(x)
        return crop_to(self._fuse(self._branches(x)), spatial)

    def tta_outputs(self, x: torch.Tensor,
                    transforms: tuple[tuple[int, bool], ...]) -> list[torch.Tensor] | None:
        """2D: the outputs for the inputs turned by ``k`` quarter turns (and mirrored along X),
        each turned back, for every ``(k, mirrored)`` of ``transforms``: what ``forward`` of each
        transformed input gives, turned back.  None for a 3D network or a size that is not a
        multiple of ``2**depth`` (the padding, and with it the pooling grid, would move).

        Turning the input by a quarter turn only permutes the four branches (their U-Net
        outputs turn with it) and the fusing 1x1 convolutions act per pixel, so one U-Net pass
        serves all four rotations, and one on the mirror image all four mirrored ones: two
        passes for eight transforms instead of eight."""
        if self.ndim != 2 or any(s % 2 ** self.depth for s in x.shape[2:]):
            return None
        outs: list[torch.Tensor | None] = [None] * len(transforms)
        for mirrored in (False, True):  # one mirror state's branch features alive at a time
            wanted = [(i, k) for i, (k, m) in enumerate(transforms) if m == mirrored]
            if not wanted:
                continue
            b = self._branches(torch.flip(x, dims=(-1,)) if mirrored else x)
            for i, k in wanted:
                if mirrored:  # branch j of the transformed input is the mirror image's branch j - k
                    outs[i] = torch.flip(self._fuse([b[(j - k) % 4] for j in range(4)]), dims=(-1,))
                else:  # branch j of the input turned by k is the input's branch j + k, turned by k
                    outs[i] = self._fuse([b[(j + k) % 4] for j in range(4)])
            del b
        return outs  # type: ignore[return-value]
