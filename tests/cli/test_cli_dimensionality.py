"""The command line picks 2D or 3D training for a z-stack from its pixel sizes (--3d/--2d win)."""

from types import SimpleNamespace

import numpy as np
import pytest

from napari_blindspot.cli import build_parser
from napari_blindspot.cli.training import config_from_args


def _stack(z: float | None) -> SimpleNamespace:
    sizes = {"X": 0.1, "Y": 0.1, "Z": z} if z else {}
    return SimpleNamespace(data=np.zeros((32, 64, 64), np.uint8), axes="ZYX", pixel_size=sizes)


@pytest.mark.parametrize("z, flags, device, want", [
    (0.15, [], "cuda", True),     # near-isotropic on a GPU: 3D
    (0.15, [], "cpu", False),     # ... on a CPU: 2D (3D no better at the same time)
    (0.4, [], "cuda", False),     # z-spacing 4x: 2D
    (None, [], "cuda", False),    # no pixel sizes: 2D
    (0.4, ["--3d"], "cpu", True),  # the flags win
    (0.15, ["--2d"], "cuda", False),
])
def test_default_dimensionality_follows_the_anisotropy(z, flags, device, want, capsys, monkeypatch):
    monkeypatch.setattr("napari_blindspot.cli.training._device_type", lambda name: device)
    args = build_parser().parse_args(["denoise", "in.tif", "-o", "out.tif", *flags])
    config = config_from_args(args, "ZYX", _stack(z))
    assert config.train_3d is want
    if not flags:
        assert ("3D training" if want else "2D training") in capsys.readouterr().err


def test_3d_and_2d_flags_exclude_each_other():
    with pytest.raises(SystemExit):
        build_parser().parse_args(["denoise", "in.tif", "-o", "out.tif", "--3d", "--2d"])
