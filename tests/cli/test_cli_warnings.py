"""The command line's warnings: a training run projected to take too long, and a 2D model
denoising a Z stack slice by slice."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from napari_blindspot.cli import main
from napari_blindspot.engine.training import duration
from napari_blindspot.io.tiff import write_tiff
from napari_blindspot.samples.fluorescence import fluorescence_timelapse

RUN = "import sys; from napari_blindspot.cli import main; sys.exit(main(sys.argv[1:]))"
TINY = ["--patch-size", "32", "--batch-size", "2", "--features", "8", "--validation-fraction", "0.1"]


@pytest.fixture(scope="module")
def stack_tif(tmp_path_factory):
    sample = fluorescence_timelapse(frames=3, size=48, seed=2)
    path = tmp_path_factory.mktemp("warn") / "stack.tif"
    write_tiff(path, sample.noisy, "TYX", dtype=np.uint16)
    return path


def test_a_long_run_prints_one_warning_line(stack_tif, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(duration, "DURATION_WARNING_S", 0.0)  # every run is "too long"
    model = tmp_path / "m.safetensors"
    assert main(["train", str(stack_tif), "--method", "n2v2", "-o", str(model), "--steps", "8",
                 *TINY]) == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if "will take about" in line]
    assert len(lines) == 1
    assert lines[0].startswith("Warning: Training 8 steps will take about")
    assert "--minutes 10" in lines[0] and "--steps" in lines[0] and "--3d" not in lines[0]
    assert main(["train", str(stack_tif), "--method", "n2v2", "-o", str(model), "--overwrite",
                 "--minutes", "0.02", *TINY]) == 0
    assert "will take about" not in capsys.readouterr().err


def test_a_2d_model_on_a_z_stack_warns_on_stderr(stack_tif, tmp_path):
    model = tmp_path / "m.safetensors"
    assert main(["train", str(stack_tif), "--method", "n2v2", "-o", str(model), "--steps", "2",
                 *TINY]) == 0

    def denoise(axes: str) -> str:
        out = tmp_path / f"den_{axes}.tif"
        proc = subprocess.run([sys.executable, "-c", RUN, "denoise", str(stack_tif),
                               "--model", str(model), "--axes", axes, "-o", str(out)],
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr
        return proc.stderr

    err = denoise("ZYX")
    (line,) = [line for line in err.splitlines() if "slice by slice" in line]
    assert line.startswith("WARNING") and "--3d" in line and "ZYX" in line
    assert "slice by slice" not in denoise("TYX")


def test_compile_without_torch_compile_trains_and_says_so(stack_tif, tmp_path, capsys, monkeypatch):
    import torch

    monkeypatch.delattr(torch, "compile")  # an older torch
    model = tmp_path / "m.safetensors"
    assert main(["train", str(stack_tif), "--method", "n2v2", "-o", str(model), "--steps", "3",
                 "--compile", *TINY]) == 0
    err = capsys.readouterr().err
    (line,) = [x for x in err.splitlines() if "torch.compile could not be used" in x]
    assert line.startswith("Note: torch.compile could not be used (this torch") and "uncompiled" in line
    assert "Training finished after 3 steps" in err and model.is_file()
