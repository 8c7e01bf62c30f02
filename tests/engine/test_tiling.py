"""Tiled prediction: equals whole prediction, batched and bounded tiles, progress, TTA."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers_engine import untrained_model

from napari_blindspot.engine import DataError, PredictionProgress
from napari_blindspot.engine.prediction.tiling import infer_with_tta, predict_sample, predict_whole, tile_starts

CASES_2D = [
    ("n2v2", {}),
    ("n2v", {}),
    ("n2n", {}),
    ("hqssl", {"noise_model": "gaussian"}),
    ("hqssl", {"noise_model": "poisson-gaussian"}),
    ("hqssl", {"noise_model": "mean-only"}),
]


def _image(shape, seed=0):
    rng = np.random.default_rng(seed)
    return (100 + 20 * rng.normal(size=shape)).astype(np.float32)


def _max_rel_diff(a: dict, b: dict, data_range: float) -> dict:
    assert a.keys() == b.keys()
    return {k: float(np.abs(a[k] - b[k]).max() / data_range) for k in a}


@pytest.mark.parametrize("method,extra", CASES_2D)
def test_tiled_equals_whole_2d(method, extra):
    # float32 throughout: tiles must match the whole image up to float32 rounding
    model = untrained_model(method, hq_features=4, hq_depth=2, unet_features=8,
                            mixed_precision=False, **extra)
    img = _image((150, 190))
    rng_ = float(img.max() - img.min())
    whole = model.predict(img, "YX", tile_size=1024, uncertainty=True)
    assert set(whole) == ({"denoised", "uncertainty"} if model.has_uncertainty else {"denoised"})
    for tile in (16, 120):  # a tiny tile is enlarged to hold the context margin
        events: list[PredictionProgress] = []
        tiled = model.predict(img, "YX", tile_size=tile, tile_batch=3, uncertainty=True,
                              progress=events.append)
        assert len(events) > 1, "expected several batches of tiles"
        diffs = _max_rel_diff(tiled, whole, rng_)
        assert max(diffs.values()) < 1e-4, (tile, diffs)
        assert tiled["denoised"].shape == img.shape and tiled["denoised"].dtype == np.float32


def test_tiled_equals_whole_hqssl_default_depth():
    model = untrained_model("hqssl", hq_features=4, hq_depth=3, noise_model="poisson-gaussian",
                            mixed_precision=False)
    img = _image((200, 184), seed=1)
    whole = model.predict(img, "YX", tile_size=512, uncertainty=True)
    events: list[PredictionProgress] = []
    tiled = model.predict(img, "YX", tile_size=176, uncertainty=True, progress=events.append)
    assert len(events) > 1
    assert max(_max_rel_diff(tiled, whole, float(np.ptp(img))).values()) < 1e-4


@pytest.mark.parametrize("method,extra", [("n2v2", {"unet_depth": 1}),
                                          ("hqssl", {"hq_depth": 1, "noise_model": "gaussian"})])
@pytest.mark.parametrize("shape,tile,tile_z", [((40, 64, 72), 48, 4),  # several tiles in Y and X
                                               ((52, 44, 40), 64, 44)])  # several tiles in Z
def test_tiled_equals_whole_3d(method, extra, shape, tile, tile_z):
    model = untrained_model(method, ndim=3, unet_features=4, hq_features=4, mixed_precision=False,
                            **extra)
    img = _image(shape, seed=2)
    whole = model.predict(img, "ZYX", tile_size=256, tile_size_z=256, uncertainty=True)
    calls: list[tuple[int, ...]] = []
    infer = model.infer_fn

    def spying_infer_fn(*args):
        fn = infer(*args)

        def wrapped(x):
            calls.append(tuple(x.shape))
            return fn(x)

        return wrapped

    model.infer_fn = spying_infer_fn
    tiled = model.predict(img, "ZYX", tile_size=tile, tile_size_z=tile_z, tile_batch=2,
                          uncertainty=True)
    assert sum(c[0] for c in calls) >= 2, "expected several tiles"
    assert all(c[0] <= 2 for c in calls)  # batched by tile_batch
    assert all(np.prod(c[2:]) < np.prod(img.shape) for c in calls)  # tiles, not the volume
    assert max(_max_rel_diff(tiled, whole, float(np.ptp(img))).values()) < 1e-4


def test_tiles_are_bounded_by_tile_size():
    model = untrained_model("n2v2", unet_features=4, unet_depth=1,  # radius 12: tiles >= 34 px
                            mixed_precision=False)
    img = _image((300, 260))
    shapes: list[tuple[int, ...]] = []
    fn = model.infer_fn()

    def infer(x):
        shapes.append(tuple(x.shape))
        return fn(x)

    sample = model.normalization.normalize(img[None])
    gen = predict_sample(infer, sample, tile_shape=(64, 64), multiple=2,
                         margin=model.method.receptive_radius(model.config),
                         batch_size=5, device=torch.device("cpu"))
    events = []
    while True:
        try:
            events.append(next(gen))
        except StopIteration as stop:
            result = stop.value
            break
    assert result["denoised"].shape == (1, 300, 260)
    assert all(s[0] <= 5 and s[2:] == (64, 64) for s in shapes)
    n_tiles = sum(s[0] for s in shapes)
    assert events[-1].done == events[-1].total == n_tiles
    assert [e.done for e in events] == sorted(e.done for e in events)
    whole = predict_whole(fn, sample, torch.device("cpu"))
    assert np.abs(result["denoised"] - whole["denoised"]).max() < 1e-4 * np.ptp(sample)


def test_prediction_generator_can_be_cancelled():
    model = untrained_model("n2v2")
    img = _image((4, 96, 96))
    gen = model.predict_iter(img, "TYX", tile_size=48)
    first = next(gen)
    assert isinstance(first, PredictionProgress) and 0 < first.done < first.total
    gen.close()  # cancelling must not raise
    with pytest.raises(StopIteration):
        next(gen)


def test_tile_starts_cover_and_align():
    for size, tile, margin, multiple in [(200, 64, 10, 4), (96, 96, 10, 4), (256, 84, 35, 4),
                                         (40, 100, 5, 8)]:
        starts = tile_starts(size, tile, margin, multiple)
        assert starts[0] == 0 and starts == sorted(set(starts))
        assert all(s % multiple == 0 for s in starts)
        assert min(size, starts[-1] + tile) == size
        # consecutive tiles overlap by at least the two margins
        for a, b in zip(starts, starts[1:]):
            assert a + tile - b >= 2 * margin


def _ramp_x(x):
    """A deliberately non-equivariant 'network': cumulative sum along X."""
    return {"denoised": torch.cumsum(x, dim=-1)}


def test_tta_averages_the_eight_transforms():
    x = torch.randn(1, 1, 6, 6, dtype=torch.float64)
    out = infer_with_tta(_ramp_x, x, tta=True)["denoised"][0, 0].numpy()
    a = x[0, 0].numpy()
    expected = np.zeros_like(a)
    for k in range(4):
        for flip in (False, True):
            t = np.rot90(a, k)
            t = t[:, ::-1] if flip else t
            y = np.cumsum(t, axis=-1)
            y = y[:, ::-1] if flip else y
            expected += np.rot90(y, -k)
    np.testing.assert_allclose(out, expected / 8, rtol=1e-12)
    same = infer_with_tta(lambda t: {"denoised": 3 * t}, x, tta=True)["denoised"]
    torch.testing.assert_close(same, 3 * x)


@pytest.mark.parametrize("method,ndim,shape,axes", [
    ("n2v2", 2, (40, 56), "YX"), ("hqssl", 2, (2, 37, 52), "TYX"), ("n2v", 3, (12, 24, 20), "ZYX")])
def test_tta_runs_and_keeps_shape(method, ndim, shape, axes):
    model = untrained_model(method, ndim=ndim, unet_features=4, hq_features=4, unet_depth=1, hq_depth=1)
    img = _image(shape)
    plain = model.predict(img, axes, uncertainty=True)
    tta = model.predict(img, axes, tta=True, uncertainty=True)
    assert plain.keys() == tta.keys()
    for key in tta:
        assert tta[key].shape == img.shape and np.isfinite(tta[key]).all()
    assert not np.allclose(tta["denoised"], plain["denoised"])  # it did average something


def test_prediction_rejects_bad_images():
    model = untrained_model("n2v2")
    with pytest.raises(DataError, match="NaN or infinite"):
        bad = _image((40, 40))
        bad[3, 4] = np.nan
        model.predict(bad, "YX")
    with pytest.raises(DataError, match="empty"):
        model.predict(np.zeros((0, 40), np.float32), "YX")
    with pytest.raises(DataError, match="channel"):
        model.predict(_image((2, 40, 40)), "CYX")
    with pytest.raises(ValueError, match="dimensions"):
        model.predict(_image((2, 40, 40)))  # trained on YX: axes must be given


def _true_radius(net: torch.nn.Module, ndim: int, size: int, period: int) -> int:
    """Largest distance (any axis) of an input pixel that changes an output pixel."""
    x = torch.randn((1, 1) + (size,) * ndim, dtype=torch.float64, requires_grad=True)
    out = net(x)
    radius = 0
    for c0 in range(size // 2, size // 2 + period):  # every alignment to the pooling grid
        c = (c0,) * ndim
        (g,) = torch.autograd.grad(out[(0, 0) + c], x, retain_graph=True)
        nz = torch.nonzero(g[0, 0])
        if len(nz):
            radius = max(radius, int((nz - torch.tensor(c)).abs().max()))
    return radius


@pytest.mark.parametrize("method,depth,ndim", [("hqssl", 1, 2), ("hqssl", 2, 2), ("hqssl", 3, 2),
                                               ("hqssl", 1, 3), ("n2v2", 1, 2), ("n2v2", 2, 2),
                                               ("n2v", 2, 2), ("n2v2", 1, 3)])
def test_declared_receptive_radius_covers_the_network(method, depth, ndim):
    """Tiling relies on ``receptive_radius``: it must not be smaller than the real one."""
    model = untrained_model(method, ndim=ndim, hq_depth=depth, unet_depth=depth, hq_features=4,
                            unet_features=8, noise_model="gaussian")
    declared = model.method.receptive_radius(model.config)
    size = 2 * declared + 2 ** (depth + 1) + 2
    size = -(-size // 2 ** depth) * 2 ** depth
    true = _true_radius(model.net.double(), ndim, size, 2 ** depth)
    assert true > 0
    assert declared >= true, f"{method} depth {depth}: declared {declared} < true {true}"


@pytest.mark.parametrize("axes,shape,channels", [("YX", (70, 90), "independent"),
                                                 ("TYX", (3, 40, 52), "independent"),
                                                 ("CYX", (2, 40, 44), "independent"),
                                                 ("CYX", (2, 40, 44), "joint"),
                                                 ("CYX", (2, 40, 44), "separate")])
def test_prediction_leaves_a_float32_input_untouched(axes, shape, channels):
    """Prediction normalises in place, but never the caller's own float32 array."""
    from helpers_engine import small_config

    from napari_blindspot.engine.methods import get_method
    from napari_blindspot.engine.model import DenoisingModel
    from napari_blindspot.engine.normalization import Normalization

    n_channels = shape[0] if "C" in axes else 1
    config = small_config("n2v2", axes=axes, channels=channels)
    net = get_method(config).build(config, 1 if channels == "independent" else n_channels, 2)
    model = DenoisingModel(config, net, Normalization((100.0,) * n_channels, (20.0,) * n_channels),
                           n_channels)
    img = _image(shape, seed=3)
    before = img.copy()
    out = model.denoise(img, axes)
    np.testing.assert_array_equal(img, before)
    assert out.shape == img.shape and not np.shares_memory(out, img)


class _Holder:
    """An array-like whose reads return itself, converting to the float32 array it holds."""

    def __init__(self, data):
        self.data, self.shape, self.dtype, self.ndim = data, data.shape, data.dtype, data.ndim

    def __getitem__(self, index):
        return self

    def __array__(self, dtype=None, copy=None):
        return self.data


def test_prediction_leaves_an_array_like_holding_float32_untouched():
    model = untrained_model("n2v2")
    img = _image((40, 44), seed=4)
    before = img.copy()
    model.denoise(_Holder(img), "YX")
    np.testing.assert_array_equal(img, before)
