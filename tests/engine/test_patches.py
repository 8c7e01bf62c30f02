"""Lazy patch sampling, augmentation, validation split."""

from __future__ import annotations

import numpy as np
import pytest

from helpers_engine import CountingArray, small_config

from napari_blindspot.engine import CanonicalView, DataError, TrainingRun
from napari_blindspot.engine.methods.hqssl.method import CALIBRATION_FRAMES
from napari_blindspot.engine.normalization import MAX_STAT_SAMPLES, Normalization, compute_normalization
from napari_blindspot.engine.training.patches import (PatchSampler, Region, count_patches, patch_shape_for,
                                             split_regions)

IDENTITY = Normalization((0.0,), (1.0,))


def _dihedral(block: np.ndarray) -> list[np.ndarray]:
    out = []
    for k in range(4):
        r = np.rot90(block, k, axes=(-2, -1))
        out += [r, r[..., ::-1]]
    return out


def _find_window(image: np.ndarray, patch: np.ndarray) -> tuple[int, int, int]:
    """(transform index, y, x) such that a dihedral transform of image[y:y+p, x:x+p] is patch."""
    p = patch.shape[-1]
    v = patch.ravel()[0]
    for t_idx in range(8):
        for y, x in zip(*np.nonzero(image == v)):
            for dy in range(-p, p):
                for dx in range(-p, p):
                    y0, x0 = y + dy, x + dx
                    if y0 < 0 or x0 < 0 or y0 + p > image.shape[0] or x0 + p > image.shape[1]:
                        continue
                    if np.array_equal(_dihedral(image[y0:y0 + p, x0:x0 + p])[t_idx], patch):
                        return t_idx, y0, x0
    raise AssertionError("patch is not a flipped/rotated window of the image")


def test_patch_shape_and_too_small():
    view = CanonicalView(np.zeros((3, 40, 50)), "TYX")
    assert patch_shape_for(view, 32, 8) == (32, 32)
    with pytest.raises(DataError, match=r"smaller than the training patch .*at most 40"):
        patch_shape_for(view, 64, 8)
    view3 = CanonicalView(np.zeros((6, 40, 50)), "ZYX", train_3d=True)
    assert patch_shape_for(view3, 32, 4) == (4, 32, 32)
    with pytest.raises(DataError, match="Z patch of at most 4"):
        patch_shape_for(view3, 32, 8)


def test_split_regions():
    many = CanonicalView(np.zeros((20, 64, 64)), "TYX")
    train, val = split_regions(many, (32, 32), 0.1)
    assert list(val.samples) == [18, 19] and list(train.samples) == list(range(18))
    few = CanonicalView(np.zeros((2, 100, 64)), "TYX")
    train, val = split_regions(few, (32, 32), 0.1)
    assert (train.y0, train.y1, val.y0, val.y1) == (0, 68, 68, 100)  # a band of rows held out
    single = CanonicalView(np.zeros((40, 40)), "YX")
    train, val = split_regions(single, (32, 32), 0.1)
    assert val is not None and (val.y0, val.y1) == (0, 40)  # overlapping, but never empty
    train, val = split_regions(single, (32, 32), 0.0)
    assert val is None


def test_samples_are_augmented_windows_from_the_region():
    img = np.random.default_rng(0).permutation(48 * 40).reshape(48, 40).astype(np.float32)
    view = CanonicalView(img, "YX")
    region = Region(np.arange(1), 0, 30)  # rows 0..29 only
    sampler = PatchSampler([view], IDENTITY, (16, 16), region, np.random.default_rng(1))
    transforms = set()
    for _ in range(40):
        patch = sampler.sample()
        assert patch.shape == (1, 1, 16, 16) and patch.dtype == np.float32
        t_idx, y0, x0 = _find_window(img, patch[0, 0])
        assert 0 <= y0 and y0 + 16 <= 30
        transforms.add(t_idx)
    assert len(transforms) >= 6  # flips and 90-degree rotations are used


def test_fixed_set_is_unaugmented_and_normalised():
    img = np.random.default_rng(0).permutation(40 * 40).reshape(40, 40).astype(np.float32)
    view = CanonicalView(img, "YX")
    norm = Normalization((800.0,), (400.0,))
    sampler = PatchSampler([view], norm, (16, 16), Region(np.arange(1), 0, 40), np.random.default_rng(3))
    fixed, channels = sampler.fixed_set(6)
    assert channels.tolist() == [0] * 6  # independent channels: each patch says which
    assert fixed.shape == (1, 6, 1, 16, 16)
    for b in range(6):
        raw = fixed[0, b, 0] * 400.0 + 800.0
        assert _find_window(img, np.round(raw))[0] == 0  # identity transform
    assert sampler.augment  # restored


def test_channels_independent_and_joint():
    data = np.stack([np.full((40, 40), 10.0 * (c + 1)) for c in range(3)]).astype(np.float32)
    data += np.random.default_rng(0).normal(0, 0.1, data.shape).astype(np.float32)
    view = CanonicalView(data, "CYX")
    norm = compute_normalization(view)
    region = Region(np.arange(1), 0, 40)
    ind = PatchSampler([view], norm, (16, 16), region, np.random.default_rng(0), independent_channels=True)
    patches = ind.batch(30)
    assert patches.shape == (1, 30, 1, 16, 16)
    # every channel is normalised by its own statistics: all patches have mean ~0
    assert np.abs(patches.mean(axis=(2, 3, 4))).max() < 0.2
    joint = PatchSampler([view], norm, (16, 16), region, np.random.default_rng(0), independent_channels=False)
    assert joint.batch(2).shape == (1, 2, 3, 16, 16)


def test_two_views_get_the_same_window_and_augmentation():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(2, 40, 40)).astype(np.float32)
    b = a + 5.0
    views = [CanonicalView(a, "TYX"), CanonicalView(b, "TYX")]
    sampler = PatchSampler(views, IDENTITY, (16, 16), Region(np.arange(2), 0, 40), np.random.default_rng(1))
    batch = sampler.batch(12)
    assert batch.shape == (2, 12, 1, 16, 16)
    np.testing.assert_allclose(batch[1] - batch[0], 5.0, atol=1e-5)


def test_count_patches():
    view = CanonicalView(np.zeros((5, 2, 100, 70)), "TCYX")
    assert count_patches(view, (32, 32), independent_channels=True) == 3 * 2 * 5 * 2
    assert count_patches(view, (32, 32), independent_channels=False) == 3 * 2 * 5


def test_sampler_reads_only_patches():
    data = np.random.default_rng(0).normal(size=(30, 64, 64)).astype(np.float32)
    lazy = CountingArray(data)
    view = CanonicalView(lazy, "TYX")
    sampler = PatchSampler([view], IDENTITY, (16, 16), Region(np.arange(30), 0, 64), np.random.default_rng(0))
    sampler.batch(8)
    assert lazy.reads == [16 * 16] * 8


@pytest.mark.parametrize("method,train_3d", [("n2v2", False), ("hqssl", False), ("n2v", True)])
def test_training_reads_lazily_patch_by_patch(method, train_3d):
    """Training a lazy stack reads whole frames only for statistics and patches after that;
    the full array is never materialised (CountingArray.__array__ raises)."""
    frames, size = 80, 64
    data = np.random.default_rng(0).normal(100, 10, size=(frames, 8, size, size)).astype(np.float32)
    lazy = CountingArray(data)
    axes = "TZYX"
    cfg = small_config(method, axes=axes, train_3d=train_3d, steps=3, batch_size=4, patch_size=16,
                       patch_size_z=4, validation_interval=100)
    run = TrainingRun(lazy, cfg)
    assert lazy.reads == []  # building the run reads nothing: events() prepares
    events = run.events()
    next(events)  # TrainingStarted, after the preparation
    init_reads = list(lazy.reads)
    sample_size = (8 if train_3d else 1) * size * size
    patch = (4 if train_3d else 1) * 16 * 16
    assert max(init_reads) <= sample_size  # never more than one frame/volume at a time
    # statistics (and HQ-SSL's noise calibration) from at most 64 + 8 samples; the rest are
    # the validation patches
    assert sum(r == sample_size for r in init_reads) <= MAX_STAT_SAMPLES + CALIBRATION_FRAMES
    assert set(init_reads) <= {sample_size, patch}
    del lazy.reads[:]
    for _ in events:
        pass
    assert lazy.reads and set(lazy.reads) == {patch}
    assert len(lazy.reads) == 3 * 4  # one read per patch of every training step
