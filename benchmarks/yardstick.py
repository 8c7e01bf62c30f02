"""The yardstick: a one-shot denoise of real microscope data, as a user runs it, against
CAREamics N2V2 and BM3D, in one run on one machine.

Every napari-blindspot result comes from the ``blindspot`` command itself, in a fresh process,
with its defaults (``blindspot denoise in.tif -o out.tif``: HQ-SSL, the noise measured on the
image, about 3 minutes on two CPU cores), so the figures are what users get.  CAREamics N2V2
(its defaults, in its own environment: ``bash benchmarks/setup_careamics.sh``) trains for the
same number of seconds.  BM3D gets the noise sigma two ways: estimated from the noisy image
(scikit-image's wavelet estimate, as a user would) and the oracle (the std of noisy - clean).
PSNR in dB over 0..255 against the clean reference (FMD: the mean of 50 captures)::

    python -m benchmarks.yardstick                                # FMD fields 1-10, full frames
    python -m benchmarks.yardstick --competitor                   # beside a CPU-bound process
    python -m benchmarks.yardstick --stack                        # the 50-frame stack, 5 minutes
    python -m benchmarks.yardstick --set12 08,09,10,11,12         # Gaussian sigma 25
    python -m benchmarks.yardstick --fovs 1 --seconds 20 --crop 128 --out /tmp/y.md   # a try-out
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import tifffile

from . import datasets as ds
from .metrics import psnr

REPO = Path(__file__).resolve().parents[1]
CARE_PYTHON = REPO / "benchmarks" / ".venv-careamics" / "bin" / "python"
#: The CLI's one-shot default (training seconds; the rest of the 3 minutes is calibration,
#: prediction and reading and writing files).
DEFAULT_SECONDS = 165.0
COMPETITOR = "import time\nend = time.time() + 86400\nx = 0\nwhile time.time() < end:\n    x += 1\n"


class Competitor:
    """A single-threaded CPU-bound process, running while the context is entered (if enabled)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled, self.proc = enabled, None

    def __enter__(self) -> "Competitor":
        if self.enabled:
            self.proc = subprocess.Popen([sys.executable, "-c", COMPETITOR])
            time.sleep(0.3)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()


def blindspot(args: list[str], seconds: float, competitor: bool) -> tuple[float, str]:
    """Run ``blindspot ARGS`` (with ``--minutes`` unless the CLI's default is meant); returns
    the wall time and what it printed."""
    cmd = [sys.executable, "-m", "napari_blindspot.cli"] + args
    if abs(seconds - DEFAULT_SECONDS) > 1e-6:
        cmd += ["--minutes", f"{seconds / 60:.6f}"]
    t0 = time.perf_counter()
    with Competitor(competitor):
        out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed: {out.stderr[-2000:]}")
    return time.perf_counter() - t0, out.stderr


def careamics(noisy: np.ndarray, axes: str, seconds: float, work: Path, name: str,
              competitor: bool) -> tuple[np.ndarray, dict]:
    """CAREamics N2V2 with its defaults for ``seconds`` of training, then its tiled prediction."""
    np.save(work / f"{name}_in.npy", noisy.astype(np.float32))
    job = {"name": name, "out_dir": str(work), "input": str(work / f"{name}_in.npy"), "axes": axes,
           "method": "n2v2", "budget_s": seconds, "patch_size": 64, "batch_size": 16, "seed": 0,
           "tile_size": 256, "device": "cpu", "save_prediction": True}
    (work / f"{name}.jobs.json").write_text(json.dumps([job]))
    t0 = time.perf_counter()
    with Competitor(competitor):
        out = subprocess.run([str(CARE_PYTHON), str(REPO / "benchmarks" / "careamics_runner.py"),
                              "--jobs", str(work / f"{name}.jobs.json")],
                             capture_output=True, text=True, check=False,
                             env=dict(os.environ, PYTHONWARNINGS="ignore"))
    record_path = work / f"{name}.json"
    if not record_path.is_file():
        raise RuntimeError(f"CAREamics failed: {out.stderr[-2000:]}")
    record = json.loads(record_path.read_text())
    if not record.get("ok"):
        raise RuntimeError(f"CAREamics failed: {record.get('error')}")
    record["wall_s"] = time.perf_counter() - t0
    return np.load(work / f"{name}.npy"), record


def bm3d_both(noisy: np.ndarray, clean: np.ndarray) -> dict[str, float]:
    """PSNR of BM3D with an estimated and with the oracle sigma (2D frames)."""
    import bm3d
    from skimage.restoration import estimate_sigma

    est = float(estimate_sigma(noisy))
    oracle = float(np.std(noisy.astype(np.float64) - clean))
    return {"bm3d_est": psnr(clean, bm3d.bm3d(noisy, sigma_psd=est), 255.0), "sigma_est": est,
            "bm3d_oracle": psnr(clean, bm3d.bm3d(noisy, sigma_psd=oracle), 255.0),
            "sigma_oracle": oracle}


def steps_of(stderr: str) -> str:
    for line in stderr.splitlines():
        if line.startswith("Training ") and " after " in line:
            return line.split(" after ")[1].split(" steps")[0]
    return "?"


# ---------------------------------------------------------------- the three studies
def run_fields(args: argparse.Namespace, work: Path) -> list[dict]:
    rows = []
    for fov in args.fovs:
        unit = ds.fmd_unit(Path(args.data_dir), [fov], args.crop or None)
        noisy = np.asarray(unit.noisy, np.float32).reshape(unit.noisy.shape[-2:])
        clean = np.asarray(unit.clean, np.float64).reshape(noisy.shape)
        raw = work / f"fov{fov:02d}.tif"
        tifffile.imwrite(raw, noisy.astype(np.uint8))  # what the microscope wrote: 8-bit
        row = {"image": f"fov{fov:02d}", "noisy": psnr(clean, noisy, 255.0), "load": os.getloadavg()[0]}
        for method in args.methods:
            if method == "n2n":  # needs a second acquisition: the stack study has the ceiling
                continue
            if method == "bm3d":
                row.update(bm3d_both(noisy, clean))
            elif method == "careamics:n2v2":
                if not CARE_PYTHON.is_file():
                    continue
                out, rec = careamics(noisy, "YX", args.seconds, work, f"care_fov{fov:02d}", args.competitor)
                row["careamics:n2v2"] = psnr(clean, out, 255.0)
                row["careamics:n2v2 steps"] = rec.get("train", {}).get("steps")
            else:
                out_path = work / f"{method}_fov{fov:02d}.tif"
                extra = [] if method == "hqssl" else ["--method", method]
                wall, err = blindspot(["denoise", str(raw), "-o", str(out_path), *extra], args.seconds,
                                      args.competitor)
                row[method] = psnr(clean, tifffile.imread(out_path), 255.0)
                row[f"{method} steps"], row[f"{method} wall_s"] = steps_of(err), wall
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def run_stack(args: argparse.Namespace, work: Path) -> list[dict]:
    unit = ds.fmd_stack_unit(Path(args.data_dir), None, args.crop or None, 1)
    stack = np.asarray(unit.noisy)
    clean = np.asarray(unit.clean, np.float64).reshape(stack.shape[-2:])
    raw = work / "stack.tif"
    tifffile.imwrite(raw, stack.astype(np.uint8), imagej=True, metadata={"axes": "TYX"})
    half = stack.shape[0] // 2
    a, b = work / "first.tif", work / "second.tif"
    tifffile.imwrite(a, stack[:half].astype(np.uint8), imagej=True, metadata={"axes": "TYX"})
    tifffile.imwrite(b, stack[half:2 * half].astype(np.uint8), imagej=True, metadata={"axes": "TYX"})
    results: dict[str, np.ndarray] = {}
    info: dict[str, str] = {}
    if "hqssl" in args.methods:
        out = work / "hqssl.tif"
        _, err = blindspot(["denoise", str(raw), "-o", str(out)], args.seconds, args.competitor)
        results["hqssl"], info["hqssl"] = tifffile.imread(out), steps_of(err)
    if "careamics:n2v2" in args.methods and CARE_PYTHON.is_file():
        results["careamics:n2v2"], rec = careamics(stack, "TYX", args.seconds, work, "care_stack",
                                                   args.competitor)
        info["careamics:n2v2"] = str(rec.get("train", {}).get("steps"))
    if "n2n" in args.methods:  # the ceiling: captures t and t + 25 as pairs
        model, out_a, out_b = work / "n2n.safetensors", work / "n2n_a.tif", work / "n2n_b.tif"
        _, err = blindspot(["denoise", str(a), "--target", str(b), "--save-model", str(model),
                            "-o", str(out_a)], args.seconds, args.competitor)
        subprocess.run([sys.executable, "-m", "napari_blindspot.cli", "denoise", str(b), "--model",
                        str(model), "-o", str(out_b)], check=True, capture_output=True)
        results["n2n"] = np.concatenate([tifffile.imread(out_a), tifffile.imread(out_b)])
        info["n2n"] = steps_of(err)
    rows = []
    for t in range(2 * half):
        row = {"image": f"frame {t}", "noisy": psnr(clean, stack[t], 255.0)}
        for name, res in results.items():
            row[name] = psnr(clean, res[t], 255.0)
        rows.append(row)
    rows.append({"image": "steps", **info})
    return rows


def run_set12(args: argparse.Namespace, work: Path) -> list[dict]:
    rows = []
    for unit in ds.set12_units(Path(args.data_dir), args.set12, args.crop or None, 0):
        noisy = np.asarray(unit.noisy, np.float32).reshape(unit.noisy.shape[-2:])
        clean = np.asarray(unit.clean, np.float64).reshape(noisy.shape)
        raw = work / f"{unit.name}.tif"
        tifffile.imwrite(raw, noisy)
        row = {"image": unit.name, "noisy": psnr(clean, noisy, 255.0), "load": os.getloadavg()[0]}
        for label, extra in (("hqssl (measured)", []),
                             ("hqssl (known sigma)", ["--noise-model", "gaussian-known",
                                                      "--noise-sigma", str(ds.SIGMA)])):
            out = work / "out.tif"
            out.unlink(missing_ok=True)
            _, err = blindspot(["denoise", str(raw), "-o", str(out), *extra], args.seconds, args.competitor)
            row[label] = psnr(clean, tifffile.imread(out), 255.0)
        if "bm3d" in args.methods:
            row.update(bm3d_both(noisy, clean))
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


# ---------------------------------------------------------------- report
def table(rows: list[dict], columns: list[str]) -> list[str]:
    lines = ["| image | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for r in rows:
        cells = [(f"{r[c]:.2f}" if isinstance(r.get(c), float) else str(r.get(c, ""))) for c in columns]
        lines.append(f"| {r['image']} | " + " | ".join(cells) + " |")
    numeric = [r for r in rows if isinstance(r.get(columns[0]), float)]
    if len(numeric) > 1:
        means = [np.mean([r[c] for r in numeric if isinstance(r.get(c), float)]) if any(
            isinstance(r.get(c), float) for r in numeric) else float("nan") for c in columns]
        lines.append("| **mean** | " + " | ".join("" if np.isnan(m) else f"**{m:.2f}**" for m in means)
                     + " |")  # no mean of step counts (text)
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--fovs", default="1-10", help="FMD fields of view, e.g. 1-10 or 1,3 [1-10]")
    p.add_argument("--stack", action="store_true", help="the 50-frame stack of field 3 instead")
    p.add_argument("--set12", help="Set12 images (sigma 25) instead, e.g. 08,09")
    p.add_argument("--seconds", type=float, help=f"training seconds per run [{DEFAULT_SECONDS:g}, the "
                   "CLI's one-shot default; 300 with --stack]")
    p.add_argument("--methods", default="hqssl,n2v2,careamics:n2v2,bm3d,n2n",
                   help="which rows [hqssl,n2v2,careamics:n2v2,bm3d,n2n]")
    p.add_argument("--crop", type=int, default=0, help="centre crop in pixels, 0: full frames [0]")
    p.add_argument("--competitor", action="store_true", help="a CPU-bound process runs alongside")
    p.add_argument("--data-dir", default=str(ds.default_data_dir()))
    p.add_argument("--out", help="also write a Markdown report here")
    args = p.parse_args(argv)
    args.methods = args.methods.split(",")
    if args.seconds is None:
        args.seconds = 300.0 if args.stack else DEFAULT_SECONDS
    lo_hi = args.fovs.split("-")
    args.fovs = (list(range(int(lo_hi[0]), int(lo_hi[1]) + 1)) if len(lo_hi) == 2
                 else [int(v) for v in args.fovs.split(",")])
    if args.set12:
        args.set12 = args.set12.split(",")
    with tempfile.TemporaryDirectory(prefix="yardstick_") as tmp:
        work = Path(tmp)
        if args.stack:
            rows, title = run_stack(args, work), "FMD confocal, the 50-frame stack of field 3"
        elif args.set12:
            rows, title = run_set12(args, work), f"Set12, Gaussian sigma {ds.SIGMA:g}"
        else:
            rows, title = run_fields(args, work), "FMD confocal, one-shot on single full frames"
    columns = [c for c in dict.fromkeys(k for r in rows for k in r) if c not in ("image", "load")]
    loads = ", ".join(f"{r['load']:.1f}" for r in rows if "load" in r)
    lines = [f"### {title}", "",
             f"`python -m benchmarks.yardstick {' '.join(argv if argv is not None else sys.argv[1:])}`"
             f" — {args.seconds:g} s of training per run"
             f"{', beside a CPU-bound process' if args.competitor else ''}; {platform.processor() or platform.machine()}, "
             f"{os.cpu_count()} cores; 1-minute load before the runs: "
             f"{loads or 'n/a'}.", ""]
    lines += table(rows, columns)
    report = "\n".join(lines) + "\n"
    print(report)
    if args.out:
        Path(args.out).write_text(report, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
