"""One-shot `denoise` predicts with test-time augmentation by default (docs/fine_structures.md)."""

from __future__ import annotations

import numpy as np
import pytest

import napari_blindspot.cli.denoise as cli_denoise
from napari_blindspot.cli import main
from napari_blindspot.io.tiff import write_tiff


@pytest.fixture
def image(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "in.tif"
    write_tiff(str(path), rng.poisson(20, (48, 48)).astype(np.uint8), "YX")
    return path


@pytest.mark.parametrize("flags, limit, want", [([], None, True), (["--no-tta"], None, False),
                                                ([], 1000, False)])
def test_one_shot_tta_default(image, tmp_path, capsys, monkeypatch, flags, limit, want):
    seen = {}
    real = cli_denoise.denoise_files

    def spy(*args, **kwargs):
        seen["tta"] = kwargs.get("tta")
        return real(*args, **kwargs)

    monkeypatch.setattr(cli_denoise, "denoise_files", spy)
    if limit is not None:  # an image over the size limit gets no TTA
        monkeypatch.setattr(cli_denoise, "ONE_SHOT_TTA_MAX_PIXELS", limit)
    assert main(["denoise", str(image), "-o", str(tmp_path / "out.tif"), "--steps", "2",
                 "--patch-size", "32", *flags]) == 0
    assert seen["tta"] is want
    assert ("test-time augmentation" in capsys.readouterr().err) is want
