"""File > Open Sample: a synthetic noisy fluorescence time-lapse and its clean version.

The data are generated procedurally by :func:`napari_blindspot.samples.fluorescence.fluorescence_timelapse`
(nuclei and filaments with Poisson-Gaussian camera noise), so they work offline.
Both functions return napari layer data tuples.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from .fluorescence import Sample, fluorescence_timelapse

FRAMES = 8
SIZE = 256


@lru_cache(maxsize=1)
def _sample() -> Sample:
    return fluorescence_timelapse(frames=FRAMES, size=SIZE, seed=0)


def _layer_kwargs(sample: Sample, name: str, **extra: Any) -> dict[str, Any]:
    # no scale and no units: synthetic pixels have no physical size, and a layer with units
    # makes napari warn ("Inconsistent units across layers") and draw the user's own images,
    # which have none, at another size next to it
    kwargs: dict[str, Any] = {
        "name": name,
        "axis_labels": tuple(sample.axes.lower()),
        "metadata": {"axes": sample.axes, "noise": dict(sample.noise)},
        "colormap": "gray",
    }
    kwargs.update(extra)
    return kwargs


def fluorescence_sample() -> list[tuple]:
    """The noisy time-lapse (uint16, axes TYX, uncalibrated pixels), one image layer."""
    s = _sample()
    return [(s.noisy, _layer_kwargs(s, "fluorescence (noisy)"), "image")]


def fluorescence_clean_sample() -> list[tuple]:
    """The clean version of :func:`fluorescence_sample` (float32), for comparison."""
    s = _sample()
    return [(s.clean, _layer_kwargs(s, "fluorescence (clean)"), "image")]
