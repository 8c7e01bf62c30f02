"""Axes strings and the canonical view of an image.

An axes string names every array dimension with one letter from ``STZYXC``:
``S`` samples, ``T`` time, ``Z`` depth, ``Y``/``X`` rows/columns, ``C`` channels
(for example ``"YX"``, ``"TYX"``, ``"ZYX"``, ``"CYX"``, ``"TZCYX"``, ``"YXC"``).

The engine works on a *canonical view*: a sequence of samples, each of shape
``(C, Y, X)`` for 2D training or ``(C, Z, Y, X)`` for 3D training.  Every axis
that is not spatial or a channel (S, T, and Z unless training in 3D) becomes a
sample axis.  Reading is lazy: only the requested block of the source array
(numpy, dask, zarr, memmap...) is read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import AxesError

VALID_AXES = "STZYXC"


def parse_axes(axes: str) -> str:
    """Validate an axes string on its own and return it upper-cased.

    Raises
    ------
    AxesError
        If a letter is not one of ``STZYXC``, repeats, or Y or X is missing.
    """
    if not isinstance(axes, str) or not axes:
        raise AxesError(f"Axes must be a non-empty string such as 'YX' or 'TZYX', got {axes!r}.")
    up = axes.upper()
    bad = sorted({a for a in up if a not in VALID_AXES})
    if bad:
        raise AxesError(f"Axes {axes!r} contain unknown letter(s) {''.join(bad)!r}: use only "
                        f"S (sample), T (time), Z, Y, X and C (channel), e.g. 'TYX' or 'ZCYX'.")
    repeated = sorted({a for a in up if up.count(a) > 1})
    if repeated:
        raise AxesError(f"Axes {axes!r} name {''.join(repeated)!r} more than once.")
    if "Y" not in up or "X" not in up:
        raise AxesError(f"Axes {axes!r} must contain both Y and X.")
    return up


def check_axes(axes: str, shape: tuple[int, ...]) -> str:
    """Validate ``axes`` against an array ``shape``; return the upper-cased axes."""
    up = parse_axes(axes)
    if len(up) != len(shape):
        raise AxesError(f"Axes {axes!r} have {len(up)} letters but the image has {len(shape)} "
                        f"dimensions (shape {tuple(shape)}); give one letter per dimension, "
                        f"e.g. {guess_axes(shape)!r}.")
    return up


def guess_axes(shape: tuple[int, ...], rgb: bool = False) -> str:
    """A plausible axes string for an array shape (used when metadata has none).

    2D -> ``YX``; 3D -> ``ZYX`` (``YXC`` when ``rgb`` or the last axis has 3/4 entries
    and ``rgb``); 4D -> ``TZYX``; 5D -> ``TZCYX``.  Always let the user confirm.
    """
    nd = len(shape)
    if rgb:
        return {3: "YXC", 4: "ZYXC", 5: "TZYXC"}.get(nd, "S" * max(nd - 3, 0) + "YXC")
    return {1: "X", 2: "YX", 3: "ZYX", 4: "TZYX", 5: "TZCYX"}.get(nd, "S" * (nd - 5) + "TZCYX")


@dataclass(frozen=True)
class CanonicalView:
    """Lazy view of an array as samples of ``(C, [Z,] Y, X)`` float32 blocks.

    Parameters
    ----------
    data
        Any array-like with ``shape``, ``ndim`` and numpy-style indexing.
    axes
        Axes string of ``data`` (validated against its shape).
    train_3d
        If True, Z is spatial and samples are ``(C, Z, Y, X)`` volumes.
    """

    data: Any
    axes: str
    train_3d: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "axes", check_axes(self.axes, tuple(self.data.shape)))
        if self.train_3d and "Z" not in self.axes:
            raise AxesError(f"3D training needs a Z axis, but axes are {self.axes!r}.")

    # -- layout --------------------------------------------------------------
    @property
    def spatial_axes(self) -> str:
        return "ZYX" if self.train_3d else "YX"

    @property
    def sample_axes(self) -> str:
        return "".join(a for a in self.axes if a not in self.spatial_axes and a != "C")

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return tuple(self.data.shape[self.axes.index(a)] for a in self.sample_axes)

    @property
    def n_samples(self) -> int:
        return int(np.prod(self.sample_shape, dtype=np.int64)) if self.sample_shape else 1

    @property
    def n_channels(self) -> int:
        return int(self.data.shape[self.axes.index("C")]) if "C" in self.axes else 1

    @property
    def spatial_shape(self) -> tuple[int, ...]:
        return tuple(int(self.data.shape[self.axes.index(a)]) for a in self.spatial_axes)

    @property
    def ndim_spatial(self) -> int:
        return len(self.spatial_axes)

    # -- reading -------------------------------------------------------------
    def read(self, sample: int, region: tuple[slice, ...] | None = None, *,
             private: bool = False) -> np.ndarray:
        """Read one sample (optionally a spatial sub-region) as float32 ``(C, [Z,] Y, X)``.

        The result may be a view of the source data (a float32 source in canonical order);
        ``private=True`` guarantees an array of its own that may be changed in place.
        """
        if region is None:
            region = tuple(slice(None) for _ in self.spatial_axes)
        sample_index = np.unravel_index(int(sample), self.sample_shape) if self.sample_shape else ()
        index: list[Any] = []
        kept: list[str] = []
        for a in self.axes:
            if a in self.sample_axes:
                index.append(int(sample_index[self.sample_axes.index(a)]))
            elif a == "C":
                index.append(slice(None))
                kept.append(a)
            else:
                index.append(region[self.spatial_axes.index(a)])
                kept.append(a)
        raw = self.data[tuple(index)]
        block = np.asarray(raw, dtype=np.float32)
        # numpy made a new array when it converted the type; anything else may be shared
        converted = isinstance(raw, np.ndarray) and raw.dtype != np.float32
        order = ("C" if "C" in kept else "") + self.spatial_axes
        block = np.transpose(block, [kept.index(a) for a in order])
        if "C" not in kept:
            block = block[np.newaxis]
        out = np.ascontiguousarray(block)
        if private and not converted and (not isinstance(raw, np.ndarray)
                                          or np.may_share_memory(out, raw)):
            out = out.copy()
        return out

    # -- writing back --------------------------------------------------------
    def empty_like_source(self, dtype: Any = np.float32) -> np.ndarray:
        """A zero array with the source's shape (and axes order) for assembling results."""
        return np.zeros(tuple(self.data.shape), dtype=dtype)

    def write(self, out: Any, sample: int, block: np.ndarray, channel: int | None = None, *,
              rows: tuple[int, int] | None = None) -> None:
        """Write a ``(C, [Z,] Y, X)`` block back into ``out`` (source axes order).

        ``out`` is any array with the source's shape that takes numpy-style assignment (numpy,
        zarr, memmap).  With ``channel`` given, ``block`` is ``(1, [Z,] Y, X)`` and only that
        channel is written; with ``rows=(start, stop)`` the block holds only those rows of the
        first spatial axis (Y in 2D, Z in 3D).
        """
        out[self.index(sample, channel, rows)] = self.to_source_order(block, channel)

    def index(self, sample: int, channel: int | None = None,
              rows: tuple[int, int] | None = None) -> tuple[Any, ...]:
        """The source index of one sample (one data ``channel`` of it, ``rows`` of its first
        spatial axis): what :meth:`write` assigns to."""
        sample_index = np.unravel_index(int(sample), self.sample_shape) if self.sample_shape else ()
        index: list[Any] = []
        for a in self.axes:
            if a in self.sample_axes:
                index.append(int(sample_index[self.sample_axes.index(a)]))
            elif a == "C" and channel is not None:
                index.append(int(channel))
            elif rows is not None and a == self.spatial_axes[0]:
                index.append(slice(int(rows[0]), int(rows[1])))
            else:
                index.append(slice(None))
        return tuple(index)

    def to_source_order(self, block: np.ndarray, channel: int | None = None) -> np.ndarray:
        """A canonical block ``(C, [Z,] Y, X)`` transposed to the source's axes order (without
        the sample axes, and without C when ``channel`` is given or the source has none)."""
        kept = [a for a in self.axes if a not in self.sample_axes
                and not (a == "C" and channel is not None)]
        order = "C" + self.spatial_axes
        if "C" not in kept:
            block = block[0]
            order = self.spatial_axes
        return np.transpose(block, [order.index(a) for a in kept])
