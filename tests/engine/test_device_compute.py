"""How networks run on a device: memory format and mixed precision (device.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_blindspot.engine import TrainingRun
from napari_blindspot.engine.system.device import (autocast, autocast_dtype, cpu_has_native_bf16,
                                            memory_format, place_network)
from napari_blindspot.engine import load_model

from helpers_engine import small_config, untrained_model


def _conv_weights(net: torch.nn.Module) -> list[torch.Tensor]:
    return [m.weight for m in net.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Conv3d))]


def test_cpu_mixed_precision_only_where_the_cpu_computes_bfloat16():
    expected = torch.bfloat16 if cpu_has_native_bf16() else None
    assert autocast_dtype(torch.device("cpu")) is expected
    assert autocast_dtype(torch.device("mps")) is None


def test_autocast_off_is_float32_and_on_is_bfloat16():
    conv = torch.nn.Conv2d(1, 2, 3)
    x = torch.randn(1, 1, 8, 8)
    with autocast(torch.device("cpu"), None):
        assert conv(x).dtype == torch.float32
    with autocast(torch.device("cpu"), torch.bfloat16):
        assert conv(x).dtype == torch.bfloat16


@pytest.mark.parametrize("method", ["n2v2", "hqssl"])
def test_2d_networks_train_and_load_channels_last(method, tmp_path):
    img = np.random.default_rng(0).normal(100, 10, (48, 48)).astype(np.float32)
    run = TrainingRun(img, small_config(method, steps=2))
    for _ in run.events():
        pass
    weights = _conv_weights(run.net)
    assert weights and all(w.is_contiguous(memory_format=torch.channels_last) for w in weights
                           if w.shape[-1] > 1)
    path = tmp_path / "m.safetensors"
    run.model.save(str(path))
    loaded = load_model(str(path), device="cpu")
    assert all(w.is_contiguous(memory_format=torch.channels_last) for w in _conv_weights(loaded.net)
               if w.shape[-1] > 1)
    np.testing.assert_array_equal(loaded.denoise(img), run.model.denoise(img))


@pytest.mark.parametrize("method", ["n2v2", "hqssl"])
def test_3d_networks_run_channels_last_3d(method):
    model = untrained_model(method, ndim=3)
    assert memory_format(3) == torch.channels_last_3d
    assert all(w.is_contiguous(memory_format=torch.channels_last_3d)
               for w in _conv_weights(model.net) if w.shape[-1] > 1)
    vol = np.random.default_rng(2).normal(100, 20, (12, 24, 24)).astype(np.float32)
    assert model.denoise(vol).shape == vol.shape


def test_place_network_keeps_the_weights():
    model = untrained_model("n2v2", mixed_precision=False)
    before = {k: v.clone() for k, v in model.net.state_dict().items()}
    place_network(model.net, torch.device("cpu"), 2)
    for k, v in model.net.state_dict().items():
        torch.testing.assert_close(v, before[k], rtol=0, atol=0)


@pytest.mark.parametrize("method", ["n2v2", "hqssl"])
def test_mixed_precision_prediction_stays_close_to_float32(method, monkeypatch):
    """bfloat16 convolutions change the result by a small fraction of the image's spread."""
    import napari_blindspot.engine.model as model_module

    img = np.random.default_rng(1).normal(100, 20, (64, 64)).astype(np.float32)
    exact = untrained_model(method, mixed_precision=False).denoise(img)
    # bfloat16 on every machine, also where the CPU would not choose it
    monkeypatch.setattr(model_module, "autocast_dtype", lambda device: torch.bfloat16)
    mixed = untrained_model(method, mixed_precision=True).denoise(img)
    assert mixed.dtype == np.float32
    assert not np.array_equal(mixed, exact)  # bfloat16 was really used
    assert np.abs(mixed - exact).max() < 0.02 * 20.0 * 3  # within 6% of the image's std
    assert np.abs(mixed - exact).mean() < 0.02 * 20.0


def test_prediction_on_a_cpu_takes_one_tile_at_a_time_unless_told():
    from napari_blindspot.engine.system.device import default_tile_batch

    assert default_tile_batch(torch.device("cpu")) == 1
    assert default_tile_batch(torch.device("cuda")) == 4
    model = untrained_model("n2v2", tile_batch=None)
    assert model.config.tile_batch is None
    sizes: list[int] = []
    fn = model.infer_fn

    def spying(*args):
        infer = fn(*args)
        return lambda x: (sizes.append(x.shape[0]), infer(x))[1]

    model.infer_fn = spying
    img = np.random.default_rng(3).normal(100, 20, (200, 200)).astype(np.float32)
    model.denoise(img, tile_size=64)
    assert len(sizes) > 1 and set(sizes) == {1}
    sizes.clear()
    model.denoise(img, tile_size=64, tile_batch=3)
    assert max(sizes) == 3


def test_hqssl_covariance_and_posterior_stay_float32_under_autocast():
    """Matrix products run in bfloat16 under CPU autocast: the joint-channel prior covariance
    and posterior must not (only the network does)."""
    from helpers_engine import small_config

    from napari_blindspot.engine.methods import get_method
    from napari_blindspot.engine.normalization import Normalization

    config = small_config("hqssl", axes="CYX", channels="joint")
    method = get_method(config)
    net = method.build(config, 2, 2, Normalization((0.0, 0.0), (1.0, 1.0)))
    x = torch.randn(2, 2, 16, 16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        raw = net.net(x)
        mu, cov = net.prior(x)
        out = method.infer(net, x)
    assert raw.dtype == torch.bfloat16  # the network itself did run in bfloat16
    exp_mu, exp_cov = net._prior_from(raw.float())
    torch.testing.assert_close(cov, exp_cov, rtol=0, atol=0)
    torch.testing.assert_close(mu, exp_mu, rtol=0, atol=0)
    assert cov.dtype == out["denoised"].dtype == out["std"].dtype == torch.float32
