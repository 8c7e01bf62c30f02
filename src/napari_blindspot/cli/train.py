"""``blindspot train``: one model on one image or many, saved to a file.

    blindspot train a.tif b.tif more/ -o model.safetensors        # one model on all of them
    torchrun --nproc-per-node 2 -m napari_blindspot.cli train img.tif --distributed -o m.safetensors
"""

from __future__ import annotations

import argparse

from . import checks
from .common import info, open_all, report_problems
from .distributed import train_distributed
from .options import add_common, add_training_options
from .training import train_on
from ..engine import BlindspotError
from ..engine.path_rules import check_apart
from ..files.batch import expand_inputs
from ..files.paths import classify_input


def cmd_train(args: argparse.Namespace) -> int:
    if args.distributed:
        if len(args.images) != 1:
            raise BlindspotError("train --distributed takes one image (or run without --distributed "
                                 "to train on several).")
        args.image = args.images[0]
        return train_distributed(args)
    checks.check_options(args)
    checks.check_paths([("--target", args.target), ("--config", args.config),
                        ("--noise-from", args.noise_from)], [("-o", args.output)], args.overwrite)
    if len(args.images) == 1:
        checks.check_target(args.images[0], args.target)
        checks.check_target(args.images[0], args.noise_from, "--noise-from")
    entries = [classify_input(p) for p in args.images]  # each path looked at once
    images, problems = open_all(entries, args.axes, args.allow_missing_chunks)
    if not images:
        raise BlindspotError("No image to train on: " + "; ".join(problems))
    report_problems(problems, f"training on the other {len(images)}")
    check_apart([("-o", args.output)], [("IMAGE", p) for p in expand_inputs(entries)[0]])
    model = train_on(args, images)
    model.save(args.output)
    info(f"Saved model to {args.output}.")
    return 1 if problems else 0


def add_train_parser(sub: argparse._SubParsersAction) -> None:
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


__all__ = ["add_train_parser", "cmd_train"]
