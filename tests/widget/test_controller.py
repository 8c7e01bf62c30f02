"""The widget's logic, without a display: the controller on a napari viewer model, its jobs
run at once in the test's thread.  Tiny images and networks keep each training to a second."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from napari_blindspot.io.tiff import read_tiff
from napari_blindspot.samples.fluorescence import fluorescence_timelapse
from napari_blindspot.widget.controller import method_choices
from napari_blindspot.widget.jobs import user_message
from napari_blindspot.widget.lengths import parse_length
from napari_blindspot.widget.state import DenoiseRequest, JobState, TrainRequest

TINY = {"steps": 4, "epochs": None, "time_budget_s": None, "patch_size": 32, "batch_size": 2,
        "unet_features": 8, "unet_depth": 2, "hq_features": 4, "hq_depth": 2, "tile_size": 64,
        "device": "cpu"}


def stack(frames: int = 2, size: int = 48, seed: int = 0) -> np.ndarray:
    return fluorescence_timelapse(frames=frames, size=size, seed=seed).noisy


def request(layer, method: str = "n2v2", axes: str = "TYX", **changes) -> TrainRequest:
    settings = dict(TINY, **changes.pop("settings", {}))
    return TrainRequest(layer, axes, method, settings, **changes)


def record(controller) -> dict[str, list]:
    """What the controller reports: job states, messages, finished jobs."""
    seen: dict[str, list] = {"jobs": [], "messages": [], "done": []}
    controller.state.events.job.connect(lambda job: seen["jobs"].append(job))
    controller.message.connect(lambda text, level: seen["messages"].append((level, text)))
    controller.job_done.connect(lambda job: seen["done"].append(job))
    return seen


def errors(seen) -> list[str]:
    return [text for level, text in seen["messages"] if level == "error"]


def test_train_then_denoise_adds_the_result_and_rerun_replaces_it(controller, viewer_model):
    data = stack()
    layer = viewer_model.add_image(data, name="cells", scale=(1.0, 0.5, 0.5), translate=(0, 10, 20))
    seen = record(controller)
    controller.train(request(layer, live_preview=False))
    assert seen["jobs"] == [JobState.TRAINING, JobState.DENOISING, JobState.IDLE]
    assert seen["done"] == ["denoising", "training"]  # run at once: denoising ends inside training's end
    denoised = viewer_model.layers["cells [denoised]"]
    assert denoised.data.shape == data.shape and denoised.data.dtype == np.float32
    np.testing.assert_allclose(denoised.translate, (0, 10, 20))
    assert controller.model.info["steps"] == 4 and controller.state.has_model
    assert controller.state.model_text == "Model: N2V2 2D, 4 steps, axes TYX, 1 channel (trained on 'cells')."
    assert controller.state.progress == 1.0 and controller.state.progress_text.startswith("completed · 4 steps")
    assert controller.state.denoise_text == "done"
    assert [s for s, _ in controller.losses.train][-1] == 4 and controller.losses.validation
    assert controller.last_message[0].startswith("Done: 'cells [denoised]'")
    assert controller.events_seen["progress"] > 0 and controller.events_seen["preview"] == 0
    assert [layer.name for layer in viewer_model.layers] == ["cells", "cells [denoised]"]

    controller.train(request(layer, live_preview=False))
    assert [layer.name for layer in viewer_model.layers] == ["cells", "cells [denoised]"]
    assert viewer_model.layers["cells [denoised]"] is denoised


def test_the_preview_layer_becomes_the_result(controller, viewer_model):
    layer = viewer_model.add_image(stack(frames=3), name="cells")
    placeholders = []
    controller.state.events.job.connect(
        lambda job: placeholders.append(controller.preview.layer) if job is JobState.TRAINING else None)
    controller.train(request(layer, settings={"steps": 6}))
    placeholder = placeholders[0]
    assert placeholder is not None and placeholder.name == "cells [denoised]"
    assert controller.events_seen["preview"] >= 1
    assert viewer_model.layers["cells [denoised]"] is placeholder and placeholder.opacity == 1
    assert "cells [preview]" not in [lay.name for lay in viewer_model.layers]


def test_continue_counts_steps_on_and_stop_keeps_the_model(controller, viewer_model):
    layer = viewer_model.add_image(stack(), name="cells")
    controller.train(request(layer, live_preview=False))
    controller.continue_training(request(layer, method="hqssl", live_preview=False))  # network kept
    assert controller.model.config.method == "n2v2" and controller.model.info["steps"] == 8
    assert controller.losses.train[-1][0] == 8

    def stop_after_three(*_):
        if controller.events_seen["progress"] >= 3:
            controller.stop()

    controller.state.events.progress.connect(stop_after_three)
    controller.events_seen.clear()
    seen = record(controller)
    controller.train(request(layer, settings={"steps": 10_000}, live_preview=False))
    assert JobState.STOPPING in seen["jobs"] and seen["jobs"][-1] is JobState.IDLE
    assert 0 < controller.model.info["steps"] < 10_000
    assert "stopped" in controller.state.progress_text
    assert viewer_model.layers["cells [denoised]"].data.shape == (2, 48, 48)


def test_cancel_denoising_changes_no_layer(controller, viewer_model):
    layer = viewer_model.add_image(stack(), name="cells")
    controller.train(request(layer, live_preview=False))
    before = np.array(viewer_model.layers["cells [denoised]"].data)
    big = viewer_model.add_image(np.repeat(stack(frames=1, size=64), 50, axis=0), name="long")
    controller.state.events.denoise_progress.connect(lambda *_: controller.cancel())
    controller.denoise(DenoiseRequest(big, "TYX", tile_size=32))
    assert "long [denoised]" not in [lay.name for lay in viewer_model.layers]
    assert controller.last_message == ("Denoising was cancelled; no layer was changed.", "warning")
    assert controller.state.denoise_text == "cancelled" and controller.state.job is JobState.IDLE
    np.testing.assert_array_equal(viewer_model.layers["cells [denoised]"].data, before)


def test_noise2noise_asks_for_a_second_acquisition(controller, viewer_model):
    first = viewer_model.add_image(stack(seed=1), name="first")
    second = viewer_model.add_image(stack(seed=2), name="second")
    seen = record(controller)
    for target in (None, first):
        controller.train(request(first, "n2n", target=target))
        assert "second, independent acquisition" in errors(seen)[-1]
        assert seen["jobs"] == []  # refused before any job started
    small = viewer_model.add_image(stack(size=32), name="small")
    controller.train(request(first, "n2n", target=small))
    assert "same shape" in errors(seen)[-1]
    controller.train(request(first, "n2n", target=second, live_preview=False))
    assert viewer_model.layers["first [denoised]"].data.shape == (2, 48, 48)


def test_bad_input_is_reported_and_nothing_runs(controller, viewer_model, tmp_path):
    labels = viewer_model.add_labels(np.zeros((48, 48), np.int32), name="labels")
    tiny = viewer_model.add_image(np.random.default_rng(0).random((1, 12, 12)).astype(np.float32),
                                  name="small")
    seen = record(controller)
    controller.train(request(labels, axes="YX"))
    assert "labels layer, not an image" in errors(seen)[-1]
    controller.train(request(tiny))
    assert "smaller than the training patch" in errors(seen)[-1]
    controller.train(request(tiny, axes="ZZX"))
    assert "more than once" in errors(seen)[-1]
    controller.continue_training(request(tiny))
    assert "no model to continue" in errors(seen)[-1]
    controller.denoise(DenoiseRequest(tiny, "TYX"))
    assert "no model yet" in errors(seen)[-1]
    assert controller.export(tiny, tmp_path / "x.tif") is None
    assert "no 'small [denoised]'" in errors(seen)[-1].lower()
    damaged = tmp_path / "damaged.safetensors"
    damaged.write_bytes(b"\x00not a model" * 10)
    assert controller.files.load_model(damaged) is None and "damaged" in errors(seen)[-1]
    assert seen["jobs"] == [] and controller.model is None
    assert [lay.name for lay in viewer_model.layers] == ["labels", "small"]


def test_save_load_and_export(controller, viewer_model, tmp_path):
    data = stack()
    layer = viewer_model.add_image(data, name="cells", scale=(1.0, 0.5, 0.5), metadata={"axes": "TYX"},
                                   units=("pixel", "micrometer", "micrometer"))
    controller.train(request(layer, "hqssl", settings={"noise_model": "gaussian"}, live_preview=False))
    assert "noise: sigma = " in controller.state.noise_text
    assert controller.files.save_model(ask=lambda: None) is None  # the user cancelled the dialog
    path = controller.files.save_model(ask=lambda: str(tmp_path / "cells"))
    assert path.name == "cells.safetensors" and path.is_file()

    written = controller.export(viewer_model.layers["cells [denoised]"], ask=lambda name: str(tmp_path / name))
    assert [p.name for p in written] == ["cells_denoised.tif", "cells_denoised_uncertainty.tif"]
    back = read_tiff(written[0])
    assert back.axes == "TYX" and back.pixel_size["X"] == pytest.approx(0.5, rel=1e-5)
    np.testing.assert_array_equal(back.data, viewer_model.layers["cells [denoised]"].data)

    controller.reset()
    assert controller.model is None and not controller.losses.train
    assert controller.state.model_text.startswith("No model yet") and controller.state.progress_text == "ready"
    loaded = []
    controller.model_loaded.connect(loaded.append)
    model = controller.files.load_model(path, device="cpu")
    assert loaded == [model] and model.config.method == "hqssl"
    assert "loaded from cells.safetensors" in controller.state.model_text
    viewer_model.layers.remove("cells [uncertainty]")
    controller.denoise(DenoiseRequest(layer, "TYX", tile_size=64))
    assert "cells [uncertainty]" in [lay.name for lay in viewer_model.layers]


def test_closing_drops_the_results(controller, viewer_model):
    layer = viewer_model.add_image(stack(), name="cells")
    controller.state.events.progress.connect(lambda *_: controller.close_jobs())
    seen = record(controller)
    controller.train(request(layer, settings={"steps": 10_000}))
    assert seen["jobs"][-2:] == [JobState.CLOSING, JobState.CLOSED]
    assert controller.busy is None and controller.run is None
    assert [lay.name for lay in viewer_model.layers] == ["cells"]  # no preview, no result


def test_a_registered_method_is_offered(toy_method, controller, viewer_model):
    assert method_choices()[-1] == ("Toy smoother", "toy")
    layer = viewer_model.add_image(stack(), name="cells")
    controller.train(request(layer, "toy", live_preview=False))
    assert controller.model.config.method == "toy"
    assert viewer_model.layers["cells [denoised]"].data.shape == (2, 48, 48)


def test_messages_and_lengths():
    import torch

    oom = user_message(torch.cuda.OutOfMemoryError("CUDA out of memory"), "training")
    assert "Out of GPU memory" in oom and "batch size" in oom and "tile size" in oom
    assert "Out of memory" in user_message(MemoryError(), "denoising")
    assert parse_length("5 minutes") == {"steps": None, "epochs": None, "time_budget_s": 300.0}
    assert parse_length("20 epochs")["epochs"] == 20
    assert parse_length("1 h 30 min")["time_budget_s"] == 5400.0
    assert parse_length(" 1,500 ")["steps"] == 1500
    with pytest.raises(ValueError, match="not understood"):
        parse_length("a while")


def test_the_controller_needs_no_qt():
    code = ("import importlib, pkgutil, sys\nfrom napari.components import ViewerModel\n"
            "import napari_blindspot.widget as w\n"  # every module but the views (widget/_qt)
            "[importlib.import_module(f'{w.__name__}.{m.name}') for m in pkgutil.iter_modules("
            "w.__path__) if m.name != '_qt']\n"
            "from napari_blindspot.widget.controller import DenoiseController\n"
            "from napari_blindspot.widget.jobs import run_now\n"
            "DenoiseController(ViewerModel(), run_now)\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('qtpy', 'PyQt5', 'PyQt6', 'PySide2', 'PySide6', 'superqt')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         timeout=120)
    assert out.stdout.strip() == "[]", out.stdout


def test_collector_pause_freezes_once_and_releases():
    import gc

    from napari_blindspot.widget.gc_pause import CollectorPause

    pause = CollectorPause()
    gc.unfreeze()
    pause.hold()
    frozen = gc.get_freeze_count()
    assert frozen > 0
    pause.hold()  # a second job in the same series: nothing more frozen (frozen objects may
    assert gc.get_freeze_count() <= frozen  # still be freed by reference counting meanwhile)
    pause.release()
    assert gc.get_freeze_count() == 0 and not pause.active
    pause.release()  # idempotent


def test_every_method_has_a_one_line_tagline_for_the_dock():
    from napari_blindspot.engine import method_classes

    for method in method_classes():
        assert method.tagline and len(method.tagline) <= 72, method.name  # one line in the dock
        assert method.help and method.tagline != method.help  # the paragraph is the tooltip


def test_test_time_augmentation_is_the_one_shot_one(controller, viewer_model, monkeypatch):
    """The widget's checkbox gives what one-shot `blindspot denoise` does: the rotations and
    their mirror images (ONE_SHOT_TTA) on images up to ONE_SHOT_TTA_MAX_PIXELS, none on larger
    ones (issues 22, 23)."""
    from napari_blindspot.engine import DenoisingModel
    from napari_blindspot.engine import defaults

    layer = viewer_model.add_image(stack(), name="cells")
    controller.train(request(layer, live_preview=False))
    seen = []
    real = DenoisingModel.predict_iter

    def spy(self, *args, **kwargs):
        seen.append(kwargs.get("tta"))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(DenoisingModel, "predict_iter", spy)
    controller.denoise(DenoiseRequest(layer, "TYX", tile_size=64, tta=True))
    controller.denoise(DenoiseRequest(layer, "TYX", tile_size=64, tta=False))
    monkeypatch.setattr(defaults, "ONE_SHOT_TTA_MAX_PIXELS", 1000)  # the layer is now "too big"
    controller.denoise(DenoiseRequest(layer, "TYX", tile_size=64, tta=True))
    # N2V2's transforms share no network pass: the four rotations (HQ-SSL 2D: all eight,
    # tests/cli/test_cli_one_shot_tta.py)
    assert not controller.model.shares_tta
    assert seen == [defaults.ONE_SHOT_TTA_UNSHARED, False, False]
    assert (defaults.ONE_SHOT_TTA, defaults.ONE_SHOT_TTA_UNSHARED) == (8, 4)
