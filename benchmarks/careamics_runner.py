"""Train and predict with CAREamics (N2V / N2V2) through its public Python API: one benchmark job.

Run with the CAREamics virtual environment's Python (``bash benchmarks/setup_careamics.sh``
creates it), never with the package's own environment::

    benchmarks/.venv-careamics/bin/python benchmarks/careamics_runner.py \\
        --input noisy.npy --axes YX --method n2v2 --patch-size 64 --batch-size 16 \\
        --steps 500 --out-dir out --name care_n2v2          # or --budget-s 60

It trains on the noisy input itself (``CAREamist`` + ``create_advanced_n2v_config``, CAREamics'
defaults for everything not set here: U-Net depth 2 with 32 initial channels, Adam at 1e-4 with
ReduceLROnPlateau, flips and 90-degree rotations, 0.2% masked pixels, 8 validation patches,
its own data-loader worker count), predicts tiled (``tile_size``/``tile_overlap``), and writes
``NAME.npy`` (float32, the input's shape) and ``NAME.json``: training time (setup + loop), steps
and epochs done, patches per second (over the loop, and over the steps alone), prediction time,
and peak resident memory (``resource.getrusage``; children and a sampled process-tree peak too).

Training length: ``--steps N`` sets Lightning's ``max_steps`` (epochs unlimited);
``--budget-s S`` sets Lightning's ``max_time`` (its Timer callback stops training after S
seconds of the training loop, checked after every step) with steps and epochs unlimited.
``--jobs jobs.json`` runs a list of jobs in one process (one import of torch and Lightning).
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _runner_common as common  # noqa: E402

METHODS = ("n2v2", "n2v")
DEFAULT_BATCH_SIZE = 16


def versions() -> dict[str, Any]:
    import careamics
    import lightning
    import torch

    info: dict[str, Any] = {"careamics": careamics.__version__, "torch": torch.__version__,
                            "lightning": lightning.__version__}
    try:
        import torchvision

        info["torchvision"] = torchvision.__version__
        info["torchvision_compiled_ops"] = bool(torchvision.extension._has_ops())
    except Exception as exc:  # pragma: no cover - reported, not fatal
        info["torchvision"] = f"unavailable ({exc})"
    return info


def _careamics_axes(axes: str) -> str:
    """CAREamics takes STCZYX; a time axis is a sample axis for 2D training."""
    axes = axes.upper()
    if "T" in axes and "S" not in axes:
        axes = axes.replace("T", "S")
    return axes


class StepTimer:
    """Lightning callback: times the training loop and every training step, counts patches."""

    def __new__(cls) -> Any:
        from lightning.pytorch import Callback

        class _Timer(Callback):
            def __init__(self) -> None:
                self.loop_start: float | None = None
                self.loop_end: float | None = None
                self.step_s = 0.0
                self.steps = 0
                self.patches = 0
                self._t = 0.0
                self.first_step_end: float | None = None

            def on_train_start(self, trainer: Any, pl_module: Any) -> None:
                self.loop_start = time.perf_counter()

            def on_train_end(self, trainer: Any, pl_module: Any) -> None:
                self.loop_end = time.perf_counter()

            def on_train_batch_start(self, trainer: Any, pl_module: Any, batch: Any,
                                     batch_idx: int) -> None:
                self._t = time.perf_counter()

            def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any,
                                   batch_idx: int) -> None:
                now = time.perf_counter()
                self.step_s += now - self._t
                self.steps += 1
                if self.first_step_end is None:
                    self.first_step_end = now
                try:
                    x = batch[0]
                    self.patches += int(getattr(x, "data", x).shape[0])
                except Exception:
                    pass

        return _Timer()


def _build(job: dict, work_dir: Path, timer: Any) -> Any:
    from careamics import CAREamist
    from careamics.config import create_advanced_n2v_config

    trainer_params: dict[str, Any] = {"max_epochs": -1, "enable_model_summary": False}
    if job.get("steps"):
        trainer_params["max_steps"] = int(job["steps"])
    if job.get("budget_s"):
        trainer_params["max_time"] = {"seconds": float(job["budget_s"])}
    if not job.get("steps") and not job.get("budget_s"):
        raise ValueError("give steps or budget_s")
    device = (job.get("device") or "auto").lower()
    if device != "auto":
        trainer_params["accelerator"] = "gpu" if device.startswith("cuda") else device
    extra: dict[str, Any] = {}
    if job.get("num_workers") is not None:
        extra["num_workers"] = int(job["num_workers"])
    if job.get("model_params"):
        extra["model_params"] = dict(job["model_params"])
    config = create_advanced_n2v_config(
        experiment_name=f"bench_{job['name']}".replace(".", "_"),
        data_type="array",
        axes=_careamics_axes(job["axes"]),
        patch_size=[int(job["patch_size"])] * 2,
        batch_size=int(job.get("batch_size") or DEFAULT_BATCH_SIZE),
        num_epochs=None,  # unlimited: training length comes from max_steps / max_time
        use_n2v2=job["method"] == "n2v2",
        trainer_params=trainer_params,
        seed=int(job.get("seed") or 0) + 1,  # CAREamics needs a seed > 0
        **extra,
    )
    return CAREamist(config, work_dir=work_dir, callbacks=[timer], enable_progress_bar=False)


def train(job: dict, record: dict, work_dir: Path) -> Any:
    data = common.load_array(job["input"])  # .npy memory-mapped, as for our engine
    timer = StepTimer()
    rss0 = common.current_rss_mb()
    t0 = time.perf_counter()
    careamist = _build(job, work_dir, timer)
    setup_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    careamist.train(train_data=data)
    train_call_s = time.perf_counter() - t1
    loop_s = ((timer.loop_end or time.perf_counter()) - timer.loop_start
              if timer.loop_start is not None else None)
    trainer = careamist.trainer
    steps = int(trainer.global_step)
    batch = int(careamist.config.data_config.batch_size)
    n_params = sum(p.numel() for p in careamist.model.parameters())
    reason = "completed" if job.get("steps") and steps >= int(job["steps"]) else "time budget"
    record["train"] = {
        "method": job["method"], "steps": steps, "stop_reason": reason,
        "epochs": int(trainer.current_epoch), "batch_size": batch,
        "patch_size": int(job["patch_size"]),
        "setup_s": setup_s, "train_call_s": train_call_s, "loop_s": loop_s,
        "total_s": setup_s + train_call_s,
        "patches": timer.patches,
        "patches_per_s": timer.patches / loop_s if loop_s else None,
        "step_only_patches_per_s": timer.patches / timer.step_s if timer.step_s else None,
        "first_step_s": (timer.first_step_end - t0) if timer.first_step_end else None,
        "n_parameters": n_params, "device": str(careamist.model.device),
        "num_workers": careamist.config.data_config.train_dataloader_params.get("num_workers"),
        "rss_before_mb": rss0, "rss_after_mb": common.current_rss_mb(),
        "peak_rss_after_train_mb": common.peak_rss_mb(),
        "config": {
            "optimizer": careamist.config.algorithm_config.optimizer.name,
            "learning_rate": careamist.config.algorithm_config.optimizer.parameters.get(
                "lr", 1e-3),  # unset: torch.optim.Adam's default
            "lr_scheduler": careamist.config.algorithm_config.lr_scheduler.name,
            "unet_depth": careamist.config.algorithm_config.model.depth,
            "unet_features": careamist.config.algorithm_config.model.num_channels_init,
            "masked_pixel_percentage":
                careamist.config.algorithm_config.n2v_config.masked_pixel_percentage,
            "n_val_patches": careamist.config.data_config.n_val_patches,
        },
    }
    if job.get("save_model"):
        ckpts = careamist.get_checkpoints()
        if not ckpts:
            raise RuntimeError("CAREamics wrote no checkpoint to save")
        shutil.copyfile(ckpts[-1], job["save_model"])
        record["train"]["checkpoint"] = str(ckpts[-1].name)
    return careamist


def predict(careamist: Any, job: dict, record: dict) -> None:
    results = []
    ts = int(job.get("tile_size") or 256)
    ov = int(job.get("tile_overlap") or 48)
    for k, (path, axes) in enumerate(common.prediction_inputs(job)):
        data = common.load_array(path)
        rss0 = common.current_rss_mb()
        t0 = time.perf_counter()
        kwargs: dict[str, Any] = {}
        if job.get("predict_batch_size"):
            kwargs["batch_size"] = int(job["predict_batch_size"])
        preds, _sources = careamist.predict(
            pred_data=data, data_type="array", axes=_careamics_axes(axes),
            tile_size=(ts, ts), tile_overlap=(ov, ov), **kwargs)
        out = np.concatenate([np.asarray(p, np.float32).reshape(-1, *p.shape[-2:])
                              for p in preds], axis=0)
        dt = time.perf_counter() - t0
        out = out.reshape(data.shape)
        npix = float(np.prod(data.shape))
        res = {"input": str(path), "axes": axes, "shape": list(data.shape),
               "predict_s": dt, "mpix_per_s": npix / 1e6 / dt if dt > 0 else None,
               "rss_before_mb": rss0, "rss_after_mb": common.current_rss_mb(),
               "peak_rss_after_mb": common.peak_rss_mb()}
        if job.get("save_prediction", True):
            dest = common.prediction_path(job, k)
            np.save(dest, out)
            res["output"] = str(dest)
        del out, preds, data
        results.append(res)
    record["predictions"] = results


def run_job(job: dict) -> dict:
    import torch

    if job.get("threads"):
        torch.set_num_threads(int(job["threads"]))
    out_dir = Path(job["out_dir"])
    out_dir.mkdir(parents=True, exist_ok=True)
    work_dir = Path(tempfile.mkdtemp(prefix=f"careamics_{job['name']}_", dir=out_dir))
    sampler = common.TreeMemorySampler().start()
    record: dict[str, Any] = {"versions": versions(), "rss_at_start_mb": common.current_rss_mb()}
    try:
        if job.get("model"):
            from careamics import CAREamist

            careamist = CAREamist(checkpoint_path=job["model"], work_dir=work_dir,
                                  enable_progress_bar=False)
        else:
            careamist = train(job, record, work_dir)
        predict(careamist, job, record)
        del careamist
    finally:
        record["peak_tree_rss_mb"] = sampler.stop()
        if not job.get("keep_work_dir"):
            shutil.rmtree(work_dir, ignore_errors=True)
    return record


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    warnings.filterwarnings("ignore")
    for name in ("lightning", "lightning.pytorch", "lightning.fabric", "careamics"):
        logging.getLogger(name).setLevel(logging.ERROR)
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    common.add_job_arguments(parser, METHODS)
    parser.add_argument("--num-workers", type=int, default=None,
                        help="data-loader workers [CAREamics' default for this machine]")
    parser.add_argument("--keep-work-dir", action="store_true",
                        help="keep CAREamics' checkpoints and logs")
    args = parser.parse_args(argv)
    jobs = common.jobs_from_args(args, parser)
    return common.run_jobs(jobs, run_job, "CAREamics")


if __name__ == "__main__":
    sys.exit(main())
