"""Export of the results as TIFF (a mixin of the controller), and what the source pixel type
does to them.

The result layers keep float values: a denoised uint8 image may reach 279 (the network's
estimate of the mean can pass the brightest recorded value, e.g. near saturation).  Exported
as the source's pixel type they are rounded and clipped to its range, and the message says how
many pixels were clipped, to what, and that float32 keeps them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..io.chunks import Clipped
from .layers import export_results, export_source, find_result, layer_data


def clipping_note(layer: Any, dtype: str) -> str:
    """What exporting ``layer`` (a ``[denoised]`` layer) as ``dtype`` clips, e.g. `` 312
    pixels (0.1%) above 255 (up to 279.4) were clipped to 255 in the uint8 file: export float32
    to keep them.``; empty when nothing is clipped."""
    if layer is None or dtype != "source":
        return ""
    out = np.dtype((layer.metadata.get("blindspot") or {}).get("source_dtype", "float32"))
    if out.kind not in "ui":
        return ""
    clipped = Clipped(out)  # the same count and words as the command line's writers
    clipped.add(np.asarray(layer_data(layer)))
    note = clipped.note()
    return f" {note} in the {out.name} file: export float32 to keep them." if note else ""


class ResultExport:
    """``export`` for :class:`~.controller.DenoiseController` (its viewer, ``reporting``,
    ``say``)."""

    viewer: Any
    reporting: Any
    say: Any

    def export(self, layer: Any, path: str | Path | None = None, dtype: str = "float32",
               ask: Callable[[str], str | None] | None = None) -> list[Path] | None:
        """Write ``layer``'s denoised (and uncertainty) layers as ImageJ TIFF.

        ``layer``: the source layer or one of its results; ``dtype``: ``"float32"`` or
        ``"source"`` (rounded and clipped to the source's range: the message says what was
        clipped); without ``path``, ``ask(suggested_name)`` gives the file.
        """
        with self.reporting("exporting"):
            source_name = export_source(self.viewer, layer)
            chosen = path if path is not None else (ask(f"{source_name}_denoised.tif") if ask else None)
            if not chosen:
                return None
            written = export_results(self.viewer, source_name, chosen, dtype)
            note = clipping_note(find_result(self.viewer, source_name, "denoised"), dtype)
            self.say("Wrote " + " and ".join(str(p) for p in written) + "." + note,
                     "warning" if note else "info")
            return written
        return None
