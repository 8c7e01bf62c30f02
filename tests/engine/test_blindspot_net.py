"""The HQ-SSL blind-spot network: the blind spot holds exactly, in 2D and 3D.

All checks use the real network classes with random weights in float64 and exact
gradients: an output pixel's gradient with respect to the same input pixel must be
exactly zero, and non-zero for its direct neighbours in every direction.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from helpers_engine import untrained_model

from napari_blindspot.engine.methods.hqssl.blindspot import BlindSpotUNet, ShiftedConv, ShiftedPool, shift_down


def _grads(net: torch.nn.Module, x: torch.Tensor, positions: list[tuple[int, ...]]) -> list[torch.Tensor]:
    """For each position: d(sum over output channels there) / d input, shape ``(C, *sp)``."""
    x = x.detach().clone().requires_grad_(True)
    out = net(x)
    assert out.shape[2:] == x.shape[2:]
    grads = []
    for pos in positions:
        (grad,) = torch.autograd.grad(out[(0, slice(None)) + pos].sum(), x, retain_graph=True)
        grads.append(grad[0])
    return grads


def _grad_of_output(net: torch.nn.Module, x: torch.Tensor, pos: tuple[int, ...]) -> torch.Tensor:
    return _grads(net, x, [pos])[0]


def _positions(shape: tuple[int, ...]) -> list[tuple[int, ...]]:
    """All corners, the middle of every border face/edge, the centre and a pixel next to a corner."""
    per_axis = [sorted({0, s // 2, s - 1}) for s in shape]
    pos = list(itertools.product(*per_axis))
    pos.append(tuple(1 for _ in shape))
    pos.append(tuple(s - 2 for s in shape))
    return pos


def _neighbours(pos: tuple[int, ...], shape: tuple[int, ...]) -> list[tuple[int, ...]]:
    out = []
    for d in range(len(shape)):
        for step in (-1, 1):
            p = list(pos)
            p[d] += step
            if 0 <= p[d] < shape[d]:
                out.append(tuple(p))
    return out


@pytest.mark.parametrize("shape", [(16, 16), (13, 22), (9, 31)])
def test_blind_spot_2d(shape):
    torch.manual_seed(0)
    net = BlindSpotUNet(1, 2, depth=2, features=4, ndim=2).double()
    x = torch.randn((1, 1) + shape, dtype=torch.float64)
    positions = _positions(shape)
    for pos, g in zip(positions, _grads(net, x, positions)):
        g = g[0]
        assert g[pos].item() == 0.0, f"output at {pos} depends on the input at {pos}"
        nbs = _neighbours(pos, shape)
        assert len(nbs) >= 2
        for nb in nbs:
            assert g[nb].item() != 0.0, f"output at {pos} ignores its neighbour {nb}"


def test_blind_spot_2d_interior_has_all_four_neighbours_and_full_window():
    torch.manual_seed(1)
    net = BlindSpotUNet(1, 3, depth=2, features=4, ndim=2).double()
    shape = (20, 20)
    x = torch.randn((1, 1) + shape, dtype=torch.float64)
    pos = (9, 10)
    g = _grad_of_output(net, x, pos)[0]
    assert len(_neighbours(pos, shape)) == 4
    # the four half-planes cover every pixel of the 5x5 window except the centre
    window = g[7:12, 8:13].abs()
    assert window[2, 2] == 0.0
    assert torch.count_nonzero(window) == 24


@pytest.mark.parametrize("shape", [(8, 8, 8), (6, 9, 11), (5, 12, 7)])
def test_blind_spot_3d(shape):
    torch.manual_seed(0)
    net = BlindSpotUNet(1, 2, depth=2, features=4, ndim=3).double()
    x = torch.randn((1, 1) + shape, dtype=torch.float64)
    positions = _positions(shape)
    for pos, g in zip(positions, _grads(net, x, positions)):
        g = g[0]
        assert g[pos].item() == 0.0, f"output at {pos} depends on the input at {pos}"
        for nb in _neighbours(pos, shape):
            assert g[nb].item() != 0.0, f"output at {pos} ignores its neighbour {nb}"
    centre = tuple(s // 2 for s in shape)
    assert len(_neighbours(centre, shape)) == 6


@pytest.mark.parametrize("ndim,shape", [(2, (12, 18)), (3, (6, 8, 10))])
def test_blind_spot_multichannel(ndim, shape):
    # joint channels: no output channel at a pixel sees any input channel at that pixel
    torch.manual_seed(2)
    net = BlindSpotUNet(2, 5, depth=2, features=4, ndim=ndim).double()
    x = torch.randn((1, 2) + shape, dtype=torch.float64)
    positions = [tuple(0 for _ in shape), tuple(s // 2 for s in shape), tuple(s - 1 for s in shape)]
    for pos, g in zip(positions, _grads(net, x, positions)):
        assert torch.all(g[(slice(None),) + pos] == 0.0)
        for nb in _neighbours(pos, shape):
            assert torch.all(g[(slice(None),) + nb] != 0.0)


@pytest.mark.parametrize("depth", [1, 3])
def test_blind_spot_other_depths(depth):
    torch.manual_seed(3)
    net = BlindSpotUNet(1, 2, depth=depth, features=4, ndim=2).double()
    shape = (19, 27)
    x = torch.randn((1, 1) + shape, dtype=torch.float64)
    positions = [(0, 0), (18, 26), (9, 13), (0, 26), (18, 0)]
    for pos, g in zip(positions, _grads(net, x, positions)):
        g = g[0]
        assert g[pos].item() == 0.0
        for nb in _neighbours(pos, shape):
            assert g[nb].item() != 0.0


def test_shifted_layers_only_look_up():
    torch.manual_seed(0)
    x = torch.randn(1, 2, 10, 7, dtype=torch.float64, requires_grad=True)
    conv = ShiftedConv(2, 3, ndim=2).double()
    pool = ShiftedPool(2)
    for layer, row_out, scale in [(conv, 5, 1), (pool, 2, 2)]:
        out = layer(x)
        (g,) = torch.autograd.grad(out[0, :, row_out].sum(), x)
        rows = torch.nonzero(g[0].abs().sum(dim=(0, 2)))[:, 0]
        assert rows.max().item() <= row_out * scale, layer  # never below its own row
    s = shift_down(x.detach())
    assert torch.equal(s[:, :, 1:], x.detach()[:, :, :-1]) and torch.all(s[:, :, 0] == 0)
    # strictly above after the final shift: row r sees rows < r only
    (g,) = torch.autograd.grad(shift_down(conv(x))[0, :, 5].sum(), x)
    assert torch.nonzero(g[0].abs().sum(dim=(0, 2)))[:, 0].max().item() == 4


def test_output_shape_and_branch_count():
    net2 = BlindSpotUNet(1, 2, depth=2, features=4, ndim=2)
    net3 = BlindSpotUNet(1, 2, depth=2, features=4, ndim=3)
    assert len(net2.transforms) == 4 and len(net3.transforms) == 6
    assert net2(torch.randn(2, 1, 17, 30)).shape == (2, 2, 17, 30)
    assert net3(torch.randn(1, 1, 5, 9, 12)).shape == (1, 2, 5, 9, 12)
    # the 3D branches' transforms are exact inverses of each other
    x = torch.randn(1, 1, 3, 4, 5)
    for fwd, inv in net3.transforms:
        assert torch.equal(inv(fwd(x)), x)


@pytest.mark.parametrize("shape", [(37, 45), (40, 48)])
def test_prediction_keeps_the_blind_spot(shape):
    """The whole prediction path (normalise, pad, tile, crop) must not leak a pixel into its
    own prior: with the mean-only ablation the output *is* the blind-spot prior, so changing
    one input pixel must leave the output at that pixel unchanged -- also next to the bottom
    and right borders of an image whose size is not a multiple of the network's."""
    model = untrained_model("hqssl", noise_model="mean-only", hq_depth=2, hq_features=4)
    rng = np.random.default_rng(0)
    img = (100 + 20 * rng.normal(size=shape)).astype(np.float32)
    base = model.denoise(img, "YX")
    h, w = shape
    positions = [(h - 1, w - 1), (h - 2, w - 2), (h - 3, w - 3), (h - 2, w // 2), (h // 2, w - 2),
                 (0, 0), (1, 1), (h // 2, w // 2)]
    for pos in positions:
        changed = img.copy()
        changed[pos] += 500.0
        out = model.denoise(changed, "YX")
        assert out[pos] == pytest.approx(base[pos], abs=1e-4), f"blind spot leaks at {pos}"
        assert np.abs(out - base).max() > 1e-3  # but the change is seen by the neighbours
