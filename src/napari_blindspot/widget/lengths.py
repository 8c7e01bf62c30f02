"""Training lengths as people write them: "1500 steps", "20 epochs", "5 minutes", "1 h 30 min"."""

from __future__ import annotations

import re
from typing import Any

from ..engine import ConfigError, TrainConfig

LENGTH_EXAMPLES = "'1500 steps', '20 epochs', '5 minutes' or '1 h 30 min'"

_UNITS = {"h": 3600.0, "hr": 3600.0, "hrs": 3600.0, "hour": 3600.0, "hours": 3600.0,
          "m": 60.0, "min": 60.0, "mins": 60.0, "minute": 60.0, "minutes": 60.0,
          "s": 1.0, "sec": 1.0, "secs": 1.0, "second": 1.0, "seconds": 1.0}
_DURATION_TERM = r"(\d+(?:\.\d+)?)\s*(hours|hour|hrs|hr|h|minutes|minute|mins|min|m|seconds|second|secs|sec|s)"


def parse_length(text: str) -> dict[str, Any]:
    """Training length -> ``{"steps", "epochs", "time_budget_s"}`` (exactly one set).

    A bare number means steps.  Raises :class:`ConfigError` for anything else.
    """
    t = text.strip().lower().replace(",", "").replace("_", "")
    out: dict[str, Any] = {"steps": None, "epochs": None, "time_budget_s": None}
    if m := re.fullmatch(r"(\d+)\s*(steps?|iterations?|iters?)?", t):
        out["steps"] = int(m.group(1))
    elif m := re.fullmatch(r"(\d+)\s*(epochs?|ep)", t):
        out["epochs"] = int(m.group(1))
    elif t and re.fullmatch(rf"(\s*{_DURATION_TERM}\s*)+", t):
        out["time_budget_s"] = sum(float(v) * _UNITS[u] for v, u in re.findall(_DURATION_TERM, t))
    else:
        raise ConfigError(f"Training length {text!r} is not understood: write e.g. {LENGTH_EXAMPLES}.")
    if not any(v for v in out.values()):
        raise ConfigError(f"Training length {text!r} must be more than zero.")
    return out


def format_length(config: TrainConfig) -> str:
    """The inverse of :func:`parse_length` for a configuration."""
    if config.time_budget_s:
        seconds = config.time_budget_s
        if seconds >= 60 and seconds % 60 == 0:
            return f"{int(seconds // 60)} minutes"
        if seconds > 60:
            return f"{int(seconds // 60)} min {seconds % 60:g} s"
        return f"{seconds:g} s"
    if config.epochs:
        return f"{config.epochs} epochs"
    return f"{config.steps} steps"
