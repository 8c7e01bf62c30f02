"""What the `blindspot` subcommands share: status lines and opening input images (TIFF or
OME-Zarr, lazily; one, or all that the entries name)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from ..engine import BlindspotError
from ..files.batch import expand_inputs
from ..files.paths import InputEntry
from ..io.image import ImageFile, open_image


def info(message: str) -> None:
    """A status line for the user (stderr, so stdout stays clean)."""
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def read_input(path: str, axes: str | None, quiet: bool = False, *,
               allow_missing_chunks: bool = False) -> ImageFile:
    """Open an input image lazily (a TIFF file or a zarr store), saying which axes it has and
    where they came from (``axes`` overrides).  Missing, unreadable, empty and damaged files
    are refused (:func:`~.io.tiff.read_tiff`, :func:`~.io.omezarr.read_omezarr`)."""
    image = open_image(path, axes, allow_missing_chunks=allow_missing_chunks)
    if quiet:
        if axes:
            image.axes, image.axes_source = axes.upper(), "given"
        return image
    if axes:
        image.axes = axes.upper()
        image.axes_source = "given"
    elif image.axes_source == "guessed":
        info(f"{path}: no axes in the file's metadata; guessed axes {image.axes!r} for shape "
             f"{image.data.shape} (use --axes to override).")
    else:
        info(f"{path}: axes {image.axes!r} from {image.axes_source} metadata, shape {image.data.shape}.")
    return image


def open_all(entries: Sequence[str | InputEntry], axes: str | None, allow_missing_chunks: bool = False
             ) -> tuple[list[Any], list[str]]:
    """The readable images among ``entries`` and what was wrong with the others."""
    paths, problems = expand_inputs(entries)
    images = []
    for path in paths:
        try:
            images.append(read_input(path, axes, allow_missing_chunks=allow_missing_chunks))
        except (BlindspotError, OSError, ValueError) as exc:
            problems.append(f"{path}: {exc}")
    return images, problems


def report_problems(problems: list[str], what: str) -> None:
    """Say which inputs were skipped and why, and what happens instead (``what``)."""
    for p in problems:
        info(f"skipped {p}")
    if problems:
        info(f"{len(problems)} input(s) skipped; {what}.")
