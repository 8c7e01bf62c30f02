"""What every model kind offers the front ends and the file pipeline: the :class:`Denoiser`
protocol.

Two kinds implement it: napari-blindspot's own :class:`~.model.DenoisingModel` (trained here,
``native``) and a bioimage.io package from another tool,
:class:`~.bioimageio.foreign.BioimageioModel`.  Callers (``blindspot denoise|info|export``,
:mod:`napari_blindspot.files`, the widget) use these members instead of asking which class a
model is.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .axes import CanonicalView
from .events import PredictedBlock, PredictedImage, PredictionProgress


@runtime_checkable
class Denoiser(Protocol):
    """A model that denoises images with axes (both kinds; see the module docstring)."""

    #: Trained by napari-blindspot: it has a :class:`~.config.TrainConfig` (``config``,
    #: ``method``), can be trained further, saved as a ``.safetensors`` model file, exported
    #: as a bioimage.io package and run on a dask cluster's workers.  False for a package
    #: from another tool (run as it is, in memory).
    native: bool
    #: Whether prediction also gives the posterior standard deviation (``"uncertainty"``).
    has_uncertainty: bool
    #: Data channels the model takes.
    channels: int
    #: What is known about the model (``steps``, ``source``...), for display.
    info: dict[str, Any]

    @property
    def ndim_spatial(self) -> int:
        """Spatial dimensions the network works in: 2 (Y, X) or 3 (Z, Y, X)."""

    def label(self) -> str:
        """A one-line summary, e.g. ``HQ-SSL 2D, 1,500 steps, axes TYX, 1 channel``."""

    def describe(self) -> list[str]:
        """The lines ``blindspot info`` prints about the model."""

    def noise_parameters(self) -> dict[str, float]:
        """Learned noise parameters in intensity units ({} when there are none)."""

    def noise_curves(self) -> list[Any]:
        """Every channel's noise curve to plot ([] when the model has no noise model)."""

    def slice_warning(self, axes: str | None = None) -> str | None:
        """What to tell the user before denoising data of ``axes`` (None: nothing)."""

    def view(self, data: Any, axes: str | None = None) -> CanonicalView:
        """The canonical view of ``data`` (axes ``axes``) that predictions are written into."""

    def predict_iter(self, data: Any, axes: str | None = None, *, tile_size: int | None = None,
                     tta: bool = False, uncertainty: bool = False,
                     ) -> Generator[PredictionProgress, None, dict[str, np.ndarray]]:
        """Denoise ``data`` in memory: yields progress, returns ``{"denoised": float32, ...}``
        with the shape of ``data``."""

    def predict(self, data: Any, axes: str | None = None, *,
                progress: Callable[[PredictionProgress], None] | None = None,
                **kwargs: Any) -> dict[str, np.ndarray]:
        """:meth:`predict_iter` run to the end (``progress`` gets every event)."""

    def predict_stream(self, data: Any, axes: str | None = None, *, tile_size: int | None = None,
                       tta: bool = False, uncertainty: bool = False,
                       ) -> Iterator[PredictionProgress | PredictedBlock | PredictedImage]:
        """Denoise ``data`` for writing into files: progress events, and the results as
        :class:`~.events.PredictedBlock` parts (as they finish) or one
        :class:`~.events.PredictedImage` (models that predict in memory)."""


__all__ = ["Denoiser"]
