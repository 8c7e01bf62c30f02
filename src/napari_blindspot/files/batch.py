"""Many files at once: which inputs, which outputs, and denoising them one after another.

``expand_inputs`` turns what the user typed (files, folders, glob patterns) into image
paths, and says which entries matched nothing.  ``plan_outputs`` names every output before
any work: one input may write to a file; several write ``<name>_denoised.<ext>`` (and
``<name>_uncertainty.<ext>``) into a folder; no output may be, be inside or contain an input,
or be written twice.
``denoise_files`` streams every file into its outputs (:mod:`.streaming`) and goes on past a
file that fails, reporting it in the :class:`BatchSummary`.
"""

from __future__ import annotations

import functools
import glob
import os
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..engine import BlindspotError, DataError
from ..engine.path_rules import check_apart
from ..io.image import IMAGE_SUFFIXES, image_format, input_format, open_image
from ..io.omezarr import is_zarr_path
from ..io.tiff import tiff_format
from .paths import InputEntry, OutputTarget, classify_input, classify_output
from .streaming import predict_to_file_iter

#: Output formats by name, and the file extension they get.
FORMATS = {"tiff": ".tif", "zarr": ".ome.zarr"}


def _is_image(path: str) -> bool:
    return input_format(path) is not None and (os.path.isfile(path) or is_zarr_path(path))


def expand_inputs(entries: Sequence[str | InputEntry]) -> tuple[list[str], list[str]]:
    """Image paths from files, folders (their TIFF files and zarr stores, sorted, not
    recursive) and glob patterns, in the order given, each once; and the entries that
    matched no image (with why).  ``entries``: paths, or their :class:`~.paths.InputEntry`."""
    found: list[str] = []
    problems: list[str] = []
    for item in entries:
        entry = item if isinstance(item, InputEntry) else classify_input(item)
        path = entry.path
        if entry.kind == "folder":
            matches = sorted(os.path.join(path, n) for n in os.listdir(path)
                             if n.lower().endswith(IMAGE_SUFFIXES) and not n.startswith("."))
            matches = [m for m in matches if _is_image(m)]
            if not matches:
                problems.append(f"{path}: a folder without TIFF files or zarr stores")
        elif entry.is_image:
            matches = [path]
        elif entry.kind == "pattern":
            matches = sorted(m for m in glob.glob(path) if _is_image(m))
            if not matches:
                problems.append(f"{path}: matches no TIFF file or zarr store")
        else:
            matches = []
            problems.append(f"{path}: no such file or folder")
        for m in matches:
            if os.path.abspath(m) not in {os.path.abspath(f) for f in found}:
                found.append(m.rstrip("/\\"))
    return found, problems


def stem(path: str) -> str:
    """A file's name without its image extension (``a.ome.tif`` -> ``a``)."""
    name = os.path.basename(os.fspath(path).rstrip("/\\"))
    for suffix in (".ome.zarr", ".ome.tiff", ".ome.tif", ".zarr", ".tiff", ".tif"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return os.path.splitext(name)[0]


def output_format(path: str, fmt: str | None) -> str:
    """``fmt``, else the format of ``path`` (an input), TIFF for anything else."""
    return fmt or image_format(path) or "tiff"


@dataclass
class FileJob:
    """One input and where its outputs go (``{"denoised": path, ["uncertainty": path]}``)."""

    input: str
    outputs: dict[str, str]


def plan_outputs(inputs: Sequence[str], output: str | OutputTarget, *,
                 uncertainty: str | None = None, fmt: str | None = None) -> list[FileJob]:
    """The outputs of every input (see the module docstring); raises :class:`BlindspotError`
    when an output would replace an input or two inputs would write the same file.
    ``output``: the ``-o`` path, or its :class:`~.paths.OutputTarget`."""
    target = output if isinstance(output, OutputTarget) else classify_output(output)
    output = target.path
    # one input writes to the file -o names, unless it names a folder (existing, or ending in /)
    single = len(inputs) == 1 and not target.is_folder
    jobs = []
    for path in inputs:
        ext = FORMATS[output_format(path, fmt)]
        if single:
            outs = {"denoised": output}
            if uncertainty:
                outs["uncertainty"] = uncertainty
        else:
            outs = {"denoised": os.path.join(output, f"{stem(path)}_denoised{ext}")}
            if uncertainty:
                outs["uncertainty"] = os.path.join(uncertainty, f"{stem(path)}_uncertainty{ext}")
        jobs.append(FileJob(path, outs))
    seen: dict[str, str] = {}
    for job in jobs:
        for out in job.outputs.values():
            real = os.path.realpath(out)
            if real in seen:
                raise BlindspotError(f"{seen[real]!r} and {job.input!r} would both write {out!r}: "
                                     "rename one of them, or denoise them into different folders.")
            seen[real] = job.input
    check_apart([("-o" if key == "denoised" else "--uncertainty", out)
                 for job in jobs for key, out in job.outputs.items()], [("IMAGE", p) for p in inputs])
    return jobs


def prepare_folders(jobs: Sequence[FileJob]) -> None:
    """Create the output folders of several inputs (a single output's folder must exist)."""
    for job in jobs:
        for out in job.outputs.values():
            folder = os.path.dirname(os.path.abspath(out))
            if not os.path.isdir(folder):
                if len(jobs) == 1:
                    raise BlindspotError(f"The folder of {out!r} does not exist: create it first or "
                                         "choose another output path.")
                os.makedirs(folder, exist_ok=True)


@dataclass(frozen=True)
class FileStarted:
    index: int
    total: int
    path: str
    shape: tuple[int, ...]
    axes: str


@dataclass(frozen=True)
class FileDone:
    """A file denoised: its outputs by key, and what each is (``"uint16 ImageJ TIFF, axes TYX"``)."""

    index: int
    path: str
    outputs: dict[str, str]
    elapsed_s: float
    formats: dict[str, str] = field(default_factory=dict)


def describe_output(path: str, dtype: Any, axes: str, nbytes: float) -> str:
    """What an output file is: pixel type, format (as the writers choose it) and axes."""
    dtype = np.dtype(dtype)
    if image_format(path) == "zarr":
        kind = "OME-Zarr"
    else:
        from ..io.tiff_stream import IMAGEJ_LIMIT

        kind = "OME-TIFF" if tiff_format(dtype) == "ome" or nbytes > IMAGEJ_LIMIT else "ImageJ TIFF"
    return f"{dtype.name} {kind}, axes {axes}"


@dataclass(frozen=True)
class FileFailed:
    index: int
    path: str
    error: str


@dataclass
class BatchSummary:
    """What a batch did: the files written and the files that failed (with why)."""

    done: list[FileDone] = field(default_factory=list)
    failed: list[FileFailed] = field(default_factory=list)
    elapsed_s: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed


BatchEvent = Any  # FileStarted | PredictionProgress | FileDone | FileFailed


def denoise_files(model: Any, jobs: Sequence[FileJob], *, axes: str | None = None,
                  dtype: str = "float32", zarr_format: int = 2, tile_size: int | None = None,
                  tta: bool = False, open_fn: Callable[[str, str | None], Any] | None = None,
                  keep_going: bool = True, allow_missing_chunks: bool = False,
                  ) -> Generator[BatchEvent, None, BatchSummary]:
    """Denoise every job's input into its outputs, one file after another; yields
    :class:`FileStarted`, :class:`~.engine.PredictionProgress`, :class:`FileDone` or
    :class:`FileFailed` (a file that fails is reported and skipped; with ``keep_going=False``
    its error is raised instead); returns the summary.  ``dtype``: ``"float32"`` or ``"input"``
    (the input's pixel type; TIFF outputs refuse the types TIFF cannot hold).
    ``allow_missing_chunks``: read a zarr input's missing chunks as its fill value (else the
    file is refused)."""
    if open_fn is None:
        open_fn = functools.partial(open_image, allow_missing_chunks=allow_missing_chunks)
    summary = BatchSummary()
    start = time.perf_counter()
    for i, job in enumerate(jobs):
        t0 = time.perf_counter()
        try:
            image = open_fn(job.input, axes)
            yield FileStarted(i, len(jobs), job.input, tuple(image.data.shape), image.axes)
            out_dtype = np.dtype(image.data.dtype if dtype == "input" else np.float32)
            if any(image_format(p) != "zarr" for p in job.outputs.values()) and \
                    tiff_format(out_dtype) is None:
                raise DataError(f"--dtype input: the input's pixel type {out_dtype} cannot be written "
                                "to TIFF; use --dtype float32, or --format zarr.")
            paths = yield from predict_to_file_iter(model, image, job.outputs, dtype=out_dtype,
                                                    zarr_format=zarr_format, tile_size=tile_size,
                                                    tta=tta)
        except (BlindspotError, OSError, ValueError, RuntimeError, KeyError) as exc:
            if not keep_going:
                raise
            failed = FileFailed(i, job.input, str(exc) or type(exc).__name__)
            summary.failed.append(failed)
            yield failed
            continue
        n = float(np.prod(image.data.shape))
        formats = {k: describe_output(p, out_dtype if k == "denoised" else np.float32, image.axes,
                                      n * (out_dtype.itemsize if k == "denoised" else 4))
                   for k, p in paths.items()}
        done = FileDone(i, job.input, paths, time.perf_counter() - t0, formats)
        summary.done.append(done)
        yield done
    summary.elapsed_s = time.perf_counter() - start
    return summary


__all__ = ["BatchSummary", "FORMATS", "FileDone", "FileFailed", "FileJob", "FileStarted",
           "denoise_files", "expand_inputs", "plan_outputs", "prepare_folders", "stem"]
