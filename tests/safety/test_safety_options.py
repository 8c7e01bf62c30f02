"""Safety suite, options and axes: settings no training can use, and images whose axes do
not fit, are refused before training with one line that names the option and the fix;
no file the user had is changed (see helpers_safety.py)."""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import pytest
import tifffile
import torch

from helpers_engine import untrained_model
from helpers_safety import TINY, Workspace, cli, noisy_stack, one_line_error

from napari_blindspot.engine import ConfigError, DataError, TrainConfig, TrainingRun
from napari_blindspot.io.tiff import write_tiff


def denoise(*extra: str) -> Callable[[Workspace], list[str]]:
    return lambda w: ["denoise", str(w.raw), "-o", w.path("o.tif"), "--method", "n2v2", *TINY, *extra]


def with_config(content: str) -> Callable[[Workspace], list[str]]:
    def build(w: Workspace) -> list[str]:
        (w.root / "settings.json").write_text(content)
        return ["denoise", str(w.raw), "-o", w.path("o.tif"), *TINY, "--config", w.path("settings.json")]
    return build


def with_image(data: np.ndarray, *extra: str, imagej: bool = False) -> Callable[[Workspace], list[str]]:
    def build(w: Workspace) -> list[str]:
        tifffile.imwrite(w.root / "img.tif", data, imagej=imagej, photometric="minisblack")
        return ["denoise", w.path("img.tif"), "-o", w.path("o.tif"), "--method", "n2v2", *TINY, *extra]
    return build


OPTIONS: list[tuple[str, Callable[[Workspace], list[str]], tuple[str, ...]]] = [
    ("seed-negative", denoise("--seed", "-1"), ("--seed -1", "from 0 to")),
    ("seed-too-large", denoise("--seed", str(2 ** 40)), ("--seed", "out of range")),
    ("noise-sigma-inf", denoise("--noise-sigma", "inf"), ("--noise-sigma inf", "finite")),
    ("noise-sigma-nan", denoise("--noise-sigma", "nan"), ("--noise-sigma nan",)),
    ("noise-sigma-zero", denoise("--noise-sigma", "0"), ("--noise-sigma 0", "positive")),
    ("minutes-inf", denoise("--minutes", "inf"), ("--minutes inf", "finite")),
    ("minutes-nan", denoise("--minutes", "nan"), ("--minutes nan",)),
    ("minutes-zero", denoise("--minutes", "0"), ("--minutes 0", "positive")),
    ("tile-size-zero", denoise("--tile-size", "0"), ("--tile-size 0", "at least 16")),
    ("tile-size-tiny", denoise("--tile-size", "8"), ("--tile-size 8",)),
    ("batch-size-zero", denoise("--batch-size", "0"), ("--batch-size 0", "at least 1")),
    ("patch-size-not-multiple-of-4", denoise("--patch-size", "30"), ("--patch-size 30", "multiple of 4", "28")),
    ("patch-size-tiny", denoise("--patch-size", "4"), ("--patch-size 4", "at least 8")),
    ("patch-size-z-tiny", denoise("--patch-size-z", "2"), ("--patch-size-z 2", "at least 4")),
    ("steps-zero", denoise("--steps", "0"), ("--steps 0",)),
    ("epochs-negative", denoise("--epochs", "-3"), ("--epochs -3",)),
    ("lr-nan", denoise("--lr", "nan"), ("--lr nan", "(0, 1)")),
    ("lr-too-large", denoise("--lr", "5"), ("--lr 5",)),
    ("mask-fraction-too-large", denoise("--mask-fraction", "2"), ("--mask-fraction 2",)),
    ("validation-fraction-too-large", denoise("--validation-fraction", "0.7"), ("--validation-fraction 0.7",)),
    ("threads-zero", denoise("--threads", "0"), ("--threads 0",)),
    ("features-too-few", denoise("--features", "2"), ("--features 2",)),
    ("depth-zero", denoise("--depth", "0"), ("--depth 0",)),
    ("model-and-method", lambda w: ["denoise", str(w.raw), "--model", str(w.model), "--method", "n2v",
                                    "-o", w.path("o.tif")], ("either --model", "not both")),
    ("known-noise-model-without-sigma", denoise("--noise-model", "gaussian-known"),
     ("noise_sigma", "--noise-sigma")),
    ("config-not-json", with_config("{batch_size: 8"), ("settings.json", "not valid JSON")),
    ("config-not-an-object", with_config("[1, 2]"), ("JSON object",)),
    ("config-unknown-setting", with_config(json.dumps({"batch": 8})),
     ("unknown setting 'batch'", "did you mean 'batch_size'")),
    ("config-wrong-value", with_config(json.dumps({"learning_rate": "fast"})), ("learning_rate", "--lr")),
    ("config-wrong-type-for-field", with_config(json.dumps({"unet_depth": [2]})), ("unet_depth", "integer")),
    ("config-bad-method", with_config(json.dumps({"method": "magic"})), ("method", "choose one of")),
    ("config-3d-without-z", with_config(json.dumps({"train_3d": True})), ("Z axis",)),
    ("axes-unknown-letter", denoise("--axes", "TQX"), ("unknown letter", "'Q'")),
    ("axes-wrong-count", denoise("--axes", "YX"), ("2 letters", "3 dimensions")),
    ("axes-repeated", denoise("--axes", "YYX"), ("more than once",)),
    ("axes-swapped-makes-y-tiny", denoise("--axes", "YXT"), ("Y=2", "too small", "check the axes ('YXT'")),
    ("image-1x1", with_image(np.ones((1, 1), np.uint16)), ("too small to train on", "check the axes")),
    ("image-1x1-stack", with_image(np.ones((5, 1, 1), np.uint16)), ("too small", "'ZYX'")),
    ("image-smaller-than-patch", denoise("--patch-size", "128"), ("at most 64", "--patch-size")),
    ("3d-without-z", denoise("--3d"), ("3D", "Z axis")),
    ("3d-z-smaller-than-patch", with_image(noisy_stack(frames=6), "--3d", "--axes", "ZYX", "--patch-size-z", "8"),
     ("Z patch of at most 4", "--patch-size-z")),
    ("3d-too-few-slices", with_image(noisy_stack(frames=3), "--3d", "--axes", "ZYX"),
     ("2D training", "too few")),
    ("constant-image", with_image(np.full((2, 64, 64), 7, np.uint16), "--axes", "TYX"), ("constant",)),
    ("nan-in-image", with_image(np.where(np.eye(64, dtype=bool), np.nan, 1.0).astype(np.float32)),
     ("NaN or infinite",)),
    ("batch-size-beyond-memory", denoise("--batch-size", "100000"),
     ("100000", "--batch-size", "at most")),
]


@pytest.mark.parametrize("case, argv, words", OPTIONS, ids=[c[0] for c in OPTIONS])
def test_bad_settings_refused_before_training(ws, capsys, case, argv, words):
    args = argv(ws)
    before = ws.snapshot()
    rc, err = cli(capsys, *args)
    line = one_line_error(err)
    assert rc == 2, err
    for word in words:
        assert word in line, (word, line)
    assert "Training n2v" not in err and "Training hqssl" not in err
    ws.assert_unchanged(before)


def test_channels_of_model_and_image_differ(ws, capsys):
    write_tiff(ws.root / "two.tif", np.stack([noisy_stack(), noisy_stack(seed=3)], axis=1), "TCYX",
               dtype=np.uint16)
    before = ws.snapshot()
    rc, err = cli(capsys, "denoise", ws.path("two.tif"), "--model", ws.model, "-o", ws.path("o.tif"))
    assert rc == 2 and "1 channel(s) but the image has 2" in one_line_error(err)
    ws.assert_unchanged(before)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_gpu_asked_for_but_missing(ws, capsys):
    before = ws.snapshot()
    rc, err = cli(capsys, *denoise("--device", "cuda")(ws))
    assert rc == 2 and "CUDA" in one_line_error(err) and "'cpu'" in err
    ws.assert_unchanged(before)


# ------------------------------------------------------------------ the engine, from Python
def test_engine_refuses_a_list_for_an_image():
    with pytest.raises(DataError, match="numpy.asarray") as info:
        TrainingRun([[1.0, 2.0], [3.0, 4.0]], TrainConfig(axes="YX"))
    assert "empty" not in str(info.value)


@pytest.mark.parametrize("kwargs, words", [
    ({"tile_batch": -1}, "tile_batch=-1"),
    ({"tile_batch": 0}, "tile_batch=0"),
    ({"tile_size": 0}, "tile_size=0"),
    ({"tile_size": 4.5}, "tile_size=4.5"),
    ({"tile_size_z": 1}, "tile_size_z=1"),
], ids=["tile-batch-negative", "tile-batch-zero", "tile-size-zero", "tile-size-float", "tile-size-z-tiny"])
def test_engine_refuses_bad_prediction_options(kwargs, words):
    model = untrained_model("n2v2")
    with pytest.raises(ConfigError, match=words.replace("(", r"\(")):
        model.predict(np.ones((40, 40), np.float32), "YX", **kwargs)


@pytest.mark.parametrize("field, value, words", [
    ("time_budget_s", float("inf"), "finite"),
    ("learning_rate", float("nan"), "learning_rate"),
    ("seed", -1, "from 0 to"),
    ("seed", True, "seed"),
    ("num_threads", 1.5, "num_threads"),
], ids=["budget-inf", "lr-nan", "seed-negative", "seed-bool", "threads-float"])
def test_config_refuses_values_no_run_can_use(field, value, words):
    with pytest.raises(ConfigError, match=words) as info:
        TrainConfig(axes="YX", **{field: value}).validate()
    assert info.value.setting == field


def test_known_sigma_must_be_finite():
    with pytest.raises(ConfigError, match="finite"):
        TrainConfig.for_method("hqssl", axes="YX", noise_model="gaussian-known", noise_sigma=float("inf"))
