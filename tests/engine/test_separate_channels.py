"""Separate channels (channels="separate"): one network per channel, each trained exactly as the
channel alone; saved, loaded, tiled, 3D; its time budget is per channel; a model of a shared
network (channels="independent", as every earlier version saved) still loads and predicts."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from helpers_engine import TEST_THREADS

from napari_blindspot.engine import DenoisingModel, TrainConfig, TrainingRun
from napari_blindspot.engine.events import run_to_end
from napari_blindspot.engine.nets.per_channel import PerChannel, build_per_channel, separate_networks
from napari_blindspot.engine.training.loop import train_model
from napari_blindspot.engine.training.preparation import per_channel_budget
from napari_blindspot.samples.cells import three_channel_cell

KW = dict(steps=4, batch_size=2, patch_size=32, device="cpu", validation_fraction=0.1,
          validation_interval=100, seed=1, num_threads=TEST_THREADS)
SMALL = {"hqssl": dict(hq_features=8, hq_depth=2), "n2v2": dict(unet_features=8, unet_depth=2)}


@pytest.fixture(scope="module")
def cell():
    return three_channel_cell(48, seed=3).noisy


@pytest.mark.parametrize("method", ["hqssl", "n2v2"])
def test_separate_channels_train_each_channel_exactly_as_alone(cell, method):
    kw = dict(KW, **SMALL[method])
    model = train_model(cell, TrainConfig.for_method(method, axes="CYX", channels="separate", **kw))
    assert model.config.channels == "separate" and model.net_channels == 3
    assert separate_networks(model.net) == 3
    together = model.denoise(cell)
    for c in range(3):
        alone = train_model(cell[c], TrainConfig.for_method(method, axes="YX", **kw))
        expected = alone.denoise(cell[c])
        scale = float(np.ptp(expected))
        np.testing.assert_allclose(together[c], expected, rtol=0, atol=1e-5 * scale)
        assert model.normalization.mean[c] == pytest.approx(alone.normalization.mean[0])
    # a shared network is another model: its channels differ from alone
    shared = train_model(cell, TrainConfig.for_method(method, axes="CYX", channels="independent", **kw))
    assert np.abs(shared.denoise(cell)[1] - together[1]).max() > 1e-3


def test_per_channel_networks_start_from_the_single_channel_weights():
    torch.manual_seed(5)
    state = torch.get_rng_state()
    one = torch.nn.Conv2d(1, 2, 3)
    torch.set_rng_state(state)
    grouped = build_per_channel(lambda: torch.nn.Conv2d(1, 2, 3), 3)
    after = torch.rand(1)
    torch.set_rng_state(state)
    torch.nn.Conv2d(1, 2, 3)
    assert torch.equal(after, torch.rand(1))  # the random state moves on as for one network
    for net in grouped.nets:
        assert torch.equal(net.weight, one.weight)
    x = torch.randn(2, 3, 8, 8)
    out = grouped(x)  # the first outputs of every channel, then the second ones
    assert out.shape == (2, 6, 6, 6)
    torch.testing.assert_close(out[:, 1], one(x[:, 1:2])[:, 0])
    torch.testing.assert_close(out[:, 4], one(x[:, 1:2])[:, 1])
    with pytest.raises(ValueError, match="3 networks"):
        grouped(torch.randn(1, 2, 8, 8))
    assert isinstance(grouped, PerChannel)


@pytest.mark.parametrize("method", ["hqssl", "n2v2"])
def test_separate_model_saves_loads_and_tiles(tmp_path, cell, method):
    model = train_model(cell, TrainConfig.for_method(method, axes="CYX", channels="separate",
                                                     **dict(KW, **SMALL[method])))
    path = tmp_path / "m.safetensors"
    model.save(str(path))
    loaded = DenoisingModel.load(str(path), device="cpu")
    assert loaded.config.channels == "separate" and isinstance(
        getattr(loaded.net, "net", loaded.net), PerChannel)
    whole = model.predict(cell, uncertainty=True)
    again = loaded.predict(cell, uncertainty=True, tile_size=32)  # tiles of a 48x48 image
    for key, value in whole.items():
        np.testing.assert_allclose(again[key], value, rtol=1e-4, atol=1e-4 * float(np.ptp(value)))
    if method == "hqssl":
        assert len(loaded.noise_curves()) == 3  # the widget's plot: one curve per channel
    # the widget's preview of the channel on screen: that channel's own network
    one = loaded.predict_block(cell[1:2], 1)["denoised"]
    np.testing.assert_allclose(one[0], whole["denoised"][1], rtol=1e-4,
                               atol=1e-4 * float(np.ptp(whole["denoised"][1])))


def test_separate_channels_in_3d():
    rng = np.random.default_rng(0)
    data = (rng.normal(0, 5, (2, 8, 40, 40)) + np.array([100.0, 300.0])[:, None, None, None])
    config = TrainConfig.for_method("hqssl", axes="CZYX", train_3d=True, channels="separate",
                                    patch_size=32, patch_size_z=4, hq_depth=1, hq_features=8,
                                    **{k: v for k, v in KW.items() if k not in ("patch_size",)})
    model = train_model(data.astype(np.float32), config)
    assert model.net_channels == 2 and separate_networks(model.net) == 2
    out = model.denoise(data.astype(np.float32))
    assert out.shape == data.shape
    assert abs(out[0].mean() - 100) < 20 and abs(out[1].mean() - 300) < 20


def test_the_time_budget_is_per_separate_channel(cell):
    config = TrainConfig.for_method("hqssl", axes="CYX", channels="separate", steps=None,
                                    time_budget_s=10.0)
    assert per_channel_budget(config, 3).time_budget_s == 30.0
    assert per_channel_budget(config, 1).time_budget_s == 10.0
    assert per_channel_budget(config.replace(channels="independent"), 3).time_budget_s == 10.0
    run = TrainingRun(cell, config.replace(channels="auto", device="cpu", steps=1, hq_features=8,
                                           hq_depth=1, patch_size=32, num_threads=TEST_THREADS))
    assert run.config.channels == "separate" and run.config.time_budget_s == 30.0  # different
    assert "time budget is per channel network: 3 x 10 s" in run.channel_choice.message()
    model = run_to_end(run.events())
    # the model keeps the budget asked for: training again with its settings is not scaled twice
    assert model.config.time_budget_s == 10.0 and model.config.channels == "separate"


def test_expected_duration_counts_every_channel():
    from napari_blindspot.engine.training.duration import expected_duration

    base = dict(axes="CYX", steps=None, time_budget_s=60.0)
    sep = TrainConfig.for_method("hqssl", channels="separate", **base)
    shared = TrainConfig.for_method("hqssl", channels="independent", **base)
    assert expected_duration(sep, (3, 512, 512), "cpu", 2)[0] == 180.0
    assert expected_duration(shared, (3, 512, 512), "cpu", 2)[0] == 60.0
    steps = TrainConfig.for_method("hqssl", axes="CYX", channels="separate", steps=100)
    one = TrainConfig.for_method("hqssl", axes="YX", steps=100)
    assert expected_duration(steps, (3, 256, 256), "cpu", 2)[0] == pytest.approx(
        3 * expected_duration(one, (256, 256), "cpu", 2)[0])


def test_a_shared_network_model_file_still_loads_and_predicts_the_same(tmp_path, cell):
    # every model file before separate channels says channels="independent" (a shared network)
    model = train_model(cell, TrainConfig.for_method("hqssl", axes="CYX", channels="independent",
                                                     **dict(KW, **SMALL["hqssl"])))
    path = tmp_path / "old.safetensors"
    model.save(str(path))
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        config = json.loads(f.metadata()["config"])
    assert config["channels"] == "independent" and not isinstance(config["channels"], dict)
    loaded = DenoisingModel.load(str(path), device="cpu")
    assert loaded.net_channels == 1 and separate_networks(loaded.net) == 1
    np.testing.assert_allclose(loaded.denoise(cell), model.denoise(cell), rtol=1e-5, atol=1e-4)


def test_cli_reaches_separate_channels(tmp_path, capsys):
    import tifffile

    from napari_blindspot.cli import main

    image = tmp_path / "cell.tif"
    tifffile.imwrite(image, three_channel_cell(48, seed=3).noisy.astype(np.float32),
                     photometric="minisblack")
    out = tmp_path / "m.safetensors"
    assert main(["train", str(image), "--axes", "CYX", "-o", str(out), "--steps", "2",
                 "--features", "8", "--depth", "1", "--patch-size", "32", "--channels", "separate",
                 "--device", "cpu"]) == 0
    assert main(["info", str(out)]) == 0
    assert "channels: 3 (separate)" in capsys.readouterr().out


def test_the_widgets_expected_duration_says_the_budget_per_channel():
    from napari_blindspot.widget.expected import expected_text

    length = dict(steps=None, time_budget_s=165.0, device="cpu")
    _, auto = expected_text("hqssl", length, (3, 512, 512), "CYX")
    assert "the time budget is then per channel: up to 3 x 2:45" in auto
    _, separate = expected_text("hqssl", dict(length, channels="separate"), (3, 512, 512), "CYX")
    assert "training 8:15" in separate
    _, one = expected_text("hqssl", length, (512, 512), "YX")
    assert "per channel" not in one
