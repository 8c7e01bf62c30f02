"""The `blindspot` command line: TIFF round trips, metadata kept, errors reported."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from napari_blindspot.cli import main
from napari_blindspot.io.tiff import read_tiff, write_tiff
from napari_blindspot.samples.fluorescence import fluorescence_timelapse

TINY = ["--steps", "6", "--patch-size", "32", "--batch-size", "2", "--features", "8",
        "--validation-fraction", "0.1"]


@pytest.fixture(scope="module")
def noisy_tif(tmp_path_factory):
    sample = fluorescence_timelapse(frames=2, size=64, seed=3)
    path = tmp_path_factory.mktemp("cli") / "noisy.tif"
    write_tiff(path, sample.noisy, "TYX", pixel_size={"X": 0.25, "Y": 0.25}, dtype=np.uint16)
    return path


def test_train_then_denoise_keeps_metadata(noisy_tif, tmp_path, capsys):
    model = tmp_path / "m.safetensors"
    assert main(["train", str(noisy_tif), "--method", "n2v2", "-o", str(model), *TINY]) == 0
    assert model.is_file()
    out = tmp_path / "den.tif"
    assert main(["denoise", str(noisy_tif), "--model", str(model), "-o", str(out)]) == 0
    back = read_tiff(out)
    src = read_tiff(noisy_tif)
    assert back.axes == "TYX" and back.axes_source == "imagej"
    assert back.data.shape == src.data.shape and back.data.dtype == np.float32
    assert back.pixel_size["X"] == pytest.approx(0.25) and back.pixel_size["Y"] == pytest.approx(0.25)
    assert np.isfinite(back.data).all()
    err = capsys.readouterr().err
    assert "axes 'TYX' from imagej metadata" in err


def test_one_shot_hqssl_with_uncertainty_and_input_dtype(noisy_tif, tmp_path):
    out, unc, model = tmp_path / "den.tif", tmp_path / "unc.tif", tmp_path / "m.safetensors"
    rc = main(["denoise", str(noisy_tif), "--method", "hqssl", "--depth", "2", "-o", str(out),
               "--uncertainty", str(unc), "--dtype", "input", "--save-model", str(model), *TINY])
    assert rc == 0
    den = tifffile.imread(out)
    assert den.dtype == np.uint16 and den.shape == (2, 64, 64)
    u = tifffile.imread(unc)
    assert u.dtype == np.float32 and u.shape == (2, 64, 64) and (u > 0).all()
    assert model.is_file()


def test_noise2noise_target(tmp_path):
    sample_a = fluorescence_timelapse(frames=1, size=64, seed=1)
    rng = np.random.default_rng(5)
    b = np.clip(sample_a.clean + rng.normal(0, 5, sample_a.clean.shape), 0, None).astype(np.uint16)
    pa, pb, out = tmp_path / "a.tif", tmp_path / "b.tif", tmp_path / "o.tif"
    write_tiff(pa, sample_a.noisy, "TYX", dtype=np.uint16)
    write_tiff(pb, b, "TYX", dtype=np.uint16)
    assert main(["denoise", str(pa), "--target", str(pb), "-o", str(out), *TINY]) == 0
    # ImageJ files drop length-1 axes: the output matches the input as read
    assert tifffile.imread(out).shape == read_tiff(pa).data.shape == (64, 64)


def test_guessed_axes_are_reported_and_overridable(tmp_path, capsys):
    plain = tmp_path / "plain.tif"
    tifffile.imwrite(plain, np.random.default_rng(0).integers(0, 255, (2, 48, 48), dtype=np.uint8))
    out = tmp_path / "o.tif"
    assert main(["denoise", str(plain), "--method", "n2v", "--axes", "TYX", "-o", str(out), *TINY]) == 0
    assert read_tiff(out).axes == "TYX"
    assert main(["denoise", str(plain), "--method", "n2v", "-o", str(out), "--overwrite", *TINY]) == 0
    assert "guessed axes 'ZYX'" in capsys.readouterr().err


@pytest.mark.parametrize("args, message", [
    (["--axes", "TQX"], "unknown letter"),
    (["--axes", "YX"], "dimensions"),
    (["--patch-size", "128"], "smaller than the training patch"),
])
def test_bad_input_exits_with_clear_message(noisy_tif, tmp_path, capsys, args, message):
    rc = main(["denoise", str(noisy_tif), "--method", "n2v2", "-o", str(tmp_path / "o.tif"),
               *TINY, *args])
    assert rc == 2
    assert message in capsys.readouterr().err


def test_non_model_file_is_rejected(noisy_tif, tmp_path, capsys):
    rc = main(["denoise", str(noisy_tif), "--model", str(noisy_tif), "-o", str(tmp_path / "o.tif")])
    assert rc == 2
    assert "not a napari-blindspot model" in capsys.readouterr().err


def test_info_and_demo(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--frames", "1", "--size", "64", *TINY]) == 0
    for name in ("sample_noisy.tif", "sample_clean.tif", "sample_denoised.tif", "sample_uncertainty.tif",
                 "comparison.png", "model.safetensors"):
        assert (out / name).is_file()
    assert (out / "comparison.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "PSNR noisy" in capsys.readouterr().out
    assert main(["info", str(out / "model.safetensors")]) == 0
    out = capsys.readouterr().out
    assert "method: hqssl" in out  # the CLI's default method
    assert "model: HQ-SSL 2D, 6 steps, axes YX, 1 channel" in out
    # the default noise fit, auto: kept fixed, then refit where structure had inflated it
    assert "noise model: curve (measured on the image, kept fixed during training, " in out
    table = out.split("intensity units):\n")[1].splitlines()[1:]
    assert len(table) >= 2 and all(len(row.split()) == 3 for row in table[:2])  # signal, model, measured


def test_denoising_a_plain_tiff_invents_no_unit(tmp_path):
    """A TIFF without a pixel size used to come back labelled micron (1 µm pixels)."""
    plain = tmp_path / "plain.tif"
    tifffile.imwrite(plain, fluorescence_timelapse(frames=2, size=64, seed=3).noisy)
    out = tmp_path / "den.tif"
    assert main(["denoise", str(plain), "--method", "n2v2", "--axes", "TYX", "-o", str(out), *TINY]) == 0
    with tifffile.TiffFile(out) as tif:
        assert "unit" not in (tif.imagej_metadata or {})
        tags = tif.pages[0].tags
        if "XResolution" in tags:  # tifffile writes 1 pixel per pixel, without a unit
            assert tags["XResolution"].value == (1, 1) and int(tags["ResolutionUnit"].value) == 1
    back = read_tiff(out)
    assert back.pixel_size == {} and back.unit == ""
