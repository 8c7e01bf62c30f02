"""The learning-rate schedule: linear warm-up, then cosine decay (or constant)."""

from __future__ import annotations

import math


def learning_rate(base: float, progress: float, schedule: str, warmup: float) -> float:
    """Linear warm-up over ``warmup`` of the run, then cosine decay to 1% (or constant)."""
    if warmup > 0 and progress < warmup:
        return base * max(progress / warmup, 0.01)
    if schedule == "constant":
        return base
    p = min(1.0, (progress - warmup) / max(1e-9, 1.0 - warmup))
    return base * (0.01 + 0.99 * 0.5 * (1.0 + math.cos(math.pi * p)))
