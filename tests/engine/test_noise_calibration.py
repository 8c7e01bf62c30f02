"""Measuring camera noise from the data (engine/methods/hqssl/noise_estimate.py) and the noise models built on
it: synthetic cameras with an offset, with clipping and saturation, structured noise, repeats,
and the per-channel bugs of 0.1 (issue 11)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers_engine import small_config

from napari_blindspot.engine import TrainingRun
from napari_blindspot.engine.methods.hqssl.noise import AffineNoise, KnownGaussian, NoiseCurve, build_noise_model
from napari_blindspot.engine.methods.hqssl.noise_estimate import calibrate_image, calibrate_repeats
from napari_blindspot.engine.normalization import Normalization


def ramp(shape=(256, 512), lo=5.0, hi=400.0) -> np.ndarray:
    """A clean signal rising linearly along X (locally linear: residuals stay unbiased)."""
    return np.tile(np.linspace(lo, hi, shape[1]), (shape[0], 1))


def camera(clean: np.ndarray, *, gain: float, offset: float, read: float, seed: int = 0) -> np.ndarray:
    """``gain * Poisson(clean / gain) + offset + N(0, read^2)``: variance ``gain * (mean - offset) +
    read^2``, an affine curve with intercept ``read^2 - gain * offset`` (negative for an offset)."""
    rng = np.random.default_rng(seed)
    return gain * rng.poisson(clean / gain) + offset + rng.normal(0, read, clean.shape)


def test_an_offset_camera_is_measured_within_ten_percent():
    gain, offset, read = 2.0, 100.0, 3.0
    noisy = camera(ramp(), gain=gain, offset=offset, read=read)
    cal = calibrate_image([noisy])
    truth = gain * (cal.signal - offset) + read ** 2
    rel = np.abs(cal.variance - truth) / truth
    assert rel.max() < 0.10, list(zip(cal.signal.round(1), rel.round(3)))
    # the affine fit recovers the slope and the negative intercept (0.1's model forced b >= 0)
    assert cal.a == pytest.approx(gain, rel=0.10)
    assert cal.b == pytest.approx(read ** 2 - gain * offset, rel=0.10)
    assert cal.b < 0 and not cal.warnings


def test_clipped_data_get_their_own_curve_and_a_warning():
    gain, read = 1.0, 2.0
    clean = ramp(lo=0.0, hi=40.0)
    noisy = np.clip(camera(clean, gain=gain, offset=-4.0, read=read), 0, None)  # clipped at 0
    cal = calibrate_image([noisy])
    assert any("clipped" in w for w in cal.warnings)
    # truth by Monte Carlo: mean and variance of the clipped reading at each clean level
    rng = np.random.default_rng(1)
    levels = np.linspace(0, 40, 401)
    draws = np.clip(gain * rng.poisson(levels[:, None] / gain, (401, 20000)) - 4.0
                    + rng.normal(0, read, (401, 20000)), 0, None)
    mean, var = draws.mean(1), draws.var(1)
    truth = np.interp(cal.signal, mean, var)
    usable = truth > 1.0  # below that almost every reading is 0: no relative accuracy to speak of
    rel = np.abs(cal.variance - truth)[usable] / truth[usable]
    assert usable.sum() >= 10 and rel.max() < 0.10, list(zip(cal.signal[usable].round(2), rel.round(3)))


def test_saturation_and_structured_noise_are_named():
    clean = ramp(lo=10, hi=300)
    noisy = np.clip(camera(clean, gain=1.0, offset=0.0, read=2.0), 0, 255).astype(np.uint8)
    cal = calibrate_image([noisy], dtype=np.uint8)
    assert any("saturated" in w for w in cal.warnings)
    assert cal.floor == pytest.approx(1 / 12)
    rng = np.random.default_rng(2)
    stripes = camera(ramp(), gain=1.0, offset=0.0, read=2.0) + rng.normal(0, 20, (256, 1))  # line noise
    assert any("correlated between pixels along rows" in w for w in calibrate_image([stripes]).warnings)
    assert not any("correlated" in w for w in calibrate_image([camera(ramp(), gain=1.0, offset=0.0,
                                                                        read=2.0)]).warnings)


def test_repeats_give_the_curve_of_a_still_scene():
    clean = ramp((64, 256), lo=20, hi=500)
    stack = np.stack([camera(clean, gain=3.0, offset=50.0, read=4.0, seed=s) for s in range(20)])
    cal = calibrate_repeats(stack)
    truth = 3.0 * (cal.signal - 50.0) + 16.0
    assert (np.abs(cal.variance - truth) / truth).max() < 0.10
    assert cal.source == "repeats"
    with pytest.raises(ValueError, match="two acquisitions"):
        calibrate_repeats(stack[:1])


def test_small_images_still_get_a_curve():
    noisy = camera(ramp((24, 24), lo=10, hi=60), gain=1.0, offset=0.0, read=1.0)
    cal = calibrate_image([noisy])
    assert len(cal.signal) >= 1 and np.all(cal.variance > 0)
    with pytest.raises(ValueError, match="too small"):
        calibrate_image([np.zeros((3, 3))])


# ---------------------------------------------------------------- the models built on it
def _calibrated(model_cls, cals, norm):
    model = model_cls(norm, len(cals))
    model.calibrate(cals, norm)
    return model


def test_curve_and_affine_models_reproduce_the_measured_curve_in_intensity_units():
    noisy = camera(ramp(), gain=2.0, offset=100.0, read=3.0)
    cal = calibrate_image([noisy])
    norm = Normalization((float(noisy.mean()),), (float(noisy.std()),))
    for cls in (NoiseCurve, AffineNoise):
        model = _calibrated(cls, [cal], norm)
        got = model.curve(norm, cal.signal)
        ref = cal.variance if cls is NoiseCurve else np.maximum(cal.a * cal.signal + cal.b, cal.floor)
        np.testing.assert_allclose(got, ref, rtol=1e-4)
    curve = _calibrated(NoiseCurve, [cal], norm)
    below, above = curve.curve(norm, np.array([-50.0, 5000.0]))
    assert below == pytest.approx(cal.variance[0], rel=1e-4)  # flat below the first point
    assert above > cal.variance[-1]  # rising with the last segment above the last point


def test_independent_channels_get_their_own_channels_noise():
    """0.1 used channel 0's statistics for every channel with independent channels."""
    c0 = camera(ramp(), gain=1.0, offset=0.0, read=2.0)
    c1 = camera(10 * ramp(), gain=20.0, offset=0.0, read=30.0, seed=1)
    cals = [calibrate_image([c0]), calibrate_image([c1])]
    norm = Normalization((float(c0.mean()), float(c1.mean())), (float(c0.std()), float(c1.std())))
    model = build_noise_model("curve", 2, norm, None)
    model.calibrate(cals, norm)
    for c, image in enumerate((c0, c1)):
        signal = np.array([float(np.median(image))])
        mu = torch.tensor((signal - norm.mean[c]) / norm.std[c], dtype=torch.float32).view(1, 1, 1, 1)
        var = float(model.variance(mu, torch.tensor([c])).detach()) * norm.std[c] ** 2
        assert var == pytest.approx(float(np.interp(signal, cals[c].signal, cals[c].variance)[0]), rel=1e-3)
    # a batch mixing both channels gets each patch its own
    mu = torch.zeros(2, 1, 1, 1)
    var = model.variance(mu, torch.tensor([0, 1])).flatten()
    assert var[0] != var[1]


def test_known_sigma_describes_every_channel():
    """0.1's KnownGaussian.in_units raised for more than one channel (joint HQ-SSL crashed)."""
    norm = Normalization((100.0, 400.0), (10.0, 40.0))
    known = KnownGaussian(4.0, list(norm.std), 2)
    assert known.in_units(norm) == pytest.approx({"sigma_c0": 4.0, "sigma_c1": 4.0})


def test_joint_known_sigma_trains_and_reports(tmp_path):
    rng = np.random.default_rng(0)
    data = (100 + 5 * rng.standard_normal((2, 48, 48))).astype(np.float32)
    run = TrainingRun(data, small_config("hqssl", axes="CYX", channels="joint", steps=2,
                                         noise_model="gaussian-known", noise_sigma=5.0))
    progress = [ev for ev in run.events() if hasattr(ev, "noise")]
    assert progress[-1].noise == pytest.approx({"sigma_c0": 5.0, "sigma_c1": 5.0})


def test_the_regulariser_does_not_depend_on_the_datas_units():
    """0.1's regulariser acted on sigma in normalised units: its pull on the noise changed with
    the image's spread.  On log sigma, its gradient is the same whatever the units."""
    from napari_blindspot.engine.methods.hqssl.method import REGULARIZER, HQSSL, HQSSLNet
    from napari_blindspot.engine.methods.hqssl.noise import LearnedGaussian
    from napari_blindspot.engine.methods.hqssl.posterior import nll_diagonal

    class Const(torch.nn.Module):
        def forward(self, x):  # prior mean 0, prior variance tiny
            return torch.cat([torch.zeros_like(x), torch.full_like(x, -8.0)], 1)

    cfg = small_config("hqssl", noise_model="gaussian", noise_fit="joint")
    pulls = []
    for sigma in (0.1, 10.0):  # the same noise in two units
        noise = LearnedGaussian(1, initial_sigma=sigma)
        net = HQSSLNet(Const(), noise, 1)
        y = torch.randn(1, 1, 1, 16, 16, generator=torch.Generator().manual_seed(0)) * sigma
        total = HQSSL(cfg).loss(net, y, torch.Generator())
        mu, prior = net.prior(y[0])
        nll = nll_diagonal(y[0], mu, prior, noise.variance(mu)).mean()
        (g_total,) = torch.autograd.grad(total, noise.raw)
        (g_nll,) = torch.autograd.grad(nll, noise.raw)
        dlog_draw = float(torch.sigmoid(noise.raw)) / float(noise.sigma())
        pulls.append(float(g_total - g_nll) / dlog_draw)  # the regulariser's pull on log sigma
    assert pulls == pytest.approx([-REGULARIZER, -REGULARIZER], rel=1e-4)
