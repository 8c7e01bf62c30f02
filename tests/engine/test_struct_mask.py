"""structN2V masks: the patterns, the exact pixels hidden around each blind spot, validation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers_engine import small_config

from napari_blindspot.engine import TrainConfig
from napari_blindspot.engine.errors import ConfigError
from napari_blindspot.engine.methods.n2v.masking import apply_mask, replacement_values, struct_positions
from napari_blindspot.engine.methods.n2v.struct_mask import (parse_pattern, pattern_from_file, struct_extent,
                                                 struct_offsets)


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _unique(shape: tuple[int, ...], seed: int = 0) -> torch.Tensor:
    """Every value distinct and >= 1000, so a changed pixel is told by its value."""
    n = int(np.prod(shape))
    return torch.from_numpy(1000 + np.random.default_rng(seed).permutation(n).astype(np.float64)
                            ).reshape(shape)


def _expected_hidden(centre: tuple[int, ...], offsets: list[tuple[int, ...]],
                     spatial: tuple[int, ...]) -> set[tuple[int, ...]]:
    """Reference: the centre plus its mask pixels, an offset leaving the patch mirrored."""
    out = {centre}
    for off in offsets:
        p = []
        for c, o, s in zip(centre, off, spatial):
            q = c + o
            p.append(c - o if (q < 0 or q >= s) else q)
        out.add(tuple(p))
    return out


# ------------------------------------------------------------------ patterns
def test_named_lines_and_patterns():
    assert struct_offsets("horizontal", 5, 2).tolist() == [[0, -2], [0, -1], [0, 1], [0, 2]]
    assert struct_offsets("vertical", 3, 2).tolist() == [[-1, 0], [1, 0]]
    assert struct_offsets("vertical", 3, 3).tolist() == [[0, -1, 0], [0, 1, 0]]  # Z offset 0
    assert struct_offsets("010/111/010", 5, 2).tolist() == [[-1, 0], [0, -1], [0, 1], [1, 0]]
    assert struct_offsets("10101", 5, 2).tolist() == [[0, -2], [0, 2]]  # centre 0 or 1: the same
    assert struct_offsets("none", 5, 2).shape == (0, 2)
    assert struct_extent("horizontal", 7) == 3 and struct_extent("0 1 0; 1 1 1; 0 1 0", 5) == 1
    assert parse_pattern("1,1,1").tolist() == [[True, True, True]]


@pytest.mark.parametrize("pattern,words", [("1111", "no centre pixel"), ("11/11", "no centre pixel"),
                                           ("010", "hides nothing"), ("12x", "pattern of 0/1"),
                                           ("111/11", "different lengths"), ("", "pattern of 0/1")])
def test_bad_patterns_are_one_clear_line(pattern, words):
    with pytest.raises(ConfigError, match=words) as err:
        small_config("n2v2", struct_mask=pattern)
    assert "\n" not in str(err.value) and "struct_mask" in str(err.value)


@pytest.mark.parametrize("method", ["hqssl", "n2n"])
def test_other_methods_refuse_a_struct_mask(method):
    with pytest.raises(ConfigError, match="N2V2 and N2V only") as err:
        small_config(method, struct_mask="horizontal")
    assert "n2v2" in str(err.value) or "needs no mask" in str(err.value)


def test_span_and_size_checks():
    with pytest.raises(ConfigError, match="struct_span=4.*odd"):
        small_config("n2v2", struct_mask="horizontal", struct_span=4)
    with pytest.raises(ConfigError, match="half the patch size"):
        small_config("n2v2", struct_mask="horizontal", struct_span=31, patch_size=16)
    with pytest.raises(ConfigError, match="raise mask_radius"):
        small_config("n2v2", struct_mask="111/111/111", mask_radius=1)
    small_config("n2v2", struct_mask="111/111/111", mask_radius=2)  # neighbours left outside


def test_stored_in_the_config_and_old_configs_load():
    cfg = small_config("n2v", struct_mask="vertical", struct_span=7)
    back = TrainConfig.from_json(cfg.to_json())
    assert (back.struct_mask, back.struct_span) == ("vertical", 7)
    old = cfg.to_dict()
    del old["struct_mask"], old["struct_span"]  # a model file from before structN2V
    assert TrainConfig.from_dict(old).struct_mask == "none"


def test_pattern_file(tmp_path):
    path = tmp_path / "mask.txt"
    path.write_text("# a plus\n0 1 0\n1 1 1\n0 1 0\n")
    assert pattern_from_file(path) == "010/111/010"
    path.write_text("1 1\n1 1\n")
    with pytest.raises(ConfigError, match="no centre"):
        pattern_from_file(path)


# ------------------------------------------------------------------ the hidden pixels
@pytest.mark.parametrize("spatial,mask,span", [((24, 24), "horizontal", 5), ((24, 20), "vertical", 7),
                                                ((24, 24), "11100", 5), ((6, 16, 16), "010/111/010", 5),
                                                ((6, 16, 16), "horizontal", 5)])
@pytest.mark.parametrize("mode", ["random", "median"])
def test_exactly_the_centre_and_its_mask_change(spatial, mask, span, mode):
    """Every changed pixel is a blind spot or one of its (mirrored) mask pixels, and each of
    those did change; mask pixels hold values within the patch's range."""
    x = _unique((2, 2) + spatial)
    struct = struct_offsets(mask, span, len(spatial))
    masked, coords = apply_mask(x, 0.02, 2, mode, _gen(3), struct)
    offsets = [tuple(o) for o in struct.tolist()]
    for b in range(x.shape[0]):
        expected: set[tuple[int, ...]] = set()
        for c in coords[coords[:, 0] == b, 1:].tolist():
            expected |= _expected_hidden(tuple(c), offsets, spatial)
        for ch in range(x.shape[1]):
            changed = {tuple(p) for p in torch.nonzero(masked[b, ch] != x[b, ch]).tolist()}
            assert changed == expected
            lo, hi = float(x[b, ch].min()), float(x[b, ch].max())
            assert all(lo <= float(masked[(b, ch) + p]) <= hi for p in changed)
    # the mask pixels of a stripe pattern at the border are mirrored onto the patch
    hidden = struct_positions(coords, struct, spatial)
    assert (hidden[:, 1:] >= 0).all() and (hidden[:, 1:] < torch.tensor(spatial)).all()


def test_border_mirroring_of_a_one_sided_pattern():
    """'11100' hides the two pixels left of the blind spot; at the left border they mirror right."""
    struct = struct_offsets("11100", 5, 2)
    coords = torch.tensor([[0, 5, 0], [0, 5, 1], [0, 5, 9]])
    got = struct_positions(coords, struct, (10, 10)).tolist()
    assert got == [[0, 5, 2], [0, 5, 1], [0, 5, 3], [0, 5, 0], [0, 5, 7], [0, 5, 8]]


@pytest.mark.parametrize("mode", ["random", "median"])
def test_the_centre_is_not_replaced_from_the_mask(mode):
    """The blind spot's replacement comes from the window outside the mask: a neighbour on the
    stripe would carry the stripe into the blind spot."""
    x = _unique((1, 1, 32, 32))
    coords = torch.tensor([[0, y, xx] for y in range(4, 28, 5) for xx in range(4, 28, 5)])
    struct = struct_offsets("horizontal", 5, 2)
    for seed in range(5):
        values = replacement_values(x, coords, 2, mode, _gen(seed), struct)[:, 0]
        for (_, y, xx), v in zip(coords.tolist(), values.tolist()):
            if mode == "random":
                (pos,) = torch.nonzero(x[0, 0] == v).tolist()
                assert pos[0] != y and abs(pos[0] - y) <= 2 and abs(pos[1] - xx) <= 2
            else:
                window = x[0, 0, y - 2:y + 3, xx - 2:xx + 3].clone()
                off_row = torch.cat([window[:2].flatten(), window[3:].flatten()])
                assert v == float(off_row.median())


def test_masking_is_reproducible_from_the_seed():
    x = _unique((2, 1, 32, 32))
    struct = struct_offsets("horizontal", 9, 2)
    a, ca = apply_mask(x, 0.05, 2, "median", _gen(7), struct)
    b, cb = apply_mask(x, 0.05, 2, "median", _gen(7), struct)
    assert torch.equal(a, b) and torch.equal(ca, cb)


# ------------------------------------------------------------------ quality
@pytest.mark.slow
def test_struct_n2v_removes_row_stripes_n2v2_keeps(monkeypatch):
    """Synthetic stripes (noise correlated along rows): N2V2 learns to predict them from the
    row neighbours and keeps them; a horizontal structN2V mask hides those neighbours."""
    from pathlib import Path

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2]))
    from benchmarks.struct_n2v import striped_data, stripes_kept

    from napari_blindspot.engine.training.loop import train_model

    clean, noisy, stripes = striped_data(frames=2, size=64, pixel_sigma=4.0, stripe_sigma=20.0,
                                         stripe_length=5, seed=0)
    kept = {}
    for mask in ("none", "horizontal"):
        config = small_config("n2v2", axes="TYX", steps=150, batch_size=8, unet_features=16,
                              mask_fraction=0.05, struct_mask=mask, struct_span=9)
        out = train_model(noisy, config).denoise(noisy, "TYX")
        kept[mask] = stripes_kept(out, clean, stripes)
    assert kept["horizontal"] < 0.5 * kept["none"], kept
    assert kept["none"] > 0.2, kept  # N2V2 really does keep the stripes here
