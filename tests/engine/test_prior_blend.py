"""A network fine-tuned from the prior ends blended with it (method.PRIOR_KEEP, prior_weights.blend_with_prior)."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from napari_blindspot.engine import TrainConfig, TrainingRun
from napari_blindspot.engine.methods.hqssl.blindspot import BlindSpotUNet
from napari_blindspot.engine.methods.hqssl.method import PRIOR_KEEP
from napari_blindspot.engine.methods.hqssl.network import HQSSLNet
from napari_blindspot.engine.methods.hqssl.prior_weights import (PRIOR_FILE, blend_with_prior,
                                                               blindspot_networks, save_prior)
from napari_blindspot.engine.nets.per_channel import build_per_channel


def _hq(seed: int, features: int = 16) -> HQSSLNet:
    torch.manual_seed(seed)
    return HQSSLNet(BlindSpotUNet(1, 2, depth=3, features=features), None, 1)


def _weights(net: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in blindspot_networks(net)[0].state_dict().items()}


def test_blend_is_the_weighted_mean_of_the_two(tmp_path):
    path = tmp_path / "prior.pt"
    save_prior(SimpleNamespace(net=_hq(1)), 10, path)
    prior, tuned = _weights(_hq(1)), _hq(2)
    before = _weights(tuned)
    assert blend_with_prior(tuned, 0.8, path) == 1
    after = _weights(tuned)
    for k in before:
        assert torch.allclose(after[k], 0.8 * before[k] + 0.2 * prior[k], atol=1e-6), k
    assert not torch.allclose(after["enc0.conv.weight"], before["enc0.conv.weight"])


def test_blend_reaches_every_fitting_network_and_skips_others(tmp_path):
    path = tmp_path / "prior.pt"
    save_prior(SimpleNamespace(net=_hq(1)), 10, path)
    separate = HQSSLNet(build_per_channel(lambda: BlindSpotUNet(1, 2, depth=3, features=16), 3), None, 3,
                        diagonal=True)
    assert blend_with_prior(separate, 0.5, path) == 3
    other = _hq(3, features=8)  # a network the prior does not fit is left as it is
    before = _weights(other)
    assert blend_with_prior(other, 0.5, path) == 0
    assert all(torch.equal(before[k], v) for k, v in _weights(other).items())
    assert blend_with_prior(_hq(4), 1.0, path) == 0  # keeping all of the fine-tuning: nothing to do


def test_an_unreadable_prior_keeps_the_fine_tuned_weights(tmp_path, caplog):
    bad = tmp_path / "prior.pt"
    bad.write_bytes(b"not a prior")
    net = _hq(5)
    before = _weights(net)
    with caplog.at_level(logging.WARNING):
        assert blend_with_prior(net, 0.8, bad) == 0
    assert "fine-tuned weights are kept as they are" in caplog.text
    assert all(torch.equal(before[k], v) for k, v in _weights(net).items())


def _run(cfg: TrainConfig, initial=None) -> TrainingRun:
    img = np.random.default_rng(0).poisson(20, (64, 64)).astype(np.float32)
    run = TrainingRun(img, cfg, initial=initial)
    for _ in run.events():
        pass
    return run


@pytest.fixture
def cfg() -> TrainConfig:
    return TrainConfig.for_method("hqssl", axes="YX", steps=3, patch_size=32, device="cpu",
                                  validation_fraction=0.0, noise_fit="fixed")


def test_a_run_from_the_prior_ends_blended_with_it(cfg):
    """The model's network is PRIOR_KEEP of the trained weights plus the rest of the prior's;
    the run's own network (which training would go on from) is not touched; the note says so."""
    assert 0.5 <= PRIOR_KEEP < 1.0
    run = _run(cfg)
    prior = torch.load(PRIOR_FILE, weights_only=True)["state_dict"]
    trained, final = _weights(run.net), _weights(run.model.net)
    for k in trained:
        want = PRIOR_KEEP * trained[k] + (1 - PRIOR_KEEP) * prior[k]
        assert torch.allclose(final[k], want, atol=1e-6), k
    assert not torch.allclose(final["enc0.conv.weight"], trained["enc0.conv.weight"])
    assert f"then blended with it ({PRIOR_KEEP:g} fine-tuned weights)" in run.model.info["warm_start"]


def test_random_weights_and_a_continued_run_are_not_blended(cfg):
    scratch = _run(cfg.replace(warm_start="none"))
    assert all(torch.equal(v, _weights(scratch.model.net)[k]) for k, v in _weights(scratch.net).items())
    continued = _run(cfg, initial=_run(cfg).model)  # blended once, when it first ended
    assert all(torch.equal(v, _weights(continued.model.net)[k]) for k, v in _weights(continued.net).items())
