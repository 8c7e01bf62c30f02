"""What a path the user typed is, decided once: an input entry (an image file, a zarr store, a
folder of images, a glob pattern, or nothing) or an output (an image file, a zarr store, or a
folder for several results).  The command line classifies each path once and passes these
descriptions down (:mod:`.batch`, :mod:`..cli.denoise`) instead of asking the file system
again at every step.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from typing import Literal

from ..io.image import input_format
from ..io.omezarr import is_zarr_path

#: An input entry: a TIFF file, an OME-Zarr (or plain zarr) store, a vendor file read through
#: bioio (CZI, ND2, LIF), another existing file (refused when opened, with the reader's
#: words), a folder of images, a glob pattern, or a name that exists nowhere.
InputKind = Literal["tiff", "ome-zarr", "vendor", "file", "folder", "pattern", "missing"]
#: An output: a TIFF file, an OME-Zarr store, or a folder that receives ``<name>_denoised.<ext>``.
OutputKind = Literal["tiff", "ome-zarr", "folder"]

_FORMAT_KIND = {"tiff": "tiff", "zarr": "ome-zarr", "vendor": "vendor"}


@dataclass(frozen=True)
class InputEntry:
    """One input as typed (``path``) and what it is (``kind``); ``pattern``: the name has
    glob characters (``*?[``), even when a file of that very name exists."""

    path: str
    kind: InputKind
    pattern: bool = False

    @property
    def is_image(self) -> bool:
        """One image (a file or a store), as opposed to a folder, a pattern or nothing."""
        return self.kind in ("tiff", "ome-zarr", "vendor", "file")


@dataclass(frozen=True)
class OutputTarget:
    """An output path as typed and what it is: a folder when it exists as a (non-zarr) folder
    or ends in a path separator, else the image file or store its name says."""

    path: str
    kind: OutputKind

    @property
    def is_folder(self) -> bool:
        return self.kind == "folder"


def classify_input(path: str) -> InputEntry:
    """What the input entry ``path`` is (looked at once, in :func:`.batch.expand_inputs`' order:
    an existing zarr store, a folder, an existing file, a glob pattern, nothing)."""
    pattern = glob.has_magic(path)
    if is_zarr_path(path) and os.path.exists(path):
        return InputEntry(path, "ome-zarr", pattern)
    if os.path.isdir(path):
        return InputEntry(path, "folder", pattern)
    if os.path.exists(path):
        kind = _FORMAT_KIND.get(input_format(path) or "", "file")
        return InputEntry(path, kind, pattern)  # type: ignore[arg-type]
    return InputEntry(path, "pattern" if pattern else "missing", pattern)


def classify_output(path: str) -> OutputTarget:
    """What the output ``path`` is (see :class:`OutputTarget`)."""
    if (os.path.isdir(path) and not is_zarr_path(path)) or path.endswith(("/", os.sep)):
        return OutputTarget(path, "folder")
    return OutputTarget(path, "ome-zarr" if is_zarr_path(path) else "tiff")


__all__ = ["InputEntry", "InputKind", "OutputKind", "OutputTarget", "classify_input",
           "classify_output"]
