"""torch.compile on a 2-core CPU (issue 23): does the opt-in ``compile`` setting pay within the
one-shot budget?

On the one-shot default (HQ-SSL's CPU settings, a 512x512 FMD field, two threads) it trains
``--steps`` steps eagerly, then the same steps with ``compile=True`` from a COLD inductor cache
(a fresh ``TORCHINDUCTOR_CACHE_DIR``), and records the seconds of the first step (the compiled
one includes compiling), the seconds per step after it (the minimum and the median over windows
of ``--window`` steps) and the load (``uptime``).  The one-shot default trains for a 45 s
budget, compiling included: ``render`` says how many steps each way fits in it and writes the
table into ``docs/performance.md`` (block ``compile``)::

    python -m benchmarks.compile_speed measure --steps 40
    python -m benchmarks.compile_speed render

Results accumulate in ``docs/compile_speed.json`` (every ``measure`` adds a run: under load one
run's step speeds are not to be trusted alone).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "compile_speed.json"
DOC = ROOT / "docs" / "performance.md"
#: The one-shot CPU training budget the decision is taken for (engine/defaults.py).
BUDGET_S = 45.0


def timed_run(noisy, steps: int, compile: bool, threads: int, window: int) -> dict:
    """Train ``steps`` steps; the first step's seconds and the seconds per later step."""
    import numpy as np

    from napari_blindspot.engine import TrainConfig, TrainingProgress, TrainingRun, TrainingStarted

    config = TrainConfig.for_method("hqssl", axes="YX", steps=steps, time_budget_s=None, device="cpu",
                                    num_threads=threads, seed=0, validation_interval=10 ** 6,
                                    stop_when_converged=False, compile=compile)
    run = TrainingRun(noisy, config)
    marks: dict[int, float] = {}
    for ev in run.events():
        if isinstance(ev, TrainingStarted):
            marks[0] = time.perf_counter()
        elif isinstance(ev, TrainingProgress):
            marks[ev.step] = time.perf_counter()
    per_window = [(marks[s + window] - marks[s]) / window
                  for s in range(1, steps - window + 1, window) if s + window in marks]
    return {"compile": compile, "compiled": run._loss.compiled, "failure": run._loss.failure,
            "first_step_s": marks[1] - marks[0], "s_per_step": min(per_window),
            "s_per_step_median": float(np.median(per_window)), "windows": per_window,
            "load": os.getloadavg()[0]}


def measure(args: argparse.Namespace) -> None:
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="inductor_cold_")
    import torch

    from .one_minute import units

    torch.set_num_threads(args.threads)
    _, noisy, _ = units("fmd", [1])[0]
    res = {"threads": args.threads, "torch": torch.__version__, "steps": args.steps,
           "image": "fmd_fov01 512x512", "date": time.strftime("%Y-%m-%d %H:%M"),
           "load_before": os.getloadavg()[0]}
    res["eager"] = timed_run(noisy, args.steps, False, args.threads, args.window)
    print(json.dumps(res["eager"]), flush=True)
    res["compiled"] = timed_run(noisy, args.steps, True, args.threads, args.window)
    print(json.dumps(res["compiled"]), flush=True)
    runs = json.loads(RESULTS.read_text())["runs"] if RESULTS.is_file() else []
    RESULTS.write_text(json.dumps({"runs": runs + [res]}, indent=1) + "\n")


def steps_in_budget(entry: dict, eager_first: float) -> tuple[float, int]:
    """``(seconds spent compiling, steps that fit in BUDGET_S)`` for one run."""
    compile_s = max(0.0, entry["first_step_s"] - eager_first) if entry["compile"] else 0.0
    first = entry["first_step_s"]
    return compile_s, 1 + max(0, int((BUDGET_S - first) / entry["s_per_step"]))  # the first always runs


def table(res: dict) -> str:
    runs = res["runs"]
    first = runs[0]
    lines = [f"torch {first['torch']}, {first['image']}, HQ-SSL CPU defaults, {first['threads']} threads, "
             f"{first['steps']}-{runs[-1]['steps']} steps each way, cold inductor cache; the machine is "
             "shared (load = `uptime`'s 1-minute average, several other jobs on its 2 cores):", "",
             "| run | training | first step (s) | compiling (s) | s/step after it (min / median) | "
             f"steps in a {BUDGET_S:.0f} s budget | load |", "|---|---|---:|---:|---:|---:|---:|"]
    verdicts = []
    for run in runs:
        eager, comp = run["eager"], run["compiled"]
        for name, e in (("eager (default)", eager), ("torch.compile", comp)):
            compile_s, n = steps_in_budget(e, eager["first_step_s"])
            lines.append(f"| {run['date']} | {name} | {e['first_step_s']:.1f} | {compile_s:.0f} | "
                         f"{e['s_per_step']:.3f} / {e['s_per_step_median']:.3f} | {n:,} | {e['load']:.1f} |")
        _, n_eager = steps_in_budget(eager, eager["first_step_s"])
        compile_s, n_comp = steps_in_budget(comp, eager["first_step_s"])
        verdicts.append((n_comp > n_eager, compile_s, eager["s_per_step"] / comp["s_per_step"],
                         comp["compiled"]))
    pays = any(v[0] for v in verdicts)
    lines += ["", "Compiling took " + ", ".join(f"{v[1]:.0f} s" for v in verdicts)
              + f" ({BUDGET_S:.0f} s is the whole one-shot training budget); a compiled step ran at "
              + ", ".join(f"{v[2]:.2f}x" for v in verdicts) + " the speed of an eager one (min of "
              "windows; under this load the step speeds are not reliable). Decision: "
              + ("compiling pays within the budget in at least one run." if pays else
                 "compiling does not pay within the budget, whatever a compiled step's speed: "
                 "`compile` stays off by default, for long fixed-step runs only.")
              + ("" if all(v[3] for v in verdicts) else " (A compiled run fell back to eager.)")]
    return "\n".join(lines)


def render(args: argparse.Namespace) -> None:
    from .doc_blocks import write_block

    body = table(json.loads(RESULTS.read_text()))
    print(body)
    write_block(DOC, "compile", body, required=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("measure")
    m.add_argument("--steps", type=int, default=40)
    m.add_argument("--window", type=int, default=10)
    m.add_argument("--threads", type=int, default=2)
    sub.add_parser("render")
    args = p.parse_args(argv)
    {"measure": measure, "render": render}[args.cmd](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
