"""`blindspot train --distributed` under torchrun: two gloo ranks on the CPU."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import napari_blindspot
from napari_blindspot.cli import main
from napari_blindspot.engine import DenoisingModel
from napari_blindspot.io.tiff import write_tiff
from napari_blindspot.samples.fluorescence import fluorescence_timelapse

SRC = str(Path(napari_blindspot.__file__).resolve().parents[1])
TINY = ["--method", "n2v2", "--steps", "20", "--patch-size", "32", "--batch-size", "4",
        "--features", "8", "--device", "cpu"]


@pytest.fixture(scope="module")
def noisy_tif(tmp_path_factory):
    sample = fluorescence_timelapse(frames=2, size=64, seed=3)
    path = tmp_path_factory.mktemp("ddp") / "noisy.tif"
    write_tiff(path, sample.noisy, "TYX", dtype=np.uint16)
    return path


def blindspot_torchrun(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                           "--nproc-per-node", "2", "-m", "napari_blindspot.cli", "train", *args],
                          env=env, capture_output=True, text=True, timeout=240)


def test_torchrun_trains_and_rank0_saves(noisy_tif, tmp_path):
    out = tmp_path / "model.safetensors"
    proc = blindspot_torchrun(str(noisy_tif), "--distributed", "-o", str(out), *TINY)
    assert proc.returncode == 0, proc.stderr[-3000:]
    err = proc.stderr
    assert err.count("Distributed training: 2 processes on 1 node, gloo") == 1
    assert err.count("Training finished after 20 steps") == 1  # rank 0 alone reports
    assert err.count("Saved model to") == 1
    model = DenoisingModel.load(str(out), device="cpu")
    assert model.info["steps"] == 20
    assert not list(tmp_path.glob("*.partial"))


def test_bad_output_stops_every_rank_before_training(noisy_tif, tmp_path):
    out = tmp_path / "missing" / "model.safetensors"
    proc = blindspot_torchrun(str(noisy_tif), "--distributed", "-o", str(out), *TINY)
    assert proc.returncode != 0
    assert proc.stderr.count("blindspot: error: -o") == 1  # said once, by rank 0
    assert "does not exist" in proc.stderr
    assert "Training N2V2" not in proc.stderr
    assert not out.parent.exists()


def test_distributed_without_torchrun_says_how(noisy_tif, tmp_path, capsys, monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    rc = main(["train", str(noisy_tif), "--distributed", "-o", str(tmp_path / "m.safetensors"), *TINY])
    assert rc == 2
    assert "torchrun --nproc-per-node" in capsys.readouterr().err
