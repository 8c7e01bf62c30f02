"""Stop when converged (issue 23): validation-loss curves of long one-shot runs, and what the
stopping rule (:mod:`napari_blindspot.engine.training.convergence`) would have saved and cost.

``curves`` trains the one-shot HQ-SSL default (CPU settings) for a FIXED number of steps on ONE
thread (quality does not depend on the load) and records, at every validation, the validation
loss and the PSNR of the best weights so far (one plain pass, no test-time augmentation; the
method's finish, the noise refit, is left out so every point is comparable).  Because stopping
only ends a run (the learning-rate schedule follows the planned length), the rule's stop on a
recorded curve gives exactly the model a stopped run keeps: ``render`` replays every curve
through the rule (:func:`replay`) for a few candidate settings and writes the table into
``docs/performance.md`` (block ``convergence``)::

    python -m benchmarks.convergence curves --units fmd1 filaments --steps 2000
    python -m benchmarks.convergence render

Results accumulate in ``docs/convergence.json`` (a rerun computes only what is missing; several
``curves`` processes may write to it at once).
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(os.environ.get("CONVERGENCE_RESULTS", ROOT / "docs" / "convergence.json"))
DOC = ROOT / "docs" / "performance.md"
#: The images: FMD confocal fields (``fmdN``) and the synthetic fine structures.
UNITS = ("fmd1", "fmd2", "fmd3", "filaments", "membranes")
#: Rule settings replayed by ``render``: (patience, relative tolerance, minimum share).
CANDIDATES = ((4, 0.0005, 0.5), (6, 0.001, 0.5), (6, 0.002, 0.5), (6, 0.001, 0.75), (8, 0.001, 0.5),
              (8, 0.002, 0.5), (10, 0.002, 0.5))


def load() -> dict:
    return json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}


def save_entry(key: str, entry: dict) -> None:
    """Add ``entry`` under ``key``, re-reading the file under a lock (parallel writers)."""
    with open(Path(tempfile.gettempdir()) / "blindspot_convergence.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        res = load()
        res.setdefault("curves", {})[key] = entry
        RESULTS.write_text(json.dumps(res, indent=1, sort_keys=True) + "\n")


def unit(name: str) -> tuple[np.ndarray, np.ndarray]:
    """``(noisy, clean float32)`` of image ``name`` (one of :data:`UNITS`), both ``(Y, X)``."""
    if name.startswith("fmd"):
        from .datasets import default_data_dir, fmd_unit

        u = fmd_unit(default_data_dir(), [int(name[3:])], None)
        return u.noisy[0], u.clean[0].astype(np.float32)
    from . import fine_structures_data as fsd

    u = fsd.synthetic_unit(name, 1)
    return u.noisy, u.clean.astype(np.float32)


def record(name: str, steps: int, threads: int) -> dict:
    """Train the one-shot default for ``steps`` steps on ``name``; the curve, validation by
    validation: ``[step, val_loss, best_step, psnr of the best weights so far, elapsed s]``."""
    import torch

    from napari_blindspot.engine import TrainConfig, TrainingFinished, TrainingProgress, TrainingRun

    from .metrics import psnr

    torch.set_num_threads(threads)
    noisy, clean = unit(name)
    config = TrainConfig.for_method("hqssl", axes="YX", steps=steps, time_budget_s=None, device="cpu",
                                    num_threads=threads, seed=0, stop_when_converged=False)
    run = TrainingRun(noisy, config)
    points: list[list[float]] = []
    best_psnr = float("nan")
    finished = None
    loads = []
    for ev in run.events():
        if isinstance(ev, TrainingProgress) and ev.validated:
            if run.best_step == ev.step:  # new best weights: the model a stop here keeps
                model = run._snapshot(final=False)
                best_psnr = psnr(clean, np.asarray(model.denoise(noisy, "YX", tta=False), np.float32),
                                 255.0)
            points.append([ev.step, float(ev.val_loss), run.best_step, best_psnr, ev.elapsed_s])
            loads.append(os.getloadavg()[0])
            print(name, points[-1], flush=True)
        elif isinstance(ev, TrainingFinished):
            finished = ev
    assert finished is not None
    final = psnr(clean, np.asarray(finished.model.denoise(noisy, "YX", tta=False), np.float32), 255.0)
    return {"steps": steps, "threads": threads, "points": points, "final_psnr": final,
            "noisy_psnr": psnr(clean, noisy.astype(np.float32), 255.0),
            "validation_interval": config.validation_interval, "loop_s": finished.elapsed_s,
            "load_mean": float(np.mean(loads)), "date": time.strftime("%Y-%m-%d %H:%M")}


def curves(args: argparse.Namespace) -> None:
    for name in args.units:
        key = f"{name}|{args.steps}"
        if key in load().get("curves", {}) and not args.force:
            continue
        save_entry(key, record(name, args.steps, args.threads))


def replay(entry: dict, patience: int, tolerance: float, min_share: float) -> dict:
    """Feed a recorded curve to the stopping rule; where it stops and what the model then is.

    Returns ``{"stop": step or None, "psnr_stop", "psnr_end", "saved": share of steps}``."""
    from napari_blindspot.engine.training.convergence import ConvergenceRule

    rule = ConvergenceRule(patience=patience, tolerance=tolerance, min_share=min_share)
    end = entry["points"][-1]
    for step, loss, _best_step, best_psnr, _elapsed in entry["points"]:
        if rule.update(loss, step / entry["steps"]):
            return {"stop": int(step), "psnr_stop": best_psnr, "psnr_end": end[3],
                    "saved": 1.0 - step / entry["steps"]}
    return {"stop": None, "psnr_stop": end[3], "psnr_end": end[3], "saved": 0.0}


def table(res: dict) -> str:
    """The markdown block: the curves' facts, then every candidate rule on every curve."""
    from napari_blindspot.engine.training.convergence import (MIN_SHARE, PATIENCE,
                                                              RELATIVE_TOLERANCE)

    entries = res.get("curves", {})
    lines = ["Long one-shot HQ-SSL runs (CPU defaults, fixed steps, one thread, validation every "
             "50 steps); PSNR of the best weights so far, one plain pass (dB):", "",
             "| image | steps | best step | PSNR at 25% | at 50% | at the end | the final model "
             "(with the method's finish) | mean load |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for key, e in sorted(entries.items()):
        pts = e["points"]

        def at(share: float) -> float:
            return next(p[3] for p in pts if p[0] >= share * e["steps"])

        lines.append(f"| {key.split('|')[0]} | {e['steps']:,} | {pts[-1][2]:,} | {at(0.25):.2f} | "
                     f"{at(0.5):.2f} | {pts[-1][3]:.2f} | {e['final_psnr']:.2f} | {e['load_mean']:.1f} |")
    lines += ["", "The rule replayed on these curves (`patience` validations without a relative "
              "improvement over `tolerance`, never before `min share` of the planned run); "
              "PSNR change = at the stop minus at the end (dB), steps saved in % of the run:", "",
              "| patience | tolerance | min share | " + " | ".join(k.split("|")[0] for k in
                                                                    sorted(entries)) + " |",
              "|---:|---:|---:|" + "---|" * len(entries)]
    for patience, tol, share in CANDIDATES:
        cells = []
        for key in sorted(entries):
            r = replay(entries[key], patience, tol, share)
            cells.append("runs to the end" if r["stop"] is None else
                         f"stop {r['stop']:,}: {r['psnr_stop'] - r['psnr_end']:+.2f} dB, "
                         f"{r['saved']:.0%} saved")
        chosen = " (default)" if (patience, tol, share) == (PATIENCE, RELATIVE_TOLERANCE, MIN_SHARE) \
            else ""
        lines.append(f"| {patience}{chosen} | {tol:g} | {share:g} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def render(args: argparse.Namespace) -> None:
    from .doc_blocks import write_block

    body = table(load())
    print(body)
    write_block(DOC, "convergence", body, required=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("curves")
    c.add_argument("--units", nargs="+", choices=UNITS, default=["fmd1", "filaments"])
    c.add_argument("--steps", type=int, default=2000)
    c.add_argument("--threads", type=int, default=1)
    c.add_argument("--force", action="store_true")
    sub.add_parser("render")
    args = p.parse_args(argv)
    {"curves": curves, "render": render}[args.cmd](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
