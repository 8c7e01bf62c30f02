"""Engine speed with and without its CPU/GPU optimisations: channels-last and mixed precision.

Measures, in this process, napari-blindspot's training throughput (patches per second over
``--steps`` steps after ``--warmup`` steps, the training generator itself: sampling, masking,
forward, backward, optimiser; no validation) and prediction throughput (megapixels per second
on a ``--image``-pixel square image, the default tiles) for each method, with the engine's defaults
(channels-last networks, bfloat16 where the hardware computes it) and with each switched off::

    python -m benchmarks.engine_speed                      # n2v2 and hqssl, all variants
    python -m benchmarks.engine_speed --methods n2v2 --steps 40

Prints one Markdown table. Run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

VARIANTS = {
    "defaults": dict(channels_last=True, mixed_precision=True),
    "float32, channels-last": dict(channels_last=True, mixed_precision=False),
    "float32, default layout": dict(channels_last=False, mixed_precision=False),
}


@contextmanager
def memory_format_switched(channels_last: bool) -> Iterator[None]:
    """Run the engine with its channels-last layout (the default) or torch's default layout."""
    from napari_blindspot.engine import device

    original = device.memory_format
    if not channels_last:
        device.memory_format = lambda ndim: torch.contiguous_format
    try:
        yield
    finally:
        device.memory_format = original


def _image(size: int, seed: int) -> np.ndarray:
    from napari_blindspot.samples import fluorescence_timelapse

    return fluorescence_timelapse(frames=1, size=size, seed=seed).noisy[0]


def measure(method: str, variant: dict, steps: int, warmup: int, image_size: int) -> dict:
    from napari_blindspot.engine import TrainConfig, TrainingProgress, TrainingRun

    train_img = _image(512, 1)
    config = TrainConfig.for_method(method, axes="YX", steps=warmup + steps, batch_size=16,
                                    patch_size=64, validation_fraction=0.0,
                                    mixed_precision=variant["mixed_precision"])
    with memory_format_switched(variant["channels_last"]):
        run = TrainingRun(train_img, config)
        marks: dict[int, float] = {}
        for ev in run.events():
            if isinstance(ev, TrainingProgress):
                marks[ev.step] = time.perf_counter()
        first = min((s for s in marks if s >= warmup), default=None)
        last = max(marks)
        train = (16 * (last - first) / (marks[last] - marks[first])
                 if first is not None and last > first else None)
        model = run.model
        big = _image(image_size, 2)
        model.denoise(big[:512, :512])  # warm-up (kernels for the tile shape)
        t0 = time.perf_counter()
        model.denoise(big)
        predict = big.size / 1e6 / (time.perf_counter() - t0)
    return {"train_patches_per_s": train, "predict_mpix_per_s": predict}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--methods", default="n2v2,hqssl")
    p.add_argument("--steps", type=int, default=30, help="timed training steps [30]")
    p.add_argument("--warmup", type=int, default=5, help="untimed first steps [5]")
    p.add_argument("--image", type=int, default=1024, help="prediction image side [1024]")
    args = p.parse_args(argv)
    from napari_blindspot.engine.device import cpu_has_native_bf16, select_device

    dev = select_device("auto")
    print(f"device {dev}, torch {torch.__version__}, {torch.get_num_threads()} CPU threads, "
          f"native bfloat16 on this CPU: {cpu_has_native_bf16()}\n")
    print("| method | variant | training patches/s | prediction MP/s |")
    print("|---|---|---|---|")
    for method in args.methods.split(","):
        for name, variant in VARIANTS.items():
            r = measure(method, variant, args.steps, args.warmup, args.image)
            tr = f"{r['train_patches_per_s']:.1f}" if r["train_patches_per_s"] else "—"
            print(f"| {method} | {name} | {tr} | {r['predict_mpix_per_s']:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
