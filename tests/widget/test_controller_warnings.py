"""The controller's warnings (a run projected to take too long, a 2D model on a Z stack) and
the noise curves it carries for the plot (HQ-SSL's calibration, a loaded model's)."""

from __future__ import annotations

import numpy as np

from napari_blindspot.engine.training import duration

from test_controller import record, request, stack


def warnings(seen) -> list[str]:
    return [text for level, text in seen["messages"] if level == "warning"]


def test_a_long_run_is_warned_in_the_message_area(controller, viewer_model, monkeypatch):
    monkeypatch.setattr(duration, "DURATION_WARNING_S", 0.0)  # every run is "too long"
    layer = viewer_model.add_image(stack(), name="cells")
    seen = record(controller)
    controller.train(request(layer, live_preview=False, settings={"steps": 8}))
    (text,) = [t for t in warnings(seen) if "will take about" in t]
    assert text.startswith("Training 8 steps will take about")
    assert "'10 minutes'" in text and "--" not in text and "Train again" in text
    assert controller.model.info["steps"] == 8  # a warning, not a stop


def test_a_2d_model_on_a_z_stack_says_slice_by_slice(controller, viewer_model):
    layer = viewer_model.add_image(stack(frames=4), name="volume")
    seen = record(controller)
    controller.train(request(layer, axes="ZYX", live_preview=False))
    (text,) = [t for t in warnings(seen) if "slice by slice" in t]
    assert text.startswith("'volume': Denoised slice by slice (a 2D model") and "3D" in text
    seen["messages"].clear()
    controller.train(request(layer, axes="TYX", live_preview=False))
    assert not [t for t in warnings(seen) if "slice by slice" in t]


def test_hqssl_curves_reach_the_state_and_n2v2_has_none(controller, viewer_model, tmp_path):
    layer = viewer_model.add_image(stack(), name="cells")
    sets: list[int] = []
    controller.noise_curves.changed.connect(lambda: sets.append(len(controller.noise_curves.curves)))
    controller.train(request(layer, "hqssl", live_preview=False, settings={"noise_model": "curve"}))
    assert sets[0] == 0 and sets[1] == 1  # cleared at the start, then the calibration (step 0)
    (curve,) = controller.noise_curves.curves
    assert len(curve.measured_signal) >= 2 and np.all(curve.measured_std > 0)
    assert curve.signal.min() >= curve.measured_signal.min() - 1e-9 and np.all(curve.std > 0)
    assert controller.noise_curves.step == 4  # the trained model's, at the end
    path = controller.files.save_model(tmp_path / "hq.safetensors")
    controller.reset()
    assert controller.noise_curves.curves == []
    controller.files.load_model(path, device="cpu")
    (loaded,) = controller.noise_curves.curves
    np.testing.assert_allclose(loaded.measured_std, curve.measured_std)
    controller.train(request(layer, "n2v2", live_preview=False))
    assert controller.noise_curves.curves == []


def test_a_failed_compile_is_said_and_training_goes_on(controller, viewer_model, monkeypatch):
    import torch

    def broken(fn):
        def compiled(*args):
            raise RuntimeError("InductorError: no C++ compiler")
        return compiled

    monkeypatch.setattr(torch, "compile", broken)
    layer = viewer_model.add_image(stack(), name="cells")
    seen = record(controller)
    controller.train(request(layer, live_preview=False, settings={"steps": 4, "compile": True}))
    (text,) = [t for t in warnings(seen) if "torch.compile" in t]
    assert "(RuntimeError: InductorError: no C++ compiler)" in text and "uncompiled" in text
    assert controller.model.info["steps"] == 4
