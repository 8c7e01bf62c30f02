"""Still time-lapses (repeats of one scene) are told from moving ones, whatever the noise."""

from __future__ import annotations

import numpy as np

from napari_blindspot.engine.methods.hqssl.stillness import STILL_RATIO, stillness
from napari_blindspot.samples.fluorescence import fluorescence_timelapse


def _repeats(frames: int = 8, seed: int = 0) -> np.ndarray:
    clean = fluorescence_timelapse(frames=1, size=128, seed=seed).clean[0]
    rng = np.random.default_rng(seed)
    return np.stack([4 * rng.poisson(clean / 4) + rng.normal(0, 3, clean.shape) for _ in range(frames)])


def test_repeats_of_a_still_scene_are_still():
    result = stillness(_repeats(), "TYX")
    assert result is not None and result.still and result.ratio > STILL_RATIO and result.frames == 8


def test_a_moving_scene_is_not_still():
    frames = _repeats()
    moving = np.stack([np.roll(f, k, axis=1) for k, f in enumerate(frames)])  # one pixel a frame
    assert not stillness(moving, "TYX").still
    drifting = fluorescence_timelapse(frames=8, size=128, seed=0).noisy  # the sample's random drift
    assert not stillness(drifting, "TYX").still


def test_other_axes_and_no_verdict():
    frames = _repeats(4)
    assert stillness(frames[:, None], "TCYX").still  # the first channel
    assert stillness(frames[:2], "TYX") is None  # two frames are a pair, not a time-lapse
    assert stillness(frames, "ZYX") is None  # no time axis
    assert stillness(np.zeros((5, 64, 64)), "TYX") is None  # nothing to see
