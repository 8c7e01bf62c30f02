"""How an image in our axes is laid out in a file format that fixes the axes order.

ImageJ hyperstacks store ``TZCYX`` and OME-Zarr (OME-NGFF) ``TCZYX``, in that order; the
engine works in the source's own axes (any order of ``STZYXC``).  :class:`OutputLayout`
maps one to the other: the file's axes and shape, and an index plus a block in the source's
order (what :meth:`~napari_blindspot.engine.axes.CanonicalView.index` and
``to_source_order`` give) to the same index and block in the file's order.  A sample axis
``S`` becomes ``T``; when there is a ``T`` too, the two are merged into one ``T`` axis (T
outer, S inner), as :func:`~.tiff.write_tiff` does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..engine.axes import check_axes

IMAGEJ_ORDER = "TZCYX"
NGFF_ORDER = "TCZYX"


@dataclass(frozen=True)
class OutputLayout:
    """The file layout of an image with ``axes`` and ``shape`` in a format ordered ``order``."""

    axes: str
    shape: tuple[int, ...]
    order: str = IMAGEJ_ORDER

    def __post_init__(self) -> None:
        object.__setattr__(self, "axes", check_axes(self.axes, tuple(self.shape)))
        object.__setattr__(self, "shape", tuple(int(s) for s in self.shape))

    @property
    def merged(self) -> bool:
        """Whether the source has both S and T (merged into the file's T axis)."""
        return "S" in self.axes and "T" in self.axes

    @property
    def _sizes(self) -> dict[str, int]:
        """The size of every file axis, by letter (S renamed to T, or merged into it)."""
        sizes = {("T" if a == "S" else a): n for a, n in zip(self.axes, self.shape)
                 if not (a == "S" and self.merged)}
        if self.merged:
            sizes["T"] = self.shape[self.axes.index("T")] * self.shape[self.axes.index("S")]
        return sizes

    @property
    def file_axes(self) -> str:
        """The file's axes: the letters of :attr:`order` the image has, in that order."""
        return "".join(a for a in self.order if a in self._sizes)

    @property
    def file_shape(self) -> tuple[int, ...]:
        return tuple(self._sizes[a] for a in self.file_axes)

    def to_file(self, index: tuple[Any, ...], block: np.ndarray) -> tuple[tuple[Any, ...], np.ndarray]:
        """A source-order ``index`` (ints or slices, one per source axis) and the ``block``
        assigned there (the source's axes less those ``index`` takes with an int) as the
        file's index and block (file axes less those it takes with an int)."""
        if len(index) != len(self.axes):
            raise ValueError(f"index {index!r} does not fit axes {self.axes!r}")
        entries = dict(zip(self.axes, index))
        if self.merged:
            s, t = entries.pop("S"), entries["T"]
            if not (isinstance(s, (int, np.integer)) and isinstance(t, (int, np.integer))):
                raise ValueError("S and T must be single indices when they are merged")
            entries["T"] = int(t) * self.shape[self.axes.index("S")] + int(s)
        elif "S" in entries:
            entries["T"] = entries.pop("S")
        work = [("T" if a == "S" else a) for a in self.axes if not (a == "S" and self.merged)]
        block_axes = [a for a in work if not isinstance(entries[a], (int, np.integer))]
        file_axes = self.file_axes
        file_index = tuple(entries[a] for a in file_axes)
        file_block_axes = [a for a in file_axes if a in block_axes]
        out = np.transpose(block, [block_axes.index(a) for a in file_block_axes])
        return file_index, out


__all__ = ["IMAGEJ_ORDER", "NGFF_ORDER", "OutputLayout"]
