"""One model trained on several images of different shapes."""

from __future__ import annotations

import numpy as np
import pytest

from helpers_engine import small_config
from napari_blindspot.engine import ConfigError, DataError, TrainingRun, train_model
from napari_blindspot.engine.training.patches import MultiSampler


def _images():
    rng = np.random.default_rng(0)
    return [rng.poisson(40, (3, 64, 72)).astype(np.uint16), rng.poisson(90, (96, 128)).astype(np.uint16)]


def test_patches_come_from_every_image_by_pixel_count():
    a, b = _images()
    run = TrainingRun([a, b], small_config("n2v2", axes="TYX"), axes=["TYX", "YX"])
    run.prepare()
    assert isinstance(run.sampler, MultiSampler)
    assert run.sampler.p == pytest.approx([3 * 4 / (3 * 4 + 12), 12 / 24])  # patches of 32x32
    picks = [run.sampler.rng.choice(2, p=run.sampler.p) for _ in range(400)]
    assert 0.35 < np.mean(picks) < 0.65
    assert run.val_batch.shape[1] >= 2  # each image holds out validation patches


def test_normalisation_and_noise_are_pooled_and_training_is_deterministic():
    a, b = _images()
    cfg = small_config("hqssl", axes="TYX", noise_model="poisson-gaussian", steps=4)
    m1 = train_model([a, b], cfg, axes=["TYX", "YX"])
    m2 = train_model([a, b], cfg, axes=["TYX", "YX"])
    pooled = np.concatenate([a.ravel(), b.ravel()]).astype(np.float64)
    assert m1.normalization.mean[0] == pytest.approx(pooled.mean(), rel=1e-9)
    assert m1.normalization.std[0] == pytest.approx(pooled.std(), rel=1e-6)
    cal = m1.info["noise_calibration"][0]
    assert min(cal["signal"]) < 50 and max(cal["signal"]) > 80  # both brightness ranges measured
    for p1, p2 in zip(m1.net.parameters(), m2.net.parameters()):
        assert (p1 == p2).all()
    assert m1.predict(b, "YX")["denoised"].shape == b.shape


def test_images_must_share_channels_and_repeats_need_one_image():
    a, b = _images()
    with pytest.raises(DataError, match="same channels"):
        TrainingRun([a, np.stack([b, b])], small_config("n2v2", axes="TYX"), axes=["TYX", "CYX"])
    cfg = small_config("hqssl", axes="TYX", noise_model="poisson-gaussian", noise_calibration="repeats")
    with pytest.raises(ConfigError, match="several images"):
        TrainingRun([a, a], cfg).prepare()
