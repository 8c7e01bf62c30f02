"""Short training runs must actually denoise, and HQ-SSL must learn the noise level.

Each run uses a small network on a 2 x 96 x 96 synthetic image (smooth blobs, known
noise) and takes a few seconds on 2 CPU cores.  Thresholds leave a wide margin below
what the runs reach (noted next to each assertion), so they do not flake.
"""

from __future__ import annotations

import numpy as np
import pytest

from helpers_engine import gaussian_pair, psnr, small_config, smooth_image

from napari_blindspot.engine import TrainingProgress, TrainingRun, train_model
from napari_blindspot.engine.methods.hqssl.method import HQSSL

SIGMA = 15.0


@pytest.fixture(scope="module")
def gaussian_data():
    return gaussian_pair((2, 96, 96), sigma=SIGMA, seed=1)


def _n2v_config(method, **kw):
    values = dict(axes="TYX", patch_size=32, batch_size=8, steps=150, unet_features=16,
                  mask_fraction=0.02, learning_rate=1e-3, validation_interval=50)
    values.update(kw)
    return small_config(method, **values)


def _hq_config(noise_model, **kw):
    values = dict(axes="TYX", patch_size=32, batch_size=4, steps=300, hq_features=8, hq_depth=2,
                  learning_rate=1e-3, validation_interval=50, noise_model=noise_model)
    values.update(kw)
    return small_config("hqssl", **values)


@pytest.mark.parametrize("method", ["n2v2", "n2v"])
def test_n2v_family_improves_psnr(gaussian_data, method):
    clean, noisy = gaussian_data
    before = psnr(noisy, clean)
    model = train_model(noisy, _n2v_config(method))
    after = psnr(model.denoise(noisy), clean)
    assert after - before >= 3.0, f"{method}: {before:.2f} dB -> {after:.2f} dB"  # reaches ~+6-8 dB


def test_hqssl_learned_gaussian(gaussian_data):
    clean, noisy = gaussian_data
    before = psnr(noisy, clean)
    run = TrainingRun(noisy, _hq_config("gaussian"))
    events = list(run.events())
    model = run.model
    res = model.predict(noisy, uncertainty=True)
    after = psnr(res["denoised"], clean)
    assert after - before >= 5.0, f"{before:.2f} dB -> {after:.2f} dB"  # reaches ~+9 dB
    sigma = model.noise_parameters()["sigma"]
    assert sigma == pytest.approx(SIGMA, rel=0.10), sigma  # reaches within ~5 %
    reported = [e.noise["sigma"] for e in events if isinstance(e, TrainingProgress)]
    assert reported and all(r > 0 for r in reported)
    # the uncertainty is a posterior std: positive, below the noise level, in intensity units
    unc = res["uncertainty"]
    assert np.all(unc > 0) and np.all(unc < sigma)
    # on this smooth image the prior is confident: the median posterior std is a few
    # percent of sigma (in normalised units it would be ~100x smaller)
    assert 0.03 * SIGMA < float(np.median(unc)) < SIGMA


def test_hqssl_learns_sigma_from_a_wrong_start(gaussian_data, monkeypatch):
    """Start the learned sigma at twice the truth (instead of the data-driven estimate):
    training alone must bring it back."""
    clean, noisy = gaussian_data

    def wrong_start(self, net, view, normalization, independent, reference=None):
        net.noise.initialize([{"sigma": 2 * SIGMA / normalization.std[0]}])
        return []

    monkeypatch.setattr(HQSSL, "calibrate", wrong_start)
    run = TrainingRun(noisy, _hq_config("gaussian", steps=400, noise_fit="joint"))
    events = [e for e in run.events() if isinstance(e, TrainingProgress)]
    assert events[0].noise["sigma"] > 1.7 * SIGMA  # it really started high
    sigma = run.model.noise_parameters()["sigma"]
    assert sigma == pytest.approx(SIGMA, rel=0.15), sigma  # reaches within ~3 %
    assert psnr(run.model.denoise(noisy), clean) - psnr(noisy, clean) >= 5.0


def test_hqssl_known_sigma_and_mean_only(gaussian_data):
    clean, noisy = gaussian_data
    before = psnr(noisy, clean)
    known = train_model(noisy, _hq_config("gaussian-known", noise_sigma=SIGMA, steps=150))
    assert known.noise_parameters()["sigma"] == pytest.approx(SIGMA, rel=1e-5)
    assert psnr(known.denoise(noisy), clean) - before >= 4.0  # reaches ~+8 dB
    mean_only = train_model(noisy, _hq_config("mean-only", steps=150))
    assert not mean_only.has_uncertainty
    assert psnr(mean_only.denoise(noisy), clean) - before >= 2.0  # reaches ~+6 dB


def test_hqssl_poisson_gaussian_learns_a_and_b():
    a_true, b_true = 2.0, 25.0
    clean = (10 + 200 * smooth_image((2, 96, 96))).astype(np.float32)
    rng = np.random.default_rng(1)
    noisy = (a_true * rng.poisson(clean / a_true) + rng.normal(0, b_true ** 0.5, clean.shape)).astype(np.float32)
    before = psnr(noisy, clean)
    model = train_model(noisy, _hq_config("poisson-gaussian"))
    params = model.noise_parameters()
    # the learned variance a*x + b in the right range (reaches a ~2.6, b ~31)
    assert 0.6 * a_true <= params["a"] <= 1.7 * a_true, params
    assert 0.5 * b_true <= params["b"] <= 2.0 * b_true, params
    assert psnr(model.denoise(noisy), clean) - before >= 2.0  # reaches ~+3.4 dB


def test_noise2noise_improves_psnr(gaussian_data):
    clean, noisy = gaussian_data
    second = (clean + np.random.default_rng(99).normal(0, SIGMA, clean.shape)).astype(np.float32)
    model = train_model(noisy, _n2v_config("n2n"), target=second)
    before = psnr(noisy, clean)
    after = psnr(model.denoise(noisy), clean)
    assert after - before >= 3.0, f"{before:.2f} dB -> {after:.2f} dB"


@pytest.mark.slow
def test_n2v2_on_fluorescence_sample():
    """The bundled procedural sample (Poisson-Gaussian camera noise) with N2V2 and HQ-SSL."""
    from napari_blindspot.samples.fluorescence import fluorescence_timelapse

    sample = fluorescence_timelapse(frames=2, size=96)
    before = psnr(sample.noisy, sample.clean)
    n2v2 = train_model(sample.noisy, _n2v_config("n2v2", steps=300))
    assert psnr(n2v2.denoise(sample.noisy), sample.clean) - before >= 1.5
    # the sample's camera has an offset: the Poisson-Gaussian model with an offset (b < 0)
    hq = train_model(sample.noisy, _hq_config("affine", steps=300))
    assert psnr(hq.denoise(sample.noisy), sample.clean) - before >= 2.5
    params = hq.noise_parameters()
    print(params)
    assert 0.5 * sample.noise["a"] <= params["a"] <= 1.6 * sample.noise["a"], params
    assert params["b"] < 0, params  # b = read noise^2 - a * offset
