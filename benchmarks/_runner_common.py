"""Helpers shared by the two runner scripts (``ours_runner.py`` and ``careamics_runner.py``).

Standard library and numpy only: ``careamics_runner.py`` runs with the CAREamics virtual
environment's Python, which does not have napari-blindspot installed, and imports this file by
path.  Nothing here imports torch.

A *job* is one dict: train a model on an input (or load one), then predict one or more inputs,
writing a JSON record (timings, steps, memory) and optionally the predictions as ``.npy``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any, Callable

import numpy as np

MB = 1024.0 * 1024.0


# ------------------------------------------------------------------ memory
def _status_kb(field: str, pid: int | None = None) -> float | None:
    try:
        with open(f"/proc/{pid or os.getpid()}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return float(line.split()[1])
    except OSError:
        pass
    return None


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, MiB.

    Linux's ``VmHWM`` (high-water mark of this process's own address space).  Not
    ``ru_maxrss``: that one survives ``execve``, so a runner started from a big parent process
    would report the parent's size at fork time.
    """
    kb = _status_kb("VmHWM")
    if kb is not None:
        return kb / 1024.0
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # macOS: bytes
    return kb / 1024.0 if sys.platform != "darwin" else kb / MB


def peak_rss_children_mb() -> float:
    """``ru_maxrss`` of the largest terminated, waited-for child (inflated by CoW sharing)."""
    kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return kb / 1024.0 if sys.platform != "darwin" else kb / MB


def current_rss_mb(pid: int | None = None) -> float:
    """Current resident memory of a process (default: this one), MiB; 0 if unknown."""
    try:
        with open(f"/proc/{pid or os.getpid()}/statm") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / MB
    except (OSError, ValueError, IndexError):
        return 0.0


def current_pss_mb(pid: int | None = None) -> float | None:
    """Proportional set size (shared pages split between their users), MiB, or None."""
    try:
        with open(f"/proc/{pid or os.getpid()}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return float(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            kids = [int(x) for x in f.read().split()]
    except OSError:
        return []
    out = list(kids)
    for k in kids:
        out.extend(_children(k))
    return out


class TreeMemorySampler:
    """Samples the memory of this process plus its children (data-loader workers).

    Every ``interval_s``: this process's RSS plus each child's proportional set size (PSS: the
    pages a forked worker still shares copy-on-write with its parent are split between them
    rather than counted twice; RSS where PSS is unavailable).  Short spikes between samples can
    be missed (the process's own exact peak is :func:`peak_rss_mb`).
    """

    def __init__(self, interval_s: float = 0.1) -> None:
        self.interval_s = interval_s
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _mem(pid: int) -> float:
        pss = current_pss_mb(pid)
        return pss if pss is not None else current_rss_mb(pid)

    def _run(self) -> None:
        me = os.getpid()
        while not self._stop.is_set():
            total = current_rss_mb(me) + sum(self._mem(c) for c in _children(me))
            self.peak_mb = max(self.peak_mb, total)
            self._stop.wait(self.interval_s)

    def start(self) -> "TreeMemorySampler":
        self._thread.start()
        return self

    def stop(self) -> float:
        self._stop.set()
        self._thread.join(timeout=2)
        return self.peak_mb


# ------------------------------------------------------------------ input / output
def load_array(path: str | os.PathLike, mmap: bool = True) -> np.ndarray:
    """Load ``.npy`` (memory-mapped by default) or ``.tif``/``.tiff``."""
    p = Path(path)
    if p.suffix.lower() == ".npy":
        return np.load(p, mmap_mode="r" if mmap else None)
    if p.suffix.lower() in (".tif", ".tiff"):
        import tifffile

        return tifffile.imread(p)
    raise ValueError(f"Unsupported input {p} (use .npy or .tif)")


def split_path_axes(spec: str, default_axes: str) -> tuple[str, str]:
    """``"path.npy:TYX"`` -> ``("path.npy", "TYX")``; without ``:AXES`` the default."""
    head, sep, tail = spec.rpartition(":")
    if sep and tail and tail.isalpha() and tail.upper() == tail and "/" not in tail:
        return head, tail
    return spec, default_axes


def write_json(path: str | os.PathLike, record: dict[str, Any]) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(str(path) + ".partial")
    tmp.write_text(json.dumps(record, indent=2, default=_json_default))
    os.replace(tmp, path)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    return str(obj)


# ------------------------------------------------------------------ command line
def add_job_arguments(p: argparse.ArgumentParser, methods: tuple[str, ...]) -> None:
    """The options both runners accept (one job), plus ``--jobs`` for a list of jobs."""
    p.add_argument("--jobs", help="JSON file with a list of jobs (dicts of the options below, "
                   "with underscores); they run one after the other in this process")
    p.add_argument("--input", help="training data, .npy or .tif")
    p.add_argument("--axes", default="YX", help="axes of --input, e.g. YX, SYX, TYX [YX]")
    p.add_argument("--target", help="Noise2Noise only: the second noisy acquisition")
    p.add_argument("--method", choices=methods, default=methods[0])
    p.add_argument("--patch-size", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=None,
                   help="training batch size [the tool's default for the method]")
    p.add_argument("--steps", type=int, default=None, help="number of gradient steps")
    p.add_argument("--budget-s", type=float, default=None,
                   help="wall-clock training budget in seconds (training loop only)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--model", help="load this model/checkpoint instead of training")
    p.add_argument("--save-model", help="write the trained model/checkpoint here")
    p.add_argument("--predict-input", action="append", default=[], metavar="PATH[:AXES]",
                   help="predict this file (repeatable) [the training input]")
    p.add_argument("--no-predict", action="store_true", help="train only")
    p.add_argument("--tile-size", type=int, default=256)
    p.add_argument("--tile-overlap", type=int, default=48,
                   help="CAREamics only; ours derives the overlap from the receptive field")
    p.add_argument("--predict-batch-size", type=int, default=None,
                   help="tiles per batch in prediction [the tool's default]")
    p.add_argument("--out-dir", default=".", help="where to write NAME.json and NAME*.npy")
    p.add_argument("--name", default="job")
    p.add_argument("--save-prediction", action=argparse.BooleanOptionalAction, default=True,
                   help="write predictions as NAME.npy (NAME_k.npy for the k-th extra input)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads [torch default]")


def jobs_from_args(args: argparse.Namespace, parser: argparse.ArgumentParser) -> list[dict]:
    defaults = {k: parser.get_default(k) for k in vars(args)}
    if args.jobs:
        with open(args.jobs) as f:
            listed = json.load(f)
        jobs = []
        for item in listed:
            job = dict(defaults)
            job.update({k.replace("-", "_"): v for k, v in item.items()})
            jobs.append(job)
        return jobs
    job = dict(vars(args))
    job.pop("jobs", None)
    if not job.get("input") and not job.get("model"):
        parser.error("give --input (or --model with --predict-input), or --jobs")
    return [job]


def prediction_inputs(job: dict) -> list[tuple[str, str]]:
    if job.get("no_predict"):
        return []
    specs = job.get("predict_input") or []
    if isinstance(specs, str):
        specs = [specs]
    if not specs:
        return [(job["input"], job["axes"])] if job.get("input") else []
    return [split_path_axes(s, job["axes"]) for s in specs]


def prediction_path(job: dict, k: int) -> Path:
    suffix = "" if k == 0 else f"_{k}"
    return Path(job["out_dir"]) / f"{job['name']}{suffix}.npy"


def run_jobs(jobs: list[dict], run_one: Callable[[dict], dict], tool: str) -> int:
    """Run jobs in order; each writes OUT_DIR/NAME.json even when it fails. Exit status."""
    status = 0
    for job in jobs:
        t0 = time.perf_counter()
        out = Path(job["out_dir"]) / f"{job['name']}.json"
        try:
            record = run_one(job)
            record["ok"] = True
        except Exception as exc:  # report, go on with the next job
            record = {"ok": False, "error": f"{type(exc).__name__}: {exc}",
                      "traceback": traceback.format_exc()}
            print(f"[{tool}] job {job['name']} failed: {record['error']}", file=sys.stderr)
            status = 1
        record.update({"tool": tool, "name": job["name"], "job": job,
                       "job_wall_s": time.perf_counter() - t0,
                       "peak_rss_mb": peak_rss_mb(),
                       "peak_rss_children_mb": peak_rss_children_mb()})
        write_json(out, record)
        gc.collect()
    return status
