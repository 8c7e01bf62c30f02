"""One rank of the distributed-training test (tests/engine/test_distributed.py), started by torchrun.

    torchrun --standalone --nproc-per-node 2 tests/engine/distributed_worker.py OUT_DIR

Each rank trains two runs on the CPU (gloo) and writes ``OUT_DIR/rank{R}.json`` with what the
test compares across ranks; rank 0 also saves the model and checks that it reloads to its own
output.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time

import numpy as np
import torch

from napari_blindspot.engine import DenoisingModel, TrainConfig, TrainingRun
from napari_blindspot.engine.training.distributed import process_group
from napari_blindspot.samples.fluorescence import fluorescence_timelapse


def digest(tensors) -> str:
    h = hashlib.sha256()
    for t in tensors:
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def state_digests(run: TrainingRun) -> dict[str, str]:
    return {"parameters": digest(run.net.parameters()), "buffers": digest(run.net.buffers()),
            "saved": digest(run.model.net.state_dict().values())}


def drain(run: TrainingRun) -> None:
    for _ in run.events():
        pass


def main(out: str) -> int:
    sample = fluorescence_timelapse(frames=4, size=64, seed=0)
    image = sample.noisy
    with process_group("cpu", timeout_s=120) as group:
        result: dict = {"rank": group.rank, "world": group.world_size,
                        "threads": torch.get_num_threads()}

        # 1. N2V2 (BatchNorm U-Net), a fixed number of steps with validation
        config = TrainConfig.for_method(
            "n2v2", axes="TYX", patch_size=32, batch_size=8, steps=40, unet_features=8,
            unet_depth=2, validation_interval=10, learning_rate=2e-3, device="cpu", seed=3)
        run = TrainingRun(image, config, distributed=group)
        run.prepare()
        initial_val = run._validate()  # a collective: every rank validates
        drain(run)
        losses = [h["train_loss"] for h in run.history]
        result["n2v2"] = {"steps": run.step, "initial_val": initial_val, "first_loss": losses[0],
                          "last_loss": float(np.mean(losses[-3:])), "best_val": run.best_val,
                          "sample_seed_state": int(run.rng.integers(1 << 62)),
                          "steps_per_epoch": run.steps_per_epoch, **state_digests(run)}
        if group.is_main:
            path = os.path.join(out, "model.safetensors")
            run.model.save(path)
            mine = run.model.denoise(image, "TYX")
            np.save(os.path.join(out, "rank0_denoised.npy"), mine)
            again = DenoisingModel.load(path, device="cpu").denoise(image, "TYX")
            result["n2v2"]["reload_identical"] = bool(np.array_equal(mine, again))
        group.barrier()

        # 2. HQ-SSL with the noise fine-tuned, stopped by a time budget; rank 1 starts late, so
        # its own clock lags rank 0's: the ranks must still stop at the same step.
        config = TrainConfig.for_method(
            "hqssl", axes="TYX", patch_size=32, batch_size=4, steps=None, time_budget_s=2.0,
            hq_features=4, hq_depth=2, validation_interval=10, noise_model="gaussian",
            noise_fit="fine-tune", device="cpu", seed=5)
        run = TrainingRun(image, config, distributed=group)
        run.prepare()
        calibrated = run.method.noise_parameters(run.net, run.normalization)
        if group.rank == 1:
            time.sleep(1.0)
        drain(run)
        result["hqssl"] = {"steps": run.step, "calibrated": calibrated,
                           "noise": run.model.noise_parameters(), **state_digests(run)}
    with open(os.path.join(out, f"rank{result['rank']}.json"), "w", encoding="utf-8") as f:
        json.dump(result, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
