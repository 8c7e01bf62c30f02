"""``blindspot demo``: train on the bundled synthetic fluorescence sample, denoise it and
compare with its clean version (PSNR, and a side-by-side PNG).

    blindspot demo --out demo
"""

from __future__ import annotations

import argparse
import os

import numpy as np

from . import checks
from .common import info
from .options import add_common, add_training_options
from .progress import ProgressBar
from .training import train_on
from ..engine import DenoisingModel
from ..engine.atomic import staged
from ..io.tiff import TiffImage, read_tiff, tiff_format, write_tiff
from ..samples.comparison import psnr, side_by_side, write_png
from ..samples.fluorescence import fluorescence_timelapse

#: The demo trains a fixed number of steps, so that a busy machine gives the same result, later:
#: about 1.5 minutes on two idle cores (HQ-SSL, 8x256x256 sample: 1:31 of training measured in
#: issue 20; 2:26 of CPU time beside three other jobs, 2026-12-04; 33 dB against the clean sample).
DEMO_STEPS = 500
#: What the demo writes into its folder (it replaces these from an earlier run, nothing else).
DEMO_FILES = ("sample_noisy.tif", "sample_clean.tif", "sample_denoised.tif", "sample_uncertainty.tif",
              "model.safetensors", "comparison.png")


def _predict(model: DenoisingModel, image: TiffImage, args: argparse.Namespace, *,
             uncertainty: bool | None = None) -> dict[str, np.ndarray]:
    """Denoise ``image``; the uncertainty map too when asked (default: when --uncertainty was)."""
    args.doing = "denoising"
    bar = ProgressBar()
    want = bool(getattr(args, "uncertainty", None)) if uncertainty is None else uncertainty
    result = model.predict(image.data, image.axes, progress=bar.prediction,
                           tile_size=args.tile_size, tta=bool(args.tta), uncertainty=want)
    bar.end()
    return result


def _write(outputs: list[tuple[str, np.ndarray, np.dtype]], image: TiffImage) -> None:
    """Write ``(path, data, dtype)`` TIFFs: all are replaced together, or none."""
    with staged() as stage:
        for path, data, dtype in outputs:
            write_tiff(stage.path(path), data, image.axes, pixel_size=image.pixel_size,
                       unit=image.unit, dtype=dtype, atomic=False)
    for path, _, dtype in outputs:
        kind = "OME-TIFF" if tiff_format(dtype) == "ome" else "ImageJ TIFF"
        info(f"Wrote {path} ({np.dtype(dtype).name} {kind}, axes {image.axes}).")


def cmd_demo(args: argparse.Namespace) -> int:
    checks.check_options(args)
    checks.check_demo_folder(args.out, DEMO_FILES)
    sample = fluorescence_timelapse(frames=args.frames, size=args.size, seed=0)
    noisy_path = os.path.join(args.out, "sample_noisy.tif")
    write_tiff(noisy_path, sample.noisy, sample.axes, dtype=np.uint16)  # synthetic: uncalibrated
    write_tiff(os.path.join(args.out, "sample_clean.tif"), sample.clean, sample.axes)
    info(f"Bundled sample: {sample.noisy.shape} {sample.axes} uint16 with Poisson-Gaussian noise; "
         f"written to {noisy_path}.")
    image = read_tiff(noisy_path, lazy=False)
    model = train_on(args, [image])
    result = _predict(model, image, args, uncertainty=True)
    outputs = [(os.path.join(args.out, "sample_denoised.tif"), result["denoised"], np.dtype(np.float32))]
    if "uncertainty" in result:
        outputs.append((os.path.join(args.out, "sample_uncertainty.tif"), result["uncertainty"],
                        np.dtype(np.float32)))
    _write(outputs, image)
    model.save(os.path.join(args.out, "model.safetensors"))
    data_range = float(sample.clean.max() - sample.clean.min())
    png = os.path.join(args.out, "comparison.png")

    def first(frame: np.ndarray) -> np.ndarray:
        return frame.reshape((-1,) + frame.shape[-2:])[0].astype(np.float32)

    write_png(png, side_by_side([first(sample.noisy), first(result["denoised"]), first(sample.clean)]))
    print(f"PSNR noisy {psnr(sample.clean, sample.noisy, data_range):.2f} dB -> denoised "
          f"{psnr(sample.clean, result['denoised'].reshape(sample.clean.shape), data_range):.2f} dB "
          "(against the clean sample). "
          f"Side by side (noisy | denoised | clean): {png}")
    return 0



def add_demo_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="denoise the bundled synthetic fluorescence sample")
    p.add_argument("--out", default="blindspot-demo", help="output folder (default blindspot-demo)")
    p.add_argument("--frames", type=int, default=8, help="frames of the sample (default 8)")
    p.add_argument("--size", type=int, default=256, help="sample width and height (default 256)")
    add_common(p)
    add_training_options(p)
    p.set_defaults(func=cmd_demo)


def default_steps(args: argparse.Namespace) -> None:
    """The demo trains :data:`DEMO_STEPS` steps unless told how long."""
    if args.minutes is None and args.steps is None and args.epochs is None:
        args.steps = DEMO_STEPS
        info(f"Demo: {DEMO_STEPS} training steps (--steps or --minutes to change).")


__all__ = ["DEMO_FILES", "DEMO_STEPS", "add_demo_parser", "cmd_demo", "default_steps"]
