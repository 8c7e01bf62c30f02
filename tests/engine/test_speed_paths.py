"""The speed paths' fallbacks (issue 23): a CPU without native bfloat16 trains and predicts in
float32; test-time augmentation of 1, 2, 4 or 8 transforms gives the same answer on an
equivariant function and refuses other counts."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_blindspot.engine import TrainingRun
from napari_blindspot.engine.system import device as device_mod
from napari_blindspot.engine.prediction.tiling import TTA_TRANSFORMS, infer_with_tta, tta_count

from helpers_engine import small_config


def test_a_cpu_without_bfloat16_trains_in_float32(monkeypatch):
    for probe in ("_is_amx_tile_supported", "_is_avx512_bf16_supported"):  # an older CPU
        monkeypatch.setattr(torch.cpu, probe, lambda: False, raising=False)
    assert not device_mod.cpu_has_native_bf16()
    assert device_mod.autocast_dtype(torch.device("cpu")) is None
    img = np.random.default_rng(0).normal(100, 10, (48, 48)).astype(np.float32)
    run = TrainingRun(img, small_config("hqssl", steps=3, mixed_precision=True))
    for _ in run.events():
        pass
    assert run.amp_dtype is None and run.step == 3
    out = run.model.denoise(img, "YX")
    assert out.shape == img.shape and np.isfinite(out).all()


def test_a_torch_without_the_cpu_probes_falls_back(monkeypatch):
    for probe in ("_is_amx_tile_supported", "_is_avx512_bf16_supported"):  # an older torch
        monkeypatch.delattr(torch.cpu, probe, raising=False)
    assert device_mod.autocast_dtype(torch.device("cpu")) is None


@pytest.mark.parametrize("tta", [False, True, 1, 2, 4, 8])
def test_tta_counts_average_their_transforms(tta):
    x = torch.arange(2 * 1 * 6 * 6, dtype=torch.float32).reshape(2, 1, 6, 6)
    calls = []

    def infer(t):
        calls.append(t.shape)
        return {"denoised": t * 2.0}  # equivariant: every transform gives the same answer

    out = infer_with_tta(infer, x, tta)
    assert len(calls) == tta_count(tta) == len(TTA_TRANSFORMS[tta_count(tta)])
    torch.testing.assert_close(out["denoised"], x * 2.0)


def test_tta_rotations_undo_themselves():
    """A position-dependent function: the average over transforms differs from one pass, and
    the four rotations and all eight transforms both map every output back in place."""
    x = torch.rand(1, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    ramp = torch.linspace(0, 1, 8).view(1, 1, 1, 8)
    plain = infer_with_tta(lambda t: {"d": t + ramp}, x, False)["d"]
    four = infer_with_tta(lambda t: {"d": t + ramp}, x, 4)["d"]
    assert not torch.allclose(plain, four)
    torch.testing.assert_close(four - x, four.new_full(x.shape, 0.5), atol=1e-6, rtol=0)


def test_tta_refuses_other_counts():
    with pytest.raises(ValueError, match="tta=3"):
        tta_count(3)
