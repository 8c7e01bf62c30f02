"""Shared (independent) or separate channels chosen from the data (channels="auto"): per-channel
noise and signal correlation measured, the choice said when training starts and stored with the
model; independent channels train on every channel each step."""

from __future__ import annotations

import numpy as np
import pytest

from napari_blindspot.engine import CanonicalView, TrainConfig, TrainingRun
from napari_blindspot.engine.training.channel_choice import SAME_STRUCTURE, choose_channels
from napari_blindspot.engine.events import TrainingStarted, run_to_end
from napari_blindspot.engine.training.patches import PatchSampler, Region
from napari_blindspot.engine.normalization import compute_normalization
from napari_blindspot.samples.cells import three_channel_cell
from napari_blindspot.text import training_started


def _true_sigma(sample, c):
    a, b = sample.noise["a"][c], sample.noise["b"][c]
    return float(np.sqrt(np.mean(a * sample.clean[c] + b)))


def test_different_structures_train_separate_networks_with_per_channel_noise():
    sample = three_channel_cell(96, seed=2)
    choice = choose_channels(CanonicalView(sample.noisy, "CYX"))
    assert choice.mode == "separate"
    assert choice.least_correlation < SAME_STRUCTURE
    for c in range(3):  # the noise of every channel, measured on its own (within 15 %)
        assert choice.noise_sigma[c] == pytest.approx(_true_sigma(sample, c), rel=0.15)
    assert choice.noise_sigma[0] < choice.noise_sigma[1] < choice.noise_sigma[2]
    assert "different structures" in choice.message()
    assert choice.message().startswith("Channels: separate, one network per channel (")


def test_same_structure_in_every_channel_trains_one_shared_network():
    # measured (docs/channels.md): the shared network beats every channel alone here, and joint
    # channels lost 3-5 dB (the blind spot hides the pixel in every channel)
    sample = three_channel_cell(96, seed=2, correlated=True)
    choice = choose_channels(CanonicalView(sample.noisy, "CYX"))
    assert choice.least_correlation > 0.9 and choice.mode == "independent"
    assert "same structure" in choice.message()
    assert choice.message().startswith("Channels: independent, one network shared by the channels (")
    # the noise differs per channel, and the signal correlation is measured through it
    assert choice.noise_sigma[2] > 2 * choice.noise_sigma[0]


def test_auto_is_the_default_and_is_said_and_stored():
    sample = three_channel_cell(64, seed=3)
    config = TrainConfig.for_method("n2v2", axes="CYX", steps=2, batch_size=2, patch_size=32,
                                    unet_features=8, device="cpu", validation_fraction=0.1)
    assert config.channels == "auto"
    run = TrainingRun(sample.noisy, config)
    assert run.config.channels == "separate" and run.step_patches == 2 and run.net_channels == 3
    events = []
    gen = run.events()
    try:
        while True:
            events.append(next(gen))
    except StopIteration as stop:
        model = stop.value
    started = next(e for e in events if isinstance(e, TrainingStarted))
    assert started.channels.startswith("Channels: separate, one network per channel (")
    assert "Channels: separate" in training_started(started)
    assert model.config.channels == "separate"
    assert model.info["channels_choice"] == started.channels
    # one channel: nothing to choose, nothing said
    single = TrainingRun(sample.noisy[0], config.replace(axes="YX"))
    assert single.config.channels == "independent" and run_to_end(single.events()) is not None


def test_independent_channels_take_turns_in_a_batch():
    data = np.random.default_rng(0).random((3, 40, 40)).astype(np.float32)
    view = CanonicalView(data, "CYX")
    norm = compute_normalization([view])
    sampler = PatchSampler([view], norm, (16, 16), Region(np.array([0]), 0, 40), np.random.default_rng(1))
    _, channels = sampler.draw(6)
    assert sorted(channels.tolist()) == [0, 0, 1, 1, 2, 2]


def _psnr(clean, image):
    return 10 * np.log10(np.ptp(clean) ** 2 / np.mean((image.astype(np.float64) - clean) ** 2))


@pytest.fixture(scope="module")
def cell_runs():
    """A 3-channel cell (different structure and noise per channel): every channel alone, and
    the CYX image with shared (independent), separate and joint channels, HQ-SSL at equal
    fixed steps."""
    sample = three_channel_cell(64, seed=1)
    kw = dict(steps=20, patch_size=32, batch_size=1, hq_features=8, hq_depth=2, device="cpu",
              validation_fraction=0.1, seed=0)

    def run(data, axes, **extra):
        config = TrainConfig.for_method("hqssl", axes=axes, **kw, **extra)
        return run_to_end(TrainingRun(data, config).events()).denoise(data, axes)

    alone = [_psnr(sample.clean[c], run(sample.noisy[c], "YX")) for c in range(3)]
    modes = {m: run(sample.noisy, "CYX", channels=m) for m in ("independent", "separate", "joint")}
    psnrs = {m: [_psnr(sample.clean[c], out[c]) for c in range(3)] for m, out in modes.items()}
    noisy = [_psnr(sample.clean[c], sample.noisy[c]) for c in range(3)]
    return sample, noisy, alone, psnrs


def test_auto_picks_the_better_mode_for_different_structures(cell_runs):
    sample, noisy, _, psnrs = cell_runs
    choice = choose_channels(CanonicalView(sample.noisy, "CYX"))
    assert choice.mode == "separate"
    for c in range(3):
        assert psnrs[choice.mode][c] > noisy[c] + 1.0  # every channel is denoised
        for other in ("independent", "joint"):
            assert psnrs[choice.mode][c] >= psnrs[other][c] - 0.3, (c, psnrs)
    assert np.mean(psnrs[choice.mode]) >= np.mean(psnrs["joint"]) + 0.5, psnrs


def test_cyx_denoises_every_channel_as_well_as_alone_at_equal_steps(cell_runs):
    # separate channels (auto's choice here) train every channel as it trains alone; the run
    # keeps the weights of its best summed validation loss, alone its own best: within 0.05 dB
    _, _, alone, psnrs = cell_runs
    for c in range(3):
        assert psnrs["separate"][c] >= alone[c] - 0.05, (c, alone, psnrs)
        assert psnrs["independent"][c] >= alone[c] - 0.5, (c, alone, psnrs)
