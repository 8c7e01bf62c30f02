"""noise_fit="auto": the refit is kept only where the image calibration was inflated."""

import numpy as np
import pytest
import torch

from napari_blindspot.engine import train_model
from napari_blindspot.engine.methods.hqssl import noise_fit_choice
from napari_blindspot.engine.methods.hqssl.noise_estimate import NoiseCalibration, calibrate_image
from napari_blindspot.engine.methods.hqssl.noise_fit_choice import (inflation, keep_refit,
                                                                    relative_inflation, training_curve)

from helpers_engine import small_config


def _cal(signal, variance, source="image") -> NoiseCalibration:
    x, v = np.asarray(signal, float), np.asarray(variance, float)
    return NoiseCalibration(x, v, np.full(x.size, 500), 1.0, 0.0, 1 / 12, source)


def test_the_default_rule_needs_both_ratios():
    assert noise_fit_choice.RULE == "both"
    with pytest.raises(ValueError, match="bright/dark.*both"):
        keep_refit(_cal([1.0, 2.0], [1.0, 2.0]), _cal([1.0, 2.0], [1.0, 2.0], "refit"), "dark")


def test_a_calibration_inflated_in_the_bright_bins_gives_way_to_the_refit():
    x = np.linspace(5, 200, 20)
    true = 4.2 * x + 4.0
    inflated = true * np.where(x > 100, 1.6, 1.05)  # structure sits in the bright bins
    keep, ratio = keep_refit(_cal(x, inflated), _cal(x, true, "refit"), "bright")
    assert keep and ratio == pytest.approx(1.6, rel=0.02)
    assert keep_refit(_cal(x, inflated), _cal(x, true, "refit")) == (True, pytest.approx(1.6 / 1.05, rel=0.02))
    keep, ratio = keep_refit(_cal(x, inflated), _cal(x, true, "refit"), "bright/dark")
    assert keep and ratio == pytest.approx(1.6 / 1.05, rel=0.02)


def test_bright_over_dark_sees_a_mild_inflation_over_a_low_background():
    """The held-out filaments' case: the bright half 1.08x the refit, the dark bins 0.95x (the
    refit a little above the calibration there).  The bright rule (the default) misses it, the
    bright/dark variant keeps the refit (1.08 / 0.95 = 1.14)."""
    x = np.linspace(5, 200, 24)
    true = 4.2 * x + 4.0
    at = (x - x.min()) / np.ptp(x)
    cal = true * np.where(at >= 0.5, 1.08, np.where(at <= 0.25, 0.95, 1.0))
    assert relative_inflation(_cal(x, cal), _cal(x, true, "refit")) == pytest.approx(1.08 / 0.95)
    assert keep_refit(_cal(x, cal), _cal(x, true, "refit"), "bright/dark")[0]
    assert keep_refit(_cal(x, cal), _cal(x, true, "refit"))[0]  # the default ("both") too
    assert not keep_refit(_cal(x, cal), _cal(x, true, "refit"), "bright")[0]


def test_a_refit_off_at_every_brightness_keeps_the_calibration():
    """Texture (Barbara): the refit reads what the prior cannot predict as noise, at every
    brightness; the ratio falls in the dark bins as much as in the bright ones."""
    x = np.linspace(5, 200, 24)
    true = 4.2 * x + 4.0
    keep, ratio = keep_refit(_cal(x, true), _cal(x, 1.5 * true, "refit"), "bright/dark")
    assert not keep and ratio == pytest.approx(1.0)
    assert keep_refit(_cal(x, true), _cal(x, 1.5 * true, "refit")) == (False, pytest.approx(1 / 1.5))


def test_an_agreeing_or_lower_calibration_is_kept():
    x = np.linspace(5, 200, 20)
    true = 4.2 * x + 4.0
    assert keep_refit(_cal(x, true * 1.05), _cal(x, true, "refit"), "bright") == (False, pytest.approx(1.05))
    assert not keep_refit(_cal(x, true * 1.05), _cal(x, true, "refit"))[0]
    assert keep_refit(_cal(x, true * 1.05), _cal(x, true, "refit"), "bright/dark") == (False, pytest.approx(1.0))
    # a refit above the calibration (the prior's error over-subtracted nowhere) keeps it too
    assert not keep_refit(_cal(x, true), _cal(x, 1.5 * true, "refit"))[0]
    # inflation only in the dark bins is not structure: kept
    dark = true * np.where(x < 100, 2.0, 1.0)
    assert not keep_refit(_cal(x, dark), _cal(x, true, "refit"))[0]
    # a calibration against repeats or a second acquisition is never replaced
    assert not keep_refit(_cal(x, 2 * true, "repeats"), _cal(x, true, "refit"))[0]
    assert inflation(_cal([], []), _cal(x, true, "refit")) == 1.0
    assert relative_inflation(_cal([], []), _cal(x, true, "refit")) == 1.0
    assert not keep_refit(_cal(x, 2 * true), _cal([], [], "refit"))[0]  # nothing to refit with


def test_thin_lines_measure_inflated_against_the_true_curve():
    """The evidence on data: Poisson noise on 1-px lines inflates the image calibration's bright
    bins; against the true curve (what a good refit measures) the rule keeps the refit, and on
    a smooth ramp it does not."""
    rng = np.random.default_rng(0)
    grid = np.zeros((256, 256))
    grid[::5, :] = 1.0
    grid[:, 2::5] = 1.0
    lines = 3.0 + 60.0 * grid
    ramp = np.tile(np.linspace(3.0, 63.0, 256), (256, 1))
    ratios = {}
    for name, clean in (("lines", lines), ("ramp", ramp)):
        cal = calibrate_image([rng.poisson(clean).astype(np.float32)])
        truth = _cal(cal.signal, np.maximum(cal.signal, 1.0), "refit")  # Poisson: var = signal
        keep, _ = keep_refit(cal, truth)
        ratios[name] = inflation(cal, truth)
        assert keep == (name == "lines"), ratios
    assert ratios["lines"] > noise_fit_choice.REFIT_BELOW > ratios["ramp"]


def test_training_curve_drops_the_padding_points():
    knots = np.array([1.0, 2.0, 5.0, 5.000005, 5.00001])
    values = np.array([1.0, 2.0, 3.0, 3.0, 3.0])
    cal = training_curve(knots, values, 0.1)
    assert list(cal.signal) == [1.0, 2.0, 5.0] and cal.floor == 0.1


@pytest.mark.parametrize("threshold, kept", [(0.0, True), (np.inf, False)])
def test_auto_keeps_or_drops_the_refit_in_training(monkeypatch, threshold, kept):
    """Both branches of the decision, wired into HQ-SSL's end of training."""
    for name in ("REFIT_BELOW", "BOTH_BRIGHT_ABOVE", "RELATIVE_ABOVE"):
        monkeypatch.setattr(noise_fit_choice, name, threshold)
    rng = np.random.default_rng(1)
    clean = np.tile(np.linspace(20, 200, 128), (128, 1))  # big enough for the refit's bins
    noisy = (rng.poisson(clean) + rng.normal(0, 2, clean.shape)).astype(np.float32)
    config = small_config("hqssl", noise_model="curve", noise_fit="auto", steps=4, batch_size=2)
    model = train_model(noisy, config)
    noise = model.net.noise
    assert noise.refitted == kept
    assert ("noise_refit" in model.info) == kept
    if not kept:
        assert torch.equal(noise.post_values, noise.values)


def test_auto_is_the_default_and_harmless_elsewhere():
    from napari_blindspot.engine import TrainConfig

    assert TrainConfig.for_method("hqssl", device="cpu").noise_fit == "auto"
    # other noise models keep their calibration (no refit, no error)
    rng = np.random.default_rng(2)
    noisy = rng.normal(100, 5, (64, 64)).astype(np.float32)
    model = train_model(noisy, small_config("hqssl", noise_model="affine", noise_fit="auto",
                                            steps=2, batch_size=2))
    assert "noise_refit" not in model.info


def test_the_combined_rule_needs_both_ratios():
    """rule="both": the bright/dark ratio above 1.05 *and* the bright half above 1.05.  A texture
    whose bright half agrees (1.03) while its dark quarter reads more noise in the refit (Set12
    07's case) keeps the calibration; the held-out filaments' mild case (1.08 over 0.95) keeps
    the refit; a dark-only disagreement (bright 1.09, dark 1.05: Set12 01) keeps the calibration."""
    x = np.linspace(5, 200, 24)
    true = 4.2 * x + 4.0
    at = (x - x.min()) / np.ptp(x)

    def shaped(bright, dark):
        return _cal(x, true * np.where(at >= 0.5, bright, np.where(at <= 0.25, dark, 1.0)))

    refit = _cal(x, true, "refit")
    assert keep_refit(shaped(1.08, 0.95), refit, "both")[0]
    texture = shaped(1.03, 0.92)
    assert keep_refit(texture, refit, "bright/dark")[0]
    assert keep_refit(texture, refit, "both") == (False, pytest.approx(1.03))  # the ratio that decided
    keep, ratio = keep_refit(shaped(1.09, 1.045), refit, "both")
    assert not keep and ratio == pytest.approx(1.09 / 1.045)
