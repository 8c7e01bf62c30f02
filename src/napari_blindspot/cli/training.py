"""Training from the command line: the settings the options ask for, and one training run
drawn as a progress bar (`train`, one-shot `denoise`, `demo` and each rank of
`train --distributed` use it)."""

from __future__ import annotations

import argparse
import os
from typing import Any

from . import checks
from .common import info
from .common import read_input as _read
from .options import DEFAULT_METHOD, option_fields
from .progress import ProgressBar
from ..engine import (BlindspotError, CompileFallback, DenoisingModel, DivergenceRecovered, DurationWarning, Preview,
                      TrainConfig, TrainingFinished, TrainingProgress, TrainingRun, TrainingStarted,
                      method_class, method_classes)
from ..engine.training.dimensionality import default_train_3d
from ..engine.errors import ConfigError
from ..engine.methods.hqssl.stillness import stillness
from ..engine.methods.n2v.struct_mask import STRUCT_MASK_NAMES, pattern_from_file
from ..text import (compile_fallback, divergence_warning, duration_warning, noise_text, still_scene_hint,
                    training_finished, training_started)


def _device_type(device: str | None) -> str:
    """"cpu", "cuda" or "mps": where training will run ("cpu" if the name is not valid)."""
    from ..engine.system.device import select_device

    try:
        return select_device(device or "auto").type
    except ConfigError:
        return "cpu"


def config_from_args(args: argparse.Namespace, axes: str, image: Any = None) -> TrainConfig:
    """The training configuration the options ask for; ``image`` (with ``pixel_size``) lets a
    z-stack default to 3D training when it is near-isotropic and the device a GPU
    (:mod:`..engine.dimensionality`)."""
    overrides: dict[str, Any] = {"axes": axes}
    if args.config:
        base = checks.load_config_file(args.config)
        base.update(overrides)
        overrides = base
    for arg, field in option_fields().items():
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


def train_on(args: argparse.Namespace, images: list[Any], distributed: Any = None) -> DenoisingModel:
    """Train one model on one image or several (each with its own axes), drawing the training
    events as a progress bar; ``distributed``: this rank (only rank 0 reports)."""
    image = images[0]
    config = config_from_args(args, image.axes, image)
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
        elif isinstance(ev, CompileFallback):
            bar.note(f"Note: {compile_fallback(ev)}")
        elif isinstance(ev, TrainingFinished):
            bar.end()
            model = ev.model
            noise = noise_text(model.method, model.noise_parameters())
            info(f"{training_finished(ev)}." + (f" {noise}." if noise else ""))
        elif isinstance(ev, Preview):
            pass
    assert model is not None
    return model


__all__ = ["config_from_args", "train_on"]
