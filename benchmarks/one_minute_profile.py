"""Where a one-shot HQ-SSL training step's time goes (issue 23): ``torch.profiler`` over
``--steps`` steps after a warm-up, on a 512x512 FMD field, grouped into data (patch drawing),
forward (network + likelihood), backward, optimizer and the rest; CPU time, so the shares are
roughly independent of the machine's load (the absolute figures are not)::

    python -m benchmarks.one_minute_profile --steps 30 --threads 2
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def profile(steps: int, threads: int) -> dict[str, Any]:
    import torch
    from torch.profiler import ProfilerActivity, profile as torch_profile, record_function

    from napari_blindspot.engine import TrainingRun

    from .one_minute import config, units

    torch.set_num_threads(threads)
    _, noisy, _ = units("fmd", [1])[0]
    run = TrainingRun(noisy, config(10 + steps, validation_interval=10**6))
    run.prepare()
    shares: dict[str, float] = {}
    original = run.sampler.draw, run._loss, run.optimizer.step

    def timed(name: str, fn: Any) -> Any:
        def inner(*a: Any, **k: Any) -> Any:
            with record_function(f"one_minute::{name}"):
                return fn(*a, **k)
        return inner

    run.sampler.draw = timed("data", original[0])
    run._loss = timed("forward", original[1])
    run.optimizer.step = timed("optimizer", original[2])
    events = run.events()
    for ev in events:  # warm-up
        if run.step >= 10:
            break
    with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
        for ev in events:
            pass
    for e in prof.key_averages():
        if e.key.startswith("one_minute::"):
            shares[e.key.split("::")[1]] = e.cpu_time_total / 1e6
        if e.key.startswith("autograd::engine::evaluate_function"):
            shares["backward"] = shares.get("backward", 0.0) + e.self_cpu_time_total / 1e6
    # the whole loop, for the remainder
    total = sum(e.self_cpu_time_total for e in prof.key_averages()) / 1e6
    top = [(e.key, e.self_cpu_time_total / 1e6) for e in
           sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)[:12]]
    return {"steps": steps, "threads": threads, "cpu_s_total": total, "groups_s": shares,
            "top_ops_s": top}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    print(json.dumps(profile(args.steps, args.threads), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
