"""Prediction on a dask.distributed cluster: many files, or one image too big for one machine.

    from napari_blindspot.files.cluster import denoise_distributed
    summary = denoise_distributed(model, jobs, workers=4)            # a LocalCluster
    summary = denoise_distributed(model, jobs, scheduler="tcp://host:8786")   # any cluster

Every file is cut into tasks of whole samples (frames or volumes), and a sample larger than
:data:`TASK_PIXELS` into ranges of rows; each task is one dask future.  The model is sent to
every worker once (scattered, broadcast) and loaded there once; each task opens its input on
the worker (the paths must be readable there: a shared file system), predicts its part with
:meth:`~napari_blindspot.engine.DenoisingModel.predict_stream` and returns the finished
blocks, which this process writes into the output files as they come back (OME-Zarr chunk
by chunk, TIFF page by page).  At most :data:`IN_FLIGHT_PER_WORKER` tasks per worker are
submitted at once, so the results waiting here stay bounded.  A part predicted this way is
bit-identical to the same part predicted in one process (same tiles, same sums, in the same
order), whatever the number of workers.  Requires the ``distributed`` extra.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .batch import BatchSummary, FileDone, FileFailed, FileJob, FileStarted
from ..engine import BlindspotError, ConfigError, DenoisingModel, PredictionProgress
from ..engine.events import PredictedBlock, run_to_end
from ..engine.model import PredictionUnit
from ..io.image import open_image
from .streaming import ResultWriter

#: A task predicts about this many pixels (whole samples, or rows of a bigger one).
TASK_PIXELS = 1 << 23
#: Tasks submitted per worker before waiting for results.
IN_FLIGHT_PER_WORKER = 2

_MODELS: dict[str, DenoisingModel] = {}  # on each worker: the model of each run, loaded once
_IMAGES: dict[tuple[str, str | None], Any] = {}  # on each worker: opened inputs


def require_distributed() -> Any:
    """The ``distributed`` module, or a :class:`BlindspotError` naming the install."""
    try:
        import distributed
    except ImportError as exc:
        raise BlindspotError('Prediction on a dask cluster needs dask.distributed: pip install '
                             '"napari-blindspot[distributed]".') from exc
    return distributed


def plan_units(model: DenoisingModel, view: Any, task_pixels: int = TASK_PIXELS) -> list[list[PredictionUnit]]:
    """The tasks of one image: groups of whole samples of about ``task_pixels``, or, for a
    sample bigger than that, ranges of rows of at least four tile rows each."""
    units = model.prediction_units(view)
    per_unit = int(np.prod(view.spatial_shape, dtype=np.int64))
    if per_unit <= task_pixels:
        size = max(1, task_pixels // per_unit)
        return [units[i:i + size] for i in range(0, len(units), size)]
    rows = view.spatial_shape[0]
    row_pixels = per_unit // rows
    step = max(4 * (model.config.tile_size_z if model.config.train_3d else model.config.tile_size),
               task_pixels // max(1, row_pixels))
    return [[PredictionUnit(u.sample, u.channel, (r, min(rows, r + step)))]
            for u in units for r in range(0, rows, step)]


def _model_bytes(model: DenoisingModel) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.safetensors")
        model.save(path)
        with open(path, "rb") as f:
            return f.read()


def _worker_model(key: str, payload: bytes, device: str, threads: int | None) -> DenoisingModel:
    model = _MODELS.get(key)
    if model is None:
        import torch

        from ..engine import load_model

        if threads:
            torch.set_num_threads(threads)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "model.safetensors")
            with open(path, "wb") as f:
                f.write(payload)
            model = load_model(path, device=device)
        _MODELS.clear()  # one model per worker
        _MODELS[key] = model
    return model


def predict_task(key: str, payload: bytes, source: Any, axes: str | None,
                 units: list[PredictionUnit], options: dict[str, Any]) -> list[tuple]:
    """What a worker runs: predict ``units`` of ``source`` (a path, or an array) and return the
    finished blocks as ``(sample, channel, start, stop, denoised, uncertainty)``."""
    model = _worker_model(key, payload, options.get("device", "auto"), options.get("threads"))
    if isinstance(source, str):
        cached = _IMAGES.get((source, axes))
        if cached is None:
            image = open_image(source, axes,
                               allow_missing_chunks=options.get("allow_missing_chunks", False))
            cached = _IMAGES[(source, axes)] = (image.data, image.axes)
            if len(_IMAGES) > 16:
                _IMAGES.pop(next(iter(_IMAGES)))
        data, axes = cached
    else:
        data = source
    out = []
    for ev in model.predict_stream(data, axes, units=units, tile_size=options.get("tile_size"),
                                   tta=options.get("tta", False),
                                   uncertainty=options.get("uncertainty", False)):
        if isinstance(ev, PredictedBlock):
            out.append((ev.sample, ev.channel, ev.start, ev.stop, ev.denoised, ev.uncertainty))
    return out


def _client(workers: int | None, scheduler: str | None) -> tuple[Any, Any, int]:
    distributed = require_distributed()
    if not logging.getLogger("napari_blindspot").isEnabledFor(logging.INFO):
        logging.getLogger("distributed").setLevel(logging.WARNING)  # its INFO lines are noise here
    if scheduler:
        client = distributed.Client(scheduler)
        n = max(1, len(client.scheduler_info().get("workers", {})))
        return client, None, n
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ConfigError(f"workers={workers!r} is not a number of worker processes: give an integer "
                          "of at least 1, or None for half the cores.")
    n = workers or max(1, (os.cpu_count() or 2) // 2)
    cluster = distributed.LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                       dashboard_address=":0", memory_limit=0,
                                       silence_logs=logging.WARNING)
    return distributed.Client(cluster), cluster, n


@dataclass
class _FileState:
    job: FileJob
    image: Any
    writer: ResultWriter | None
    pending: int
    start: float
    failed: bool = False


def denoise_distributed_iter(model: DenoisingModel, jobs: Sequence[FileJob], *, axes: str | None = None,
                             workers: int | None = None, scheduler: str | None = None,
                             dtype: str = "float32", zarr_format: int = 2,
                             tile_size: int | None = None, tta: bool = False,
                             threads_per_worker: int | None = None, device: str = "auto",
                             task_pixels: int = TASK_PIXELS, keep_going: bool = True,
                             allow_missing_chunks: bool = False,
                             ) -> Generator[Any, None, BatchSummary]:
    """Denoise ``jobs`` on a dask cluster (see the module docstring); yields the events of
    :func:`~napari_blindspot.files.batch.denoise_files` and returns its summary.  ``workers``: the
    size of the LocalCluster started (default half the cores); ``scheduler``: the address of
    a running one instead.  ``keep_going=False``: the first file that fails raises its error."""
    distributed = require_distributed()
    if not model.native:
        raise BlindspotError("Only napari-blindspot models run on a dask cluster (not foreign "
                             "bioimage.io packages).")
    summary = BatchSummary()
    t_start = time.perf_counter()
    n_cores = os.cpu_count() or 1
    client, cluster, n_workers = _client(workers, scheduler)
    threads = threads_per_worker or (None if scheduler else max(1, n_cores // n_workers))
    try:
        payload = _model_bytes(model)
        key = f"model-{time.time_ns()}"
        [payload_future] = client.scatter([payload], broadcast=True)
        options = {"tile_size": tile_size, "tta": tta, "device": device, "threads": threads,
                   "allow_missing_chunks": allow_missing_chunks,
                   "uncertainty": any("uncertainty" in j.outputs for j in jobs) and model.has_uncertainty}
        states: list[_FileState] = []
        tasks: list[tuple[int, list[PredictionUnit]]] = []
        for i, job in enumerate(jobs):
            try:
                image = open_image(job.input, axes, allow_missing_chunks=allow_missing_chunks)
                view = model.view(image.data, image.axes)
                outputs = dict(job.outputs) if model.has_uncertainty else \
                    {"denoised": job.outputs["denoised"]}
                writer = ResultWriter(view, outputs, pixel_size=image.pixel_size, unit=image.unit,
                                      dtype=image.data.dtype if dtype == "input" else np.float32,
                                      zarr_format=zarr_format)
            except (BlindspotError, OSError, ValueError, RuntimeError) as exc:
                if not keep_going:
                    raise
                failed = FileFailed(i, job.input, str(exc))
                summary.failed.append(failed)
                states.append(_FileState(job, None, None, 0, 0.0, True))
                yield failed
                continue
            parts = plan_units(model, view, task_pixels)
            states.append(_FileState(job, image, writer, len(parts), time.perf_counter()))
            yield FileStarted(i, len(jobs), job.input, tuple(image.data.shape), image.axes)
            tasks.extend((i, units) for units in parts)
        total, done = len(tasks), 0
        queue = distributed.as_completed()
        futures: dict[Any, int] = {}
        next_task = 0

        def submit() -> None:
            nonlocal next_task
            while next_task < total and len(futures) < IN_FLIGHT_PER_WORKER * n_workers:
                i, units = tasks[next_task]
                next_task += 1
                if states[i].failed:
                    continue
                st = states[i]
                fut = client.submit(predict_task, key, payload_future, st.job.input, st.image.axes,
                                    units, options, pure=False)
                futures[fut] = i
                queue.add(fut)

        submit()
        for fut in queue:
            i = futures.pop(fut)
            st = states[i]
            done += 1
            if not st.failed:
                try:
                    for sample, channel, a, b, den, unc in fut.result():
                        st.writer.put(PredictedBlock(sample, channel, a, b, den, unc))
                    st.pending -= 1
                    if st.pending == 0:
                        paths = st.writer.finish()
                        fd = FileDone(i, st.job.input, paths, time.perf_counter() - st.start)
                        summary.done.append(fd)
                        yield fd
                except Exception as exc:  # noqa: BLE001 - a task's error fails its file only
                    st.failed = True
                    st.writer.abort()
                    if not keep_going:
                        raise
                    failed = FileFailed(i, st.job.input, str(exc) or type(exc).__name__)
                    summary.failed.append(failed)
                    yield failed
            fut.release()
            yield PredictionProgress(int(round(1000 * done / max(total, 1))), 1000,
                                     time.perf_counter() - t_start)
            submit()
    except BaseException:
        for st in states if "states" in locals() else []:
            if st.writer is not None and not st.failed and st.pending:
                st.writer.abort()
        raise
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    summary.elapsed_s = time.perf_counter() - t_start
    return summary


def denoise_distributed(model: DenoisingModel, jobs: Sequence[FileJob], **kwargs: Any) -> BatchSummary:
    """:func:`denoise_distributed_iter` run to the end."""
    gen = denoise_distributed_iter(model, jobs, **kwargs)
    return run_to_end(gen)


__all__ = ["TASK_PIXELS", "denoise_distributed", "denoise_distributed_iter", "plan_units",
           "predict_task", "require_distributed"]
