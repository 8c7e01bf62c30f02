"""``blindspot train ... --distributed``: one rank of a run that ``torchrun`` started.

    torchrun --nproc-per-node 2 -m napari_blindspot.cli train img.tif --distributed -o m.safetensors

Every rank reads the image and trains (:mod:`.engine.distributed` says what differs); rank 0
checks the output path before any work, reports progress and saves the model.  When rank 0's
check fails, every rank stops at once and only rank 0 says why.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
from collections.abc import Callable
from typing import Any

from .cli_common import info, read_input
from .engine import BlindspotError, ConfigError
from .engine.distributed import Distributed, process_group


def check_model_output(path: str) -> None:
    """Refuse a model path that is a folder, or whose folder is missing or not writable."""
    if os.path.isdir(path):
        raise ConfigError(f"-o {path!r} is a folder: give a file name (e.g. "
                          f"{os.path.join(path, 'model.safetensors')!r}).")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ConfigError(f"-o {path!r}: the folder {folder!r} does not exist; create it first or "
                          "choose another folder.")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(f"-o {path!r}: cannot write into the folder {folder!r}; choose a folder "
                          "you can write to.")


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


def train_distributed(args: argparse.Namespace, train: Callable[..., Any]) -> int:
    """Train as one rank (``train``: the CLI's training driver); rank 0 saves to ``args.output``."""
    with process_group(args.device or "auto") as group:
        try:
            _agreed_check(group, lambda: check_model_output(args.output))
            quiet = contextlib.nullcontext() if group.is_main else contextlib.redirect_stderr(io.StringIO())
            with quiet:
                image = read_input(args.image, args.axes)
            if group.is_main:
                info(f"Distributed training: {group.describe()}; each step trains on "
                     f"{group.world_size} batches, one per process.")
            model = train(args, image, distributed=group)
            if group.is_main:
                model.save(args.output)
                info(f"Saved model to {args.output}.")
            group.barrier()
        except BlindspotError:
            if group.is_main:
                raise
            return 2  # rank 0 reports it
    return 0
