"""The training generator: events, stopping, seeds, continuing, axes and dtypes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from helpers_engine import gaussian_pair, small_config

from napari_blindspot.engine import (ConfigError, DataError, DenoisingModel, Preview, TrainingFinished,
                                     TrainingProgress, TrainingRun, TrainingStarted, train, train_model)
from napari_blindspot.engine.training.loop import learning_rate


def _data(shape=(2, 64, 64), seed=0):
    return gaussian_pair(shape, sigma=10.0, seed=seed)[1]


def _collect(run: TrainingRun) -> list:
    return list(run.events())


def _state(model: DenoisingModel) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.net.state_dict().items()}


def _assert_usable(model: DenoisingModel, data: np.ndarray, axes: str = "TYX") -> np.ndarray:
    out = model.denoise(data, axes)
    assert out.shape == data.shape and out.dtype == np.float32
    assert np.isfinite(out).all()
    return out


# ---------------------------------------------------------------- events
def test_event_stream_and_result():
    data = _data()
    cfg = small_config("n2v2", axes="TYX", steps=12, validation_interval=4)
    gen = train(data, cfg)
    events = []
    while True:
        try:
            events.append(next(gen))
        except StopIteration as stop:
            result = stop.value
            break
    assert isinstance(events[0], TrainingStarted)
    start = events[0]
    assert start.method == "n2v2" and start.total_steps == 12 and "CPU" in start.device
    assert start.n_train_patches >= 1 and start.n_validation_patches >= 1 and start.n_parameters > 1000
    progress = [e for e in events if isinstance(e, TrainingProgress)]
    assert progress, "no progress events"
    steps = [p.step for p in progress]
    assert steps == sorted(steps) and steps[-1] == 12
    for p in progress:
        assert p.total_steps == 12 and math.isfinite(p.train_loss) and p.train_loss > 0
        assert 0 <= p.progress <= 1 and p.elapsed_s >= 0 and p.learning_rate > 0
        assert p.epoch == pytest.approx(p.step / math.ceil(start.n_train_patches / cfg.batch_size))
        assert p.noise == {}
    assert progress[-1].progress == 1.0 and progress[-1].eta_s == pytest.approx(0.0, abs=1e-9)
    vals = [p.val_loss for p in progress if p.step % 4 == 0]
    assert all(v is not None and math.isfinite(v) for v in vals)
    assert progress[-1].best_val_loss == pytest.approx(min(vals))
    assert isinstance(events[-1], TrainingFinished)
    fin = events[-1]
    assert fin.reason == "completed" and fin.step == 12
    assert fin.model is result and isinstance(result, DenoisingModel)
    assert result.info["steps"] == 12 and result.info["best_val_loss"] == pytest.approx(min(vals))
    _assert_usable(result, data)


def test_best_model_by_validation_is_kept():
    data = _data()
    run = TrainingRun(data, small_config("n2v", axes="TYX", steps=9, validation_interval=3))
    _collect(run)
    best = run.best_state
    assert best is not None
    model_state = run.model.net.state_dict()
    for k, v in best.items():
        assert torch.equal(model_state[k], v)


def test_learning_rate_schedule():
    assert learning_rate(1e-3, 0.0, "cosine", 0.1) == pytest.approx(1e-5)  # warm-up floor
    assert learning_rate(1e-3, 0.05, "cosine", 0.1) == pytest.approx(5e-4)
    assert learning_rate(1e-3, 0.1, "cosine", 0.1) == pytest.approx(1e-3)
    assert learning_rate(1e-3, 1.0, "cosine", 0.1) == pytest.approx(1e-5)  # decays to 1 %
    mid = learning_rate(1e-3, 0.55, "cosine", 0.1)
    assert mid == pytest.approx(1e-3 * (0.01 + 0.99 * 0.5))
    assert learning_rate(1e-3, 0.7, "constant", 0.1) == 1e-3
    values = [learning_rate(1e-3, p / 100, "cosine", 0.05) for p in range(5, 101)]
    assert all(a >= b for a, b in zip(values, values[1:]))


def test_preview_events():
    data = _data()
    block = data[0:1, :40, :48]  # (C=1, Y, X)
    cfg = small_config("hqssl", axes="TYX", steps=4)
    run = TrainingRun(data, cfg, preview=block, preview_interval_s=0.0)
    previews = [e for e in run.events() if isinstance(e, Preview)]
    assert len(previews) >= 2
    assert previews[0].image.shape == block.shape and previews[0].image.dtype == np.float32
    assert previews[0].uncertainty is not None and previews[0].uncertainty.shape == block.shape
    assert abs(float(previews[-1].image.mean()) - float(block.mean())) < 0.2 * float(block.std() + 1)
    run.set_preview(None)


def test_previews_start_at_preview_from_step():
    """No preview is computed before ``preview_from_step`` (a request waits for it); the first
    comes at that step, without waiting for the interval."""
    data = _data()
    block = data[0:1, :40, :48]
    run = TrainingRun(data, small_config("hqssl", axes="TYX", steps=6), preview=block,
                      preview_interval_s=1e6, preview_from_step=3)
    run.request_preview()
    steps = [e.step for e in run.events() if isinstance(e, Preview)]
    assert steps == [3]


def test_hqssl_reports_noise_parameters():
    data = _data()
    run = TrainingRun(data, small_config("hqssl", axes="TYX", steps=3, noise_model="poisson-gaussian"))
    events = _collect(run)
    progress = [e for e in events if isinstance(e, TrainingProgress)]
    assert set(progress[-1].noise) == {"a", "b"}
    assert all(v >= 0 for v in progress[-1].noise.values())
    assert run.model.info["noise"] == pytest.approx(run.model.noise_parameters())


# ---------------------------------------------------------------- stopping
def test_stop_returns_usable_model():
    data = _data()
    run = TrainingRun(data, small_config("n2v2", axes="TYX", steps=1000))
    events = []
    for ev in run.events():
        events.append(ev)
        if isinstance(ev, TrainingProgress) and ev.step >= 3:
            run.stop()
    fin = events[-1]
    assert isinstance(fin, TrainingFinished) and fin.reason == "stopped"
    assert 3 <= fin.step < 1000
    assert fin.model is run.model and run.model.info["steps"] == fin.step
    _assert_usable(run.model, data)


def test_closing_generator_returns_usable_model():
    data = _data()
    run = TrainingRun(data, small_config("hqssl", axes="TYX", steps=1000))
    gen = run.events()
    steps = 0
    for ev in gen:
        if isinstance(ev, TrainingProgress):
            steps = ev.step
            if steps >= 3:
                break
    gen.close()
    assert run.step == steps
    model = run.model
    assert model.info["steps"] == steps
    out = model.predict(data, "TYX", uncertainty=True)
    assert np.isfinite(out["denoised"]).all() and np.isfinite(out["uncertainty"]).all()


def test_closing_before_the_first_step():
    data = _data()
    run = TrainingRun(data, small_config("n2v2", axes="TYX", steps=1000))
    gen = run.events()
    assert isinstance(next(gen), TrainingStarted)
    gen.close()
    assert run.step == 0
    _assert_usable(run.model, data)


def test_time_budget_and_epochs():
    data = _data()
    # the time budget is what ends it (not the stopping rule, which a plateau may trigger)
    run = TrainingRun(data, small_config("n2v2", axes="TYX", steps=None, time_budget_s=1.0,
                                         stop_when_converged=False))
    events = _collect(run)
    assert events[-1].reason == "time budget"
    assert events[-1].elapsed_s < 15
    cfg = small_config("n2v2", axes="TYX", steps=None, epochs=2)
    run = TrainingRun(data, cfg)
    events = _collect(run)
    assert events[0].total_steps == 2 * run.steps_per_epoch
    assert events[-1].step == 2 * run.steps_per_epoch and events[-1].reason == "completed"


# ---------------------------------------------------------------- reproducibility
@pytest.mark.parametrize("method", ["n2v2", "n2v", "hqssl", "n2n"])
def test_same_seed_same_model(method):
    data = _data()
    target = _data(seed=7) if method == "n2n" else None
    cfg = small_config(method, axes="TYX", steps=6, seed=3)
    m1 = train_model(data, cfg, target=target)
    m2 = train_model(data, cfg, target=target)
    s1, s2 = _state(m1), _state(m2)
    assert s1.keys() == s2.keys()
    for k in s1:
        assert torch.equal(s1[k], s2[k]), k
    np.testing.assert_array_equal(m1.denoise(data, "TYX"), m2.denoise(data, "TYX"))
    m3 = train_model(data, cfg.replace(seed=4), target=target)
    assert any(not torch.equal(s1[k], v) for k, v in _state(m3).items() if v.is_floating_point())


# ---------------------------------------------------------------- continuing
@pytest.mark.parametrize("method", ["n2v2", "hqssl"])
def test_continue_training(method):
    data = _data()
    cfg = small_config(method, axes="TYX", steps=30, validation_interval=10, learning_rate=3e-3)
    first = TrainingRun(data, cfg)
    ev1 = _collect(first)
    model = first.model
    before = _state(model)
    second = TrainingRun(data, cfg.replace(steps=10), initial=model)
    assert second.normalization == model.normalization
    second.prepare()
    # the run starts from the given weights, and leaves the given model untouched
    for k, v in second.net.state_dict().items():
        assert torch.equal(v.cpu(), before[k]), k
    ev2 = _collect(second)
    for k, v in model.net.state_dict().items():
        assert torch.equal(v, before[k])
    continued = second.model
    assert continued.info["steps"] == 40
    # it goes on from the trained state: its validation loss starts where the first ended
    val1 = [e.val_loss for e in ev1 if isinstance(e, TrainingProgress) and e.val_loss is not None]
    val2 = [e.val_loss for e in ev2 if isinstance(e, TrainingProgress) and e.val_loss is not None]
    fresh = [e.val_loss for e in _collect(TrainingRun(data, cfg.replace(steps=10)))
             if isinstance(e, TrainingProgress) and e.val_loss is not None]
    assert val2[0] < fresh[0]
    assert val2[0] < val1[0]
    _assert_usable(continued, data)


def test_continue_needs_matching_channels():
    model = train_model(_data(), small_config("n2v2", axes="TYX", steps=2))
    with pytest.raises(DataError, match="channel"):
        TrainingRun(np.stack([_data()[0]] * 2), small_config("n2v2", axes="CYX", steps=2), initial=model)


# ---------------------------------------------------------------- Noise2Noise inputs
def test_n2n_target_rules():
    data = _data()
    with pytest.raises(DataError, match="second, independent acquisition"):
        TrainingRun(data, small_config("n2n", axes="TYX"))
    with pytest.raises(DataError, match="not the image itself"):
        TrainingRun(data, small_config("n2n", axes="TYX"), target=data)
    with pytest.raises(DataError, match=r"same shape.*\(2, 64, 64\).*\(2, 64, 60\)"):
        TrainingRun(data, small_config("n2n", axes="TYX"), target=data[:, :, :60])
    with pytest.raises(DataError, match="only used by Noise2Noise"):
        TrainingRun(data, small_config("n2v2", axes="TYX"), target=data)
    bad = data.copy()
    bad[1, 3, 3] = np.inf
    run = TrainingRun(data, small_config("n2n", axes="TYX"), target=bad)  # the data is read later
    with pytest.raises(DataError, match="NaN or infinite"):
        next(run.events())


# ---------------------------------------------------------------- axes and dtypes
AXES_CASES = [
    ("YX", (64, 72), False, "independent"),
    ("TYX", (2, 64, 72), False, "independent"),
    ("ZYX", (8, 48, 56), False, "independent"),
    ("ZYX", (8, 48, 56), True, "independent"),
    ("CYX", (2, 64, 72), False, "independent"),
    ("CYX", (2, 64, 72), False, "joint"),
    ("CYX", (2, 64, 72), False, "separate"),
    ("YXC", (64, 72, 3), False, "independent"),
    ("YXC", (64, 72, 3), False, "joint"),
    ("TZCYX", (2, 8, 2, 40, 48), False, "independent"),
    ("TZCYX", (2, 8, 2, 40, 48), True, "joint"),
    ("TZCYX", (2, 8, 2, 40, 48), True, "separate"),
]


@pytest.mark.parametrize("axes,shape,train_3d,channels", AXES_CASES)
@pytest.mark.parametrize("method", ["n2v2", "hqssl"])
def test_train_and_predict_any_axes(axes, shape, train_3d, channels, method):
    rng = np.random.default_rng(0)
    # distinct levels per channel, to check they stay in place
    data = rng.normal(0, 5, size=shape).astype(np.float32)
    if "C" in axes:
        c_axis = axes.index("C")
        levels = 100.0 * (1 + np.arange(shape[c_axis]))
        data += np.expand_dims(levels, [i for i in range(len(shape)) if i != c_axis])
    else:
        data += 100.0
    cfg = small_config(method, axes=axes, train_3d=train_3d, channels=channels, steps=2,
                       patch_size=32, patch_size_z=4, hq_depth=1, unet_depth=1)
    model = train_model(data, cfg)
    n_channels = shape[axes.index("C")] if "C" in axes else 1
    assert model.channels == n_channels
    assert model.net_channels == (n_channels if channels in ("joint", "separate") else 1)
    res = model.predict(data, uncertainty=True)  # axes default to the training axes
    assert res["denoised"].shape == data.shape and res["denoised"].dtype == np.float32
    if method == "hqssl":
        assert res["uncertainty"].shape == data.shape
    if "C" in axes:
        c_axis = axes.index("C")
        for c in range(n_channels):
            mean = np.take(res["denoised"], c, axis=c_axis).mean()
            assert abs(mean - 100.0 * (c + 1)) < 20, (c, mean)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16, np.float32, np.float64])
def test_any_real_dtype_in_input_units(dtype):
    clean, noisy = gaussian_pair((2, 64, 64), sigma=8.0)
    data = np.clip(noisy, 0, 255 if dtype == np.uint8 else None).astype(dtype)
    model = train_model(data, small_config("n2v2", axes="TYX", steps=3))
    assert model.normalization.mean[0] == pytest.approx(float(data.astype(np.float64).mean()), rel=1e-3)
    out = model.denoise(data)
    assert out.dtype == np.float32 and out.shape == data.shape
    # in intensity units, not normalised ones (a 3-step network is only roughly right)
    assert abs(out.mean() - data.astype(np.float64).mean()) < 0.5 * data.astype(np.float64).std()


def test_continue_needs_the_same_network():
    data = _data()
    cfg = small_config("n2v2", axes="TYX", steps=2)
    model = train_model(data, cfg)
    for change, field in [({"unet_features": 16}, "unet_features"), ({"method": "n2v"}, "method"),
                          ({"unet_depth": 1}, "unet_depth"), ({"channels": "joint"}, "channels")]:
        with pytest.raises(ConfigError, match=field):
            TrainingRun(data, cfg.replace(**change), initial=model)
    # settings that do not shape this network may change
    TrainingRun(data, cfg.replace(hq_features=32, learning_rate=1e-4, batch_size=2), initial=model)
    hq_cfg = small_config("hqssl", axes="TYX", steps=2, noise_model="gaussian")
    hq = train_model(data, hq_cfg)
    for change, field in [({"noise_model": "poisson-gaussian"}, "noise_model"), ({"hq_depth": 1}, "hq_depth")]:
        with pytest.raises(ConfigError, match=field):
            TrainingRun(data, hq_cfg.replace(**change), initial=hq)
    TrainingRun(data, hq_cfg.replace(unet_features=64), initial=hq)


def test_validated_flag_and_preview_on_request():
    data = _data()
    run = TrainingRun(data, small_config("n2v2", axes="TYX", steps=8, validation_interval=4),
                      preview=data[0:1, :32, :32], preview_interval_s=1e9)
    previews, requested = 0, False
    for ev in run.events():
        if isinstance(ev, TrainingProgress):
            assert ev.validated == (ev.step % 4 == 0)
            if previews == 1 and not requested and ev.step < 8:
                run.request_preview()
                requested = True
        elif isinstance(ev, Preview):
            previews += 1
    assert requested and previews == 2  # the first one, then the requested one


def test_building_a_run_is_cheap_and_events_prepare_it():
    data = _data()
    run = TrainingRun(data, small_config("n2v2", axes="TYX", steps=50))
    assert not run.prepared and run.net is None and run.steps_done_before == 0
    with pytest.raises(RuntimeError, match="not started"):
        run.model  # noqa: B018
    run.stop()  # asked before the worker started: honoured at the first step
    events = list(run.events())
    assert isinstance(events[0], TrainingStarted)
    assert events[-1].reason == "stopped" and events[-1].step == 0
    assert run.prepared and run.model.info["steps"] == 0
