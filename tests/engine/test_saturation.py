"""Very bright sparse spots: a per-channel saturation level, found on a bead image and not on a
plain one, stored with the model (old files without it load as before), applied in training and
prediction, with the pixels above it returned as measured (docs/channels.md)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from safetensors.torch import load_file, save_file

from helpers_engine import small_config

from napari_blindspot.engine import (DenoisingModel, ModelFileError, TrainingStarted, load_model,
                                     save_model, train_model)
from napari_blindspot.engine.axes import CanonicalView
from napari_blindspot.engine.model_file import read_metadata
from napari_blindspot.engine.model_info import describe
from napari_blindspot.engine.normalization import Normalization, compute_normalization
from napari_blindspot.engine.normalization.saturation import SaturationLevel, find_level
from napari_blindspot.engine.training.loop import TrainingRun
from napari_blindspot.text import training_started


def _plain(shape=(96, 96), seed=0) -> np.ndarray:
    """Smooth structure 20..130 with Poisson-Gaussian-like noise, float32."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:shape[-2], :shape[-1]]
    clean = 20 + 110 * (0.5 + 0.5 * np.sin(yy / 7.0) * np.cos(xx / 9.0))
    clean = np.broadcast_to(clean, shape)
    return (clean + rng.normal(0, 1, shape) * np.sqrt(4 * clean + 9)).astype(np.float32)


def _beads(image: np.ndarray, amplitude: float = 15.0, seed: int = 7) -> np.ndarray:
    """``image`` with one bead (3x3 pixels) per ~2,000 pixels at ``amplitude`` x its maximum."""
    rng = np.random.default_rng(seed)
    out = image.copy()
    flat = out.reshape(-1, *out.shape[-2:])
    n = max(1, flat[0].size // 2000)
    for frame in flat:
        for y, x in zip(rng.integers(1, frame.shape[0] - 1, n), rng.integers(1, frame.shape[1] - 1, n)):
            frame[y - 1:y + 2, x - 1:x + 2] += amplitude * float(image.max())
    return out


def test_level_found_on_beads_not_on_plain_images():
    plain = _plain()
    assert find_level(plain) is None
    level = find_level(_beads(plain))
    assert level is not None and 0 < level.share < 0.01
    assert plain.max() < level.level < 15 * plain.max()
    assert find_level(np.full(100, 3.0)) is None  # constant: no span
    # many bright pixels are structure, not sparse spots
    assert find_level(np.concatenate([plain.ravel(), np.full(800, 5e3)])) is None


def test_plain_normalization_is_the_affine_one_and_writes_no_field():
    plain = _plain()
    norm = compute_normalization(CanonicalView(plain, "YX"))
    assert norm.saturation is None and not norm.clips
    assert norm.mean[0] == pytest.approx(float(plain.astype(np.float64).mean()), rel=1e-9)
    assert norm.std[0] == pytest.approx(float(plain.astype(np.float64).std()), rel=1e-9)
    assert "saturation" not in norm.to_dict()
    assert norm.normalize(plain[None])[0] == pytest.approx((plain - norm.mean[0]) / norm.std[0])


def test_levels_per_channel_clip_and_restore_and_json_round_trip():
    data = np.stack([_plain(), _beads(_plain(seed=1))])
    norm = compute_normalization(CanonicalView(data, "CYX"))
    assert norm.saturation is not None and norm.saturation[0] is None
    lv = norm.saturation[1].level
    clipped = data[1].copy()
    clipped[clipped > lv] = lv
    assert norm.std[1] == pytest.approx(float(clipped.astype(np.float64).std()), rel=1e-6)
    x = norm.normalize(data)
    assert x[1].max() == pytest.approx((lv - norm.mean[1]) / norm.std[1], rel=1e-5)
    assert x[0] == pytest.approx((data[0] - norm.mean[0]) / norm.std[0], abs=1e-5)
    back = Normalization.from_dict(json.loads(json.dumps(norm.to_dict())))
    assert back == norm
    result = np.zeros_like(data)
    norm.restore(result, data)
    above = data[1] > lv
    assert np.array_equal(result[1][above], data[1][above]) and not result[1][~above].any()
    assert not result[0].any()
    assert norm.messages() == [f"channel 1: {100 * norm.saturation[1].share:.2g}% of pixels above "
                               f"{lv:,.0f} (bright sparse spots) are kept as measured; the network "
                               "trains below that level"]
    assert SaturationLevel.from_dict(norm.saturation[1].to_dict()) == norm.saturation[1]


@pytest.fixture(scope="module")
def bead_model():
    data = _beads(_plain())
    config = small_config("hqssl", steps=4, noise_model="poisson-gaussian")
    return data, train_model(data, config)


def test_trained_model_keeps_bright_spots_as_measured(bead_model):
    data, model = bead_model
    assert model.normalization.clips
    lv = model.normalization.saturation[0].level
    above = data > lv
    for out in (model.denoise(data, "YX"), model.denoise(data, "YX", tile_size=32, tta=True),
                model.predict_block(data[None])["denoised"][0]):
        assert np.array_equal(out[above], data[above])
        assert out[~above].max() < lv + 0.5 * (lv - np.median(data))  # the network never saw the beads
    assert any(line.startswith("saturation level: ") for line in describe(model))


def test_training_says_so():
    data = _beads(_plain())
    run = TrainingRun(data, small_config("n2v2", steps=1))
    started = next(ev for ev in run.events() if isinstance(ev, TrainingStarted))
    assert "kept as measured" in started.saturation
    assert "Bright sparse spots: " in training_started(started)


def test_model_file_round_trip_and_old_file_without_level(bead_model, tmp_path):
    data, model = bead_model
    path = tmp_path / "m.safetensors"
    save_model(model, path)
    loaded = load_model(path, device="cpu")
    assert loaded.normalization == model.normalization
    assert np.array_equal(loaded.denoise(data, "YX"), model.denoise(data, "YX"))
    # an older file: the same weights, no saturation field
    meta = dict(read_metadata(path))
    norm = json.loads(meta["normalization"])
    del norm["saturation"]
    meta["normalization"] = json.dumps(norm)
    old = tmp_path / "old.safetensors"
    save_file(load_file(str(path)), str(old), metadata=meta)
    loaded_old = load_model(old, device="cpu")
    assert loaded_old.normalization.saturation is None
    plain = DenoisingModel(model.config, model.net, Normalization(model.normalization.mean,
                                                                  model.normalization.std), 1)
    assert np.array_equal(loaded_old.denoise(data, "YX"), plain.denoise(data, "YX"))
    assert not np.array_equal(loaded_old.denoise(data, "YX"), model.denoise(data, "YX"))
    # a damaged level is a damaged file
    norm["saturation"] = [{"level": 1.0, "share": 0.01}, None]
    meta["normalization"] = json.dumps(norm)
    bad = tmp_path / "bad.safetensors"
    save_file(load_file(str(path)), str(bad), metadata=meta)
    with pytest.raises(ModelFileError, match="damaged"):
        load_model(bad, device="cpu")


@pytest.mark.parametrize("method,axes,extra", [
    ("n2v2", "CYX", dict(channels="independent")),
    ("hqssl", "CYX", dict(channels="separate", noise_model="gaussian")),
    ("hqssl", "CYX", dict(channels="joint", noise_model="gaussian")),
    ("n2v2", "ZYX", dict(train_3d=True, patch_size=16, patch_size_z=4)),
])
def test_channels_and_3d(method, axes, extra):
    if axes == "CYX":
        data = np.stack([_plain(), _beads(_plain(seed=1))])
    else:
        data = _beads(_plain((8, 48, 48)), seed=3)
    model = train_model(data, small_config(method, axes=axes, steps=2, **extra))
    sat = model.normalization.saturation
    assert sat is not None and (sat[0] is None) == (axes == "CYX") and sat[-1] is not None
    out = model.denoise(data, axes)
    chan = data[-1] if axes == "CYX" else data
    res = out[-1] if axes == "CYX" else out
    above = chan > sat[-1].level
    assert above.any() and np.array_equal(res[above], chan[above])


@pytest.mark.slow
def test_beads_denoise_better_with_the_level(monkeypatch):
    """The measured remedy (docs/channels.md): 15x beads, 30 steps, PSNR away from the beads."""
    from napari_blindspot.engine import normalization

    clean = 20 + 110 * (0.5 + 0.5 * np.sin(np.mgrid[:96, :96][0] / 7.0) * np.cos(np.mgrid[:96, :96][1] / 9.0))
    rng = np.random.default_rng(0)
    bright = _beads(clean.astype(np.float32))
    noisy = (bright + rng.normal(0, 1, bright.shape) * np.sqrt(4 * bright + 9)).astype(np.float32)
    far = bright == clean.astype(np.float32)
    config = small_config("hqssl", steps=30, noise_model="poisson-gaussian", hq_features=8)

    def score() -> float:
        out = train_model(noisy, config).denoise(noisy, "YX")
        return 10 * np.log10(np.ptp(clean[far]) ** 2 / np.mean((out[far] - clean[far]) ** 2))

    with_level = score()
    monkeypatch.setattr(normalization, "find_levels", lambda values: (None,) * len(values))
    without = score()
    assert with_level > without + 3.0, (with_level, without)
