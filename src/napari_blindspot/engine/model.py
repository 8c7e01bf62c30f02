"""A trained denoising model: network, configuration, normalisation, learned noise parameters.

The model is a value: what it is, what its network computes on a batch (:meth:`DenoisingModel.infer_fn`),
its noise curves, its file.  Applying it to an image of any size (tiles, memory, streaming) is
:mod:`.prediction.pipeline`, which :meth:`DenoisingModel.predict_stream` and the other ``predict*``
methods call."""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from .axes import CanonicalView, check_axes
from .config import ALL_CHANNELS_AT_ONCE, TrainConfig, network_channels
from .system.device import autocast, autocast_dtype, place_network, select_device
from .errors import AxesError, DataError
from .events import PredictedBlock, PredictionProgress, run_to_end
from .methods.base import Method
from .methods.registry import get_method
from . import model_info
from .model_file import load_network, save_model
from .methods.hqssl.noise_curves import ChannelNoiseCurve, channel_curves, noise_table
from .nets.per_channel import channel_network
from .normalization import Normalization
from .prediction import pipeline
from .prediction.pipeline import PredictionResult, PredictionUnit
from .system.memory import bytes_per_pixel

log = logging.getLogger(__name__)

#: What a 2D model applied to data with a Z axis does, and what would do better.
SLICE_BY_SLICE = ("Denoised slice by slice (a 2D model on axes {axes}). A 3D model (blindspot train "
                  "--3d, or 3D in the widget) would use the context across Z.")
#: Added for a 2D model that started from the trained prior (HQ-SSL's CPU network).
SLICE_FROM_PRIOR = (" This model started from the trained prior, which on synthetic stacks beat 3D from "
                    "random weights at about a tenth of the CPU time (docs/zstack.md).")


def check_image(data: Any) -> None:
    """Raise :class:`DataError` for arrays that cannot be denoised (empty, non-numeric)."""
    if not hasattr(data, "shape") or not hasattr(data, "dtype"):
        raise DataError(f"The image must be an array with a shape and a pixel type (numpy, dask, "
                        f"zarr...), not a {type(data).__name__}: wrap it with numpy.asarray().")
    shape = tuple(data.shape)
    if not shape or int(np.prod(shape)) == 0:
        raise DataError(f"The image is empty (shape {shape}); open an image with pixels in it.")
    dtype = np.dtype(getattr(data, "dtype", np.float32))
    if dtype.kind not in "uif":
        raise DataError(f"Unsupported pixel type {dtype}: use integer or floating-point images "
                        "(complex, boolean and label images cannot be denoised).")


@dataclass
class DenoisingModel:
    """A trained network with everything needed to apply it.

    ``net`` works in normalised intensity units; :meth:`predict` handles axes,
    normalisation, tiling and conversion back to the input's intensity units.
    A :class:`~.denoiser.Denoiser` (``native``: trained here).
    """

    native: ClassVar[bool] = True

    config: TrainConfig
    net: nn.Module
    normalization: Normalization
    channels: int
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.method: Method = get_method(self.config)
        self._bytes_per_pixel: float | None = None  # measured once, by the memory guard
        self._warned_axes: set[str] = set()  # the slice-by-slice warning is logged once per axes
        place_network(self.net, self.device, self.ndim_spatial)
        self.net.eval()

    # ---------------------------------------------------------------- basics
    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    def to(self, device: str | torch.device) -> "DenoisingModel":
        place_network(self.net, select_device(device) if isinstance(device, str) else device,
                      self.ndim_spatial)
        return self

    @property
    def ndim_spatial(self) -> int:
        """Spatial dimensions the network works in: 3 for 3D models, else 2."""
        return 3 if self.config.train_3d else 2

    @property
    def has_uncertainty(self) -> bool:
        return self.method.has_uncertainty

    @property
    def net_channels(self) -> int:
        return network_channels(self.config.channels, self.channels)

    def noise_parameters(self) -> dict[str, float]:
        """Learned noise parameters in the image's intensity units (HQ-SSL), else ``{}``."""
        return self.method.noise_parameters(self.net, self.normalization)

    def noise_curve(self, channel: int = 0, points: int = 24) -> dict[str, np.ndarray] | None:
        """The noise curve of data channel ``channel`` (HQ-SSL), intensity units, float64 ``(N,)``:
        ``signal``, the model's ``variance`` there and, when the model was calibrated,
        ``measured`` (the calibration's own points) and, after a refit, ``refit`` (the curve the
        posterior uses).  None for models without a noise model."""
        return noise_table(getattr(self.net, "noise", None), self.normalization,
                           self.info.get("noise_calibration") or [], channel, points)

    def noise_curves(self) -> list[ChannelNoiseCurve]:
        """Every data channel's noise curve to plot (HQ-SSL), [] for models without a noise
        model; see :mod:`.methods.hqssl.noise_curves`."""
        return channel_curves(getattr(self.net, "noise", None), self.normalization,
                              self.info.get("noise_calibration") or [], self.channels)

    def label(self) -> str:
        """E.g. ``HQ-SSL 2D, 1,500 steps, axes TYX, 1 channel``."""
        return model_info.summary(self)

    def describe(self) -> list[str]:
        """The lines ``blindspot info`` prints (:mod:`.model_info`)."""
        return model_info.describe(self)

    @property
    def shares_tta(self) -> bool:
        """Whether a test-time augmentation shares network passes between its transforms."""
        return self.method.shares_tta(self.config)

    def infer_fn(self, channel: int | None = None) -> Callable[[torch.Tensor], dict[str, torch.Tensor]]:
        """The network's inference on normalised batches ``(B, C, [Z,] Y, X)`` of data channel
        ``channel`` (independent-channel models; None: all channels at once), in the model's
        precision: ``{"denoised": ..., ["std": ...]}`` tensors, normalised units."""
        device = self.device
        dtype = autocast_dtype(device) if self.config.mixed_precision else None
        net = self.net if channel is None else channel_network(self.net, channel)  # separate: its own

        def infer(x: torch.Tensor) -> dict[str, torch.Tensor]:
            channels = None if channel is None else torch.full((x.shape[0],), int(channel))
            with autocast(device, dtype):
                return self.method.infer(net, x, channels)

        def with_tta(x: torch.Tensor, transforms: tuple[tuple[int, bool], ...]) -> dict[str, torch.Tensor] | None:
            channels = None if channel is None else torch.full((x.shape[0],), int(channel))
            with autocast(device, dtype):
                return self.method.infer_tta(net, x, transforms, channels)

        if self.method.shares_tta(self.config):  # tiling.infer_with_tta
            infer.with_tta = with_tta  # type: ignore[attr-defined]
        return infer

    def _view(self, data: Any, axes: str | None) -> CanonicalView:
        check_image(data)
        if axes is None:
            if len(data.shape) != len(self.config.axes):
                raise AxesError(f"The image has {len(data.shape)} dimensions but the model was trained "
                                f"on axes {self.config.axes!r}: give the image's axes explicitly.")
            axes = self.config.axes
        axes = check_axes(axes, tuple(data.shape))
        if self.config.train_3d and "Z" not in axes:
            raise AxesError(f"The model is 3D (trained on Z, Y, X volumes, axes {self.config.axes!r}) "
                            f"but the image has no Z axis (axes {axes!r}): denoise it with a 2D model, "
                            "or give its axes with Z if it has one.")
        view = CanonicalView(data, axes, self.config.train_3d)
        if view.n_channels != self.channels:
            raise DataError(f"The model was trained on {self.channels} channel(s) but the image has "
                            f"{view.n_channels} (axes {axes!r}); use a matching image or retrain.")
        return view

    # ------------------------------------------------------------ prediction
    def slice_warning(self, axes: str | None = None) -> str | None:
        """What to tell the user before denoising data of ``axes`` (default the training axes):
        a 2D model on data with a Z axis denoises it slice by slice; None otherwise (3D models,
        data without Z such as TYX)."""
        axes = (axes or self.config.axes).upper()
        if self.config.train_3d or "Z" not in axes:
            return None
        note = SLICE_BY_SLICE.format(axes=axes)
        return note + SLICE_FROM_PRIOR if self.info.get("warm_start") else note

    def view(self, data: Any, axes: str | None = None) -> CanonicalView:
        """The canonical view prediction works on (axes default: the training axes); checks
        the image and its channel count against the model."""
        return self._view(data, axes)

    def log_slice_warning(self, axes: str) -> None:
        """Log :meth:`slice_warning` for data of ``axes``, once per axes and model."""
        warning = self.slice_warning(axes)
        if warning is not None and axes not in self._warned_axes:
            self._warned_axes.add(axes)
            log.warning(warning)

    def prediction_units(self, view: CanonicalView) -> list[PredictionUnit]:
        """The parts prediction of ``view`` is done in, in order: every sample, and for
        independent-channel models every data channel of it."""
        return pipeline.prediction_units(self, view)

    def inference_bytes_per_pixel(self, tile_shape: tuple[int, ...], multiple: int) -> float:
        """Bytes of memory the network's inference holds per input pixel, measured once per
        model on a probe tile of ``tile_shape`` (see :func:`.system.memory.bytes_per_pixel`)."""
        if self._bytes_per_pixel is None:
            probe_channels = (None if self.config.channels in ALL_CHANNELS_AT_ONCE
                              else torch.zeros(1, dtype=torch.long))
            self._bytes_per_pixel = bytes_per_pixel(
                self.net, lambda net, b: self.method.infer(net, b[0], probe_channels), self.net_channels, 1,
                tile_shape, multiple, self.device, lambda: autocast(self.device, autocast_dtype(self.device)
                                                                    if self.config.mixed_precision else None),
                train=False)
        return self._bytes_per_pixel

    def predict_stream(self, data: Any, axes: str | None = None, *,
                       units: Sequence[PredictionUnit] | None = None, tile_size: int | None = None,
                       tile_size_z: int | None = None, tile_batch: int | None = None,
                       tta: bool = False, uncertainty: bool = False, result_in_memory: bool = False,
                       ) -> Generator[PredictionProgress | PredictedBlock, None, None]:
        """Denoise ``data`` (axes ``axes``, default the training axes) tile row by tile row,
        yielding the result as it is finished (:func:`.prediction.pipeline.predict_stream`).

        Yields :class:`PredictedBlock` for every finished part of a sample (write it with
        ``self.view(data, axes).write(out, b.sample, b.denoised, b.channel, rows=(b.start, b.stop))``)
        and :class:`PredictionProgress` after every batch of tiles.  ``units`` (default
        :meth:`prediction_units`) names the samples, channels and row ranges to predict;
        a unit's rows give bit-identical values to the same rows of the whole sample.  The
        source is read a tile row at a time (any array-like: numpy, memmap, zarr, dask), so
        memory is bounded by one tile row of one sample, whatever the size of the image.
        The memory guard (:func:`.system.memory.plan_prediction`) shrinks the tiles in flight to fit;
        ``result_in_memory=True`` says the caller assembles the whole result in memory, so that
        the guard refuses an image whose result cannot fit.  Closing the generator cancels.
        """
        return pipeline.predict_stream(self, data, axes, units=units, tile_size=tile_size,
                                       tile_size_z=tile_size_z, tile_batch=tile_batch, tta=tta,
                                       uncertainty=uncertainty, result_in_memory=result_in_memory)

    def predict_iter(self, data: Any, axes: str | None = None, *, tile_size: int | None = None,
                     tile_size_z: int | None = None, tile_batch: int | None = None,
                     tta: bool = False, uncertainty: bool = False,
                     ) -> Generator[PredictionProgress, None, PredictionResult]:
        """Denoise ``data`` (axes ``axes``, default the training axes) tile by tile, in memory.

        Yields :class:`PredictionProgress`; returns ``{"denoised": float32 array}`` with the
        shape and axes order of ``data``, in its intensity units, plus ``"uncertainty"``
        (posterior standard deviation, same units) when requested and the method has one.
        Closing the generator cancels.  (:meth:`predict_stream` assembled into arrays; stream
        instead to write results larger than memory.)
        """
        return pipeline.predict_iter(self, data, axes, tile_size=tile_size, tile_size_z=tile_size_z,
                                     tile_batch=tile_batch, tta=tta, uncertainty=uncertainty)

    def predict(self, data: Any, axes: str | None = None, *,
                progress: Callable[[PredictionProgress], None] | None = None,
                **kwargs: Any) -> PredictionResult:
        """Like :meth:`predict_iter` but runs to the end; ``progress`` gets every event."""
        gen = self.predict_iter(data, axes, **kwargs)
        return run_to_end(gen, progress)

    def denoise(self, data: Any, axes: str | None = None, **kwargs: Any) -> np.ndarray:
        """Denoised float32 image with the shape of ``data`` (see :meth:`predict_iter`)."""
        return self.predict(data, axes, **kwargs)["denoised"]

    def predict_block(self, block: np.ndarray, channel: int | None = None) -> PredictionResult:
        """Denoise one small canonical block ``(C, [Z,] Y, X)`` in one piece (previews).

        ``channel`` selects the normalisation of a single channel (and, with separate channel
        networks, its network) for independent- or separate-channel models given a ``(1, ...)``
        block.
        """
        return pipeline.predict_block(self, block, channel)

    # ------------------------------------------------------------ files
    def save(self, path: str) -> None:
        """Write the model to one ``.safetensors`` file (see :mod:`.model_file`)."""
        save_model(self, path)

    @classmethod
    def load(cls, path: str, device: str = "auto") -> "DenoisingModel":
        """Load a model file written by :meth:`save` onto ``device`` (bioimage.io packages:
        :func:`napari_blindspot.engine.load_model`)."""
        return cls(*load_network(path, device=device))
