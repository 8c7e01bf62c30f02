"""The plain U-Net (N2V, N2V2, Noise2Noise) and its building blocks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from helpers_engine import small_config

from napari_blindspot.engine.methods import N2V2, Noise2Noise, Noise2Void
from napari_blindspot.engine.nets.layers import BlurPool, crop_to, pad_to_multiple
from napari_blindspot.engine.nets.unet import UNet


@pytest.mark.parametrize("ndim,shape", [(2, (37, 50)), (2, (64, 64)), (3, (9, 21, 14))])
@pytest.mark.parametrize("variant", ["n2v", "n2v2"])
def test_output_shape_any_size(ndim, shape, variant):
    torch.manual_seed(0)
    net = UNet(2, 2, depth=2, features=4, ndim=ndim, blurpool=variant == "n2v2",
               top_skip=variant == "n2v", residual=variant == "n2v").eval()
    x = torch.randn((3, 2) + shape)
    with torch.no_grad():
        y = net(x)
    assert y.shape == x.shape
    assert torch.isfinite(y).all()


def test_residual_needs_equal_channels():
    with pytest.raises(ValueError, match="residual"):
        UNet(1, 2, residual=True)


def _zero_head(net: UNet) -> None:
    with torch.no_grad():
        net.head.weight.zero_()
        net.head.bias.zero_()


def test_n2v_net_is_residual_with_maxpool_and_top_skip():
    cfg = small_config("n2v")
    net = Noise2Void(cfg).build(cfg, 1, 2).eval()
    assert isinstance(net, UNet) and net.residual and net.top_skip
    assert all(isinstance(p, nn.MaxPool2d) for p in net.pools)
    assert any(isinstance(m, nn.BatchNorm2d) for m in net.modules())
    # top decoder block takes the upsampled features plus the top-level skip
    assert net.up_blocks[-1][0].in_channels == 2 * cfg.unet_features + cfg.unet_features
    _zero_head(net)
    x = torch.randn(2, 1, 24, 40)
    with torch.no_grad():
        assert torch.equal(net(x), x)  # out = input + head(...)


def test_n2v2_net_has_blurpool_no_top_skip_not_residual():
    cfg = small_config("n2v2")
    net = N2V2(cfg).build(cfg, 1, 2).eval()
    assert not net.residual and not net.top_skip
    assert all(isinstance(p, BlurPool) for p in net.pools)
    assert any(isinstance(m, nn.BatchNorm2d) for m in net.modules())
    assert net.up_blocks[-1][0].in_channels == 2 * cfg.unet_features  # no top-level skip
    _zero_head(net)
    x = torch.randn(2, 1, 24, 40)
    with torch.no_grad():
        assert torch.count_nonzero(net(x)) == 0  # direct prediction, no residual


def test_n2n_net_and_3d():
    cfg = small_config("n2n", axes="ZYX", train_3d=True)
    net = Noise2Noise(cfg).build(cfg, 1, 3)
    assert any(isinstance(m, nn.Conv3d) for m in net.modules())
    assert any(isinstance(m, nn.BatchNorm3d) for m in net.modules())


def _blurpool_reference(x: np.ndarray) -> np.ndarray:
    """Max-pool 2x2 stride 1 (edge-replicated at the end), [1,2,1]^2/16 blur, stride 2."""
    h, w = x.shape
    p = np.pad(x, ((0, 1), (0, 1)), mode="edge")
    m = np.maximum(np.maximum(p[:-1, :-1], p[1:, :-1]), np.maximum(p[:-1, 1:], p[1:, 1:]))
    m = np.pad(m, 1, mode="reflect")
    k = np.outer([1, 2, 1], [1, 2, 1]) / 16.0
    out = np.zeros((h // 2, w // 2))
    for i in range(h // 2):
        for j in range(w // 2):
            out[i, j] = np.sum(m[2 * i:2 * i + 3, 2 * j:2 * j + 3] * k)
    return out


def test_blurpool_matches_reference():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 12, 16))
    pool = BlurPool(3, 2)
    y = pool(torch.from_numpy(x)).numpy()
    assert y.shape == (2, 3, 6, 8)
    for b in range(2):
        for c in range(3):
            np.testing.assert_allclose(y[b, c], _blurpool_reference(x[b, c]), rtol=1e-10, atol=1e-12)


def test_blurpool_3d_keeps_constants_and_halves():
    pool = BlurPool(2, 3)
    x = torch.full((1, 2, 8, 12, 16), 3.5)
    y = pool(x)
    assert y.shape == (1, 2, 4, 6, 8)
    assert torch.allclose(y, torch.full_like(y, 3.5))


def test_pad_to_multiple_and_crop():
    x = torch.arange(2 * 5 * 7, dtype=torch.float32).reshape(1, 2, 5, 7)
    padded, spatial = pad_to_multiple(x, 4)
    assert padded.shape == (1, 2, 8, 8) and spatial == (5, 7)
    assert torch.equal(crop_to(padded, spatial), x)
    assert torch.equal(padded[..., 5, :7], x[..., 3, :])  # reflect
    same, _ = pad_to_multiple(torch.zeros(1, 1, 8, 8), 4)
    assert same.shape == (1, 1, 8, 8)
    tiny, _ = pad_to_multiple(torch.ones(1, 1, 1, 3), 4)  # too small to reflect: replicate
    assert tiny.shape == (1, 1, 4, 4) and torch.equal(tiny, torch.ones(1, 1, 4, 4))


@pytest.mark.parametrize("shape", [(2, 3, 8, 9), (1, 2, 4, 6, 5), (1, 1, 1, 7)])
def test_max_window2_is_replicate_padded_stride_1_max_pool(shape):
    import torch.nn.functional as F

    from napari_blindspot.engine.nets.layers import max_window2

    x = torch.randn(shape)
    nd = len(shape) - 2
    pool = {2: F.max_pool2d, 3: F.max_pool3d}[nd]
    expected = pool(F.pad(x, [0, 1] * nd, mode="replicate"), kernel_size=2, stride=1)
    torch.testing.assert_close(max_window2(x), expected, rtol=0, atol=0)


@pytest.mark.parametrize("ndim", [2, 3])
def test_blurpool_training_and_inference_paths_agree(ndim):
    from napari_blindspot.engine.nets.layers import BlurPool

    pool = BlurPool(3, ndim)
    x = torch.randn((2, 3) + (8,) * ndim)
    with torch.no_grad():
        fast = pool(x)
    trained = pool(x.clone().requires_grad_(True))
    assert trained.requires_grad and trained.shape == (2, 3) + (4,) * ndim
    torch.testing.assert_close(trained.detach(), fast, rtol=1e-6, atol=1e-6)
