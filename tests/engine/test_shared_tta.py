"""HQ-SSL's test-time augmentation from shared branch passes (BlindSpotUNet.tta_outputs):
the same result as transforming the input per transform, from two U-Net passes instead of eight."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from napari_blindspot.engine import TrainConfig, TrainingRun
from napari_blindspot.engine.methods.hqssl import method as hqssl_method
from napari_blindspot.engine.methods.hqssl.blindspot import BlindSpotUNet
from napari_blindspot.engine.prediction.tiling import TTA_TRANSFORMS, _tta, _untta

ALL = tuple(itertools.product(range(4), (False, True)))


@pytest.mark.parametrize("shape", [(2, 1, 64, 48), (1, 2, 32, 32)])
def test_tta_outputs_are_the_transformed_forward_passes(shape):
    torch.manual_seed(0)
    net = BlindSpotUNet(shape[1], 3, depth=3, features=8).eval()
    x = torch.randn(shape)
    with torch.no_grad():
        shared = net.tta_outputs(x, ALL)
        for (k, mirrored), out in zip(ALL, shared):
            ref = _untta(net(_tta(x, k, mirrored)), k, mirrored)
            assert torch.allclose(out, ref, atol=1e-5), (k, mirrored)


def test_only_models_that_share_passes_get_the_shared_path():
    """A mean-only HQ-SSL model (like N2V2 or a 3D one) predicts one pass per transform, and
    one-shot gives it the four rotations, not eight (N2V2: tests/widget/test_controller.py)."""
    from napari_blindspot.engine.defaults import one_shot_tta

    data = np.random.default_rng(0).poisson(30, (48, 48)).astype(np.float32)
    hq = _model(data, "YX")
    assert hq.shares_tta and hasattr(hq.infer_fn(), "with_tta")
    assert one_shot_tta(data.shape, hq.shares_tta) == 8
    mean_only = _model(data, "YX", noise_model="mean-only")
    assert not mean_only.shares_tta and not hasattr(mean_only.infer_fn(), "with_tta")
    assert one_shot_tta(data.shape, mean_only.shares_tta) == 4


def test_tta_outputs_decline_what_they_cannot_do_exactly():
    net2 = BlindSpotUNet(1, 2, depth=3, features=8)
    assert net2.tta_outputs(torch.randn(1, 1, 60, 64), ALL) is None  # padding would move
    net3 = BlindSpotUNet(1, 2, depth=2, features=8, ndim=3)
    assert net3.tta_outputs(torch.randn(1, 1, 8, 16, 16), ALL) is None


def _model(data: np.ndarray, axes: str, **changes):
    cfg = TrainConfig.for_method("hqssl", axes=axes, steps=3, patch_size=32, device="cpu",
                                 validation_fraction=0.0, **changes)
    run = TrainingRun(data, cfg)
    for _ in run.events():
        pass
    return run.model


@pytest.mark.parametrize("axes, shape, changes", [
    ("YX", (70, 53), {}),  # tiles padded to a multiple of 8
    ("CYX", (2, 48, 40), {"channels": "separate"}),
    ("CYX", (2, 48, 40), {"channels": "joint"}),
    ("CYX", (2, 48, 40), {"channels": "independent"}),
])
def test_the_model_predicts_the_same_with_fewer_passes(monkeypatch, axes, shape, changes):
    data = np.random.default_rng(0).poisson(30, shape).astype(np.float32)
    model = _model(data, axes, **changes)
    passes = []
    real_branch = BlindSpotUNet.branch

    def counted(self, x):
        passes.append(x.shape[0])
        return real_branch(self, x)

    model.predict(data, axes)  # what a first prediction does once (a memory probe) is not counted
    monkeypatch.setattr(BlindSpotUNet, "branch", counted)
    for tta in (4, 8):
        passes.clear()
        fast = model.predict(data, axes, tta=tta, uncertainty=True)
        shared_passes = len(passes)
        passes.clear()
        monkeypatch.setattr(hqssl_method.HQSSL, "infer_tta", lambda *a, **k: None)
        slow = model.predict(data, axes, tta=tta, uncertainty=True)
        monkeypatch.undo()
        monkeypatch.setattr(BlindSpotUNet, "branch", counted)
        assert len(passes) == len(TTA_TRANSFORMS[tta]) * shared_passes // (2 if tta == 8 else 1)
        for key in ("denoised", "uncertainty"):
            assert np.allclose(fast[key], slow[key], rtol=1e-4, atol=1e-4 * float(np.abs(slow[key]).max())), key
