"""Prediction with a bioimage.io model package that napari-blindspot did not write.

Such a package (a CAREamics Noise2Void export, say) is run by ``bioimageio.core``: its own
weights, architecture and pre-/postprocessing, one whole frame or volume at a time.  Its
architecture's code must be importable (a CAREamics package needs ``careamics``), unless
it has TorchScript weights.  It runs that code only when the user trusts the package
(:mod:`.trust`): otherwise its TorchScript or ONNX weights are used, or it is refused.
It must have one image input with space axes ``y, x`` (and ``z``), optional batch and
channel axes, and an output with the same axes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator
from typing import Any

import numpy as np

from ..axes import CanonicalView, check_axes
from ..system.device import select_device
from ..errors import AxesError, BlindspotError, DataError, ModelFileError
from ..events import PredictedImage, PredictionProgress, run_to_end
from .requirements import require
from .trust import CodeRefused

SPACE = ("z", "y", "x")


class BioimageioModel:
    """A foreign bioimage.io model: a :class:`~..denoiser.Denoiser` like
    :class:`~..model.DenoisingModel`, but not ``native`` (run as it is, in memory).

    ``descr`` is the validated description, ``source`` where it was read from.
    """

    has_uncertainty = False
    native = False

    def __init__(self, descr: Any, source: str, device: str = "auto", *,
                 weights_format: str | None = None, refusal: str | None = None) -> None:
        require("bioimageio.core")
        self.descr, self.source = descr, source
        #: the weights to run (None: bioimageio.core's choice; see :mod:`.trust`), and why the
        #: package may not run at all (loaded only to be described)
        self.weights_format, self.refusal = weights_format, refusal
        self.name = str(descr.name)
        self.device = select_device(device)
        inputs = [t for t in descr.inputs if not getattr(t, "optional", False)]
        if len(inputs) != 1 or not descr.outputs:
            raise ModelFileError(f"{source!r} has {len(inputs)} required inputs and {len(descr.outputs)} "
                                 "outputs; napari-blindspot runs models with one image input.")
        self.input, self.output = inputs[0], descr.outputs[0]
        self.input_axes = [self._axis_kind(a) for a in self.input.axes]
        self.output_axes = [self._axis_kind(a) for a in self.output.axes]
        self.space = tuple(k for k in self.input_axes if k in SPACE)
        if self.space not in (("y", "x"), ("z", "y", "x")) or \
                tuple(k for k in self.output_axes if k in SPACE) != self.space:
            raise ModelFileError(f"{source!r} works on axes {self.input_axes} -> {self.output_axes}; "
                                 "napari-blindspot runs image-to-image models on y, x (and z) axes.")
        self.channels = next((len(a.channel_names) for a in self.input.axes
                              if getattr(a, "type", "") == "channel"), 1)
        self.info: dict[str, Any] = {"source": f"bioimage.io package {source}", "name": self.name}
        self._pipeline: Any = None

    def _axis_kind(self, axis: Any) -> str:
        kind = getattr(axis, "type", "")
        if kind in ("batch", "channel"):
            return kind
        if kind == "space" and str(axis.id) in SPACE:
            return str(axis.id)
        raise ModelFileError(f"{self.source!r} has a {kind} axis {str(getattr(axis, 'id', ''))!r}; "
                             "napari-blindspot runs models with batch, channel, z, y, x axes only.")

    @property
    def ndim_spatial(self) -> int:
        return len(self.space)

    def noise_parameters(self) -> dict[str, float]:
        return {}

    def label(self) -> str:
        return f"bioimage.io model {self.name!r}"

    def describe(self) -> list[str]:
        """The lines ``blindspot info`` prints: the model, its axes and channels."""
        return [f"{self.label()} from {self.source}", f"axes: {' '.join(self.input_axes)}",
                f"channels: {self.channels}"]

    def noise_curves(self) -> list[Any]:
        return []

    def slice_warning(self, axes: str | None = None) -> str | None:
        return None

    def view(self, data: Any, axes: str | None = None) -> CanonicalView:
        """``data`` with its axes (required) checked, in canonical order."""
        return CanonicalView(data, check_axes(axes or "", tuple(data.shape)))

    def _pipeline_for_run(self) -> Any:
        if self.refusal is not None:
            raise CodeRefused(self.refusal)
        if self._pipeline is None:
            from bioimageio.core import create_prediction_pipeline

            try:
                self._pipeline = create_prediction_pipeline(self.descr, devices=[str(self.device)],
                                                            weights_format=self.weights_format)
            except Exception as exc:  # missing architecture package, unsupported weights
                raise ModelFileError(f"bioimageio.core cannot run {self.source!r}: {exc}. A package "
                                     "whose architecture comes from a library (e.g. CAREamics) needs "
                                     "that library installed.") from exc
        return self._pipeline

    def _run(self, block: np.ndarray) -> np.ndarray:
        """One canonical block ``(C, [Z,] Y, X)`` through the package -> same shape, float32."""
        from bioimageio.core import Sample, Tensor
        from bioimageio.core.digest_spec import get_member_id

        shape, dims = [], []
        spatial = dict(zip(self.space, block.shape[1:]))
        for axis, kind in zip(self.input.axes, self.input_axes):
            shape.append(1 if kind == "batch" else block.shape[0] if kind == "channel" else spatial[kind])
            dims.append(str(axis.id))
        data = block.reshape(block.shape if "channel" in self.input_axes else block.shape[1:])
        order = [k for k in self.input_axes if k != "batch"]
        canonical = ["channel"] * ("channel" in order) + list(self.space)
        data = np.transpose(data, [canonical.index(k) for k in order])
        if "batch" in self.input_axes:
            data = np.expand_dims(data, self.input_axes.index("batch"))
        in_id, out_id = get_member_id(self.input), get_member_id(self.output)
        sample = Sample(members={in_id: Tensor.from_numpy(data, dims=dims)}, stat={}, id="block")
        result = self._pipeline_for_run().predict_sample_without_blocking(sample)
        out = result.members[out_id]
        out_dims = [str(d) for d in out.dims]
        order = [d for d in ("batch", "channel") if d in out_dims] + list(self.space)
        if sorted(order) != sorted(out_dims):
            raise DataError(f"{self.label()} returned axes {out_dims}; expected {order}.")
        arr = np.transpose(np.asarray(out.data), [out_dims.index(d) for d in order])
        if "batch" in out_dims:
            arr = arr[0]
        if "channel" not in out_dims:
            arr = arr[None]
        if arr.shape != block.shape:
            raise DataError(f"{self.label()} returned shape {arr.shape} for an input of {block.shape}; "
                            "napari-blindspot needs an output of the input's shape.")
        return np.asarray(arr, np.float32)

    def predict_iter(self, data: Any, axes: str | None = None, *, tile_size: int | None = None,
                     tile_size_z: int | None = None, tile_batch: int | None = None,
                     tta: bool = False, uncertainty: bool = False,
                     ) -> Generator[PredictionProgress, None, dict[str, np.ndarray]]:
        """Denoise ``data`` (axes ``axes``, required) frame by frame (volume by volume):
        yields :class:`PredictionProgress`, returns ``{"denoised": float32, shape of data}``."""
        if tta:
            raise BlindspotError("Test-time augmentation works with napari-blindspot models only; "
                                 "drop --tta for this bioimage.io model.")
        if axes is None:
            raise AxesError(f"Give the image's axes to denoise it with {self.label()}.")
        axes = check_axes(axes, tuple(np.shape(data)))
        view = CanonicalView(data, axes, self.ndim_spatial == 3)
        if view.n_channels != self.channels:
            raise DataError(f"{self.label()} takes {self.channels} channel(s) but the image has "
                            f"{view.n_channels} (axes {axes!r}).")
        out = view.empty_like_source(np.float32)
        start = time.perf_counter()
        for s in range(view.n_samples):
            view.write(out, s, self._run(np.asarray(view.read(s), np.float32)), None)
            yield PredictionProgress(s + 1, view.n_samples, time.perf_counter() - start)
        return {"denoised": out}

    def predict_stream(self, data: Any, axes: str | None = None, *, tile_size: int | None = None,
                       tta: bool = False, uncertainty: bool = False,
                       ) -> Generator[PredictionProgress | PredictedImage, None, None]:
        """:meth:`predict_iter`'s progress, then the whole result as one
        :class:`~..events.PredictedImage` (the package predicts in memory)."""
        result = yield from self.predict_iter(data, axes, tile_size=tile_size, tta=tta)
        yield PredictedImage(result)

    def predict(self, data: Any, axes: str | None = None, *,
                progress: Callable[[PredictionProgress], None] | None = None,
                **kwargs: Any) -> dict[str, np.ndarray]:
        gen = self.predict_iter(data, axes, **kwargs)
        return run_to_end(gen, progress)

    def denoise(self, data: Any, axes: str | None = None, **kwargs: Any) -> np.ndarray:
        return self.predict(data, axes, **kwargs)["denoised"]


__all__ = ["BioimageioModel"]
