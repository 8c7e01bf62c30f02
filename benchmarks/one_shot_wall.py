"""The one-shot default as a user runs it, timed by the wall clock (issue 23, items 3 and 5).

For every development FMD field, the noisy image is written to a TIFF and denoised by the
literal command ``blindspot denoise noisy.tif -o out.tif`` (no options: the CPU's one-shot
default, 45 s of HQ-SSL training and the prediction over the four rotations and their mirror
images) in a fresh process.  Recorded per
field: the process's wall-clock seconds, the seconds of the command itself (the process minus
Python's and torch's start-up: the import of torch and the CLI, minimum of 3), the training
steps the time budget bought (from the command's own "Training finished after N steps" line),
PSNR against the clean average, and the load average.  ``--busy`` runs the same beside one
CPU-bound single-threaded process (:data:`benchmarks.contention.COMPETITOR`), the "busy
process beside it" of item 5::

    python -m benchmarks.one_shot_wall --fovs 1 2 3 4 5 6 7 8 9 10
    python -m benchmarks.one_shot_wall --fovs 1 2 3 --busy
    python -m benchmarks.one_minute render        # the tables in docs/performance.md

Results accumulate in ``docs/one_minute.json`` (sections ``oneshot`` and ``oneshot_busy``).
Wall-clock figures are only as quiet as the machine: each carries its load average.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from .contention import COMPETITOR
from .one_minute import load, load_average, save, units

STEPS = re.compile(r"after ([\d,]+) steps?")


def startup_seconds() -> float:
    """Wall seconds of a process that imports torch and the CLI and ends, min of 3."""
    best = np.inf
    for _ in range(3):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import torch, napari_blindspot.cli.app"], check=True,
                       capture_output=True)
        best = min(best, time.perf_counter() - t)
    return float(best)


def one_field(noisy: np.ndarray, clean: np.ndarray, folder: Path) -> dict:
    """Denoise ``noisy`` (Y, X) with the bare one-shot command; wall seconds, steps, PSNR."""
    import tifffile

    from .metrics import psnr

    src, out = folder / "noisy.tif", folder / "denoised.tif"
    out.unlink(missing_ok=True)
    tifffile.imwrite(src, noisy)
    t = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "napari_blindspot.cli", "denoise", str(src), "-o", str(out)],
                          capture_output=True, text=True, env=dict(os.environ, NO_COLOR="1"))
    wall = time.perf_counter() - t
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    found = STEPS.search(done.stdout + done.stderr)
    result = np.asarray(tifffile.imread(out), np.float32)
    return {"wall_s": wall, "steps": int(found.group(1).replace(",", "")) if found else None,
            "psnr": psnr(clean, result, 255.0), "noisy": psnr(clean, noisy.astype(np.float32), 255.0),
            "load": load_average()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--fovs", type=int, nargs="+", default=list(range(1, 11)))
    p.add_argument("--busy", action="store_true", help="beside one CPU-bound process")
    p.add_argument("--force", action="store_true", help="measure again fields already measured")
    args = p.parse_args(argv)
    section = "oneshot_busy" if args.busy else "oneshot"
    res = load()
    res.setdefault(section, {})
    competitor = subprocess.Popen([sys.executable, "-c", COMPETITOR]) if args.busy else None
    try:
        time.sleep(0.5)
        res[section]["startup_s"] = startup_seconds()
        save(res)
        with tempfile.TemporaryDirectory() as tmp:
            for name, noisy, clean in units("fmd", args.fovs):
                if name in res[section] and not args.force:
                    continue
                entry = one_field(noisy, clean, Path(tmp))
                entry["date"] = time.strftime("%Y-%m-%d %H:%M")
                res = load()  # another run may have written meanwhile
                res.setdefault(section, {})[name] = entry
                save(res)
                print(section, name, {k: round(v, 3) if isinstance(v, float) else v
                                      for k, v in entry.items()}, flush=True)
    finally:
        if competitor is not None:
            competitor.kill()
            competitor.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
