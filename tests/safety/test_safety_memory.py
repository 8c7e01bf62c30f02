"""Safety suite, memory: a training step or a prediction that cannot fit is refused (or, for
prediction, shrunk) before it allocates; allocation failures that still happen end as one
line that names the setting to lower.  ``BLINDSPOT_MAX_MEMORY`` stands in for a small machine."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from helpers_engine import small_config, untrained_model
from helpers_safety import TINY, cli, noisy_stack, one_line_error

from napari_blindspot.engine import ConfigError, TrainConfig, TrainingRun
from napari_blindspot.engine.errors import DataError, ResourceError
from napari_blindspot.engine.methods import N2V2
from napari_blindspot.engine.system import memory
from napari_blindspot.io.tiff import read_tiff


def test_training_that_cannot_fit_names_the_batch_that_can(monkeypatch):
    monkeypatch.setenv(memory.ENV_LIMIT, "100M")
    data = noisy_stack(frames=4, size=128).astype(np.float32)
    config = TrainConfig.for_method("n2v2", axes="TYX", batch_size=4096, num_threads=1)
    with pytest.raises(ConfigError, match="lower the batch size to at most") as info:
        TrainingRun(data, config).prepare()  # reading the data and building the network
    fits = int(str(info.value).split("at most ")[1].split()[0])
    assert 1 <= fits < 4096 and "--batch-size" in str(info.value)
    TrainingRun(data, config.replace(batch_size=fits)).prepare()  # the advice works


def test_patch_too_large_for_any_batch(monkeypatch):
    monkeypatch.setenv(memory.ENV_LIMIT, "2M")
    with pytest.raises(ConfigError, match="lower the patch size"):
        TrainingRun(noisy_stack(frames=2, size=128).astype(np.float32),
                    TrainConfig.for_method("n2v2", axes="TYX", patch_size=128, num_threads=1)).prepare()


def test_cli_refuses_training_that_cannot_fit(ws, capsys, monkeypatch):
    monkeypatch.setenv(memory.ENV_LIMIT, "200M")
    before = ws.snapshot()
    rc, err = cli(capsys, "denoise", ws.raw, "--method", "n2v2", "--batch-size", "2000",
                  "-o", ws.path("o.tif"))
    line = one_line_error(err)
    assert rc == 2 and "at most" in line and "--batch-size" in line and "Training" not in err
    assert "200.0 MiB are available" in line
    ws.assert_unchanged(before)


def test_estimate_grows_with_the_batch_and_the_probe_changes_nothing():
    data = noisy_stack(frames=2, size=64).astype(np.float32)
    config = small_config("n2v2", axes="TYX", steps=3)
    a, b = TrainingRun(data, config), TrainingRun(data, config)
    a.prepare()
    b.prepare()
    est = a.memory
    assert est.per_patch > 0 and est.total(8) > est.total(4) > est.fixed
    assert est.largest_batch(est.total(7)) == 7
    # measuring on a copy leaves the run's network, batch-norm statistics and RNG alone
    for p, q in zip(a.net.state_dict().values(), b.net.state_dict().values()):
        assert torch.equal(p, q)
    for _ in a.events():
        pass
    for _ in b.events():
        pass
    for p, q in zip(a.model.net.state_dict().values(), b.model.net.state_dict().values()):
        assert torch.equal(p, q)


@pytest.mark.parametrize("room, note", [(256, "using 1 tile(s) of 256 x 256"),
                                             (160, "using 1 tile(s) of 128 x 128")],
                         ids=["fewer-tiles", "smaller-tiles"])
def test_prediction_shrinks_its_tiles_to_fit_with_a_message(monkeypatch, caplog, room, note):
    model = untrained_model("n2v2", tile_batch=8)
    data = (100 + 20 * np.random.default_rng(0).normal(size=(300, 300))).astype(np.float32)
    expected = model.predict(data, "YX", tile_size=256)["denoised"]
    per_pixel = model._bytes_per_pixel
    host = memory.available_memory("cpu")
    budget = 4 * 300 * 300 * 6 + per_pixel * room * room  # the result, plus one tile
    monkeypatch.setattr(memory, "available_memory",
                        lambda device=None: int(budget / memory.USABLE_FRACTION) if host else None)
    with caplog.at_level(logging.WARNING, logger="napari_blindspot.engine.system.memory"):
        got = model.predict(data, "YX", tile_size=256, tile_batch=8)["denoised"]
    assert "8 tile(s) of 256 x 256" in caplog.text and note in caplog.text
    assert "same result, slower" in caplog.text
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-3)


def test_prediction_whose_result_cannot_fit_is_refused(ws, capsys, monkeypatch):
    monkeypatch.setenv(memory.ENV_LIMIT, "20k")
    model = untrained_model("n2v2")
    with pytest.raises(ResourceError, match="denoised result needs about"):
        model.predict(np.ones((200, 200), np.float32), "YX")
    monkeypatch.setenv(memory.ENV_LIMIT, "40k")  # reading the 16 kB image still fits
    before = ws.snapshot()
    rc, err = cli(capsys, "denoise", ws.raw, "--model", ws.model, "-o", ws.path("o.tif"))
    assert rc == 1 and "denoise a crop" in one_line_error(err)
    ws.assert_unchanged(before)


def test_tiff_larger_than_memory_is_refused_before_reading(ws, capsys, monkeypatch):
    monkeypatch.setenv(memory.ENV_LIMIT, "10k")
    with pytest.raises(DataError, match="more than the .* of memory available"):
        read_tiff(ws.raw)


def test_bad_memory_limit_is_a_clear_error(ws, capsys, monkeypatch):
    monkeypatch.setenv(memory.ENV_LIMIT, "lots")
    with pytest.raises(ConfigError, match="not a size"):
        memory.available_memory()
    rc, err = cli(capsys, "denoise", ws.raw, "--model", ws.model, "-o", ws.path("o.tif"))
    line = one_line_error(err)
    assert rc == 2 and line.startswith("blindspot: error: BLINDSPOT_MAX_MEMORY='lots' is not a size")
    assert memory.parse_bytes("1.5G") == int(1.5 * 1024 ** 3) and memory.parse_bytes("512") == 512


def _raise_on_training_batches(exc):
    real = N2V2.loss

    def loss(self, net, batch, generator, channels=None):
        if batch.shape[1] > 1:  # the memory probe uses one patch; training uses --batch-size 2
            raise exc
        return real(self, net, batch, generator, channels)

    return loss


@pytest.mark.parametrize("exc, words", [
    (RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"), ("Out of GPU memory", "--batch-size")),
    (torch.cuda.OutOfMemoryError("CUDA out of memory"), ("Out of GPU memory", "--patch-size")),
    (RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 9 GB"),
     ("Out of memory while training", "--batch-size")),
    (MemoryError(), ("Out of memory while training",)),
], ids=["cuda-runtime-error", "cuda-oom-type", "cpu-allocator", "memory-error"])
def test_out_of_memory_while_training_names_the_setting(ws, capsys, monkeypatch, exc, words):
    monkeypatch.setattr(N2V2, "loss", _raise_on_training_batches(exc))
    before = ws.snapshot()
    rc, err = cli(capsys, "denoise", ws.raw, "--method", "n2v2", *TINY, "-o", ws.path("o.tif"))
    line = one_line_error(err)
    assert rc == 1
    for word in words:
        assert word in line, (word, line)
    ws.assert_unchanged(before)


def test_out_of_memory_while_denoising_names_the_tile_size(ws, capsys, monkeypatch):
    def infer(self, net, x, channels=None):
        raise MemoryError

    monkeypatch.setattr(N2V2, "infer", infer)
    before = ws.snapshot()
    rc, err = cli(capsys, "denoise", ws.raw, "--model", ws.model, "-o", ws.path("o.tif"))
    line = one_line_error(err)
    assert rc == 1 and "Out of memory while denoising" in line and "--tile-size" in line
    ws.assert_unchanged(before)


def test_verbose_shows_the_traceback(ws, capsys, monkeypatch):
    monkeypatch.setattr(N2V2, "infer", lambda self, net, x, channels=None: (_ for _ in ()).throw(ValueError("boom")))
    rc, err = cli(capsys, "denoise", ws.raw, "--model", ws.model, "-o", ws.path("o.tif"), "--verbose")
    assert rc == 1 and "Traceback" in err and "Unexpected error while denoising: ValueError: boom" in err
    rc, err = cli(capsys, "denoise", ws.raw, "--model", ws.model, "-o", ws.path("o.tif"))
    assert rc == 1 and "Traceback" not in err and "--verbose" in one_line_error(err)
