"""Camera data: float against uint16 (offset, gain) and 12-bit saturated versions of one image,
and what sparse bright beads do to the rest of the image.

    python -m benchmarks.bit_depth                     # the numbers in docs/channels.md (Camera data)
    python -m benchmarks.bit_depth --amplitudes 0,15   # beads only

The image: the synthetic nuclei-and-filaments frame of the tests (96x96, intensities 8..130,
Poisson-Gaussian noise with gain 4 and read noise 3) with beads (one in 2,000 pixels, a
Gaussian blur of 1 pixel) of ``amplitude`` times the brightest structure.  Camera versions:
``300 + 20 * image`` rounded to uint16 (16 bit), and the same clipped at 4095 (12 bit: the beads
saturate).  HQ-SSL trains the same fixed steps with the same seed on each; PSNR is over the
pixels away from the beads, on the float image's scale, over the clean image's range there.
"""

from __future__ import annotations

import argparse
import json
import logging

import numpy as np

OFFSET, GAIN = 300.0, 20.0


def bead_image(amplitude: float, size: int = 96, seed: int = 4) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(clean, noisy, beads)``: float64 ``(Y, X)`` images and the bead mask (bool)."""
    from napari_blindspot.samples.fluorescence import fluorescence_timelapse

    clean = fluorescence_timelapse(frames=1, size=size, seed=seed).clean[0].astype(np.float64)
    rng = np.random.default_rng(7)
    points = np.zeros(clean.shape)
    points.flat[rng.choice(clean.size, clean.size // 2000, replace=False)] = 1.0
    yy, xx = np.mgrid[-3:4, -3:4]
    psf = np.exp(-(yy ** 2 + xx ** 2) / 2.0)
    beads = sum(np.roll(points, (dy, dx), axis=(0, 1)) * psf[dy + 3, dx + 3]
                for dy in range(-3, 4) for dx in range(-3, 4))
    clean = clean + amplitude * clean.max() * beads
    noisy = 4.0 * rng.poisson(clean / 4.0) + rng.normal(0, 3.0, clean.shape)
    return clean, noisy, beads > 0.05


def psnr(clean: np.ndarray, image: np.ndarray, where: np.ndarray) -> float:
    err = float(np.mean((image[where] - clean[where]) ** 2))
    return float(10 * np.log10(float(np.ptp(clean[where])) ** 2 / err))


def denoise(data: np.ndarray, steps: int, method: str) -> np.ndarray:
    from napari_blindspot.engine import TrainConfig, train_model

    small = {"hqssl": dict(hq_features=8, hq_depth=2), "n2v2": dict(unet_features=8, unet_depth=2)}[method]
    config = TrainConfig.for_method(method, axes="YX", steps=steps, patch_size=32, batch_size=2,
                                    device="cpu", validation_fraction=0.1, seed=0, **small)
    return train_model(data, config).denoise(data, "YX").astype(np.float64)


def main(argv: list[str] | None = None) -> int:
    from napari_blindspot.samples.cells import camera_counts

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--method", default="hqssl", choices=("hqssl", "n2v2"))
    p.add_argument("--amplitudes", default="0,1,2,3,15")
    p.add_argument("--camera", action="store_true", help="also the uint16 and 12-bit versions")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    print("| beads (x brightest) | version | noisy | denoised (away from beads) |\n|---|---|---|---|")
    for amp in (float(a) for a in args.amplitudes.split(",")):
        clean, noisy, beads = bead_image(amp)
        far = ~beads
        versions = {"float": noisy.astype(np.float32)}
        if args.camera:
            versions["uint16, offset 300, x20"] = camera_counts(noisy, offset=OFFSET, gain=GAIN)
            versions["12-bit, saturated"] = camera_counts(noisy, offset=OFFSET, gain=GAIN, bits=12)
        for name, data in versions.items():
            out = denoise(data, args.steps, args.method)
            if name != "float":
                out = (out - OFFSET) / GAIN
            row = {"amplitude": amp, "version": name, "noisy": psnr(clean, noisy, far),
                   "denoised": psnr(clean, out, far)}
            logging.getLogger(__name__).info("%s", json.dumps(row))
            print(f"| {amp:g} | {name} | {row['noisy']:.2f} | {row['denoised']:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
