"""A result in a minute (issue 23): PSNR of the one-shot HQ-SSL default against training length.

Quality is measured at FIXED STEP COUNTS (load-independent; each length is its own run, so the
learning-rate schedule ends at that length as a time budget's does), the speed as the MINIMUM
of repeated short timings with two threads (seconds per training step, seconds of prediction),
and the two are combined into "quiet" seconds.  The machine these figures come from is shared:
its load (``uptime``) is recorded with every timing.  Results accumulate in
``docs/one_minute.json`` (a rerun computes only what is missing); ``render`` writes the table
and ``docs/images/one_minute.png`` into ``docs/performance.md`` between the generated markers::

    python -m benchmarks.one_minute curve --fovs 1 2 3 --steps 250 500 1000 2000
    python -m benchmarks.one_minute curve --set fine --steps 500 1000
    python -m benchmarks.one_minute speed               # s/step, prediction s (min of repeats)
    python -m benchmarks.one_minute render

Prediction variants: ``plain`` (one pass), ``tta4`` (the four rotations) and ``tta8`` (the
rotations and their mirror images, the one-shot default up to 0.2.0).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(os.environ.get("ONE_MINUTE_RESULTS", ROOT / "docs" / "one_minute.json"))
DOC = ROOT / "docs" / "performance.md"
FIGURE = ROOT / "docs" / "images" / "one_minute.png"
VARIANTS = {"plain": 1, "tta4": 4, "tta8": 8}
#: Torch threads (quality does not depend on them; the timings are taken with 2).
THREADS = int(os.environ.get("ONE_MINUTE_THREADS", 2))


def load() -> dict:
    return json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}


def save(res: dict) -> None:
    RESULTS.write_text(json.dumps(res, indent=1, sort_keys=True) + "\n")


def load_average() -> float:
    return float(os.getloadavg()[0])


def units(which: str, fovs: list[int]) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``(name, noisy uint8/float (Y, X), clean float32)`` of the chosen images."""
    if which == "fine":
        from . import fine_structures_data as fsd

        out = []
        for kind, seed in fsd.DEV:
            u = fsd.synthetic_unit(kind, seed)
            out.append((u.name, u.noisy, u.clean.astype(np.float32)))
        return out
    from .datasets import default_data_dir, fmd_unit

    u = fmd_unit(default_data_dir(), fovs, None)
    return [(f"fmd_fov{f:02d}", u.noisy[i], u.clean[i]) for i, f in enumerate(fovs)]


def config(steps: int | None, budget: float | None = None, **overrides: Any) -> Any:
    """The one-shot default (the CPU's HQ-SSL settings) for ``steps`` steps."""
    from napari_blindspot.engine import TrainConfig

    return TrainConfig.for_method("hqssl", axes="YX", steps=steps, time_budget_s=budget,
                                  device="cpu", num_threads=THREADS, **{"seed": 0, **overrides})


def train(noisy: np.ndarray, steps: int, **overrides: Any) -> tuple[Any, dict]:
    from napari_blindspot.engine import TrainingFinished, TrainingRun

    run = TrainingRun(noisy, config(steps, **overrides))
    finished = None
    for ev in run.events():
        if isinstance(ev, TrainingFinished):
            finished = ev
    assert finished is not None
    return finished.model, {"steps": finished.step, "loop_s": finished.elapsed_s,
                            "best_step": run.best_step, "load": load_average()}


def predict(model: Any, noisy: np.ndarray, variant: str) -> np.ndarray:
    n = VARIANTS[variant]
    return np.asarray(model.denoise(noisy, "YX", tta=n if n > 1 else False), np.float32)


def curve(args: argparse.Namespace) -> None:
    import torch

    from .metrics import psnr

    torch.set_num_threads(THREADS)
    res = load()
    for name, noisy, clean in units(args.set, args.fovs):
        for steps in args.steps:
            key = f"{name}|{steps}"
            section = f"curve_lr{args.lr:g}" if args.lr else "curve"
            if key in res.get(section, {}) and not args.force:
                continue
            model, info = train(noisy, steps, **({"learning_rate": args.lr} if args.lr else {}))
            entry = {"noisy": psnr(clean, noisy.astype(np.float32), 255.0), **info}
            for variant in args.variants:
                entry[variant] = psnr(clean, predict(model, noisy, variant), 255.0)
            res.setdefault(section, {})[key] = entry
            save(res)
            print(key, {k: round(v, 3) if isinstance(v, float) else v for k, v in entry.items()},
                  flush=True)


def speed(args: argparse.Namespace) -> None:
    """Seconds per training step (min over ``--repeats`` windows of ``--window`` steps after a
    warm-up) and prediction seconds per variant (min of ``--repeats``) on a 512x512 FMD field."""
    import torch

    from napari_blindspot.engine import TrainingProgress, TrainingRun

    torch.set_num_threads(THREADS)
    name, noisy, _ = units("fmd", [1])[0]
    steps = 10 + args.repeats * args.window
    run = TrainingRun(noisy, config(steps, validation_interval=10**6))
    t0 = time.perf_counter()
    run.prepare()
    prepare_s = time.perf_counter() - t0
    marks: dict[int, float] = {}
    for ev in run.events():
        if isinstance(ev, TrainingProgress):
            marks[ev.step] = time.perf_counter()
    # the steps between progress events: windows of at least ``window`` steps after step 10
    times = sorted(marks.items())
    per_step = []
    i = 0
    while i < len(times):
        s0, t_0 = times[i]
        if s0 < 10:
            i += 1
            continue
        j = next((k for k in range(i + 1, len(times)) if times[k][0] - s0 >= args.window), None)
        if j is None:
            break
        per_step.append((times[j][1] - t_0) / (times[j][0] - s0))
        i = j
    model = run.model
    pred = {}
    for variant in VARIANTS:
        best = np.inf
        for _ in range(args.repeats if variant == "plain" else max(1, args.repeats // 2)):
            t = time.perf_counter()
            predict(model, noisy, variant)
            best = min(best, time.perf_counter() - t)
        pred[variant] = best
    # the same augmentations without HQ-SSL's shared rotations (one network pass per transform,
    # as before issue 22's seventh round), timed in the same run for the ratio
    from napari_blindspot.engine.methods.hqssl.method import HQSSL

    shared = HQSSL.infer_tta
    HQSSL.infer_tta = lambda *a, **k: None
    try:
        for variant in ("tta4", "tta8"):
            best = np.inf
            for _ in range(max(1, args.repeats // 2)):
                t = time.perf_counter()
                predict(model, noisy, variant)
                best = min(best, time.perf_counter() - t)
            pred[f"{variant}_unshared"] = best
    finally:
        HQSSL.infer_tta = shared
    res = load()
    res["speed"] = {"s_per_step": min(per_step), "s_per_step_all": per_step,
                    "prepare_s": prepare_s, "predict_s": pred, "load": load_average(),
                    "threads": THREADS, "image": name, "date": time.strftime("%Y-%m-%d %H:%M")}
    save(res)
    print(json.dumps(res["speed"], indent=1))


def render(args: argparse.Namespace) -> None:
    from .one_minute_report import render_doc

    render_doc(load(), DOC, FIGURE)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("curve")
    c.add_argument("--set", choices=("fmd", "fine"), default="fmd")
    c.add_argument("--fovs", type=int, nargs="+", default=[1, 2, 3])
    c.add_argument("--steps", type=int, nargs="+", default=[250, 500, 1000, 2000])
    c.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    c.add_argument("--force", action="store_true")
    c.add_argument("--lr", type=float, default=None,
                   help="another learning rate than the default (stored apart: curve_lr<value>)")
    s = sub.add_parser("speed")
    s.add_argument("--repeats", type=int, default=6)
    s.add_argument("--window", type=int, default=20)
    sub.add_parser("render")
    args = p.parse_args(argv)
    {"curve": curve, "speed": speed, "render": render}[args.cmd](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
