"""bioimage.io in the widget's logic, without a display: export the trained model as a
package (in the job runner), load packages (napari-blindspot's and another tool's) and denoise
with them; bad files and existing files are refused with one message.

Needs the ``bioimageio`` extra; skipped without it.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("bioimageio.core", reason="needs the bioimageio extra")

from helpers_bioimageio import foreign_package  # noqa: E402
from napari_blindspot.engine import DenoisingModel  # noqa: E402
from napari_blindspot.engine.loading import load_model  # noqa: E402
from napari_blindspot.samples.fluorescence import fluorescence_timelapse  # noqa: E402
from napari_blindspot.widget.state import DenoiseRequest, JobState, TrainRequest  # noqa: E402

TINY = {"steps": 4, "epochs": None, "time_budget_s": None, "patch_size": 32, "batch_size": 2,
        "unet_features": 8, "unet_depth": 2, "hq_features": 4, "hq_depth": 2, "tile_size": 64,
        "device": "cpu"}


def record(controller) -> list[tuple[str, str]]:
    seen: list[tuple[str, str]] = []
    controller.message.connect(lambda text, level: seen.append((level, text)))
    return seen


def errors(seen) -> list[str]:
    return [text for level, text in seen if level == "error"]


@pytest.fixture
def trained(controller, viewer_model):
    data = fluorescence_timelapse(frames=2, size=96, seed=0).noisy  # HQ-SSL's package takes >= 76
    layer = viewer_model.add_image(data, name="cells")
    controller.train(TrainRequest(layer, "TYX", "hqssl", dict(TINY), live_preview=False))
    assert controller.model is not None and controller.state.own_model
    return layer


def test_export_writes_a_package_that_loads_and_denoises_the_same(controller, viewer_model, trained,
                                                                  tmp_path):
    seen = record(controller)
    jobs: list = []
    controller.state.events.job.connect(jobs.append)
    done: list = []
    controller.job_done.connect(done.append)
    target = controller.files.export_bioimageio(viewer_model.layers["cells [denoised]"], "TYX",
                                          tmp_path / "cells")
    assert target == tmp_path / "cells.zip" and target.is_file()
    assert jobs == [JobState.EXPORTING, JobState.IDLE] and done == ["exporting"]
    assert not errors(seen)
    level, text = seen[-1]
    assert level == "info" and f"Exported the model to {target}" in text
    assert "'cells'" in text and "model test: passed" in text  # the source layer's crop

    data = np.asarray(trained.data)
    loaded = load_model(target, device="cpu")
    assert isinstance(loaded, DenoisingModel)
    want = controller.model.predict(data, "TYX", uncertainty=True)
    got = loaded.predict(data, "TYX", uncertainty=True)
    for key in ("denoised", "uncertainty"):
        np.testing.assert_allclose(got[key], want[key], rtol=1e-4, atol=1e-3 * float(data.std()))

    # the package loads in the widget; Denoise then gives the same result
    viewer_model.layers.remove("cells [denoised]")
    assert controller.files.load_model(target, device="cpu") is not None
    assert controller.state.own_model and "loaded from cells.zip" in controller.state.model_text
    controller.denoise(DenoiseRequest(trained, "TYX", tile_size=64))
    np.testing.assert_allclose(viewer_model.layers["cells [denoised]"].data, want["denoised"],
                               rtol=1e-4, atol=1e-3 * float(data.std()))


def test_an_existing_file_is_replaced_only_when_the_dialog_confirmed_it(controller, trained, tmp_path):
    seen = record(controller)
    existing = tmp_path / "mine.zip"
    existing.write_bytes(b"someone's file")
    # a script's path, and a name the dialog returned without .zip, are never replaced
    assert controller.files.export_bioimageio(trained, "TYX", existing) is None
    assert "exists already" in errors(seen)[-1]
    assert controller.files.export_bioimageio(trained, "TYX", ask=lambda: str(tmp_path / "mine")) is None
    assert "exists already" in errors(seen)[-1]
    assert existing.read_bytes() == b"someone's file" and controller.state.job is JobState.IDLE
    # a cancelled dialog does nothing
    count = len(seen)
    assert controller.files.export_bioimageio(trained, "TYX", ask=lambda: "") is None
    assert len(seen) == count and existing.read_bytes() == b"someone's file"
    # the file the dialog confirmed is replaced (no layer: a synthetic test input)
    assert controller.files.export_bioimageio(None, "", ask=lambda: str(existing)) == existing
    assert "synthetic" in seen[-1][1] and load_model(existing, device="cpu") is not None


def test_bad_files_give_one_message_and_keep_the_model(controller, trained, tmp_path):
    seen = record(controller)
    model = controller.model
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"not a zip")
    assert controller.files.load_model(bad) is None
    assert len(errors(seen)) == 1 and "not a readable bioimage.io package" in errors(seen)[0]
    assert controller.model is model and controller.state.job is JobState.IDLE
    assert controller.files.load_model(tmp_path / "none.zip") is None
    assert "does not exist" in errors(seen)[-1]
    # a layer unlike the training data cannot be the test input: nothing is written
    assert controller.files.export_bioimageio(trained, "ZZX", tmp_path / "x.zip") is None
    assert "more than once" in errors(seen)[-1] and not (tmp_path / "x.zip").exists()
    controller.reset()
    assert controller.files.export_bioimageio(trained, "TYX", tmp_path / "x.zip") is None
    assert "no model to export" in errors(seen)[-1]


def test_a_package_from_another_tool_denoises_but_is_not_trained_saved_or_exported(
        controller, viewer_model, tmp_path):
    import torch

    package, weight = foreign_package(tmp_path)
    seen = record(controller)
    data = np.random.default_rng(1).normal(size=(2, 48, 32)).astype(np.float32)
    layer = viewer_model.add_image(data, name="stack")
    questions: list[str] = []
    assert controller.files.load_model(package, device="cpu", confirm=lambda q: questions.append(q) or True) \
        is not None
    assert "smooth.py" in questions[0] and "run" in questions[0]
    assert controller.state.has_model and not controller.state.own_model
    assert "bioimage.io model 'smooth'" in controller.state.model_text
    assert controller.state.noise_text == ""
    controller.denoise(DenoiseRequest(layer, "TYX"))
    want = torch.nn.functional.conv2d(torch.from_numpy(data[:, None]), weight, padding=1)[:, 0].numpy()
    np.testing.assert_allclose(viewer_model.layers["stack [denoised]"].data, want, rtol=1e-5, atol=1e-5)
    assert not errors(seen)

    controller.continue_training(TrainRequest(layer, "TYX", "n2v2", dict(TINY)))
    assert "cannot be trained further" in errors(seen)[-1]
    assert controller.files.save_model(tmp_path / "m.safetensors") is None
    assert "cannot be saved" in errors(seen)[-1]
    assert controller.files.export_bioimageio(layer, "TYX", tmp_path / "m.zip") is None
    assert "Only napari-blindspot models" in errors(seen)[-1]
    assert not list(tmp_path.glob("m.*")) and controller.state.job is JobState.IDLE


def test_a_package_that_runs_code_loads_only_when_the_user_confirms(controller, tmp_path):
    """Not loaded when the user says no, nor when nobody can be asked (tests/safety checks
    that its code does not run)."""
    package, _ = foreign_package(tmp_path)
    seen = record(controller)
    assert controller.files.load_model(package, device="cpu", confirm=lambda q: False) is None
    assert not controller.state.has_model and "did not allow" in seen[-1][1]
    assert controller.files.load_model(package, device="cpu") is None
    assert "--trust-code" in errors(seen)[-1] and not controller.state.has_model
