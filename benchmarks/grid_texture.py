"""Issue 20's faint grid texture: tile seams or the method?

Trains HQ-SSL (CPU defaults, one thread) on FMD confocal field 1 for a few hundred steps,
predicts it with the default tiles of 384 and as one tile, and prints their largest difference
(seams would show there) and, in the dark background, how much the fine residual (the result
minus its 5x5 mean) varies with the position modulo 2, 4 and 8 pixels (a grid of the network's
downsampling period would show there), for the result, the 50-capture ground truth and the
noisy frame.  Findings: docs/widget.md, "What the first-use review changed".

    python -m benchmarks.grid_texture [--steps 300] [--data-dir ../shared/data]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from .datasets import default_data_dir


def _gray(path) -> np.ndarray:
    import imageio.v3 as iio

    img = iio.imread(path).astype(np.float32)
    return img[..., 0] if img.ndim == 3 else img


def phase_spread(image: np.ndarray, mask: np.ndarray, period: int) -> tuple[float, float]:
    """``(spread of the mean fine residual over positions modulo period, residual std)``."""
    pad = np.pad(image, 2, mode="reflect")
    box = sum(pad[i:i + image.shape[0], j:j + image.shape[1]] for i in range(5) for j in range(5)) / 25
    res = image - box
    yy, xx = np.mgrid[0:image.shape[0], 0:image.shape[1]]
    means = [res[mask & (yy % period == py) & (xx % period == px)].mean()
             for py in range(period) for px in range(period)]
    return float(max(means) - min(means)), float(res[mask].std())


def main() -> None:
    import torch

    from napari_blindspot.engine import TrainConfig, TrainingRun

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--data-dir", default=str(default_data_dir()))
    args = parser.parse_args()
    torch.set_num_threads(1)
    fmd = f"{args.data_dir}/fmd_confocal_bpae_b"
    noisy, gt = _gray(f"{fmd}/raw/fov01_capture0.png"), _gray(f"{fmd}/gt/fov01_avg50.png")
    start = time.time()
    run = TrainingRun(noisy, TrainConfig.for_method("hqssl", axes="YX", steps=args.steps, device="cpu",
                                                    num_threads=1))
    for _ in run.events():
        pass
    print(f"trained {args.steps} steps in {time.time() - start:.0f} s")
    tiled = run.model.predict(noisy, "YX", tile_size=384)["denoised"]
    whole = run.model.predict(noisy, "YX", tile_size=1024)["denoised"]
    print(f"tiles of 384 against one tile: largest difference {np.abs(tiled - whole).max():.2g} grey levels")
    dark = gt < np.percentile(gt, 30)
    for name, image in (("denoised", tiled), ("ground truth", gt), ("noisy", noisy)):
        for period in (2, 4, 8):
            spread, std = phase_spread(image, dark, period)
            print(f"{name}: period {period}: spread {spread:.4f}, residual std {std:.4f}")


if __name__ == "__main__":
    main()
