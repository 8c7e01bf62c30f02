"""``blindspot denoise`` on one file or many.

    blindspot denoise a.tif "more/*.tif" data.zarr --model model.safetensors -o denoised/
    blindspot denoise big.tif --model model.safetensors -o big_denoised.ome.zarr
    blindspot denoise folder/ --model model.safetensors -o out/ --workers 4   # dask LocalCluster

Inputs are files, folders and glob patterns, read lazily (TIFF memory-mapped or through
zarr, OME-Zarr); outputs are streamed to disk (OME-Zarr chunk by chunk, TIFF page by page),
so images larger than memory work.  A file that cannot be read or denoised is reported and
the others go on; a summary ends the run, and the exit status is 1 when some file failed.
"""

from __future__ import annotations

import argparse
import os

import numpy as np

from . import checks
from ..files.batch import (BatchSummary, FileDone, FileFailed, FileJob, FileStarted, denoise_files,
                    expand_inputs, plan_outputs, prepare_folders)
from .common import info, open_all, read_input
from ..engine.defaults import one_shot_tta_for_pixels, tta_words
from ..engine import BlindspotError, ConfigError, PredictionProgress, load_model, method_classes
from ..engine.path_rules import check_apart
from ..io.ownership import check_replaceable
from ..io.image import image_format
from ..files.paths import InputEntry, OutputTarget, classify_input, classify_output
from ..text import format_duration
from .options import DEFAULT_METHOD, ONE_SHOT_MINUTES, add_common, add_training_options
from .progress import ProgressBar
from .training import train_on


def check_jobs(jobs: list[FileJob], args: argparse.Namespace) -> None:
    """Before any work: no output is an input or another option's file, each can be written
    (folder exists or will be made, exists only with --overwrite), the disk has room."""
    inputs = [("--model", args.model), ("--config", args.config), ("--target", args.target),
              ("--noise-from", args.noise_from)] + [("IMAGE", j.input) for j in jobs]
    outputs = [("-o" if key == "denoised" else "--uncertainty", out)
               for job in jobs for key, out in job.outputs.items()]
    check_apart(outputs + [("--save-model", args.save_model)], inputs)
    for flag, out in outputs:
        if image_format(out) == "zarr" or len(jobs) > 1:
            if os.path.lexists(out) and not args.overwrite:
                raise ConfigError(f"{flag} {out!r} already exists: choose another name, or add "
                                  "--overwrite to replace it.")
            if os.path.lexists(out) and (image_format(out) == "zarr" or os.path.isdir(out)):
                check_replaceable(flag, out)
        else:
            checks.check_output(flag, out, args.overwrite)
    if args.save_model:
        checks.check_output("--save-model", args.save_model, args.overwrite)
    sizes = []
    for job in jobs:
        try:
            shape = read_input(job.input, args.axes, quiet=True,
                               allow_missing_chunks=args.allow_missing_chunks).data.shape
        except (BlindspotError, OSError, ValueError):
            continue  # reported when its turn comes
        sizes += [(out, 4.0 * float(np.prod(shape))) for out in job.outputs.values()]
    checks.check_free_space(sizes)


def _summary_line(summary: BatchSummary, skipped: list[str]) -> str:
    n_failed = len(summary.failed) + len(skipped)
    total = len(summary.done) + n_failed
    line = f"Denoised {len(summary.done)} of {total} file(s) in {format_duration(summary.elapsed_s)}"
    if n_failed:
        line += f"; {n_failed} failed: " + "; ".join(
            [f"{f.path}: {f.error.rstrip('.')}" for f in summary.failed] + skipped)
    return line + "."


def single_file(entries: list[InputEntry], output: OutputTarget) -> bool:
    """Whether ``denoise`` runs on one file into one output (the one-file command of old: its
    errors end the command) rather than on a batch."""
    return (len(entries) == 1 and not entries[0].pattern and entries[0].kind != "folder"
            and not output.is_folder)


def _check_single(args: argparse.Namespace, entry: InputEntry, output: OutputTarget) -> None:
    """The checks of one input and its outputs, before any work (the batch's are in
    :func:`check_jobs`)."""
    path = entry.path
    image_input = [] if entry.kind == "ome-zarr" and os.path.isdir(path) else [("IMAGE", path)]
    outputs = [("-o", output.path), ("--uncertainty", args.uncertainty), ("--save-model", args.save_model)]
    tiff_outputs = [(f, p) for f, p in outputs if p and image_format(p) != "zarr"]
    inputs = image_input + [("--target", args.target), ("--model", args.model),
                            ("--config", args.config), ("--noise-from", args.noise_from)]
    check_apart(outputs, inputs + [("IMAGE", path)])  # zarr outputs and inputs too
    checks.check_paths(inputs, tiff_outputs, args.overwrite)
    checks.check_target(path, args.target)
    checks.check_target(path, args.noise_from, "--noise-from")
    image = read_input(path, args.axes, quiet=True,
                       allow_missing_chunks=args.allow_missing_chunks)
    if output.kind != "ome-zarr":
        checks.output_dtype(args.dtype, image.data.dtype)


def cmd_denoise(args: argparse.Namespace) -> int:
    if args.model and args.method:
        raise BlindspotError("Give either --model (apply a trained model) or --method (train on "
                             "the images first), not both.")
    checks.check_options(args)
    entries = [classify_input(p) for p in args.images]  # each path looked at once
    output = classify_output(args.output)
    single = single_file(entries, output)
    if single:
        _check_single(args, entries[0], output)
    else:
        checks.check_paths([("--target", args.target), ("--model", args.model),
                            ("--config", args.config), ("--noise-from", args.noise_from)], [],
                           args.overwrite)
    paths, skipped = expand_inputs(entries)
    if not paths:
        raise BlindspotError("No image to denoise: " + "; ".join(skipped))
    jobs = plan_outputs(paths, output, uncertainty=args.uncertainty, fmt=args.format)
    prepare_folders(jobs)
    check_jobs(jobs, args)
    if args.model:
        model = load_model(args.model, device=args.device or "auto", trust_code=args.trust_code)
        info(f"Loaded {args.model}: {model.label()}.")
    else:
        images, problems = open_all(paths, args.axes, args.allow_missing_chunks)
        if not images:
            raise BlindspotError("No image to train on: " + "; ".join(problems))
        if args.minutes is None and args.steps is None and args.epochs is None and not args.config:
            args.minutes = ONE_SHOT_MINUTES
            info(f"One-shot: training on the image{'s' if len(images) > 1 else ''} for "
                 f"{ONE_SHOT_MINUTES * 60:.0f} s, then denoising (--steps, --epochs or --minutes to "
                 "change).")
        if len(images) > 1:
            info(f"One model for all {len(images)} images, trained on patches of every one: similar "
                 "images share their noise and structures, and the training time is paid once. "
                 "For unlike images, denoise each with its own command.")
        model = train_on(args, images)
        if args.tta is None:
            args.tta = one_shot_tta_for_pixels(sum(int(np.prod(im.data.shape)) for im in images),
                                               model.shares_tta)
            if args.tta:
                info(f"One-shot: denoising with {args.tta}-fold test-time augmentation "
                     f"({tta_words(args.tta)}; " + ("--tta for all 8 transforms, " if args.tta != 8 else "")
                     + "--no-tta to skip).")
        args.doing = "denoising"
        if args.save_model:
            model.save(args.save_model)
            info(f"Saved model to {args.save_model}.")
    if args.uncertainty and not model.has_uncertainty:
        able = " and ".join(cls.display_name for cls in method_classes() if cls.gives_uncertainty)
        info(f"The {model.label()} gives no uncertainty map (only {able} does); "
             f"{args.uncertainty} not written.")
        for job in jobs:
            job.outputs.pop("uncertainty", None)
    args.doing = "denoising"
    options = dict(axes=args.axes, dtype=args.dtype, zarr_format=args.zarr_format,
                   tile_size=args.tile_size, tta=args.tta or False, keep_going=not single,
                   allow_missing_chunks=args.allow_missing_chunks)
    if args.workers or args.scheduler:
        from ..files.cluster import denoise_distributed_iter

        where = f"the dask scheduler at {args.scheduler}" if args.scheduler else \
            f"a local dask cluster of {args.workers} worker(s)"
        info(f"Denoising {len(jobs)} file(s) on {where}.")
        events = denoise_distributed_iter(model, jobs, workers=args.workers, scheduler=args.scheduler,
                                          device=args.device or "auto", **options)
    else:
        events = denoise_files(model, jobs, **options)
    bar = ProgressBar()
    many = len(jobs) > 1
    summary: BatchSummary | None = None
    while True:
        try:
            ev = next(events)
        except StopIteration as stop:
            summary = stop.value
            break
        if isinstance(ev, PredictionProgress):
            bar.prediction(ev)
        elif isinstance(ev, FileStarted):
            if many and not (args.workers or args.scheduler):
                info(f"[{ev.index + 1}/{ev.total}] {ev.path}: shape {ev.shape}, axes {ev.axes}")
        elif isinstance(ev, FileDone):
            bar.end()
            for key, path in ev.outputs.items():
                what = ev.formats.get(key, "")
                info(f"Wrote {path}" + (f" ({what})" if what else "")
                     + f" in {format_duration(ev.elapsed_s)}.")
        elif isinstance(ev, FileFailed):
            bar.end()
            info(f"Failed: {ev.path}: {ev.error}")
    assert summary is not None
    if many or summary.failed or skipped:
        info(_summary_line(summary, skipped))
    return 1 if (summary.failed or skipped) else 0


def add_denoise_parser(sub: argparse._SubParsersAction) -> None:
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


def add_batch_arguments(p: argparse.ArgumentParser) -> None:
    """`denoise`'s output format and cluster options."""
    p.add_argument("--format", choices=("tiff", "zarr"),
                   help="output format for a folder output: tiff (ImageJ TIFF; BigTIFF OME-TIFF above "
                   "4 GB) or zarr (OME-Zarr); default: the input's (a single output's name decides: "
                   ".zarr is OME-Zarr)")
    p.add_argument("--zarr-format", type=int, choices=(2, 3), default=2,
                   help="OME-Zarr outputs: zarr v2 (OME-NGFF 0.4, default, read most widely) or v3 "
                   "(OME-NGFF 0.5)")
    g = p.add_argument_group("dask.distributed (needs the distributed extra)")
    g.add_argument("--workers", type=int, help="predict on a local dask cluster of N worker processes")
    g.add_argument("--scheduler", help="predict on the running dask cluster at this address "
                   "(e.g. tcp://host:8786, or a dask-jobqueue cluster's); inputs and the model's "
                   "workers must see the same files")


__all__ = ["add_batch_arguments", "add_denoise_parser", "cmd_denoise"]
