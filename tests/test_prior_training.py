"""The warm-start prior's training data (benchmarks/prior_training.py): the natural pictures."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("skimage")

from benchmarks import prior_training as pt  # noqa: E402


def test_natural_pictures_leave_out_set12s_cameraman() -> None:
    names = [name for name, _ in pt.natural_images()]
    assert names == list(pt.NATURAL) and "camera" not in names
    for _, img in pt.natural_images():
        assert img.ndim == 2 and img.dtype == np.float32 and 0 <= img.min() and img.max() <= 255.0


def test_natural_patch_variance_is_the_noise_it_added() -> None:
    """The variance returned is that of the noise in the normalised patch, whatever sigma."""
    rng = np.random.default_rng(3)
    # an edge image: the patch is normalised by the noisy image's std, not the noise's
    image = np.full((64, 64), 120.0, np.float32)
    image[:, 32:] = 60.0
    y, v = pt._natural_patch(image, rng, 64)
    assert y.shape == v.shape == (64, 64) and np.ptp(v) == 0
    assert 0 < v[0, 0] < 1.0 and abs(float(y.var()) - 1.0) < 0.2
    # many patches of a flat image: normalised noise variance matches the returned variance
    flat = np.full((256, 256), 100.0, np.float32)
    for _ in range(5):
        y, v = pt._natural_patch(flat, rng, 128)
        assert abs(float(y.var()) / float(v[0, 0]) - 1.0) < 0.05
        assert abs(float(y.mean())) < 0.05  # centred on the image's mean


def test_batch_mixes_the_natural_share() -> None:
    rng = np.random.default_rng(0)
    fixed = [(np.zeros((64, 64), np.float32), np.full((64, 64), 7.0, np.float32))]
    natural = [np.full((64, 64), 100.0, np.float32)]
    _, v = pt._batch(fixed, rng, 400, 16, natural, 0.25)
    share = float(np.mean(v[:, 0, 0, 0] != 7.0))
    assert 0.18 < share < 0.32
    _, v = pt._batch(fixed, np.random.default_rng(0), 50, 16)
    assert np.all(v == 7.0)  # no natural share: the fixed images only
