"""Bad input gives a BlindspotError (a ValueError) whose message names the problem."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers_engine import small_config, untrained_model

from napari_blindspot.engine import (AxesError, BlindspotError, ConfigError, DataError, ModelFileError,
                                     TrainingRun, available_devices, describe_device, load_model,
                                     select_device, train_model)


def _noisy(shape, seed=0):
    return (100 + 10 * np.random.default_rng(seed).normal(size=shape)).astype(np.float32)


def _raises(exc, match, fn, *args, **kwargs):
    with pytest.raises(exc, match=match) as info:
        fn(*args, **kwargs)
    assert isinstance(info.value, BlindspotError) and isinstance(info.value, ValueError)
    return str(info.value)


# ---------------------------------------------------------------- axes
@pytest.mark.parametrize("axes", ["TYQ", "YXX", "TZX", "yx1"])
def test_wrong_axes_letters(axes):
    data = _noisy((2, 64, 64))
    # validation on construction (TrainConfig.validate) and again in TrainingRun
    with pytest.raises(AxesError, match="Axes"):
        small_config("n2v2", axes=axes)
    _raises(AxesError, "Axes", TrainingRun, data, _config_without_validation(axes=axes))


def _config_without_validation(**changes):
    cfg = small_config("n2v2")
    for k, v in changes.items():
        setattr(cfg, k, v)
    return cfg


def test_axes_not_matching_shape():
    msg = _raises(AxesError, r"3 letters but the image has 2 dimensions", TrainingRun,
                  _noisy((64, 64)), small_config("n2v2", axes="TYX"))
    assert "(64, 64)" in msg and "'YX'" in msg  # names the shape and suggests axes
    _raises(AxesError, "1 letters|2 letters", TrainingRun, _noisy((3, 64, 64)), small_config("n2v2", axes="YX"))


def test_3d_without_z():
    _raises(BlindspotError, "Z axis", TrainingRun, _noisy((3, 64, 64)),
            _config_without_validation(axes="TYX", train_3d=True))


def _prepare_run(data, config):
    """Build a run and read its data (what events() starts with)."""
    TrainingRun(data, config).prepare()


# ---------------------------------------------------------------- data
def test_image_smaller_than_patch():
    msg = _raises(DataError, "smaller than the training patch", TrainingRun, _noisy((2, 40, 100)),
                  small_config("n2v2", axes="TYX", patch_size=48))  # a chosen size: kept, refused
    assert "Y=40" in msg and "at most 40" in msg
    _raises(DataError, "Z patch", TrainingRun, _noisy((6, 64, 64)),
            small_config("n2v2", axes="ZYX", train_3d=True, patch_size_z=8))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("method", ["n2v2", "hqssl"])
def test_nan_or_inf(bad, method):
    data = _noisy((5, 64, 64))
    data[3, 10, 20] = bad
    msg = _raises(DataError, "NaN or infinite", _prepare_run, data, small_config(method, axes="TYX"))
    assert "sample 3" in msg


def test_nan_in_prediction():
    model = untrained_model("n2v2")
    data = _noisy((40, 40))
    data[0, 0] = np.nan
    _raises(DataError, "NaN or infinite", model.predict, data, "YX")


@pytest.mark.parametrize("shape,axes", [((0, 64, 64), "TYX"), ((0, 0), "YX"), ((64, 0), "YX")])
def test_empty_array(shape, axes):
    _raises(DataError, "empty", TrainingRun, np.zeros(shape, np.float32), small_config("n2v2", axes=axes))
    _raises(DataError, "empty", untrained_model("n2v2").predict, np.zeros(shape, np.float32), axes)


def test_constant_image():
    _raises(DataError, "constant", _prepare_run, np.full((2, 64, 64), 7, np.uint16),
            small_config("n2v2", axes="TYX"))


@pytest.mark.parametrize("dtype", [np.complex64, np.bool_])
def test_unsupported_dtype(dtype):
    _raises(DataError, "Unsupported pixel type", TrainingRun, np.ones((64, 64), dtype),
            small_config("n2v2", axes="YX"))


def test_channel_mismatch_at_prediction():
    model = untrained_model("n2v2")
    _raises(DataError, "1 channel", model.predict, _noisy((3, 40, 40)), "CYX")
    _raises(AxesError, "give the image's axes", model.predict, _noisy((3, 40, 40)))


# ---------------------------------------------------------------- settings and devices
def test_bad_config_given_to_training():
    cfg = _config_without_validation(batch_size=0)
    _raises(ConfigError, "batch_size", TrainingRun, _noisy((64, 64)), cfg)
    cfg = _config_without_validation(learning_rate=5.0)
    _raises(ConfigError, "learning_rate", train_model, _noisy((64, 64)), cfg)


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is available")
def test_cuda_requested_without_gpu():
    _raises(ConfigError, "CUDA", select_device, "cuda")
    _raises(ConfigError, "CUDA", select_device, "cuda:1")
    msg = _raises(ConfigError, "CUDA", TrainingRun, _noisy((64, 64)), small_config("n2v2", device="cuda"))
    assert "cpu" in msg  # says what to use instead
    _raises(ConfigError, "CUDA", untrained_model("n2v2").to, "cuda")


def test_unknown_device_and_mps():
    _raises(ConfigError, "Unknown device", select_device, "gpu7")
    if "mps" not in available_devices():
        _raises(ConfigError, "MPS", select_device, "mps")


def test_device_selection():
    devices = available_devices()
    assert devices[-1] == "cpu"
    assert select_device("auto").type == torch.device(devices[0]).type
    assert select_device("cpu") == torch.device("cpu")
    assert "CPU" in describe_device("cpu")


def test_non_model_file(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("not a model")
    _raises(ModelFileError, "not a napari-blindspot model", load_model, path)
