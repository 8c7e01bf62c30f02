"""The widget's expected duration before Train (no Qt: :mod:`napari_blindspot.widget.expected`)."""

from __future__ import annotations

import re

import pytest

from napari_blindspot.engine import TrainConfig
from napari_blindspot.engine.training.duration import expected_duration, tta_passes
from napari_blindspot.widget import expected


def _denoising_s(method: str, shape: tuple[int, ...], axes: str, tta: bool, **settings) -> float:
    """The denoising seconds the widget's tooltip states (``1:05`` or ``12 s``)."""
    train_3d = settings.pop("train_3d", False)
    _, long = expected.expected_text(method, {"steps": 100, "device": "cpu", **settings}, shape, axes,
                                     train_3d=train_3d, tta=tta)
    said = re.search(r"denoising about (.+?) on", long).group(1)
    if ":" in said:
        minutes, seconds = said.split(":")
        return 60 * int(minutes) + int(seconds)
    return float(said.split()[0])


@pytest.fixture(autouse=True)
def one_thread(monkeypatch):
    """The estimate scales with the widget's threads: fix them, so that the seconds stay
    readable (whole seconds) on any machine."""
    monkeypatch.setattr(expected, "interactive_threads", lambda: 1)


@pytest.mark.parametrize("method, transforms", [("hqssl", 8), ("n2v2", 4)])
def test_the_estimate_counts_the_test_time_augmentation(method, transforms):
    """HQ-SSL's eight transforms share passes (about 3.3 plain ones); N2V2 predicts its four
    rotations one pass each."""
    shape = (1024, 1024)  # the largest frame that still gets the augmentation
    cfg = TrainConfig.for_method(method, axes="YX", device="cpu", steps=100)
    plain = expected_duration(cfg, shape, "cpu", 1)[1]
    with_tta = _denoising_s(method, shape, "YX", True)
    assert _denoising_s(method, shape, "YX", False) == pytest.approx(plain, abs=0.51)
    assert with_tta == pytest.approx(plain * tta_passes(cfg, transforms), abs=0.51)
    assert with_tta > 2.5 * plain


def test_no_augmentation_is_counted_where_none_is_predicted():
    """Above a megapixel the one-shot prediction has no augmentation, and says so in its time."""
    shape = (2, 1024, 1024)
    assert _denoising_s("hqssl", shape, "ZYX", True) == _denoising_s("hqssl", shape, "ZYX", False)


def test_a_3d_model_counts_its_rotations_one_pass_each():
    """3D HQ-SSL does not share passes between transforms: the four rotations, four passes."""
    shape = (16, 256, 256)
    cfg = TrainConfig.for_method("hqssl", axes="ZYX", device="cpu", steps=100, train_3d=True)
    assert tta_passes(cfg, 4) == 4
    plain = _denoising_s("hqssl", shape, "ZYX", False, train_3d=True)
    assert _denoising_s("hqssl", shape, "ZYX", True, train_3d=True) == pytest.approx(4 * plain, abs=2)
    assert plain > 5
