"""Noise2Void / N2V2 masking: stratified positions, replacement values, masked loss."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from torch import nn

from helpers_engine import small_config

from napari_blindspot.engine.methods.n2v.masking import (apply_mask, expected_masked_count, grid_spacing,
                                             masked_mse, replacement_values, stratified_coords)
from napari_blindspot.engine.methods import N2V2, Noise2Void


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _unique_image(batch: int, channels: int, spatial: tuple[int, ...], seed: int = 0) -> torch.Tensor:
    """Every value distinct, so a value identifies the pixel (and channel) it came from."""
    n = batch * channels * int(np.prod(spatial))
    perm = np.random.default_rng(seed).permutation(n).astype(np.float64)
    return torch.from_numpy(perm.reshape((batch, channels) + spatial))


def _position_of(x: torch.Tensor, b: int, c: int, value: float) -> tuple[int, ...]:
    hits = torch.nonzero(x[b, c] == value)
    assert hits.shape[0] == 1, "replacement value is not a pixel value of the same patch/channel"
    return tuple(int(v) for v in hits[0])


def _mirrored_window(pos: tuple[int, ...], spatial: tuple[int, ...], radius: int) -> list[tuple[int, ...]]:
    """Reference window positions (without the centre); offsets leaving the patch are mirrored."""
    out = []
    for off in itertools.product(range(-radius, radius + 1), repeat=len(spatial)):
        if not any(off):
            continue
        p = []
        for c, o, s in zip(pos, off, spatial):
            q = c + o
            p.append(c - o if (q < 0 or q >= s) else q)
        out.append(tuple(p))
    return out


# ------------------------------------------------------------------ positions
def test_grid_spacing():
    assert grid_spacing(0.002, 2) == 22  # ~0.2 % of the pixels in 2D
    assert grid_spacing(0.002, 3) == 8
    assert grid_spacing(0.25, 2) == 2
    assert grid_spacing(1.0, 2) == 1


@pytest.mark.parametrize("spatial,fraction", [((64, 64), 0.01), ((40, 52), 0.02), ((8, 24, 20), 0.01),
                                              ((64, 64), 0.002)])
def test_stratified_one_pixel_per_grid_cell(spatial, fraction):
    batch = 5
    coords = stratified_coords(batch, spatial, fraction, _gen(3))
    ndim = len(spatial)
    cell = grid_spacing(fraction, ndim)
    assert coords.shape[1] == 1 + ndim and coords.dtype == torch.long
    assert coords[:, 0].min() >= 0 and coords[:, 0].max() == batch - 1
    for d, s in enumerate(spatial):
        assert coords[:, 1 + d].min() >= 0 and coords[:, 1 + d].max() < s
    for b in range(batch):
        pts = coords[coords[:, 0] == b, 1:]
        cells = [tuple((p // cell).tolist()) for p in pts]
        assert len(cells) == len(set(cells)), "two masked pixels in one grid cell"
        # every complete grid cell holds exactly one masked pixel
        full = [range(s // cell) for s in spatial]
        for c in itertools.product(*full):
            assert c in cells
        assert len(pts) <= expected_masked_count(spatial, fraction)
    # about the requested fraction of pixels is masked
    per_patch = coords.shape[0] / batch
    assert per_patch == pytest.approx(fraction * np.prod(spatial), rel=0.35)


def test_stratified_positions_are_random_within_cells():
    coords = stratified_coords(200, (32, 32), 0.01, _gen(0))  # cell 10
    first_cell = coords[(coords[:, 1] < 10) & (coords[:, 2] < 10)][:, 1:]
    assert len(first_cell) == 200
    # offsets in the cell cover (almost) the whole cell, not a fixed spot
    assert len({tuple(p.tolist()) for p in first_cell}) > 50
    again = stratified_coords(200, (32, 32), 0.01, _gen(0))
    assert torch.equal(coords, again)  # deterministic for a given generator


# ------------------------------------------------------------------ replacement values
def _all_coords(batch: int, spatial: tuple[int, ...]) -> torch.Tensor:
    grids = torch.cartesian_prod(torch.arange(batch), *[torch.arange(s) for s in spatial])
    return grids.reshape(-1, 1 + len(spatial))


@pytest.mark.parametrize("spatial", [(12, 9), (4, 8, 6)])
def test_random_replacement_comes_from_window_never_the_pixel(spatial):
    # every pixel masked, including all borders and corners
    radius = 2
    x = _unique_image(2, 2, spatial)
    coords = _all_coords(2, spatial)
    values = replacement_values(x, coords, radius, "random", _gen(1))
    assert values.shape == (coords.shape[0], 2)
    seen_offsets = set()
    for row, val in zip(coords.tolist(), values):
        b, pos = row[0], tuple(row[1:])
        src = _position_of(x, b, 0, float(val[0]))
        assert src != pos, f"pixel {pos} replaced by itself"
        assert max(abs(s - p) for s, p in zip(src, pos)) <= radius
        assert src in _mirrored_window(pos, spatial, radius)
        # all channels take the value of the same neighbour
        assert float(val[1]) == float(x[(b, 1) + src])
        seen_offsets.add(tuple(s - p for s, p in zip(src, pos)))
    if len(spatial) == 2:
        assert len(seen_offsets) == 24  # every neighbour of the 5x5 window gets used


def test_random_replacement_is_uniform_over_the_window():
    x = _unique_image(1, 1, (11, 11))
    coords = torch.tensor([[0, 5, 5]] * 4800)
    values = replacement_values(x, coords, 2, "random", _gen(5))
    counts = torch.unique(values[:, 0], return_counts=True)[1]
    assert len(counts) == 24
    assert counts.min() > 120 and counts.max() < 290  # expected 200 each


@pytest.mark.parametrize("spatial", [(12, 9), (4, 8, 6)])
def test_median_replacement_is_median_of_window_without_centre(spatial):
    radius = 2
    x = _unique_image(2, 2, spatial, seed=4)
    coords = _all_coords(2, spatial)
    values = replacement_values(x, coords, radius, "median", _gen(0))
    n_nb = 5 ** len(spatial) - 1
    for row, val in zip(coords.tolist(), values):
        b, pos = row[0], tuple(row[1:])
        for c in range(2):
            window = np.array([float(x[(b, c) + p]) for p in _mirrored_window(pos, spatial, radius)])
            srt = np.sort(window)
            lo, hi = srt[(n_nb - 1) // 2], srt[n_nb // 2]
            v = float(val[c])
            # the median of the window without the centre (lower median for an even count)
            assert lo <= v <= hi
            assert v in (lo, float(np.median(window)))
            if v == lo and _position_of(x, b, c, v) == pos:
                pytest.fail(f"median at {pos} is the pixel's own value")


def test_median_interior_is_exact_numpy_median_of_24_neighbours():
    rng = np.random.default_rng(7)
    x = torch.from_numpy(rng.normal(size=(1, 1, 9, 9)))
    coords = torch.tensor([[0, 4, 4], [0, 2, 2], [0, 6, 3]])
    values = replacement_values(x, coords, 2, "median", _gen(0))
    for (_, i, j), v in zip(coords.tolist(), values[:, 0].tolist()):
        win = x[0, 0, i - 2:i + 3, j - 2:j + 3].numpy().ravel()
        neighbours = np.delete(win, 12)
        assert v == np.sort(neighbours)[11]  # lower median of the 24 neighbours
        # the centre is excluded: making it huge or tiny changes nothing
    x2 = x.clone()
    x2[0, 0, 4, 4] = 1e6
    assert torch.equal(replacement_values(x2, coords, 2, "median", _gen(0)), values)


def test_median_never_leaks_centre_value():
    # a bright isolated pixel on a dark background must be replaced by background
    x = torch.zeros(1, 1, 16, 16)
    for pos in [(0, 0), (15, 15), (0, 7), (8, 8)]:
        x.zero_()
        x[(0, 0) + pos] = 100.0
        coords = torch.tensor([[0, *pos]])
        assert replacement_values(x, coords, 2, "median", _gen(0)).item() == 0.0
        assert replacement_values(x, coords, 2, "random", _gen(0)).item() == 0.0


def test_unknown_mode():
    with pytest.raises(ValueError, match="mode"):
        replacement_values(torch.zeros(1, 1, 8, 8), torch.tensor([[0, 1, 1]]), 2, "mean", _gen())


@pytest.mark.parametrize("mode", ["random", "median"])
@pytest.mark.parametrize("spatial", [(32, 32), (8, 16, 16)])
def test_apply_mask_changes_exactly_the_masked_pixels(mode, spatial):
    x = _unique_image(3, 2, spatial).float()
    masked, coords = apply_mask(x, 0.02, 2, mode, _gen(2))
    changed = (masked != x).any(dim=1)  # (B, *sp)
    mask = torch.zeros_like(changed)
    mask[tuple(coords.T)] = True
    assert torch.equal(changed, mask)
    assert torch.equal(x, _unique_image(3, 2, spatial).float())  # input untouched


# ------------------------------------------------------------------ loss
def test_masked_mse_only_sees_masked_pixels():
    torch.manual_seed(0)
    pred = torch.randn(2, 1, 16, 16, requires_grad=True)
    target = torch.randn(2, 1, 16, 16)
    coords = torch.tensor([[0, 1, 2], [0, 10, 11], [1, 15, 0]])
    loss = masked_mse(pred, target, coords)
    manual = torch.stack([(pred[b, 0, i, j] - target[b, 0, i, j]) ** 2 for b, i, j in coords.tolist()]).mean()
    assert torch.allclose(loss, manual)

    perturbed = pred.detach().clone()
    perturbed[0, 0, 5, 5] += 100.0  # not masked
    perturbed[1, 0, 3, 3] -= 50.0  # not masked
    assert masked_mse(perturbed, target, coords).item() == loss.item()
    target2 = target.clone()
    target2[1, 0, 7, 7] = 1e3
    assert masked_mse(pred, target2, coords).item() == loss.item()
    perturbed[0, 0, 10, 11] += 1.0  # masked
    assert masked_mse(perturbed, target, coords).item() != loss.item()

    (grad,) = torch.autograd.grad(loss, pred)
    nonzero = torch.nonzero(grad)
    assert sorted(map(tuple, nonzero[:, [0, 2, 3]].tolist())) == sorted(map(tuple, coords.tolist()))


class _Recorder(nn.Module):
    """A stand-in network: records its input and returns a fixed prediction."""

    def __init__(self, prediction: torch.Tensor) -> None:
        super().__init__()
        self.prediction = prediction
        self.inputs: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.inputs.append(x.clone())
        return self.prediction


@pytest.mark.parametrize("cls,mode", [(Noise2Void, "random"), (N2V2, "median")])
def test_method_loss_is_mse_on_masked_pixels_of_masked_input(cls, mode):
    cfg = small_config(cls.name, mask_fraction=0.02)
    method = cls(cfg)
    assert method.replacement == mode
    torch.manual_seed(1)
    x = torch.randn(1, 3, 1, 32, 32)  # (views, batch, C, Y, X)
    pred = torch.randn(3, 1, 32, 32)
    net = _Recorder(pred)
    loss = method.loss(net, x, _gen(9))
    masked, coords = apply_mask(x[0], cfg.mask_fraction, cfg.mask_radius, mode, _gen(9))
    assert torch.equal(net.inputs[0], masked)  # the network sees the masked patch
    assert torch.allclose(loss, masked_mse(pred, x[0], coords))
    # a prediction change away from the masked pixels leaves the loss unchanged
    keep = torch.ones(3, 32, 32, dtype=torch.bool)
    keep[tuple(coords.T)] = False
    pred2 = pred.clone()
    pred2[:, 0][keep] += 5.0
    assert method.loss(_Recorder(pred2), x, _gen(9)).item() == pytest.approx(loss.item(), abs=0)
    # and a change at a masked pixel changes it
    pred3 = pred.clone()
    b, i, j = coords[0].tolist()
    pred3[b, 0, i, j] += 5.0
    assert method.loss(_Recorder(pred3), x, _gen(9)).item() != loss.item()


@pytest.mark.parametrize("spatial,radius", [((4, 8, 8), 2), ((8, 8), 4), ((6, 10), 3)])
def test_largest_allowed_radius_stays_inside_and_off_centre(spatial, radius):
    # the config allows mask_radius up to half the smallest patch side
    x = _unique_image(1, 1, spatial)
    coords = _all_coords(1, spatial)
    for mode in ("random", "median"):
        values = replacement_values(x, coords, radius, mode, _gen(3))[:, 0]
        own = x[0, 0][tuple(coords[:, 1:].T)]
        assert not torch.any(values == own)


def test_patch_smaller_than_a_grid_cell_still_gets_a_masked_pixel():
    coords = stratified_coords(6, (16, 16), 0.002, _gen(0))  # grid cell 22 > patch
    assert sorted(coords[:, 0].tolist()) == list(range(6))
    assert expected_masked_count((16, 16), 0.002) == 1
