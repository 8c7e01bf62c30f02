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
    ("steps", 10 ** 12, "at most 100,000,000"),
    ("epochs", 10 ** 9, "at most 1,000,000"),
    ("unet_depth", 12, "at most 8"),
    ("hq_features", 4096, "at most 512"),
], ids=["budget-inf", "lr-nan", "seed-negative", "seed-bool", "threads-float", "steps-absurd",
        "epochs-absurd", "depth-absurd", "features-absurd"])
def test_config_refuses_values_no_run_can_use(field, value, words):
    with pytest.raises(ConfigError, match=words) as info:
        TrainConfig(axes="YX", **{field: value}).validate()
    assert info.value.setting == field


def test_known_sigma_must_be_finite():
    with pytest.raises(ConfigError, match="finite"):
        TrainConfig.for_method("hqssl", axes="YX", noise_model="gaussian-known", noise_sigma=float("inf"))


# ---------------------------------------------------------------- options that size a resource
RESOURCES: list[tuple[str, Callable[[Workspace], list[str]], tuple[str, ...]]] = [
    ("workers-negative", lambda w: ["denoise", str(w.raw), "--model", str(w.model), "-o", w.path("o.tif"),
                                    "--workers", "-2"], ("--workers -2", "at least 1")),
    ("workers-zero", lambda w: ["denoise", str(w.raw), "--model", str(w.model), "-o", w.path("o.tif"),
                                "--workers", "0"], ("--workers 0", "at least 1")),
    ("threads-negative", denoise("--threads", "-4"), ("--threads -4",)),
    ("steps-beyond-any-run", denoise("--steps", str(10 ** 15)), ("--steps", "too large", "100,000,000")),
    ("epochs-beyond-any-run", denoise("--epochs", str(10 ** 9)), ("--epochs", "too large")),
    ("minutes-beyond-any-run", denoise("--minutes", "1e300"), ("--minutes 1e+300", "too large")),
    ("depth-too-deep", denoise("--depth", "20"), ("--depth 20", "at most 8")),
    ("features-too-wide", denoise("--features", "100000"), ("--features 100000", "at most 512")),
    ("batch-size-absurd", denoise("--batch-size", str(10 ** 9)), ("--batch-size", "too large")),
    ("patch-size-absurd", denoise("--patch-size", str(10 ** 6)), ("--patch-size", "too large")),
    ("tile-size-absurd", denoise("--tile-size", str(10 ** 8)), ("--tile-size", "too large")),
    ("demo-size-absurd", lambda w: ["demo", "--out", w.path("demo"), "--size", "100000", *TINY],
     ("--size 100000", "too large")),
    ("demo-sample-too-many-pixels", lambda w: ["demo", "--out", w.path("demo"), "--frames", "1000", "--size",
                                               "4096", *TINY], ("--frames 1000 --size 4096", "lower")),
    ("demo-frames-absurd", lambda w: ["demo", "--out", w.path("demo"), "--frames", "10000000", *TINY],
     ("--frames", "too large")),
    ("config-depth-too-deep", with_config(json.dumps({"unet_depth": 30})), ("unet_depth", "at most 8")),
]


@pytest.mark.parametrize("case, argv, words", RESOURCES, ids=[c[0] for c in RESOURCES])
def test_resource_options_are_bounded_up_front(ws, capsys, monkeypatch, case, argv, words):
    import napari_blindspot.cli.denoise as cli_denoise

    def no_work(*args, **kwargs):
        raise AssertionError("work started before the options were checked")
    monkeypatch.setattr(cli_denoise, "load_model", no_work)
    monkeypatch.setattr(cli_denoise, "expand_inputs", no_work) if case.startswith("workers") else None
    args = argv(ws)
    before = ws.snapshot()
    rc, err = cli(capsys, *args)
    line = one_line_error(err)
    assert rc == 2, err
    for word in words:
        assert word in line, line
    ws.assert_unchanged(before)


def test_threads_beyond_the_cores_are_capped_with_a_note(ws, capsys, monkeypatch):
    import napari_blindspot.cli.checks as checks
    from napari_blindspot.engine.system.device import configure_threads

    monkeypatch.setattr(checks, "available_cores", lambda: 2)
    seen = {}
    import napari_blindspot.cli.denoise as cli_module

    real = cli_module.train_on

    def spy(args, images, distributed=None):
        seen["threads"] = args.threads
        return real(args, images, distributed)
    monkeypatch.setattr(cli_module, "train_on", spy)
    argv = denoise()(ws)
    argv[argv.index("--threads") + 1] = "1000"
    rc, err = cli(capsys, *argv)
    assert rc == 0, err
    assert "--threads 1000: this machine lets the run use 2 cores; using 2 threads." in err
    assert seen["threads"] == 2
    # the engine caps too (a --config file, a script)
    before = torch.get_num_threads()
    try:
        assert configure_threads(10_000) <= len(__import__("os").sched_getaffinity(0))
    finally:
        torch.set_num_threads(before)


def test_workers_beyond_the_cores_are_capped_with_a_note(ws, capsys, monkeypatch):
    import napari_blindspot.cli.checks as checks

    monkeypatch.setattr(checks, "available_cores", lambda: 2)
    args = __import__("argparse").Namespace(workers=64)
    checks.check_options(args)
    assert args.workers == 2
    assert "--workers 64: this machine lets the run use 2 cores; using 2 worker processes." in \
        capsys.readouterr().err


def test_cluster_refuses_a_worker_count_below_one():
    pytest.importorskip("distributed")
    from napari_blindspot.files.cluster import _client

    for bad in (0, -2):
        with pytest.raises(ConfigError, match="at least 1"):
            _client(bad, None)
