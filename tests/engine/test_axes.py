"""Axes strings and the lazy canonical view (read/write round trips, laziness)."""

from __future__ import annotations

import numpy as np
import pytest

from helpers_engine import CountingArray

from napari_blindspot.engine import AxesError, BlindspotError, CanonicalView, check_axes, guess_axes, parse_axes

# axes -> shape with distinct sizes so that any mix-up of axes changes the result
SHAPES = {
    "YX": (20, 24),
    "TYX": (3, 20, 24),
    "ZYX": (5, 20, 24),
    "CYX": (2, 20, 24),
    "YXC": (20, 24, 3),
    "TZCYX": (2, 5, 3, 20, 24),
    "SZYXC": (2, 5, 20, 24, 2),
}


def _expected_canonical(data: np.ndarray, axes: str, train_3d: bool) -> np.ndarray:
    """Independent reference: ``(N, C, [Z,] Y, X)`` by explicit transposition and reshape."""
    spatial = "ZYX" if train_3d else "YX"
    sample_axes = [a for a in axes if a not in spatial and a != "C"]
    order = sample_axes + (["C"] if "C" in axes else []) + list(spatial)
    arr = np.transpose(data, [axes.index(a) for a in order])
    if "C" not in axes:
        arr = np.expand_dims(arr, len(sample_axes))
    n = int(np.prod([data.shape[axes.index(a)] for a in sample_axes])) if sample_axes else 1
    return arr.reshape((n,) + arr.shape[len(sample_axes):])


def _cases():
    for axes, shape in SHAPES.items():
        yield axes, shape, False
        if "Z" in axes:
            yield axes, shape, True


@pytest.mark.parametrize("axes,shape,train_3d", list(_cases()))
def test_read_matches_reference_and_write_round_trips(axes, shape, train_3d):
    data = np.arange(np.prod(shape), dtype=np.uint16).reshape(shape)
    view = CanonicalView(data, axes, train_3d)
    expected = _expected_canonical(data, axes, train_3d)
    assert view.n_samples == expected.shape[0]
    assert view.n_channels == expected.shape[1]
    assert view.spatial_shape == expected.shape[2:]
    assert view.ndim_spatial == (3 if train_3d else 2)

    out = view.empty_like_source(np.float32)
    assert out.shape == data.shape
    for s in range(view.n_samples):
        block = view.read(s)
        assert block.dtype == np.float32
        np.testing.assert_array_equal(block, expected[s])
        view.write(out, s, block)
    np.testing.assert_array_equal(out, data.astype(np.float32))


@pytest.mark.parametrize("axes,shape,train_3d", [c for c in _cases() if "C" in c[0]])
def test_write_single_channel(axes, shape, train_3d):
    data = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    view = CanonicalView(data, axes, train_3d)
    out = view.empty_like_source()
    for s in range(view.n_samples):
        block = view.read(s)
        for c in range(view.n_channels):
            view.write(out, s, block[c:c + 1], channel=c)
    np.testing.assert_array_equal(out, data)


def test_read_region():
    data = np.random.default_rng(1).normal(size=(2, 5, 3, 20, 24)).astype(np.float32)
    view = CanonicalView(data, "TZCYX", train_3d=True)
    block = view.read(1, (slice(1, 4), slice(2, 10), slice(5, 21)))
    np.testing.assert_array_equal(block, np.transpose(data[1, 1:4, :, 2:10, 5:21], (1, 0, 2, 3)))
    view2d = CanonicalView(data, "TZCYX", train_3d=False)
    # sample index runs over (T, Z) in C order: sample 7 is T=1, Z=2
    block = view2d.read(7, (slice(3, 9), slice(0, 4)))
    np.testing.assert_array_equal(block, data[1, 2, :, 3:9, 0:4])


@pytest.mark.parametrize("axes,msg", [
    ("YQ", "unknown letter"), ("TYXY", "more than once"), ("ZX", "both Y and X"),
    ("", "non-empty"), ("tyxw", "unknown letter"),
])
def test_parse_axes_errors(axes, msg):
    with pytest.raises(AxesError, match=msg):
        parse_axes(axes)


def test_parse_axes_upper_cases():
    assert parse_axes("tzyx") == "TZYX"


def test_axes_must_match_shape():
    with pytest.raises(AxesError, match=r"3 letters but the image has 2 dimensions") as info:
        check_axes("TYX", (32, 32))
    assert isinstance(info.value, BlindspotError) and isinstance(info.value, ValueError)
    with pytest.raises(AxesError, match="dimensions"):
        CanonicalView(np.zeros((4, 32, 32)), "YX")


def test_3d_needs_z():
    with pytest.raises(AxesError, match="3D training needs a Z axis"):
        CanonicalView(np.zeros((4, 32, 32)), "TYX", train_3d=True)


def test_guess_axes():
    assert guess_axes((64, 64)) == "YX"
    assert guess_axes((5, 64, 64)) == "ZYX"
    assert guess_axes((64, 64, 3), rgb=True) == "YXC"
    assert guess_axes((2, 5, 64, 64)) == "TZYX"
    assert guess_axes((2, 5, 3, 64, 64)) == "TZCYX"
    for shape in [(64, 64), (5, 64, 64), (2, 5, 64, 64), (2, 5, 3, 64, 64), (2, 2, 5, 3, 64, 64)]:
        assert len(check_axes(guess_axes(shape), shape)) == len(shape)


def test_view_reads_lazily_only_the_requested_block():
    data = np.random.default_rng(2).normal(size=(6, 40, 48)).astype(np.float32)
    lazy = CountingArray(data)
    view = CanonicalView(lazy, "TYX")
    block = view.read(4, (slice(8, 24), slice(16, 32)))
    np.testing.assert_array_equal(block[0], data[4, 8:24, 16:32])
    assert lazy.reads == [16 * 16]


def test_memmap_source(tmp_path):
    path = tmp_path / "stack.dat"
    mm = np.memmap(path, dtype=np.uint16, mode="w+", shape=(3, 4, 40, 40))
    mm[:] = np.arange(mm.size, dtype=np.uint16).reshape(mm.shape) % 1000
    mm.flush()
    ro = np.memmap(path, dtype=np.uint16, mode="r", shape=(3, 4, 40, 40))
    view = CanonicalView(ro, "TZYX", train_3d=True)
    assert view.n_samples == 3 and view.spatial_shape == (4, 40, 40)
    np.testing.assert_array_equal(view.read(2)[0], np.asarray(ro[2], np.float32))
