"""What the `blindspot` subcommands share: status lines and reading an input TIFF."""

from __future__ import annotations

import sys

from .io.tiff import TiffImage, read_tiff


def info(message: str) -> None:
    """A status line for the user (stderr, so stdout stays clean)."""
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def read_input(path: str, axes: str | None) -> TiffImage:
    """Read an input TIFF, saying which axes it has and where they came from (``axes``
    overrides)."""
    image = read_tiff(path)  # refuses missing, folder, unreadable, empty and damaged files
    if axes:
        image.axes = axes.upper()
        image.axes_source = "given"
    elif image.axes_source == "guessed":
        info(f"{path}: no axes in the file's metadata; guessed axes {image.axes!r} for shape "
             f"{image.data.shape} (use --axes to override).")
    else:
        info(f"{path}: axes {image.axes!r} from {image.axes_source} metadata, shape {image.data.shape}.")
    return image
