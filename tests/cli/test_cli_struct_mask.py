"""`--struct-mask` / `--struct-span` on the command line: trained, stored, shown, refused."""

from __future__ import annotations

import numpy as np
import pytest

from napari_blindspot.cli import main
from napari_blindspot.io.tiff import write_tiff
from napari_blindspot.samples.fluorescence import fluorescence_timelapse

TINY = ["--steps", "4", "--patch-size", "32", "--batch-size", "2", "--features", "8", "--depth", "2"]


@pytest.fixture(scope="module")
def noisy_tif(tmp_path_factory):
    sample = fluorescence_timelapse(frames=2, size=64, seed=3)
    path = tmp_path_factory.mktemp("cli") / "noisy.tif"
    write_tiff(path, sample.noisy, "TYX", dtype=np.uint16)
    return path


def test_struct_mask_from_a_file_is_stored_and_shown(noisy_tif, tmp_path, capsys):
    pattern = tmp_path / "plus.txt"
    pattern.write_text("0 1 0\n1 1 1\n0 1 0\n")
    model = tmp_path / "m.safetensors"
    assert main(["train", str(noisy_tif), "--method", "n2v2", "--struct-mask", str(pattern),
                 "-o", str(model), *TINY]) == 0
    capsys.readouterr()
    assert main(["info", str(model)]) == 0
    assert "structN2V mask: pattern 010/111/010" in capsys.readouterr().out


@pytest.mark.parametrize("argv,words", [
    (["--method", "hqssl", "--struct-mask", "horizontal"], "train with N2V2"),
    (["--method", "n2v2", "--struct-mask", "1111"], "no centre pixel"),
    (["--method", "n2v", "--struct-mask", "vertical", "--struct-span", "6"], "odd integer"),
])
def test_bad_struct_masks_are_one_line(noisy_tif, tmp_path, capsys, argv, words):
    rc = main(["train", str(noisy_tif), "-o", str(tmp_path / "m.safetensors"), *argv, *TINY])
    err = capsys.readouterr().err
    assert rc != 0 and words in err and "--struct-" in err
    assert "Traceback" not in err
