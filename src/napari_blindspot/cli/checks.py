"""Checks the ``blindspot`` command runs before any work: a bad request costs seconds, not
an hour of training, and nothing the user has is ever replaced by mistake.

* option values that no setting can use (``--minutes inf``, ``--tile-size 0``, ``--seed -1``):
  the limits of the settings' declarations (:mod:`..engine.settings`, each method's own);
* input files: they exist, are files, can be read; the ``--config`` file is JSON with known
  settings;
* output files: none is, is inside or contains one of the inputs (also through a symbolic or
  hard link), no two are the same file or nested, their folders exist and can be written
  to, an existing file is replaced only with ``--overwrite``, and an existing folder only
  when it is an earlier result of ours (:mod:`..io.ownership`);
* once the image is read: the output pixel type can be written, the outputs fit on the disk.

Every check raises :class:`~.engine.errors.BlindspotError` with one line that names the
option, the problem and the fix.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import json
import math
import os
import shutil
from typing import Any

import numpy as np

from ..engine import BlindspotError, ConfigError, DataError, Setting, TrainConfig
from ..engine.atomic import resolve_target, same_file, temporary_name
from ..engine.errors import OutputError
from ..engine.system.memory import format_bytes
from ..engine.path_rules import check_apart
from ..engine.system.device import available_cores
from .common import info
from .options import dest, flagged_settings, option_of
from ..io.tiff import IMAGEJ_DTYPES, OME_DTYPES, check_readable, tiff_format

#: The most pixels the demo's sample may have (``--frames`` x ``--size``^2): about 256 MiB a copy.
DEMO_PIXELS = 64 * 1024 * 1024
#: The longest training ``--minutes`` asks for: a month.
MAX_MINUTES = 31 * 24 * 60
#: Integer options that are no training setting: (attribute, flag, smallest value, largest value,
#: why); each sizes a resource (processes, memory), so each has bounds.
_INTEGERS = (("workers", "--workers", 1, None, ""),
             ("frames", "--frames", 1, 1000, "the sample would not fit in memory"),
             ("size", "--size", 32, 4096, "the sample would not fit in memory"))


def option_problem(setting: Setting, value: Any) -> str | None:
    """Why the option of ``setting`` cannot take ``value`` (one line naming the option and the
    fix), from the setting's declaration; None if it can."""
    flag = setting.flag
    if not setting.validated or value is None:
        return None
    lo, hi = setting.minimum, setting.maximum
    if setting.kind == "int":
        if hi is not None and not setting.why and lo is not None and not lo <= value <= hi:
            return f"{flag} {value} is out of range: give an integer from {int(lo)} to {int(hi)}."
        if lo is not None and value < lo:
            unbounded = setting.nullable and hi is None  # e.g. --threads: left out, all cores
            return (f"{flag} {value} is too small: give an integer of at least {int(lo)}"
                    + (" (or leave it out)." if unbounded else "."))
        if hi is not None and value > hi:
            return f"{flag} {value} is too large ({setting.why}): give at most {int(hi):,}."
        step = setting.multiple_of
        if step and value % step:
            below = value // step * step or int(lo or step)
            return f"{flag} {value} is not a multiple of {step}: try {below} or {(value // step + 1) * step}."
    elif setting.value_type is float and lo is not None and hi is not None and setting.problem(value):
        return f"{flag} {value} is out of range: give a number in {setting.interval()}."
    return None


def with_option(exc: ConfigError) -> ConfigError:
    """``exc`` with the command-line option of its setting named, e.g. ``(--batch-size)``."""
    option = option_of().get(getattr(exc, "setting", ""), "")
    if option and option not in str(exc):
        new = ConfigError(f"{exc} (option {option})")
        new.setting = exc.setting  # type: ignore[attr-defined]
        return new
    return exc


# ------------------------------------------------------------------ options
def check_options(args: argparse.Namespace) -> None:
    """Refuse option values no setting can use, naming the option (the limits are the settings'
    declared ones, :func:`option_problem`)."""
    for setting in flagged_settings():
        problem = option_problem(setting, getattr(args, dest(setting), None))
        if problem:
            raise ConfigError(problem)
    for attr, flag, lo, hi, why in _INTEGERS:
        value = getattr(args, attr, None)
        if value is not None and value < lo:
            raise ConfigError(f"{flag} {value} is too small: give an integer of at least {lo}"
                              + (" (or leave it out)." if attr == "workers" else "."))
        if value is not None and hi is not None and value > hi:
            raise ConfigError(f"{flag} {value} is too large ({why}): give at most {hi:,}.")
    frames, size = getattr(args, "frames", None), getattr(args, "size", None)
    if frames is not None and size is not None and frames * size * size > DEMO_PIXELS:
        raise ConfigError(f"--frames {frames} --size {size} is a sample of {frames * size * size:,} "
                          f"pixels, more than the demo's {DEMO_PIXELS:,} (it holds several float "
                          "copies in memory): lower --frames or --size.")
    cores = available_cores()
    for attr, flag, what in (("threads", "--threads", "threads"), ("workers", "--workers",
                                                                       "worker processes")):
        value = getattr(args, attr, None)
        if value is not None and value > cores:
            info(f"{flag} {value}: this machine lets the run use {cores} core"
                 f"{'s' if cores != 1 else ''}; using {cores} {what}.")
            setattr(args, attr, cores)
    minutes = getattr(args, "minutes", None)
    if minutes is not None and not (math.isfinite(minutes) and minutes > 0):
        raise ConfigError(f"--minutes {minutes} is not a training time: give a positive, finite "
                          "number of minutes (e.g. --minutes 10).")
    if minutes is not None and minutes > MAX_MINUTES:
        raise ConfigError(f"--minutes {minutes:g} is too large (years of training): give at most "
                          f"{MAX_MINUTES:,} (a month).")
    sigma = getattr(args, "noise_sigma", None)  # > 0 with the known-sigma model: a rule between settings
    if sigma is not None and not (math.isfinite(sigma) and sigma > 0):
        raise ConfigError(f"--noise-sigma {sigma} is not a noise level: give the noise standard "
                          "deviation in the image's intensity units, a positive finite number.")


def load_config_file(path: str) -> dict[str, Any]:
    """The settings of a ``--config`` JSON file; raises :class:`ConfigError` with the fix."""
    if os.path.isdir(path):
        raise ConfigError(f"--config {path!r} is a folder: give a JSON file.")
    if not os.path.isfile(path):
        raise ConfigError(f"--config file {path!r} does not exist: check the path.")
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except OSError as exc:
        raise ConfigError(f"--config file {path!r} cannot be read: {exc.strerror}.") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"--config file {path!r} is not valid JSON ({exc}): fix it, or write "
                          'one like {"batch_size": 8, "patch_size": 64}.') from exc
    if not isinstance(data, dict):
        raise ConfigError(f"--config file {path!r} must hold a JSON object of settings, like "
                          '{"batch_size": 8}, not a ' + type(data).__name__ + ".")
    known = TrainConfig.setting_names()
    for key in data:
        if key not in known:
            text = str(key).lower().replace("-", "_")
            close = ([k for k in known if k.startswith(text)] or [k for k in known if text in k]
                     or difflib.get_close_matches(text, known, n=1))
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ConfigError(f"--config file {path!r} has an unknown setting {key!r}: {hint}"
                              f"known settings are {', '.join(known)}.")
    return data


# ------------------------------------------------------------------ files
def check_input(flag: str, path: str) -> None:
    """Refuse an input that is missing, a folder, unreadable or empty.  ``flag``: the option
    (``--model``...), or ``IMAGE`` / ``MODEL`` for the positional arguments."""
    if flag == "IMAGE":
        check_readable(path)  # the image's own wording ("Input file ... does not exist")
        return
    what = "Model file" if flag == "MODEL" else f"{flag} file"
    if os.path.isdir(path):
        if flag in ("MODEL", "--model") and os.path.isfile(os.path.join(path, "rdf.yaml")):
            return  # an unpacked bioimage.io package
        raise DataError(f"{what} {path!r} is a folder" + (
            " without a bioimage.io package (rdf.yaml) in it: give a .safetensors model, or a "
            "package (.zip, folder or rdf.yaml)." if flag in ("MODEL", "--model")
            else ": give the file itself."))
    if not os.path.exists(path):
        raise DataError(f"{what} {path!r} does not exist: check the path.")
    if not os.access(path, os.R_OK):
        raise DataError(f"{what} {path!r} cannot be read (permission denied): check its permissions.")
    if os.path.getsize(path) == 0:
        raise DataError(f"{what} {path!r} is empty (0 bytes): copy it again.")


def _folder_writable(folder: str) -> bool:
    """Whether a file can be created in ``folder`` (tried: permissions, read-only mounts, ACLs)."""
    if not os.access(folder, os.W_OK | os.X_OK):
        return False
    probe = temporary_name(os.path.join(folder, "write-test"))
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError:
        return False
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(probe)
    return True


def check_output(flag: str, path: str, overwrite: bool) -> None:
    """Refuse an output whose folder is missing or read-only, that is a folder, or that
    exists (unless ``overwrite``)."""
    target = resolve_target(path)
    if os.path.isdir(target):
        raise ConfigError(f"{flag} {path!r} is a folder: give a file name (e.g. "
                          f"{os.path.join(path, 'denoised.tif')!r}).")
    folder = os.path.dirname(target)
    if not os.path.isdir(folder):
        raise ConfigError(f"{flag} {path!r}: the folder {folder!r} does not exist; create it first "
                          "or choose another folder.")
    if not _folder_writable(folder):
        raise ConfigError(f"{flag} {path!r}: cannot write into the folder {folder!r} (permission "
                          "denied or read-only); choose a folder you can write to.")
    if os.path.lexists(path) and not overwrite:
        raise ConfigError(f"{flag} {path!r} already exists: choose another name, or add "
                          "--overwrite to replace it.")


def check_paths(inputs: list[tuple[str, str]], outputs: list[tuple[str, str]],
                overwrite: bool) -> None:
    """Check ``inputs`` and ``outputs`` (``(flag, path)`` pairs; None paths skipped)."""
    inputs = [(f, p) for f, p in inputs if p]
    outputs = [(f, p) for f, p in outputs if p]
    for flag, path in inputs:
        check_input(flag, path)
    check_apart(outputs, inputs)
    for flag, path in outputs:
        check_output(flag, path, overwrite)


def check_demo_folder(out: str, names: tuple[str, ...]) -> None:
    """The demo's ``--out`` folder: created if missing; its own files ``names`` may be replaced."""
    if os.path.exists(out) and not os.path.isdir(out):
        raise ConfigError(f"--out {out!r} is a file, not a folder: choose a folder name.")
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"--out {out!r}: cannot create the folder ({exc.strerror}); choose "
                          "another place.") from None
    check_paths([], [("--out", os.path.join(out, n)) for n in names], overwrite=True)


def check_target(image: str, target: str | None, option: str = "--target") -> None:
    """A second acquisition (Noise2Noise's ``--target``, HQ-SSL's ``--noise-from``) must not be
    the input itself."""
    if target and same_file(image, target):
        use = "Noise2Noise needs" if option == "--target" else "measuring the noise needs"
        raise ConfigError(f"{option} {target!r} is the input image itself: {use} a "
                          "second, independent acquisition of the same scene.")


# ------------------------------------------------------------------ after reading the image
def output_dtype(choice: str, input_dtype: np.dtype) -> np.dtype:
    """The pixel type ``--dtype choice`` writes for an input of ``input_dtype``; refuses one
    that TIFF output cannot hold."""
    dtype = np.dtype(np.float32) if choice == "float32" else np.dtype(input_dtype)
    if tiff_format(dtype) is None:
        raise DataError(f"--dtype input: the input's pixel type {dtype} cannot be written to TIFF "
                        "(supported: " + ", ".join(t.name for t in IMAGEJ_DTYPES + OME_DTYPES)
                        + "); use --dtype float32.")
    return dtype


def check_free_space(outputs: list[tuple[str, float]]) -> None:
    """Refuse when ``(path, bytes)`` outputs clearly do not fit on their disks."""
    need: dict[int, tuple[str, float]] = {}
    for path, size in outputs:
        folder = os.path.dirname(resolve_target(path))
        try:
            dev = os.stat(folder).st_dev
        except OSError:
            continue
        old = need.get(dev, (folder, 0.0))
        need[dev] = (folder, old[1] + size)
    for folder, size in need.values():
        try:
            free = shutil.disk_usage(folder).free
        except OSError:
            continue
        if size > free:
            raise OutputError(f"The results need about {format_bytes(size)} but the disk holding "
                              f"{folder!r} has {format_bytes(free)} free: free some space or write "
                              "to another disk.")


__all__ = ["check_free_space", "check_options", "check_paths", "check_target", "load_config_file",
           "output_dtype", "same_file", "with_option", "BlindspotError"]
