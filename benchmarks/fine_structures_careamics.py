"""CAREamics N2V2 on the fine-structure set (the issue's comparison column).

    python -m benchmarks.fine_structures_careamics --images filaments_1 membranes_1 ...

CAREamics 0.3.5 (``bash benchmarks/setup_careamics.sh`` makes ``benchmarks/.venv-careamics``),
called through ``benchmarks/careamics_runner.py`` like ``benchmarks/yardstick.py`` does: its
defaults (U-Net depth 2, 32 features, its learning rate and masking), 64x64 patches in batches of
16, a FIXED number of steps (``--steps``, default 300: the same step count as ours, each step
sees 16 * 64 * 64 = 65,536 pixels against our 128 * 128 = 16,384, i.e. 4x ours), one thread,
its tiled prediction.  Results go into ``docs/fine_structures.json`` (``table`` section,
``careamics`` per image) and the table in ``docs/fine_structures.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from . import fine_structures as fs
from .metrics import psnr

CARE_PYTHON = fs.ROOT / "benchmarks" / ".venv-careamics" / "bin" / "python"


def run_one(noisy: np.ndarray, steps: int, work: Path, name: str) -> tuple[np.ndarray, dict]:
    np.save(work / f"{name}_in.npy", noisy.astype(np.float32))
    job = {"name": name, "out_dir": str(work), "input": str(work / f"{name}_in.npy"), "axes": "YX",
           "method": "n2v2", "steps": steps, "patch_size": 64, "batch_size": 16, "seed": 0,
           "tile_size": 256, "device": "cpu", "save_prediction": True, "num_workers": 0}
    (work / f"{name}.jobs.json").write_text(json.dumps([job]))
    env = dict(os.environ, PYTHONWARNINGS="ignore", OMP_NUM_THREADS="1")
    t0 = time.perf_counter()
    out = subprocess.run([str(CARE_PYTHON), str(fs.ROOT / "benchmarks" / "careamics_runner.py"),
                          "--jobs", str(work / f"{name}.jobs.json")],
                         capture_output=True, text=True, check=False, env=env)
    record_path = work / f"{name}.json"
    record = json.loads(record_path.read_text()) if record_path.is_file() else {}
    if not record.get("ok"):
        raise RuntimeError(f"CAREamics failed: {record.get('error') or out.stderr[-2000:]}")
    record["wall_s"] = time.perf_counter() - t0
    return np.load(work / f"{name}.npy"), record


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.fine_structures_careamics",
                                description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", nargs="+", required=True)
    p.add_argument("--steps", type=int, default=fs.STEPS)
    args = p.parse_args(argv)
    if not CARE_PYTHON.is_file():
        print(f"CAREamics is not installed ({CARE_PYTHON}); run bash benchmarks/setup_careamics.sh")
        return 1
    units = {u.name: u for u in fs.all_units() if u.name in args.images}
    for name in args.images:
        u = units[name]
        res = fs.load()  # re-read: other benchmark commands may have saved meanwhile
        entry = res.setdefault("table", {}).setdefault(name, fs.unit_entry(u))
        if "careamics" in entry:
            continue
        print(f"{name}: CAREamics N2V2, {args.steps} steps", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            out, record = run_one(u.noisy, args.steps, Path(tmp), "care")
        entry["careamics"] = {"psnr": psnr(u.clean, out.astype(np.float32), u.data_range),
                              "steps": args.steps, "patch_size": 64, "batch_size": 16,
                              "train": record.get("train"), "wall_s": record["wall_s"],
                              "versions": record.get("versions")}
        fs.keep_crop(f"table|{name}|CAREamics N2V2", out)
        print(f"    {entry['careamics']['psnr']:.2f} dB", flush=True)
        fs.save(res)
    from .fine_structures_report import render

    render(fs.load())
    return 0


if __name__ == "__main__":
    sys.exit(main())
