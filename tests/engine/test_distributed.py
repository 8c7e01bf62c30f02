"""Distributed training (engine/training/distributed.py): two gloo ranks on the CPU, started by torchrun."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import napari_blindspot
from napari_blindspot.engine import ConfigError, DenoisingModel
from napari_blindspot.engine.training.distributed import (SingleProcess, launched_by_torchrun, process_group,
                                                 rank_device, rank_seeds)
from napari_blindspot.samples.fluorescence import fluorescence_timelapse

SRC = str(Path(napari_blindspot.__file__).resolve().parents[1])
WORKER = str(Path(__file__).with_name("distributed_worker.py"))


def torchrun(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    """``torchrun --standalone --nproc-per-node 2 ARGS`` with this checkout's package."""
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                           "--nproc-per-node", "2", *args], env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_rank_seeds_rank0_is_single_process_and_ranks_differ():
    assert rank_seeds(7, 0) == (7, 8) == SingleProcess().rank_seeds(7)
    draws = [np.random.default_rng(rank_seeds(7, r)[0]).integers(1 << 30, size=4) for r in range(3)]
    assert not np.array_equal(draws[0], draws[1]) and not np.array_equal(draws[1], draws[2])
    assert rank_seeds(7, 1)[1] != rank_seeds(7, 2)[1] != 8
    again = np.random.default_rng(rank_seeds(7, 1)[0]).integers(1 << 30, size=4)
    assert np.array_equal(draws[1], again)  # reproducible


def test_needs_torchrun_and_one_gpu_per_process(monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    assert not launched_by_torchrun()
    with pytest.raises(ConfigError, match="torchrun"):
        with process_group("cpu"):
            pass
    assert rank_device("cpu", 1, 2) == torch.device("cpu")
    with pytest.raises(ConfigError, match="its own GPU"):
        rank_device("cuda:1", 1, 2)
    if not torch.cuda.is_available():
        assert rank_device("auto", 1, 2) == torch.device("cpu")
        with pytest.raises(ConfigError, match="no CUDA GPU"):
            rank_device("cuda", 0, 2)


def test_two_gloo_ranks_train_one_model(tmp_path):
    proc = torchrun(WORKER, str(tmp_path))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    r0, r1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    cores = len(os.sched_getaffinity(0))
    assert r0["threads"] == r1["threads"] == max(1, cores // 2)  # the ranks share the cores

    a, b = r0["n2v2"], r1["n2v2"]
    assert a["steps"] == b["steps"] == 40
    assert a["sample_seed_state"] != b["sample_seed_state"]  # each rank draws its own patches
    assert a["first_loss"] != b["first_loss"]
    assert a["initial_val"] == b["initial_val"]
    assert a["best_val"] < 0.85 * a["initial_val"]  # the loss went down (0.70-0.79 seen, by CPU)
    assert a["last_loss"] < a["first_loss"] and b["last_loss"] < b["first_loss"]
    # gradients all-reduced, BatchNorm statistics rank 0's, the same best model everywhere
    for key in ("parameters", "buffers", "saved", "best_val"):
        assert a[key] == b[key], key
    assert a["reload_identical"]
    mine = np.load(tmp_path / "rank0_denoised.npy")
    model = DenoisingModel.load(str(tmp_path / "model.safetensors"), device="cpu")
    assert model.info["steps"] == 40
    sample = fluorescence_timelapse(frames=4, size=64, seed=0)
    np.testing.assert_allclose(model.denoise(sample.noisy, "TYX"), mine, rtol=1e-5, atol=1e-3)

    # HQ-SSL: rank 1 started 1 s late, yet the time budget ended both at the same step, and the
    # fine-tuned noise (DDP does not manage it: it starts frozen) is the same on both ranks
    a, b = r0["hqssl"], r1["hqssl"]
    assert a["steps"] == b["steps"] > 5
    for key in ("parameters", "saved"):
        assert a[key] == b[key], key
    assert a["noise"] == b["noise"]
    assert a["noise"]["sigma"] != pytest.approx(a["calibrated"]["sigma"], rel=1e-4)  # it trained
