"""One-shot `denoise` predicts with test-time augmentation by default (docs/fine_structures.md)."""

from __future__ import annotations

import numpy as np
import pytest

from napari_blindspot.engine import defaults
from napari_blindspot.engine.defaults import ONE_SHOT_TTA

import napari_blindspot.cli.denoise as cli_denoise
from napari_blindspot.cli import main
from napari_blindspot.io.tiff import write_tiff


@pytest.fixture
def image(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "in.tif"
    write_tiff(str(path), rng.poisson(20, (48, 48)).astype(np.uint8), "YX")
    return path


@pytest.mark.parametrize("flags, limit, want", [([], None, ONE_SHOT_TTA), (["--no-tta"], None, False),
                                                ([], 1000, False), (["--tta"], None, True)])
def test_one_shot_tta_default(image, tmp_path, capsys, monkeypatch, flags, limit, want):
    seen = {}
    real = cli_denoise.denoise_files

    def spy(*args, **kwargs):
        seen["tta"] = kwargs.get("tta")
        return real(*args, **kwargs)

    monkeypatch.setattr(cli_denoise, "denoise_files", spy)
    if limit is not None:  # an image over the size limit gets no TTA
        monkeypatch.setattr(defaults, "ONE_SHOT_TTA_MAX_PIXELS", limit)
    assert main(["denoise", str(image), "-o", str(tmp_path / "out.tif"), "--steps", "2",
                 "--patch-size", "32", *flags]) == 0
    assert seen["tta"] == want and type(seen["tta"]) is type(want)
    said = capsys.readouterr().err
    assert ("test-time augmentation" in said) is (want is ONE_SHOT_TTA)
    if want is ONE_SHOT_TTA:
        assert "8-fold test-time augmentation (the rotations and their mirror images; --no-tta" in said


def test_the_one_shot_transforms_and_their_expected_time():
    """All eight transforms up to 1 megapixel, none above; HQ-SSL's expected prediction time
    counts the rotations' shared network pass (BlindSpotUNet.tta_outputs)."""
    from napari_blindspot.engine import TrainConfig
    from napari_blindspot.engine.training.duration import expected_duration, tta_passes

    assert ONE_SHOT_TTA == 8
    assert defaults.one_shot_tta((512, 512)) == 8 and defaults.one_shot_tta((4, 512, 512)) == 8
    assert defaults.one_shot_tta((1025, 1024)) is False
    plan = defaults.default_plan("cpu", (512, 512), "YX", threads=2)
    cfg = TrainConfig.for_method("hqssl", axes="YX", device="cpu")
    plain = expected_duration(cfg, (512, 512), "cpu", 2)[1]
    assert plan.expected_predict_s == pytest.approx(plain * tta_passes(cfg, 8))
    assert 3 < tta_passes(cfg, 8) < 5 and tta_passes(cfg, 1) == 1
    assert tta_passes(cfg.replace(method="n2v2"), 8) == 8

