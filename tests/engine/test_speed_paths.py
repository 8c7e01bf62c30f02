"""The speed paths' fallbacks (issue 23): a CPU without native bfloat16 trains and predicts in
float32; a torch without ``torch.compile``, or a compiler that fails, trains eagerly and says
so; test-time augmentation of 1, 2, 4 or 8 transforms gives the same answer on an
equivariant function and refuses other counts."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_blindspot.engine import CompileFallback, TrainingRun
from napari_blindspot.engine.system import device as device_mod
from napari_blindspot.engine.prediction.tiling import TTA_TRANSFORMS, infer_with_tta, tta_count
from napari_blindspot.text import compile_fallback

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


# ------------------------------------------------------------------ torch.compile's fallback
def _train(**overrides):
    """A tiny HQ-SSL run with ``compile=True``: (run, its CompileFallback events, train losses)."""
    img = np.random.default_rng(0).normal(100, 10, (48, 48)).astype(np.float32)
    run = TrainingRun(img, small_config("hqssl", **{"steps": 4, "validation_interval": 1, **overrides}))
    notes = [ev for ev in run.events() if isinstance(ev, CompileFallback)]
    return run, notes, [h["train_loss"] for h in run.history]


def _plain_keys(run):
    keys = list(run.model.net.state_dict())
    assert keys and not any("_orig_mod" in k for k in keys)


def test_a_torch_without_compile_trains_eagerly_and_says_so(monkeypatch, caplog):
    monkeypatch.delattr(torch, "compile")
    with caplog.at_level("WARNING"):
        run, notes, losses = _train(compile=True)
    assert run.step == 4 and not run._loss.compiled
    assert len(notes) == 1 and "no torch.compile" in notes[0].reason and notes[0].step == 1
    assert "training goes on uncompiled" in caplog.text
    assert "torch.compile could not be used (this torch" in compile_fallback(notes[0])
    _plain_keys(run)
    _, _, eager = _train(compile=False)
    assert losses == eager  # the same training as without the setting


def test_a_compiler_that_raises_when_wrapping_falls_back(monkeypatch):
    def refuse(fn):
        raise RuntimeError("Windows not yet supported for torch.compile\nmore lines")

    monkeypatch.setattr(torch, "compile", refuse)
    run, notes, _ = _train(compile=True)
    assert run.step == 4 and notes[0].reason == "RuntimeError: Windows not yet supported for torch.compile"


def test_a_compiled_step_that_raises_falls_back_to_the_same_eager_step(monkeypatch):
    calls = []

    def broken(fn):
        def compiled(*args):
            calls.append(1)
            raise RuntimeError("InductorError: CppCompileError: C++ compile error")
        return compiled

    monkeypatch.setattr(torch, "compile", broken)
    run, notes, losses = _train(compile=True)
    assert calls == [1] and run.step == 4 and not run._loss.compiled
    assert len(notes) == 1 and "CppCompileError" in notes[0].reason
    _plain_keys(run)
    _, _, eager = _train(compile=False)
    assert losses == eager  # the failed step was taken again, eagerly, on the same batch


def test_an_error_of_an_eager_step_is_not_swallowed(monkeypatch):
    from napari_blindspot.engine.methods.hqssl.method import HQSSL

    def bad_loss(self, *args, **kwargs):
        raise ValueError("a real bug")

    monkeypatch.setattr(HQSSL, "loss", bad_loss)
    with pytest.raises(ValueError, match="a real bug"):
        _train(compile=False)


@pytest.mark.slow
def test_a_real_compile_gives_the_eager_losses():
    """Inductor on this CPU (needs a C++ compiler; minutes on a loaded 2-core machine)."""
    run, notes, compiled = _train(compile=True, steps=2)
    if notes:
        pytest.skip(f"torch.compile is not usable here: {notes[0].reason}")
    assert run._loss.compiled
    _plain_keys(run)
    _, _, eager = _train(compile=False, steps=2)
    np.testing.assert_allclose(compiled, eager, rtol=1e-4)
