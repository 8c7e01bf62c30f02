"""The warm start of HQ-SSL from the shipped prior (engine/methods/hqssl/prior_weights.py)."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from napari_blindspot.engine import TrainConfig, TrainingRun, TrainingStarted
from napari_blindspot.engine.methods.hqssl.blindspot import BlindSpotUNet
from napari_blindspot.engine.methods.hqssl.method import PRIOR_KEEP, PRIOR_LR_SCALE
from napari_blindspot.engine.methods.hqssl.network import HQSSLNet
from napari_blindspot.engine.methods.hqssl.prior_weights import (PRIOR_FILE, PRIOR_SHAPE,
                                                               blindspot_networks, load_prior,
                                                               save_prior)
from napari_blindspot.engine.nets.per_channel import build_per_channel


def _hq(features: int = 16, depth: int = 3, channels: int = 1) -> HQSSLNet:
    k = channels + channels * (channels + 1) // 2
    return HQSSLNet(BlindSpotUNet(channels, k, depth=depth, features=features), None, channels)


def _same(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


@pytest.fixture
def prior_file(tmp_path):
    torch.manual_seed(1)
    source = _hq()
    path = tmp_path / "prior.pt"
    save_prior(SimpleNamespace(net=source), 123, path)
    return source, path


def test_prior_round_trip(prior_file):
    source, path = prior_file
    torch.manual_seed(2)
    target = _hq()
    assert not _same(source.net, target.net)
    assert load_prior(target, path) == 1
    assert _same(source.net, target.net)
    assert torch.load(path, weights_only=True)["steps"] == 123
    assert path.stat().st_mode & 0o444 == 0o444, "the prior ships as package data: readable by all"


def test_networks_that_do_not_fit_keep_their_weights(prior_file):
    _, path = prior_file
    for other in (_hq(features=8), _hq(depth=2), _hq(channels=2)):
        before = {k: v.clone() for k, v in other.state_dict().items()}
        assert load_prior(other, path) == 0
        assert all(torch.equal(before[k], v) for k, v in other.state_dict().items())


def test_separate_channel_networks_each_start_from_it(prior_file):
    source, path = prior_file
    net = HQSSLNet(build_per_channel(lambda: BlindSpotUNet(1, 2, depth=3, features=16), 3), None, 3,
                   diagonal=True)
    assert len(blindspot_networks(net)) == 3
    assert load_prior(net, path) == 3
    assert all(_same(source.net, u) for u in blindspot_networks(net))


def test_missing_or_damaged_file_trains_from_random_weights(tmp_path, caplog):
    bad = tmp_path / "prior.pt"
    bad.write_bytes(b"not a torch file")
    with caplog.at_level(logging.WARNING):
        assert load_prior(_hq(), tmp_path / "missing.pt") == 0
        assert load_prior(_hq(), bad) == 0
    assert "could not be read" in caplog.text


def test_shipped_prior_fits_the_cpu_default():
    assert PRIOR_FILE.is_file(), "the prior ships with the package (pyproject package-data)"
    stored = torch.load(PRIOR_FILE, weights_only=True)
    assert {k: stored[k] for k in PRIOR_SHAPE} == PRIOR_SHAPE
    cfg = TrainConfig.for_method("hqssl", device="cpu")
    assert (cfg.hq_features, cfg.hq_depth) == (PRIOR_SHAPE["features"], PRIOR_SHAPE["depth"])


def _started(cfg: TrainConfig) -> tuple[TrainingStarted, TrainingRun]:
    img = np.random.default_rng(0).poisson(20, (64, 64)).astype(np.float32)
    run = TrainingRun(img, cfg)
    events = run.events()
    first = next(ev for ev in events if isinstance(ev, TrainingStarted))
    events.close()
    return first, run


def test_training_says_where_its_weights_started():
    cfg = TrainConfig.for_method("hqssl", axes="YX", steps=2, patch_size=32, device="cpu",
                                 validation_fraction=0.0)
    started, run = _started(cfg)
    note = ("started from the trained prior, fine-tuned at a learning rate of 0.0005 (0.25x the rate set), "
            f"then blended with it ({PRIOR_KEEP:g} fine-tuned weights)")
    assert started.start == note
    stored = torch.load(PRIOR_FILE, weights_only=True)["state_dict"]
    unet = blindspot_networks(run.net)[0]
    assert torch.equal(unet.enc0.conv.weight.detach().float(), stored["enc0.conv.weight"])
    assert run.model.info["warm_start"] == note

    started, run = _started(cfg.replace(warm_start="none"))
    assert started.start == ""
    assert "warm_start" not in run.model.info


def _trained(cfg: TrainConfig, initial=None) -> tuple[list[float], object]:
    """The learning rates the network's own parameters trained at over a short run (each
    distinct rate once), and the model; ``initial``: a model to continue."""
    img = np.random.default_rng(0).poisson(20, (64, 64)).astype(np.float32)
    run = TrainingRun(img, cfg, initial=initial)
    rates = []
    for _ in run.events():
        if run.prepared and run.step:
            rates.append(run.optimizer.param_groups[0]["lr"])
    assert run.step == cfg.steps
    assert run.optimizer.param_groups[0]["params"][0] is next(run.net.net.parameters())
    return sorted(set(rates)), run.model


def _network_rates(cfg: TrainConfig, initial=None) -> list[float]:
    return _trained(cfg, initial)[0]


def test_a_network_from_the_prior_fine_tunes_at_a_quarter_of_the_rate():
    """The full rate undoes the prior (docs/fine_structures.md): the prior's network trains at
    PRIOR_LR_SCALE of the rate set; random weights and networks the prior does not fit at all of it."""
    cfg = TrainConfig.for_method("hqssl", axes="YX", steps=3, patch_size=32, device="cpu",
                                 validation_fraction=0.0, schedule="constant", warmup_fraction=0.0,
                                 learning_rate=1e-3)
    assert PRIOR_LR_SCALE == 0.25
    assert _network_rates(cfg) == pytest.approx([2.5e-4])
    assert _network_rates(cfg.replace(warm_start="none")) == pytest.approx([1e-3])
    assert _network_rates(cfg.replace(hq_features=8)) == pytest.approx([1e-3])  # the prior does not fit


def test_continuing_a_model_from_the_prior_keeps_the_quarter_rate():
    cfg = TrainConfig.for_method("hqssl", axes="YX", steps=2, patch_size=32, device="cpu",
                                 validation_fraction=0.0, schedule="constant", warmup_fraction=0.0,
                                 learning_rate=1e-3)
    _, from_prior = _trained(cfg)
    rates, continued = _trained(cfg, from_prior)
    assert rates == pytest.approx([2.5e-4])
    assert continued.info["warm_start"].startswith("come from a model that started from the trained prior")
    assert _network_rates(cfg, continued) == pytest.approx([2.5e-4])  # a continuation's continuation
    _, scratch = _trained(cfg.replace(warm_start="none"))
    assert _network_rates(cfg, scratch) == pytest.approx([1e-3])
