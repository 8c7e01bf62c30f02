"""Train and predict with napari-blindspot's engine: one benchmark job, timed and measured.

The counterpart of ``careamics_runner.py`` with the same options and the same JSON record, so
both tools are measured the same way.  ``benchmarks/run.py`` calls :func:`run_job` in-process
for quality and speed, and runs this file in a subprocess (``python -m benchmarks.ours_runner``)
where peak memory must be measured on its own::

    python -m benchmarks.ours_runner --input noisy.npy --axes TYX --method hqssl \\
        --budget-s 60 --out-dir out --name hq
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

try:
    from . import _runner_common as common
except ImportError:  # run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import _runner_common as common  # type: ignore[no-redef]

METHODS = ("n2v2", "n2v", "hqssl", "n2n")


def versions() -> dict[str, str]:
    import torch

    import napari_blindspot

    return {"napari_blindspot": napari_blindspot.__version__, "torch": torch.__version__}


def _config(job: dict) -> Any:
    from napari_blindspot.engine import TrainConfig

    overrides: dict[str, Any] = {
        "axes": job["axes"], "patch_size": int(job["patch_size"]), "seed": int(job["seed"]),
        "device": job.get("device") or "auto", "steps": job.get("steps"),
        "time_budget_s": job.get("budget_s"), "num_threads": job.get("threads"),
    }
    if job.get("steps") is None and job.get("budget_s") is None:
        raise ValueError("give steps or budget_s")
    if job.get("batch_size"):
        overrides["batch_size"] = int(job["batch_size"])
    if job.get("tile_size"):
        overrides["tile_size"] = int(job["tile_size"])
    for key in ("unet_features", "unet_depth", "hq_features", "hq_depth", "noise_model",
                "noise_sigma", "learning_rate", "validation_fraction"):
        if job.get(key) is not None:
            overrides[key] = job[key]
    return TrainConfig.for_method(job["method"], **overrides)


def train(job: dict, record: dict) -> Any:
    """Train as the job says; fill ``record["train"]``; return the model."""
    from napari_blindspot.engine import Preview, TrainingFinished, TrainingRun, TrainingStarted

    data = common.load_array(job["input"])
    target = common.load_array(job["target"]) if job.get("target") else None
    config = _config(job)
    preview = None
    if job.get("preview_block"):
        preview = np.load(job["preview_block"])
    previews: list[np.ndarray] = []
    preview_times: list[float] = []
    preview_steps: list[int] = []

    rss0 = common.current_rss_mb()
    t0 = time.perf_counter()
    run = TrainingRun(data, config, target=target, preview=preview,
                      preview_interval_s=float(job.get("preview_interval_s") or 5.0))
    run.prepare()  # statistics, validation patches, network: what events() starts with
    setup_s = time.perf_counter() - t0
    n_params = None
    finished = None
    t_first_step = None
    for ev in run.events():
        if isinstance(ev, TrainingStarted):
            n_params = ev.n_parameters
        elif isinstance(ev, Preview):
            preview_times.append(time.perf_counter() - t0)
            preview_steps.append(ev.step)
            previews.append(np.asarray(ev.image, np.float32))
        elif isinstance(ev, TrainingFinished):
            finished = ev
        if t_first_step is None and run.step >= 1:
            t_first_step = time.perf_counter() - t0
    total_s = time.perf_counter() - t0
    assert finished is not None
    model = finished.model
    steps = int(finished.step)
    loop_s = float(finished.elapsed_s)
    patches = steps * int(config.batch_size)
    record["train"] = {
        "method": job["method"], "steps": steps, "stop_reason": finished.reason,
        "batch_size": int(config.batch_size), "patch_size": int(config.patch_size),
        "setup_s": setup_s, "loop_s": loop_s, "total_s": total_s,
        "patches": patches, "patches_per_s": patches / loop_s if loop_s > 0 else None,
        "n_parameters": n_params, "device": model.info.get("device"),
        "rss_before_mb": rss0, "rss_after_mb": common.current_rss_mb(),
        "peak_rss_after_train_mb": common.peak_rss_mb(),
        "config": {k: v for k, v in config.to_dict().items()
                   if k in ("learning_rate", "schedule", "unet_depth", "unet_features", "hq_depth",
                            "hq_features", "noise_model", "mask_fraction", "validation_fraction",
                            "validation_interval", "tile_size", "tile_batch")},
    }
    if previews:
        out = Path(job["out_dir"]) / f"{job['name']}_previews.npz"
        np.savez(out, images=np.stack(previews), times=np.asarray(preview_times),
                 steps=np.asarray(preview_steps))
        record["train"]["previews"] = str(out)
        record["train"]["first_preview_s"] = preview_times[0]
    if job.get("save_model"):
        model.save(job["save_model"])
    return model


def predict(model: Any, job: dict, record: dict) -> None:
    results = []
    for k, (path, axes) in enumerate(common.prediction_inputs(job)):
        data = common.load_array(path)
        kwargs = {}
        if job.get("tile_size"):
            kwargs["tile_size"] = int(job["tile_size"])
        if job.get("predict_batch_size"):
            kwargs["tile_batch"] = int(job["predict_batch_size"])
        rss0 = common.current_rss_mb()
        t0 = time.perf_counter()
        out = model.denoise(data, axes, **kwargs)
        dt = time.perf_counter() - t0
        npix = float(np.prod(data.shape))
        res = {"input": str(path), "axes": axes, "shape": list(data.shape),
               "predict_s": dt, "mpix_per_s": npix / 1e6 / dt if dt > 0 else None,
               "rss_before_mb": rss0, "rss_after_mb": common.current_rss_mb(),
               "peak_rss_after_mb": common.peak_rss_mb()}
        if job.get("save_prediction", True):
            dest = common.prediction_path(job, k)
            np.save(dest, np.asarray(out, np.float32))
            res["output"] = str(dest)
        del out, data
        results.append(res)
    record["predictions"] = results


def run_job(job: dict) -> dict:
    """Run one job (a dict of the command-line options with underscores); return its record."""
    import torch

    from napari_blindspot.engine import DenoisingModel

    if job.get("threads"):
        torch.set_num_threads(int(job["threads"]))
    Path(job["out_dir"]).mkdir(parents=True, exist_ok=True)
    sampler = common.TreeMemorySampler().start()
    record: dict[str, Any] = {"versions": versions(), "rss_at_start_mb": common.current_rss_mb()}
    try:
        if job.get("model"):
            model = DenoisingModel.load(job["model"], device=job.get("device") or "auto")
        else:
            model = train(job, record)
        predict(model, job, record)
    finally:
        record["peak_tree_rss_mb"] = sampler.stop()
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ours_runner", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    common.add_job_arguments(parser, METHODS)
    args = parser.parse_args(argv)
    jobs = common.jobs_from_args(args, parser)
    return common.run_jobs(jobs, run_job, "napari-blindspot")


if __name__ == "__main__":
    sys.exit(main())
