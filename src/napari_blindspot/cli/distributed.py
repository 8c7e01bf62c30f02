"""``blindspot train ... --distributed``: one rank of a run that ``torchrun`` started.

    torchrun --nproc-per-node 2 -m napari_blindspot.cli train img.tif --distributed -o m.safetensors

Every rank reads the image and trains (:mod:`..engine.distributed` says what differs); rank 0
runs the command's checks (options, input and output paths) before any work, reports progress
and saves the model.  When rank 0's checks fail, every rank stops at once and only rank 0 says why.
"""

from __future__ import annotations

import argparse
import contextlib
import io
from collections.abc import Callable

from . import checks
from .common import info, read_input
from .training import train_on
from ..engine import BlindspotError
from ..engine.training.distributed import Distributed, process_group


def _agreed_check(group: Distributed, check: Callable[[], None]) -> None:
    """Run ``check`` on rank 0 and raise its error on every rank."""
    error = None
    if group.is_main:
        try:
            check()
        except BlindspotError as exc:
            error = exc
    message = group.broadcast_object(None if error is None else str(error))
    if error is not None:
        raise error
    if message is not None:
        raise BlindspotError(message)


def check_train(args: argparse.Namespace) -> None:
    """`train`'s checks before any work (options, input and output paths)."""
    checks.check_options(args)
    checks.check_paths([("IMAGE", args.image), ("--target", args.target), ("--config", args.config),
                        ("--noise-from", args.noise_from)], [("-o", args.output)], args.overwrite)
    checks.check_target(args.image, args.target)
    checks.check_target(args.image, args.noise_from, "--noise-from")


def train_distributed(args: argparse.Namespace) -> int:
    """Train ``args.image`` as one rank: :func:`check_train` on rank 0 first, then
    :func:`.training.train_on` everywhere; rank 0 saves the model to ``args.output``."""
    with process_group(args.device or "auto") as group:
        try:
            _agreed_check(group, lambda: check_train(args))
            # the other ranks' status lines would repeat rank 0's (their warnings still show)
            quiet = (contextlib.nullcontext() if group.is_main
                     else contextlib.redirect_stderr(io.StringIO()))
            with quiet:
                image = read_input(args.image, args.axes,
                                   allow_missing_chunks=args.allow_missing_chunks)
                info(f"Distributed training: {group.describe()}; each step trains on "
                     f"{group.world_size} batches, one per process.")
                model = train_on(args, [image], distributed=group)
            if group.is_main:
                model.save(args.output)
                info(f"Saved model to {args.output}.")
            group.barrier()
        except BlindspotError:
            if group.is_main:
                raise
            return 2  # rank 0 reports it
    return 0
