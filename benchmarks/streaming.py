"""Streamed prediction: memory and throughput to OME-Zarr and TIFF against the in-memory path,
and a 2-worker dask LocalCluster against one process on 8 files.

    python -m benchmarks.streaming                       # 250 and 1000 frames of 512x512 (0.25, 1 GB)
    python -m benchmarks.streaming --frames 64,256 --files 8 --file-frames 16   # a quicker look
    python -m benchmarks.streaming --out docs/benchmarks_streaming.md

Each case runs in a fresh Python process (``--case``) that loads a saved N2V2 model
(default settings, untrained weights: speed and memory do not depend on them) and predicts a
float32 ``T x 512 x 512`` TIFF stack (written once, contiguous, so it is memory-mapped):

- ``memory``: ``model.predict`` on the memory-mapped stack, the result an array in memory;
- ``zarr`` / ``tiff``: ``predict_to_file`` streaming into OME-Zarr (zarr v2, default chunks,
  Blosc-LZ4) or an ImageJ TIFF written page by page.

Working memory is the peak of the process's *anonymous* resident memory (RssAnon, sampled every
10 ms) minus its value after the imports and the model load: the memory the process itself
allocates.  The memory-mapped input's pages count in the usual RSS (VmHWM, also reported) but
are the kernel's page cache, dropped under pressure, and the same for every case.  Throughput
is input megapixels per second of the prediction call.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone

import numpy as np

SIZE = 512


def _status_kb(field: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return float(line.split()[1])
    return 0.0


class AnonPeak:
    """Samples RssAnon on a thread; ``peak_mb`` is the highest value seen."""

    def __init__(self, interval: float = 0.01) -> None:
        self.peak = _status_kb("RssAnon")
        self._stop = False
        self._thread = threading.Thread(target=self._run, args=(interval,), daemon=True)
        self._thread.start()

    def _run(self, interval: float) -> None:
        while not self._stop:
            self.peak = max(self.peak, _status_kb("RssAnon"))
            time.sleep(interval)

    def stop(self) -> float:
        self._stop = True
        self._thread.join()
        self.peak = max(self.peak, _status_kb("RssAnon"))
        return self.peak / 1024


def _make_stack(path: str, frames: int) -> None:
    import tifffile

    if os.path.exists(path):
        return
    rng = np.random.default_rng(0)
    base = (rng.random((SIZE, SIZE)) * 100).astype(np.float32)
    with tifffile.TiffWriter(path, imagej=frames * SIZE * SIZE * 4 < 2 ** 32 - 2 ** 25,
                             bigtiff=frames * SIZE * SIZE * 4 >= 2 ** 32 - 2 ** 25) as tif:
        tif.write(data=(base + rng.normal(0, 10, base.shape).astype(np.float32) for _ in range(frames)),
                  shape=(frames, SIZE, SIZE), dtype=np.float32, metadata={"axes": "TYX"})


def run_case(case: str, model_path: str, stack: str, out_dir: str) -> dict:
    """One measurement, in this (fresh) process."""
    import torch  # noqa: F401 - imported before the baseline

    from napari_blindspot.engine import load_model
    from napari_blindspot.io.image import open_image
    from napari_blindspot.files.streaming import predict_to_file

    model = load_model(model_path, device="cpu")
    image = open_image(stack)
    model.predict(np.zeros((1, 64, 64), np.float32), "TYX")  # warm-up (allocator, oneDNN kernels)
    base = _status_kb("RssAnon") / 1024
    sampler = AnonPeak()
    t0 = time.perf_counter()
    if case == "memory":
        result = model.predict(image.data, image.axes)["denoised"]
        checksum = float(result[::97, ::31, ::29].sum())
    else:
        out = os.path.join(out_dir, "out.ome.zarr" if case == "zarr" else "out.tif")
        predict_to_file(model, image, out)
        checksum = None
    elapsed = time.perf_counter() - t0
    peak = sampler.stop()
    pixels = int(np.prod(image.data.shape))
    return {"case": case, "frames": int(image.data.shape[0]), "stack_mb": pixels * 4 / 2 ** 20,
            "seconds": elapsed, "mp_per_s": pixels / 1e6 / elapsed,
            "working_mb": peak - base, "vmhwm_mb": _status_kb("VmHWM") / 1024, "checksum": checksum,
            "threads": torch.get_num_threads()}


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def _subprocess_case(case: str, model: str, stack: str, work: str) -> dict:
    out_dir = tempfile.mkdtemp(dir=work)
    cmd = [sys.executable, "-m", "benchmarks.streaming", "--case", case, "--model", model,
           "--stack", stack, "--work", out_dir]
    load = _load()
    res = subprocess.run(cmd, check=True, capture_output=True, text=True)
    record = json.loads(res.stdout.strip().splitlines()[-1])
    record["load_before"] = load
    subprocess.run(["rm", "-rf", out_dir], check=False)
    return record


def run_distributed(model_path: str, work: str, files: int, frames: int, workers: int) -> dict:
    from napari_blindspot.files.batch import denoise_files, plan_outputs
    from napari_blindspot.files.cluster import denoise_distributed
    from napari_blindspot.engine import load_model

    paths = []
    for k in range(files):
        path = os.path.join(work, f"file{k}.tif")
        _make_stack(path, frames)
        paths.append(path)
    model = load_model(model_path, device="cpu")
    record = {"files": files, "frames_per_file": frames, "workers": workers, "load_before": _load()}
    one = os.path.join(work, "one")
    os.makedirs(one, exist_ok=True)
    t0 = time.perf_counter()
    for _ in denoise_files(model, plan_outputs(paths, one + "/", fmt="zarr")):
        pass
    record["one_process_s"] = time.perf_counter() - t0
    two = os.path.join(work, "two")
    os.makedirs(two, exist_ok=True)
    t0 = time.perf_counter()
    summary = denoise_distributed(model, plan_outputs(paths, two + "/", fmt="zarr"), workers=workers)
    record["cluster_s"] = time.perf_counter() - t0
    record["cluster_ok"] = summary.ok
    import zarr

    record["identical"] = all(
        np.array_equal(zarr.open_array(os.path.join(one, f"file{k}_denoised.ome.zarr", "0"))[:],
                       zarr.open_array(os.path.join(two, f"file{k}_denoised.ome.zarr", "0"))[:])
        for k in range(files))
    record["ratio"] = record["one_process_s"] / record["cluster_s"]
    return record


def _report(records: list[dict], dist: dict | None, command: str) -> str:
    import torch

    lines = ["# Streamed prediction and dask.distributed", "",
             "<!-- Written by `python -m benchmarks.streaming`; run it again rather than editing. -->", "",
             f"- **Command**: `{command}`",
             f"- **Date**: {datetime.now(timezone.utc).isoformat(timespec='seconds')}",
             f"- **Machine**: {platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs, "
             f"torch {torch.__version__}; shared with other developers (load average before each case "
             "in the tables)",
             "- **Model**: N2V2 with default settings (U-Net 32 features, depth 2, tiles 384, bfloat16 "
             "where the CPU computes it), saved and loaded from a `.safetensors` file",
             "- **Input**: float32 TIFF stacks of T x 512 x 512, contiguous (memory-mapped)", "",
             "Working memory: peak anonymous resident memory (RssAnon, sampled every 10 ms) minus its "
             "value after imports and model load. VmHWM (the usual peak RSS) also counts the pages of the "
             "memory-mapped input, which are the kernel's page cache.", "",
             "| frames | stack MB | path | s | MP/s | vs in-memory | working MB | working / stack | VmHWM MB | load |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    by = {(r["frames"], r["case"]): r for r in records}
    for r in records:
        mem = by.get((r["frames"], "memory"))
        rel = f"{r['mp_per_s'] / mem['mp_per_s']:.2f}x" if mem else "—"
        lines.append(f"| {r['frames']} | {r['stack_mb']:.0f} | {r['case']} | {r['seconds']:.1f} | "
                     f"{r['mp_per_s']:.2f} | {rel} | {r['working_mb']:.0f} | "
                     f"{r['working_mb'] / r['stack_mb']:.3f} | {r['vmhwm_mb']:.0f} | {r['load_before']} |")
    frames = sorted({r["frames"] for r in records})
    lines += ["", "## Targets", "", "| Target | Measured | Status |", "|---|---|---|"]
    big = frames[-1] if frames else 0
    for case in ("zarr", "tiff") if frames else ():
        r = by.get((big, case))
        if r:
            lines.append(f"| {case}: working memory < 1/4 of the stack ({r['stack_mb']:.0f} MB) | "
                         f"{r['working_mb']:.0f} MB ({r['working_mb'] / r['stack_mb']:.3f}) | "
                         f"{'met' if r['working_mb'] < r['stack_mb'] / 4 else 'not met'} |")
            small = by.get((frames[0], case))
            if small and small is not r:
                grow = r["working_mb"] / max(small["working_mb"], 1e-9)
                lines.append(f"| {case}: working memory flat as the stack grows {big // frames[0]}x | "
                             f"{small['working_mb']:.0f} -> {r['working_mb']:.0f} MB ({grow:.2f}x) | "
                             f"{'met' if r['working_mb'] < 1.25 * small['working_mb'] + 16 else 'not met'} |")
            mem = by.get((big, "memory"))
            if mem:
                rel = r["mp_per_s"] / mem["mp_per_s"]
                lines.append(f"| {case}: throughput >= 0.9x the in-memory path | {rel:.2f}x | "
                             f"{'met' if rel >= 0.9 else 'not met'} |")
    if dist:
        lines += ["", "## dask.distributed: LocalCluster against one process", "",
                  f"{dist['files']} files of {dist['frames_per_file']} x 512 x 512 float32, OME-Zarr out; one "
                  f"process (torch on all cores) against a LocalCluster of {dist['workers']} workers (one "
                  "process and one torch thread per core each), cluster start-up included; load before: "
                  f"{dist['load_before']}.", "",
                  "| one process s | LocalCluster s | speed-up (one / cluster) | bit-identical |", "|---|---|---|---|",
                  f"| {dist['one_process_s']:.1f} | {dist['cluster_s']:.1f} | {dist['ratio']:.2f}x | "
                  f"{'yes' if dist['identical'] else 'NO'} |"]
    lines += ["", "CAREamics' `predict_to_disk` was not measured in this run (see the report of the "
              "session that ran it).", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", default="250,1000", help="stack sizes in frames, comma-separated")
    p.add_argument("--cases", default="memory,zarr,tiff")
    p.add_argument("--files", type=int, default=8, help="files for the LocalCluster comparison (0: skip)")
    p.add_argument("--file-frames", type=int, default=32)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--work", default=None, help="scratch folder (default a temporary one)")
    p.add_argument("--out", default=None, help="write the Markdown report here")
    p.add_argument("--case", help=argparse.SUPPRESS)
    p.add_argument("--model", help=argparse.SUPPRESS)
    p.add_argument("--stack", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.case:
        print(json.dumps(run_case(args.case, args.model, args.stack, args.work)))
        return 0
    work = args.work or tempfile.mkdtemp(prefix="blindspot-streaming-")
    from napari_blindspot.engine import TrainConfig
    from napari_blindspot.engine.methods import get_method
    from napari_blindspot.engine.model import DenoisingModel
    from napari_blindspot.engine.normalization import Normalization

    import torch

    config = TrainConfig.for_method("n2v2", axes="TYX", device="cpu")
    torch.manual_seed(0)
    norm = Normalization((50.0,), (12.0,))
    model_path = os.path.join(work, "n2v2.safetensors")
    DenoisingModel(config, get_method(config).build(config, 1, 2, norm), norm, 1).save(model_path)
    records = []
    for frames in [int(f) for f in args.frames.split(",") if f]:  # --frames "": the cluster only
        stack = os.path.join(work, f"stack{frames}.tif")
        _make_stack(stack, frames)
        for case in args.cases.split(","):
            rec = _subprocess_case(case, model_path, stack, work)
            print(json.dumps(rec), flush=True)
            records.append(rec)
        os.unlink(stack)
    dist = None
    if args.files:
        dist = run_distributed(model_path, work, args.files, args.file_frames, args.workers)
        print(json.dumps(dist), flush=True)
    command = "python -m benchmarks.streaming " + " ".join(argv if argv is not None else sys.argv[1:])
    text = _report(records, dist, command.strip())
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text)
    print(text)
    subprocess.run(["rm", "-rf", work], check=False) if not args.work else None
    return 0


if __name__ == "__main__":
    sys.exit(main())
