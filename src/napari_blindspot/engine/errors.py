"""Error types raised by the engine.

Every error a user can cause (bad axes, bad data, bad model file, bad settings)
is a :class:`BlindspotError`, a subclass of :class:`ValueError`, whose message
names the problem and says how to fix it.
"""

from __future__ import annotations


class BlindspotError(ValueError):
    """Base class for user-facing errors of napari-blindspot.

    ``exit_code`` is what the ``blindspot`` command exits with: 2 for bad input or settings.
    """

    exit_code = 2


class AxesError(BlindspotError):
    """The axes string is malformed or does not match the array."""


class DataError(BlindspotError):
    """The image data cannot be used (empty, too small, NaN/inf, wrong dtype)."""


class ConfigError(BlindspotError):
    """A training or prediction setting is invalid."""


class ModelFileError(BlindspotError):
    """A model file is damaged, not a napari-blindspot model, or incompatible."""


class ResourceError(BlindspotError):
    """The machine ran short while working: memory or disk space (settings were fine)."""

    exit_code = 1


class OutputError(ResourceError):
    """A result could not be written (disk full, folder gone, read-only); the previous file,
    if any, is unchanged."""
