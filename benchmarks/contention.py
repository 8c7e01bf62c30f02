"""Training throughput on a shared CPU: alone, and beside a CPU-bound process.

Each measurement runs in a fresh process (OpenMP reads its wait policy at start-up): it trains
for ``--seconds`` (after a warm-up) on a 512x512 image and reports patches per second.  The
competing process is one single-threaded CPU-bound loop, as "another process sharing the CPU".
Settings compared: all cores (torch's default, what 0.1 did), one thread, OpenMP's passive wait
policy with all cores, and napari-blindspot's adaptive threads (``num_threads=None``)::

    python -m benchmarks.contention                       # n2v2 and hqssl, about 5 minutes
    python -m benchmarks.contention --methods hqssl --seconds 20
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

SETTINGS = {
    "all cores (0.1)": {"threads": "all", "env": {}},
    "1 thread": {"threads": "1", "env": {}},
    "all cores, OMP_WAIT_POLICY=PASSIVE": {"threads": "all", "env": {"OMP_WAIT_POLICY": "PASSIVE"}},
    "adaptive (default)": {"threads": "auto", "env": {}},
}

CHILD = r"""
import json, sys, time, numpy as np, torch
from napari_blindspot.engine import TrainConfig, TrainingRun, TrainingProgress
method, threads, seconds, warmup = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
img = np.random.default_rng(0).poisson(np.tile(np.linspace(5, 80, 512), (512, 1))).astype(np.float32)
n = {"all": torch.get_num_threads(), "1": 1, "auto": None}[threads]
if n is not None:
    torch.set_num_threads(n)
cfg = TrainConfig.for_method(method, axes="YX", steps=None, time_budget_s=seconds + warmup,
                             num_threads=n, validation_fraction=0.0)
run = TrainingRun(img, cfg)
t_start = None
steps_start = 0
for ev in run.events():
    if isinstance(ev, TrainingProgress) and t_start is None and ev.elapsed_s >= warmup:
        t_start, steps_start = time.perf_counter(), ev.step
elapsed = time.perf_counter() - t_start
print(json.dumps({"patches_per_s": (run.step - steps_start) * cfg.batch_size / elapsed,
                  "threads_end": torch.get_num_threads()}))
"""

COMPETITOR = "import time\nend = time.time() + 3600\nx = 0\nwhile time.time() < end:\n    x += 1\n"


def measure(method: str, setting: dict, seconds: float, warmup: float) -> dict:
    env = dict(os.environ, **setting["env"])
    out = subprocess.run([sys.executable, "-c", CHILD, method, setting["threads"], str(seconds), str(warmup)],
                         env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--methods", default="n2v2,hqssl")
    p.add_argument("--seconds", type=float, default=25.0, help="measured training seconds per run")
    p.add_argument("--warmup", type=float, default=5.0)
    p.add_argument("--out", help="also write the JSON results here")
    args = p.parse_args(argv)
    results = []
    for method in args.methods.split(","):
        for load in ("alone", "beside a CPU-bound process"):
            competitor = (subprocess.Popen([sys.executable, "-c", COMPETITOR]) if load != "alone" else None)
            try:
                time.sleep(0.5)
                for name, setting in SETTINGS.items():
                    r = measure(method, setting, args.seconds, args.warmup)
                    results.append({"method": method, "load": load, "setting": name, **r})
                    print(f"{method:6s} {load:28s} {name:36s} {r['patches_per_s']:7.1f} patches/s "
                          f"(threads at the end: {r['threads_end']})", flush=True)
            finally:
                if competitor is not None:
                    competitor.kill()
                    competitor.wait()
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
