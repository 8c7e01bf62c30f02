"""The noise curves a plot draws: exposed by the run after prepare() and by a trained model,
in intensity units, with the calibration's points and warnings; updated when training
fine-tunes the noise."""

from __future__ import annotations

import numpy as np
import pytest

from napari_blindspot.engine import NoiseCurves, TrainingRun

from helpers_engine import small_config, smooth_image


def _poisson_image(seed: int = 0) -> np.ndarray:
    clean = 20 + 200 * smooth_image((2, 96, 96), seed=seed)
    return np.random.default_rng(seed).poisson(clean).astype(np.uint16)  # variance = signal


@pytest.mark.parametrize("noise_model", ["curve", "affine", "gaussian"])
def test_run_exposes_calibrated_curves_after_prepare(noise_model: str) -> None:
    run = TrainingRun(_poisson_image(), small_config("hqssl", axes="TYX", noise_model=noise_model,
                                                     steps=4))
    run.prepare()
    (curve,) = run.noise_curves()
    assert curve.channel == 0 and curve.source == "image"
    assert len(curve.measured_signal) >= 4 and curve.measured_std.shape == curve.measured_signal.shape
    # Poisson noise: the measured std is about the root of the brightness
    np.testing.assert_allclose(curve.measured_std, np.sqrt(curve.measured_signal), rtol=0.35)
    assert curve.signal[0] == pytest.approx(curve.measured_signal.min())
    assert curve.signal[-1] == pytest.approx(curve.measured_signal.max())
    if noise_model == "gaussian":  # one level: a flat line
        assert np.ptp(curve.std) < 1e-6 * curve.std.mean()
    else:  # rises with the brightness, through the points
        assert curve.std[-1] > 2 * curve.std[0]
        model_at_points = np.interp(curve.measured_signal, curve.signal, curve.std)
        np.testing.assert_allclose(model_at_points, curve.measured_std, rtol=0.3)
    events = list(run.events())
    first = [ev for ev in events if isinstance(ev, NoiseCurves)][0]
    assert first.step == 0
    np.testing.assert_allclose(first.curves[0].std, curve.std)
    assert len(run.model.noise_curves()) == 1


def test_fine_tuned_noise_sends_new_curves_and_n2v2_sends_none() -> None:
    config = small_config("hqssl", axes="TYX", noise_model="affine", noise_fit="joint", steps=10,
                          validation_interval=5)
    events = list(TrainingRun(_poisson_image(1), config).events())
    sent = [ev for ev in events if isinstance(ev, NoiseCurves)]
    assert [ev.step for ev in sent] == [0, 5, 10]
    assert not np.allclose(sent[0].curves[0].std, sent[-1].curves[0].std)
    run = TrainingRun(_poisson_image(), small_config("n2v2", axes="TYX", steps=2))
    assert not any(isinstance(ev, NoiseCurves) for ev in run.events())
    assert run.noise_curves() == []
