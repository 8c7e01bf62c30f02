"""The ``blindspot`` command line: train, denoise, inspect models, run the demo.

    blindspot train IMAGE.tif [MORE.tif DIR/ ...] --method n2v2 --axes ZYX -o model.safetensors
    blindspot denoise IMAGE.tif --model model.safetensors -o denoised.tif
    blindspot denoise a.tif b.zarr "dir/*.tif" --model model.safetensors -o outdir/ [--workers 4]
    blindspot denoise IMAGE.tif --method hqssl -o denoised.tif      # one-shot
    blindspot demo --out demo                                       # bundled sample
    blindspot info model.safetensors
    blindspot doctor                                                # GPU check

It drives the engine's training generator and prediction, and draws their
events as a progress bar on stderr (:mod:`.progress_bar`).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any

import numpy as np

from . import cli_batch
from . import cli_checks as checks
from .cli_batch import add_batch_arguments
from .cli_common import info
from .cli_common import read_input as _read
from .cli_doctor import add_doctor_parser
from .cli_errors import run_command
from .cli_export import add_export_parser
from .cli_info import cmd_info
from .cli_options import (DEFAULT_METHOD, ONE_SHOT_MINUTES, add_common, add_training_options,
                          option_fields)
from .comparison import psnr, side_by_side, write_png
from .engine import (BlindspotError, DenoisingModel, DivergenceRecovered, DurationWarning, Preview, TrainConfig, TrainingFinished,
                     TrainingProgress, TrainingRun, TrainingStarted, method_class,
                     method_classes)
from .engine.atomic import staged
from .engine.methods.hqssl.stillness import stillness

from .engine.training.dimensionality import default_train_3d
from .engine.errors import ConfigError
from .engine.methods.n2v.struct_mask import STRUCT_MASK_NAMES, pattern_from_file
from .io.tiff import TiffImage, read_tiff, tiff_format, write_tiff
from .launch import launch
from .progress_bar import ProgressBar
from .samples import fluorescence_timelapse
from .text import (divergence_warning, duration_warning, noise_text, still_scene_hint,
                   training_finished, training_started)

log = logging.getLogger("napari_blindspot.cli")

#: The demo trains a fixed number of steps, so that a busy machine gives the same result, later:
#: about 1.5 minutes on two idle cores (HQ-SSL, 8x256x256 sample: 1:31 of training measured in
#: issue 20; 2:26 of CPU time beside three other jobs, 2026-12-04; 33 dB against the clean sample).
DEMO_STEPS = 500
#: What the demo writes into its folder (it replaces these from an earlier run, nothing else).
DEMO_FILES = ("sample_noisy.tif", "sample_clean.tif", "sample_denoised.tif", "sample_uncertainty.tif",
              "model.safetensors", "comparison.png")


# ------------------------------------------------------------------ helpers
def _device_type(device: str | None) -> str:
    """"cpu", "cuda" or "mps": where training will run ("cpu" if the name is not valid)."""
    from .engine.system.device import select_device

    try:
        return select_device(device or "auto").type
    except ConfigError:
        return "cpu"


def _config_from_args(args: argparse.Namespace, axes: str, image: Any = None) -> TrainConfig:
    """The training configuration the options ask for; ``image`` (with ``pixel_size``) lets a
    z-stack default to 3D training when it is near-isotropic and the device a GPU
    (:mod:`.engine.dimensionality`)."""
    overrides: dict[str, Any] = {"axes": axes}
    if args.config:
        base = checks.load_config_file(args.config)
        base.update(overrides)
        overrides = base
    for arg, field in option_fields().items():  # the options copied as given (declared flags)
        value = getattr(args, arg, None)
        if value is not None and field is not None:
            overrides[field] = value
    mask = getattr(args, "struct_mask", None)
    if mask and mask not in STRUCT_MASK_NAMES and os.path.isfile(mask):
        overrides["struct_mask"] = pattern_from_file(mask)  # a FILE of 0/1 rows
    method = args.method or overrides.pop("method", None) or DEFAULT_METHOD
    overrides.pop("method", None)
    width_field, depth_field = method_class(method).network_size
    if args.features is not None:
        overrides[width_field] = args.features
    if args.depth is not None:
        overrides[depth_field] = args.depth
    if args.three_d:
        overrides["train_3d"] = True
    elif not getattr(args, "two_d", False) and image is not None and "Z" in axes.upper() \
            and "train_3d" not in overrides:
        overrides["train_3d"], why = default_train_3d(axes, image.data.shape,
                                                      getattr(image, "pixel_size", None),
                                                      _device_type(overrides.get("device")))
        info(f"{why}." if overrides["train_3d"] else f"{why}; --3d to change.")
    if args.minutes is not None:
        overrides["time_budget_s"] = 60.0 * args.minutes
        overrides["steps"] = args.steps
        overrides["epochs"] = args.epochs
    elif args.steps is not None or args.epochs is not None:
        overrides["steps"], overrides["epochs"] = args.steps, args.epochs
    if overrides.get("noise_sigma") is not None and "noise_model" not in overrides:
        overrides["noise_model"] = "gaussian-known"
    try:
        return TrainConfig.for_method(method, **overrides)
    except ConfigError as exc:
        raise checks.with_option(exc) from None
    except TypeError as exc:  # a --config value of the wrong kind
        raise ConfigError(f"Invalid settings in --config {args.config!r}: {exc}.") from None


def _train(args: argparse.Namespace, image: TiffImage, distributed: Any = None) -> DenoisingModel:
    """Train on ``image`` as ``args`` say; ``distributed``: this rank (only rank 0 reports)."""
    return train_on(args, [image], distributed)


def train_on(args: argparse.Namespace, images: list[Any], distributed: Any = None) -> DenoisingModel:
    """Train one model on one image or several (each with its own axes), drawing the training
    events as a progress bar; ``distributed``: this rank (only rank 0 reports)."""
    image = images[0]
    config = _config_from_args(args, image.axes, image)
    target = None
    if len(images) > 1 and (getattr(args, "target", None) or getattr(args, "noise_from", None)):
        raise BlindspotError("--target and --noise-from pair with one image: give one image.")
    if getattr(args, "target", None):
        target = _read(args.target, image.axes, allow_missing_chunks=args.allow_missing_chunks).data
        if target.shape != image.data.shape:
            raise BlindspotError(f"--target {args.target!r} has shape {target.shape} but the image "
                                 f"has {image.data.shape}: a second acquisition of the same scene "
                                 "must have the same shape.")
        if not method_class(config.method).takes_target():
            paired = next(cls for cls in method_classes() if cls.takes_target())
            config = config.replace(method=paired.name)
            info(f"A --target was given: training {paired.display_name}.")
    reference = None
    if getattr(args, "noise_from", None):
        reference = _read(args.noise_from, image.axes,
                          allow_missing_chunks=args.allow_missing_chunks).data
        if config.noise_calibration != "pair":
            config = config.replace(noise_calibration="pair")
    elif len(images) == 1 and config.noise_calibration == "image" and \
            "noise_calibration" in method_class(config.method).fields():
        still = stillness(image.data, image.axes)
        if still is not None and still.still and not (distributed is not None and not distributed.is_main):
            info(still_scene_hint(still.frames, command_line=True))
    try:
        if len(images) > 1:
            info(f"Training one model on {len(images)} images (normalisation and noise measured on "
                 "all of them together).")
            run = TrainingRun([im.data for im in images], config, axes=[im.axes for im in images],
                              distributed=distributed)
        else:
            run = TrainingRun(image.data, config, target=target, noise_reference=reference,
                              distributed=distributed)
    except ConfigError as exc:
        raise checks.with_option(exc) from None
    args.doing = "training"
    bar = ProgressBar()
    model: DenoisingModel | None = None
    quiet = distributed is not None and not distributed.is_main
    for ev in run.events():
        if quiet:
            model = ev.model if isinstance(ev, TrainingFinished) else model
        elif isinstance(ev, TrainingStarted):
            info(training_started(ev))
        elif isinstance(ev, TrainingProgress):
            bar.training(ev)
        elif isinstance(ev, DurationWarning):
            bar.note(f"Warning: {duration_warning(ev, command_line=True)}")
        elif isinstance(ev, DivergenceRecovered):
            bar.note(f"Warning: {divergence_warning(ev)}")
        elif isinstance(ev, TrainingFinished):
            bar.end()
            model = ev.model
            noise = noise_text(model.method, model.noise_parameters())
            info(f"{training_finished(ev)}." + (f" {noise}." if noise else ""))
        elif isinstance(ev, Preview):
            pass
    assert model is not None
    return model


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


def _save_model(model: DenoisingModel, path: str) -> None:
    model.save(path)
    info(f"Saved model to {path}.")


# ------------------------------------------------------------------ commands
def _check_train(args: argparse.Namespace) -> None:
    """`train`'s checks before any work (options, input and output paths)."""
    checks.check_options(args)
    checks.check_paths([("IMAGE", args.image), ("--target", args.target), ("--config", args.config),
                        ("--noise-from", args.noise_from)], [("-o", args.output)], args.overwrite)
    checks.check_target(args.image, args.target)
    checks.check_target(args.image, args.noise_from, "--noise-from")


def _hooks() -> cli_batch.Hooks:
    return cli_batch.Hooks(
        train=lambda args, images: _train(args, images[0]) if len(images) == 1 else train_on(args, images),
        progress=ProgressBar, one_shot_minutes=ONE_SHOT_MINUTES)


def cmd_train(args: argparse.Namespace) -> int:
    if args.distributed:
        from .cli_distributed import train_distributed

        if len(args.images) != 1:
            raise BlindspotError("train --distributed takes one image (or run without --distributed "
                                 "to train on several).")
        args.image = args.images[0]
        return train_distributed(args, _check_train, _train, _save_model)
    return cli_batch.cmd_train(args, _hooks())


def cmd_denoise(args: argparse.Namespace) -> int:
    return cli_batch.cmd_denoise(args, _hooks())


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
    model = _train(args, image)
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


def cmd_napari(args: argparse.Namespace) -> int:  # pragma: no cover - opens a window
    launch(sample=not args.no_sample)
    return 0


# ------------------------------------------------------------------ parser
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="blindspot", description="Self-supervised denoising of microscopy images.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train a model on noisy images and save it")
    p.add_argument("images", nargs="+", metavar="IMAGE",
                   help="noisy TIFF files, OME-Zarr images, folders of them or glob patterns to "
                   "train one model on")
    p.add_argument("-o", "--output", required=True, help="model file (.safetensors)")
    p.add_argument("--overwrite", action="store_true", help="replace the output if it exists "
                   "(default: refuse)")
    p.add_argument("--distributed", action="store_true",
                   help="one of several processes started by torchrun (GPUs or CPUs, one or more "
                   "nodes) that train one model together; rank 0 saves it (see docs/engine.md)")
    add_common(p)
    add_training_options(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("denoise", help="denoise images with a saved model, or train on them first",
                       description="Denoise IMAGE(s) with --model, or train on them first "
                       f"(one-shot; default method {DEFAULT_METHOD}). Results stream to disk.")
    p.add_argument("images", nargs="+", metavar="IMAGE",
                   help="noisy TIFF files, OME-Zarr images, folders of them or glob patterns")
    p.add_argument("-o", "--output", required=True,
                   help="the denoised image (one input: .tif, or .zarr for OME-Zarr), or a folder "
                   "(several inputs, or a name ending in /): <name>_denoised.tif/.ome.zarr there")
    p.add_argument("--model", help="a model saved by `blindspot train`, or a bioimage.io package "
                   "(.zip or folder) (else train on IMAGE first)")
    p.add_argument("--trust-code", action="store_true",
                   help="let a --model bioimage.io package from another tool run its own Python "
                   "code (its architecture), which it needs unless it has TorchScript or ONNX "
                   "weights; only for packages whose source you trust (default: refuse)")
    p.add_argument("--save-model", help="also save the model trained on IMAGE")
    able = "/".join(cls.display_name for cls in method_classes() if cls.gives_uncertainty)
    p.add_argument("--uncertainty", help=f"write the posterior standard deviation here ({able}); "
                   "with a folder output, a folder for <name>_uncertainty files")
    p.add_argument("--dtype", choices=("float32", "input"), default="float32",
                   help="output pixel type: float32 (default) or the input's")
    p.add_argument("--overwrite", action="store_true", help="replace outputs that exist "
                   "(default: refuse); inputs are never replaced")
    add_batch_arguments(p)
    add_common(p)
    add_training_options(p)
    p.set_defaults(func=cmd_denoise)

    p = sub.add_parser("info", help="describe a saved model")
    p.add_argument("model")
    p.set_defaults(func=cmd_info, verbose=False)

    add_export_parser(sub)
    add_doctor_parser(sub)

    p = sub.add_parser("demo", help="denoise the bundled synthetic fluorescence sample")
    p.add_argument("--out", default="blindspot-demo", help="output folder (default blindspot-demo)")
    p.add_argument("--frames", type=int, default=8, help="frames of the sample (default 8)")
    p.add_argument("--size", type=int, default=256, help="sample width and height (default 256)")
    add_common(p)
    add_training_options(p)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("napari", help="open napari with the plugin docked and the sample loaded")
    p.add_argument("--no-sample", action="store_true", help="open the viewer without the sample data")
    p.set_defaults(func=cmd_napari, verbose=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if getattr(args, "verbose", False) else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if args.command == "demo" and args.minutes is None and args.steps is None and args.epochs is None:
        args.steps = DEMO_STEPS
        info(f"Demo: {DEMO_STEPS} training steps (--steps or --minutes to change).")
    return run_command(args.func, args)

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
