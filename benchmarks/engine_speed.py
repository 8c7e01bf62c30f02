"""Engine speed with and without its CPU/GPU optimisations: channels-last and mixed precision.

Measures, in this process, napari-blindspot's training throughput (patches per second over
``--steps`` steps after ``--warmup`` steps, the training generator itself: sampling, masking,
forward, backward, optimiser; no validation) and prediction throughput (megapixels per second
on a ``--image``-pixel square image, the default tiles) for each method, with the engine's defaults
(channels-last networks, bfloat16 where the hardware computes it) and with each switched off::

    python -m benchmarks.engine_speed                      # n2v2 and hqssl, all variants
    python -m benchmarks.engine_speed --methods n2v2 --steps 40
    python -m benchmarks.engine_speed --quality 300        # + PSNR after 300 steps (Set12 house)
    python -m benchmarks.engine_speed --tiles 256x4,384x1,512x4   # + prediction per tile/batch

``--quality N`` also trains each method for N steps per variant on Set12 image 02 (house) with
Gaussian noise sigma 25 (fixed seed; needs ``../shared/data``) and reports the PSNR, to show what
mixed precision costs in quality.  ``--tiles`` times prediction with the defaults for each tile
size and tile batch.  Prints Markdown tables. Run it on an otherwise idle machine.
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
    from napari_blindspot.engine.system import device

    original = device.memory_format
    if not channels_last:
        device.memory_format = lambda ndim: torch.contiguous_format
    try:
        yield
    finally:
        device.memory_format = original


def _image(size: int, seed: int) -> np.ndarray:
    from napari_blindspot.samples.fluorescence import fluorescence_timelapse

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


def house_psnr(method: str, variant: dict, steps: int) -> float:
    """PSNR (0..255) of ``method`` trained ``steps`` steps on noisy Set12 house (sigma 25)."""
    from benchmarks import datasets as ds
    from benchmarks.metrics import psnr
    from napari_blindspot.engine import TrainConfig, train_model

    unit = ds.set12_units(ds.default_data_dir(), ["02"], None, 0)[0]
    config = TrainConfig.for_method(method, axes="YX", steps=steps,
                                    mixed_precision=variant["mixed_precision"])
    with memory_format_switched(variant["channels_last"]):
        out = train_model(np.asarray(unit.noisy, np.float32), config).denoise(unit.noisy)
    return psnr(unit.clean, out, 255.0)


def tile_speed(method: str, tiles: list[tuple[int, int]], image_size: int) -> list[float]:
    """Prediction MP/s of an untrained ``method`` model with the defaults, per (tile, batch)."""
    from napari_blindspot.engine import TrainConfig
    from napari_blindspot.engine.methods import get_method
    from napari_blindspot.engine.model import DenoisingModel
    from napari_blindspot.engine.normalization import Normalization

    config = TrainConfig.for_method(method, axes="YX")
    norm = Normalization((50.0,), (7.0,))
    model = DenoisingModel(config, get_method(config).build(config, 1, 2, norm), norm, 1)
    img = _image(image_size, 2)
    out = []
    for tile, batch in tiles:
        model.denoise(img[:tile, :tile], tile_size=tile, tile_batch=batch)  # warm-up
        t0 = time.perf_counter()
        model.denoise(img, tile_size=tile, tile_batch=batch)
        out.append(img.size / 1e6 / (time.perf_counter() - t0))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--methods", default="n2v2,hqssl")
    p.add_argument("--steps", type=int, default=30, help="timed training steps [30]")
    p.add_argument("--warmup", type=int, default=5, help="untimed first steps [5]")
    p.add_argument("--image", type=int, default=1024, help="prediction image side [1024]")
    p.add_argument("--quality", type=int, default=0, metavar="N",
                   help="also train N steps on Set12 house per variant and report the PSNR")
    p.add_argument("--tiles", default="", help="also time prediction per TILExBATCH, e.g. 256x4,384x1")
    args = p.parse_args(argv)
    from napari_blindspot.engine.system.device import cpu_has_native_bf16, select_device

    dev = select_device("auto")
    print(f"device {dev}, torch {torch.__version__}, {torch.get_num_threads()} CPU threads, "
          f"native bfloat16 on this CPU: {cpu_has_native_bf16()}\n")
    quality = f" | PSNR after {args.quality} steps (house) dB" if args.quality else ""
    print("| method | variant | training patches/s | prediction MP/s" + quality + " |")
    print("|---|---|---|---|" + ("---|" if args.quality else ""))
    for method in args.methods.split(","):
        for name, variant in VARIANTS.items():
            r = measure(method, variant, args.steps, args.warmup, args.image)
            tr = f"{r['train_patches_per_s']:.1f}" if r["train_patches_per_s"] else "—"
            q = f" | {house_psnr(method, variant, args.quality):.2f}" if args.quality else ""
            print(f"| {method} | {name} | {tr} | {r['predict_mpix_per_s']:.2f}{q} |", flush=True)
    if args.tiles:
        tiles = [tuple(int(v) for v in t.split("x")) for t in args.tiles.split(",")]
        print("\n| method | " + " | ".join(f"tile {t}, batch {b}: MP/s" for t, b in tiles) + " |")
        print("|---|" + "---|" * len(tiles))
        for method in args.methods.split(","):
            speeds = tile_speed(method, tiles, args.image)
            print(f"| {method} | " + " | ".join(f"{v:.2f}" for v in speeds) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
