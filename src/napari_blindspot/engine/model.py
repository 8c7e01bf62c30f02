"""A trained denoising model: network, configuration, normalisation, learned noise parameters."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from .axes import CanonicalView, check_axes
from .config import ALL_CHANNELS_AT_ONCE, TrainConfig, network_channels
from .device import autocast, autocast_dtype, default_tile_batch, place_network, select_device
from .errors import AxesError, ConfigError, DataError
from .events import PredictedBlock, PredictionProgress, run_to_end
from .methods.base import Method
from .methods.registry import get_method
from .model_file import load_network, save_model
from .nets.per_channel import channel_network
from .noise_curves import ChannelNoiseCurve, channel_curves, noise_table
from .normalization import Normalization, check_finite
from .memory import PredictionPlan, bytes_per_pixel, plan_prediction
from .threads import ThreadTuner
from .tiling import Slab, minimal_tile, predict_slabs, predict_whole

log = logging.getLogger(__name__)

#: What a 2D model applied to data with a Z axis does, and what would do better.
SLICE_BY_SLICE = ("Denoised slice by slice (a 2D model on axes {axes}). A 3D model (blindspot train "
                  "--3d, or 3D in the widget) would use the context across Z.")

PredictionResult = dict[str, np.ndarray]


@dataclass(frozen=True)
class PredictionUnit:
    """One part of a prediction: canonical sample ``sample``, data ``channel`` (independent-
    channel models; None: all channels) and optionally only ``rows=(start, stop)`` of its first
    spatial axis (Y in 2D, Z in 3D)."""

    sample: int
    channel: int | None = None
    rows: tuple[int, int] | None = None


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


def check_prediction_options(*, tile_size: Any = None, tile_size_z: Any = None,
                             tile_batch: Any = None) -> None:
    """Raise :class:`ConfigError` for tile settings that cannot work (None: the model's)."""
    for name, value, lo in (("tile_size", tile_size, 16), ("tile_size_z", tile_size_z, 4),
                            ("tile_batch", tile_batch, 1)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lo:
            raise ConfigError(f"Invalid {name}={value!r}: must be an integer >= {lo}, or None for "
                              "the model's setting" + (" (--tile-size)" if name == "tile_size" else "")
                              + ".")


def check_result(result: dict[str, np.ndarray], sample: int) -> None:
    """Raise :class:`DataError` if a prediction came out NaN or infinite (an unusable model)."""
    for key, value in result.items():
        if not np.isfinite(value).all():
            bad = int(value.size - np.count_nonzero(np.isfinite(value)))
            raise DataError(f"The model produced {bad} NaN or infinite value(s) in sample {sample} "
                            f"({'the denoised image' if key == 'denoised' else 'the uncertainty'}): "
                            "it is unusable (its training diverged, or its file is damaged); "
                            "retrain it. Nothing was written.")


@dataclass
class DenoisingModel:
    """A trained network with everything needed to apply it.

    ``net`` works in normalised intensity units; :meth:`predict` handles axes,
    normalisation, tiling and conversion back to the input's intensity units.
    """

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
        model; see :mod:`.noise_curves`."""
        return channel_curves(getattr(self.net, "noise", None), self.normalization,
                              self.info.get("noise_calibration") or [], self.channels)

    def _infer_fn(self, channel: int | None = None) -> Callable[[torch.Tensor], dict[str, torch.Tensor]]:
        """The network's inference on batches of data channel ``channel`` (independent-channel
        models; None: all channels at once)."""
        device = self.device
        dtype = autocast_dtype(device) if self.config.mixed_precision else None
        net = self.net if channel is None else channel_network(self.net, channel)  # separate: its own

        def infer(x: torch.Tensor) -> dict[str, torch.Tensor]:
            channels = None if channel is None else torch.full((x.shape[0],), int(channel))
            with autocast(device, dtype):
                return self.method.infer(net, x, channels)

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
        return SLICE_BY_SLICE.format(axes=axes)

    def view(self, data: Any, axes: str | None = None) -> CanonicalView:
        """The canonical view prediction works on (axes default: the training axes); checks
        the image and its channel count against the model."""
        return self._view(data, axes)

    def prediction_units(self, view: CanonicalView) -> list[PredictionUnit]:
        """The parts prediction of ``view`` is done in, in order: every sample, and for
        independent-channel models every data channel of it."""
        channels = [None] if self.config.channels in ALL_CHANNELS_AT_ONCE else range(view.n_channels)
        return [PredictionUnit(s, c) for s in range(view.n_samples) for c in channels]

    def _tile_shape(self, tile_size: int | None, tile_size_z: int | None) -> tuple[int, ...]:
        ts = tile_size or self.config.tile_size
        return (tile_size_z or self.config.tile_size_z, ts, ts) if self.config.train_3d else (ts, ts)

    def predict_stream(self, data: Any, axes: str | None = None, *,
                       units: Sequence[PredictionUnit] | None = None, tile_size: int | None = None,
                       tile_size_z: int | None = None, tile_batch: int | None = None,
                       tta: bool = False, uncertainty: bool = False, result_in_memory: bool = False,
                       ) -> Generator[PredictionProgress | PredictedBlock, None, None]:
        """Denoise ``data`` (axes ``axes``, default the training axes) tile row by tile row,
        yielding the result as it is finished.

        Yields :class:`PredictedBlock` for every finished part of a sample (write it with
        ``self.view(data, axes).write(out, b.sample, b.denoised, b.channel, rows=(b.start, b.stop))``)
        and :class:`PredictionProgress` after every batch of tiles.  ``units`` (default
        :meth:`prediction_units`) names the samples, channels and row ranges to predict;
        a unit's rows give bit-identical values to the same rows of the whole sample.  The
        source is read a tile row at a time (any array-like: numpy, memmap, zarr, dask), so
        memory is bounded by one tile row of one sample, whatever the size of the image.
        The memory guard (:func:`.memory.plan_prediction`) shrinks the tiles in flight to fit;
        ``result_in_memory=True`` says the caller assembles the whole result in memory, so that
        the guard refuses an image whose result cannot fit.  Closing the generator cancels.
        """
        check_prediction_options(tile_size=tile_size, tile_size_z=tile_size_z, tile_batch=tile_batch)
        view = self._view(data, axes)
        warning = self.slice_warning(view.axes)
        if warning is not None and view.axes not in self._warned_axes:
            self._warned_axes.add(view.axes)
            log.warning(warning)
        cfg = self.config
        want = ("denoised", "std") if (uncertainty and self.has_uncertainty) else ("denoised",)
        units = self.prediction_units(view) if units is None else list(units)
        multiple = self.method.size_multiple(cfg)
        margin = self.method.receptive_radius(cfg)
        plan = self._plan(view, self._tile_shape(tile_size, tile_size_z),
                          tile_batch or cfg.tile_batch or default_tile_batch(self.device),
                          len(want), multiple, margin, tta, result_in_memory)
        start = time.perf_counter()
        # on a CPU, the thread count follows the load, up to the count the caller set
        tuner = ThreadTuner(torch.get_num_threads()) if self.device.type == "cpu" else None
        try:
            yield from self._stream_units(view, units, plan, want, multiple, margin, tta, start, tuner)
        finally:
            if tuner is not None:
                tuner.restore()

    def _stream_units(self, view: CanonicalView, units: list, plan: Any, want: tuple[str, ...],
                      multiple: int, margin: int, tta: bool, start: float,
                      tuner: ThreadTuner | None) -> Generator[PredictionProgress | PredictedBlock, None, None]:
        for i, unit in enumerate(units):
            s, c = unit.sample, unit.channel

            def read_rows(a: int, b: int, s: int = s, c: int | None = c) -> np.ndarray:
                region = (slice(a, b),) + tuple(slice(None) for _ in view.spatial_axes[1:])
                block = view.read(s, region, private=True)  # normalised in place below
                check_finite(block, f"sample {s}")
                if c is not None:
                    block = block[c:c + 1]  # a contiguous view: the channel axis comes first
                return self.normalization.normalize(block, c, inplace=True)

            infer = self._infer_fn(c) if tuner is None else tuner.timed(self._infer_fn(c))
            gen = predict_slabs(infer, read_rows, view.spatial_shape,
                                tile_shape=plan.tile_shape, multiple=multiple, margin=margin,
                                batch_size=plan.tile_batch,
                                device=self.device, tta=tta, keys=want,
                                pad_mode=self.method.pad_mode, rows=unit.rows)
            try:
                for ev in gen:
                    if isinstance(ev, Slab):
                        with np.errstate(over="ignore", invalid="ignore"):  # overflow: refused below
                            done = {"denoised": self.normalization.denormalize(
                                ev.outputs["denoised"], c, inplace=True)}
                            if "std" in ev.outputs:
                                done["std"] = self.normalization.scale_std(ev.outputs["std"], c)
                        check_result(done, s)
                        yield PredictedBlock(s, c, ev.start, ev.stop, done["denoised"], done.get("std"))
                    else:
                        frac = (i + ev.done / max(ev.total, 1)) / len(units)
                        yield PredictionProgress(int(round(frac * 1000)), 1000,
                                                 time.perf_counter() - start)
            finally:
                gen.close()

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
        view = self._view(data, axes)
        outputs: dict[str, np.ndarray] = {}
        for ev in self.predict_stream(data, axes, tile_size=tile_size, tile_size_z=tile_size_z,
                                      tile_batch=tile_batch, tta=tta, uncertainty=uncertainty,
                                      result_in_memory=True):
            if isinstance(ev, PredictedBlock):
                for key, block in ev.outputs.items():
                    if key not in outputs:
                        outputs[key] = view.empty_like_source(np.float32)
                    view.write(outputs[key], ev.sample, block, ev.channel, rows=(ev.start, ev.stop))
            else:
                yield ev
        return outputs

    def _plan(self, view: CanonicalView, tile_shape: tuple[int, ...], tile_batch: int, n_out: int,
              multiple: int, margin: int, tta: bool, result_in_memory: bool = True) -> PredictionPlan:
        """Tiles and tiles in flight that fit into memory (see :func:`.memory.plan_prediction`)."""
        if self._bytes_per_pixel is None:
            probe_channels = (None if self.config.channels in ALL_CHANNELS_AT_ONCE
                              else torch.zeros(1, dtype=torch.long))
            self._bytes_per_pixel = bytes_per_pixel(
                self.net, lambda net, b: self.method.infer(net, b[0], probe_channels), self.net_channels, 1,
                tile_shape, multiple, self.device, lambda: autocast(self.device, autocast_dtype(self.device)
                                                                    if self.config.mixed_precision else None),
                train=False)
        # a tile row's input rows and blended sums (up to two tile rows' worth of buffer)
        rows = min(view.spatial_shape[0], 2 * tile_shape[0])
        pixels = float(rows * np.prod(view.spatial_shape[1:]))
        result_bytes = 4.0 * n_out * float(np.prod(view.data.shape)) if result_in_memory else 0.0
        sample_bytes = 4.0 * pixels * (2 * view.n_channels + n_out * view.n_channels + 1)
        return plan_prediction(self._bytes_per_pixel, tile_shape, tile_batch, result_bytes,
                               sample_bytes, minimal_tile(margin, multiple), self.device, tta)

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
        x = self.normalization.normalize(np.asarray(block, np.float32), channel)
        was_training = self.net.training
        self.net.eval()
        try:
            out = predict_whole(self._infer_fn(channel), x, self.device)
        finally:
            self.net.train(was_training)
        res = {"denoised": self.normalization.denormalize(out["denoised"], channel)}
        if "std" in out:
            res["uncertainty"] = self.normalization.scale_std(out["std"], channel)
        return res

    # ------------------------------------------------------------ files
    def save(self, path: str) -> None:
        """Write the model to one ``.safetensors`` file (see :mod:`.model_file`)."""
        save_model(self, path)

    @classmethod
    def load(cls, path: str, device: str = "auto") -> "DenoisingModel":
        """Load a model file written by :meth:`save` onto ``device`` (bioimage.io packages:
        :func:`napari_blindspot.engine.load_model`)."""
        return cls(*load_network(path, device=device))
