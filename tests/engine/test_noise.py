"""Noise models (units, positivity, initialisation) and the quick noise estimate."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers_engine import smooth_image, untrained_model

from napari_blindspot.engine import CanonicalView
from napari_blindspot.engine.methods.hqssl.noise import (KnownGaussian, LearnedGaussian, PoissonGaussian,
                                           build_noise_model)
from napari_blindspot.engine.methods.hqssl.noise_estimate import estimate_noise
from napari_blindspot.engine.normalization import Normalization

NORM = Normalization((120.0,), (25.0,))


def test_build_noise_model_kinds():
    assert build_noise_model("mean-only", 1, NORM, None) is None
    assert isinstance(build_noise_model("gaussian", 1, NORM, None), LearnedGaussian)
    assert isinstance(build_noise_model("poisson-gaussian", 1, NORM, None), PoissonGaussian)
    known = build_noise_model("gaussian-known", 1, NORM, 5.0)
    assert isinstance(known, KnownGaussian) and not known.learned
    assert list(known.parameters()) == []  # nothing to learn
    with pytest.raises(ValueError, match="noise model"):
        build_noise_model("laplace", 1, NORM, None)


def test_known_gaussian_units():
    model = build_noise_model("gaussian-known", 1, NORM, 5.0)
    mu = torch.zeros(2, 1, 4, 4)
    torch.testing.assert_close(model.variance(mu), torch.full_like(mu, (5.0 / 25.0) ** 2))
    assert model.in_units(NORM)["sigma"] == pytest.approx(5.0)


def test_known_gaussian_joint_channels_use_each_channels_scale():
    norm = Normalization((100.0, 400.0), (10.0, 40.0))
    model = build_noise_model("gaussian-known", 2, norm, 4.0)
    var = model.variance(torch.zeros(1, 2, 3, 3))
    # 4 intensity units of noise are 0.4 normalised units in channel 0 and 0.1 in channel 1
    torch.testing.assert_close(var[0, :, 0, 0], torch.tensor([0.4 ** 2, 0.1 ** 2]))


def test_known_gaussian_loads_a_scalar_sigma():
    model = KnownGaussian(1.0, 1.0)
    model.load_state_dict({"sigma_n": torch.tensor(0.25)})
    torch.testing.assert_close(model.variance(torch.zeros(1, 1, 2, 2)), torch.full((1, 1, 2, 2), 0.0625))


def test_learned_gaussian_units_and_initialisation():
    model = LearnedGaussian(1)
    model.initialize([{"sigma": 0.3}])
    var = model.variance(torch.zeros(2, 1, 5, 5))
    assert var.shape == (2, 1, 5, 5)
    assert float(var[0, 0, 0, 0].detach()) == pytest.approx(0.3 ** 2, rel=1e-3)
    assert model.in_units(NORM)["sigma"] == pytest.approx(0.3 * 25.0, rel=1e-3)
    two = LearnedGaussian(2)
    two.initialize([{"sigma": 0.2}, {"sigma": 0.5}])
    params = two.in_units(Normalization((0.0, 0.0), (10.0, 100.0)))
    assert params == pytest.approx({"sigma_c0": 2.0, "sigma_c1": 50.0}, rel=1e-3)
    with torch.no_grad():
        model.raw.fill_(-50.0)
    assert float(model.sigma().detach()) > 0  # stays positive whatever the raw value


def test_poisson_gaussian_variance_in_intensity_units():
    """sigma_n^2 in normalised units, scaled back, must be a * x + b in intensity units."""
    model = build_noise_model("poisson-gaussian", 1, NORM, None)
    model.initialize([{"a": 0.08, "b": 0.02}])
    params = model.in_units(NORM)
    a, b = params["a"], params["b"]
    assert a == pytest.approx(0.08 * 25.0, rel=1e-4)
    assert b == pytest.approx(0.02 * 25.0 ** 2, rel=1e-4)
    x = torch.linspace(10.0, 400.0, 50)  # clean intensities
    mu_n = ((x - NORM.mean[0]) / NORM.std[0]).view(1, 1, 5, 10)
    var_units = model.variance(mu_n) * NORM.std[0] ** 2
    torch.testing.assert_close(var_units.flatten(), a * x + b, rtol=1e-4, atol=1e-4)
    # negative intensities give no Poisson part, never a negative variance
    neg = model.variance(torch.full((1, 1, 2, 2), -100.0))
    torch.testing.assert_close(neg, torch.full_like(neg, b / NORM.std[0] ** 2), rtol=1e-4, atol=1e-7)


def test_poisson_gaussian_parameters_stay_non_negative():
    model = PoissonGaussian(torch.zeros(1))
    with torch.no_grad():
        model.raw_a.fill_(-30.0)
        model.raw_b.fill_(-30.0)
    a, b = model.ab()
    assert float(a.detach()) >= 0 and float(b.detach()) >= 0
    assert torch.all(model.variance(torch.randn(1, 1, 4, 4)) >= 0)


# ---------------------------------------------------------------- estimates
def test_estimate_noise_gaussian():
    clean = 100 + 100 * smooth_image((2, 128, 128), seed=3)
    rng = np.random.default_rng(0)
    noisy = clean + rng.normal(0, 12.0, clean.shape)
    est = estimate_noise(list(noisy))
    assert est["sigma"] == pytest.approx(12.0, rel=0.05)
    # on signal-independent noise, the fit puts (nearly) everything into b
    assert est["a"] * 200 < 0.15 * est["b"]


def test_estimate_noise_poisson_gaussian():
    a_true, b_true = 2.0, 25.0
    clean = 10 + 200 * smooth_image((2, 128, 128), seed=4)
    rng = np.random.default_rng(1)
    noisy = a_true * rng.poisson(clean / a_true) + rng.normal(0, b_true ** 0.5, clean.shape)
    est = estimate_noise(list(noisy))
    assert est["a"] == pytest.approx(a_true, rel=0.15)
    assert est["b"] == pytest.approx(b_true, rel=0.35)


def test_calibrate_initialises_learned_noise_from_the_data():
    clean = 100 + 100 * smooth_image((3, 96, 96), seed=5)
    noisy = (clean + np.random.default_rng(2).normal(0, 9.0, clean.shape)).astype(np.float32)
    for kind, key in (("gaussian", "sigma"), ("poisson-gaussian", "b")):
        model = untrained_model("hqssl", noise_model=kind, axes="TYX", train_3d=False,
                                mean=float(noisy.mean()), std=float(noisy.std()))
        view = CanonicalView(noisy, "TYX")
        model.method.calibrate(model.net, view, model.normalization, True)
        params = model.noise_parameters()
        expected = 9.0 if key == "sigma" else 81.0
        assert params[key] == pytest.approx(expected, rel=0.2), (kind, params)
