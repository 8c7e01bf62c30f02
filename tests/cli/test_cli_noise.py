"""The command line's noise options and one-shot defaults (issue 11): where the noise is
measured, how training treats it, what `info` reports, and the 3-minute one-shot budget."""

from __future__ import annotations

import json

import numpy as np
import pytest
from safetensors import safe_open

import napari_blindspot.cli.denoise as cli_denoise
from napari_blindspot.cli.options import ONE_SHOT_MINUTES
from napari_blindspot.cli import main
from napari_blindspot.io.tiff import write_tiff

TINY = ["--steps", "4", "--patch-size", "32", "--batch-size", "2", "--features", "8", "--depth", "2"]


def _camera(seed: int, frames: int = 2) -> np.ndarray:
    rng = np.random.default_rng(seed)
    clean = np.tile(np.linspace(20, 200, 64), (frames, 64, 1))  # the same still scene
    return (rng.poisson(clean) + rng.normal(0, 2, clean.shape) + 90).astype(np.uint16)  # offset 90


@pytest.fixture
def pair(tmp_path):
    a, b = tmp_path / "a.tif", tmp_path / "b.tif"
    write_tiff(a, _camera(0), "TYX", dtype=np.uint16)
    write_tiff(b, _camera(1), "TYX", dtype=np.uint16)
    return a, b


def _calibration(model_path) -> list[dict]:
    with safe_open(str(model_path), framework="pt") as f:
        return json.loads(f.metadata()["info"])["noise_calibration"]


def test_noise_from_a_second_acquisition(pair, tmp_path, capsys):
    a, b = pair
    model = tmp_path / "m.safetensors"
    assert main(["train", str(a), "--method", "hqssl", "--noise-from", str(b), "-o", str(model),
                 *TINY]) == 0
    (cal,) = _calibration(model)
    assert cal["source"] == "repeats"
    # the camera's curve: variance = (signal - 90) + 4, an offset the 0.1 model could not hold
    signal, variance = np.array(cal["signal"]), np.array(cal["variance"])
    np.testing.assert_allclose(variance, signal - 90 + 4, rtol=0.25)
    assert cal["b"] < 0
    assert main(["info", str(model)]) == 0
    assert "measured across repeated acquisitions, kept fixed during training" in capsys.readouterr().out


def test_noise_from_the_input_itself_is_refused_before_work(pair, tmp_path, capsys):
    a, _ = pair
    assert main(["train", str(a), "--method", "hqssl", "--noise-from", str(a),
                 "-o", str(tmp_path / "m.safetensors"), *TINY]) == 2
    assert "--noise-from" in capsys.readouterr().err and not (tmp_path / "m.safetensors").exists()


def test_repeats_along_time_and_a_learned_noise(pair, tmp_path, capsys):
    a, _ = pair
    model = tmp_path / "m.safetensors"
    assert main(["train", str(a), "--method", "hqssl", "--noise-calibration", "repeats",
                 "--noise-fit", "joint", "--noise-model", "affine", "-o", str(model), *TINY]) == 0
    assert _calibration(model)[0]["source"] == "repeats"
    main(["info", str(model)])
    out = capsys.readouterr().out
    assert "noise model: affine (measured across repeated acquisitions, learned with the network)" in out


def test_one_shot_denoise_trains_for_its_time_budget_and_says_so(pair, tmp_path, capsys, monkeypatch):
    seen = {}

    def fake_train(args, images):
        seen["minutes"], seen["steps"] = args.minutes, args.steps
        raise SystemExit(0)

    monkeypatch.setattr(cli_denoise, "train_on", fake_train)
    with pytest.raises(SystemExit):
        main(["denoise", str(pair[0]), "-o", str(tmp_path / "out.tif")])
    assert seen == {"minutes": ONE_SHOT_MINUTES, "steps": None}
    assert "One-shot: training on the image for 165 s" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # steps on request
        main(["denoise", str(pair[0]), "-o", str(tmp_path / "out.tif"), "--steps", "10"])
    assert seen == {"minutes": None, "steps": 10}


def test_refit_after_training_is_stored_and_used(pair, tmp_path, capsys):
    import torch

    from napari_blindspot.engine import load_model

    a, _ = pair
    model_path = tmp_path / "m.safetensors"
    assert main(["train", str(a), "--method", "hqssl", "--noise-fit", "refit", "-o", str(model_path),
                 *TINY]) == 0
    model = load_model(model_path, device="cpu")
    assert model.info["noise_refit"][0]["source"] == "refit"
    assert model.net.noise.refitted
    # the posterior uses the refitted curve, the total variance stays the network's
    x = torch.linspace(-1, 1, 64).view(1, 1, 8, 8)
    train_var = model.net.noise.variance(x, torch.tensor([0]))
    post_var = model.net.noise.posterior_variance(x, torch.tensor([0]))
    assert not torch.allclose(train_var, post_var)
    main(["info", str(model_path)])
    out = capsys.readouterr().out
    assert "refit with the trained prior" in out and "refit" in out.split("intensity units):\n")[1]
    assert main(["train", str(a), "--method", "hqssl", "--noise-fit", "refit", "--noise-model",
                 "affine", "-o", str(tmp_path / "x.safetensors"), *TINY]) == 2
    assert "needs the 'curve' noise model" in capsys.readouterr().err


def test_a_still_time_lapse_suggests_repeats_calibration(tmp_path, capsys):
    from napari_blindspot.samples.fluorescence import fluorescence_timelapse

    still = tmp_path / "still.tif"
    write_tiff(still, _camera(2, frames=6), "TYX", dtype=np.uint16)
    assert main(["train", str(still), "--method", "hqssl", "-o", str(tmp_path / "m.safetensors"),
                 *TINY]) == 0
    assert "--noise-calibration repeats measures the noise across them" in capsys.readouterr().err
    moving = tmp_path / "moving.tif"
    write_tiff(moving, fluorescence_timelapse(frames=6, size=128, seed=0).noisy, "TYX", dtype=np.uint16)
    assert main(["train", str(moving), "--method", "hqssl", "-o", str(tmp_path / "n.safetensors"),
                 *TINY]) == 0
    assert "repeats" not in capsys.readouterr().err
    # asked for already: no suggestion
    assert main(["train", str(still), "--method", "hqssl", "--noise-calibration", "repeats", "-o",
                 str(tmp_path / "r.safetensors"), "--overwrite", *TINY]) == 0
    assert "look like repeats" not in capsys.readouterr().err
