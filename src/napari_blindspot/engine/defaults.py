"""The one source of default training settings for the engine, the command line and the widget.

The evidence (docs/benchmarks.md, docs/performance.md, issue 20) picks them:

- the method: HQ-SSL, the best of our single-image methods at the same training time (on the
  Set12 and real confocal yardsticks it beats N2V2 trained as long);
- the length of a run that trains and then denoises (one-shot ``blindspot denoise`` and the
  widget's Train): a time budget, so a busy or slow machine still ends in time.  On two CPU
  cores 165 s of training plus the prediction of a 512x512 frame take about 3 minutes; a
  20-frame 512x512 time-lapse is about 3.5 minutes (denoising ~0.2 MP/s).  On a GPU the same
  budget buys many more (and larger) steps; no GPU measurement picks a shorter one yet.

:func:`default_plan` gives them for a device (and, with a shape, the expected duration);
:meth:`TrainConfig.for_method` then adds the method's own defaults for the device.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# The default method of every front end is TrainConfig's (config.DEFAULT_METHOD, kept there
# so that config.py needs nothing from this module).
from .config import DEFAULT_METHOD, LEGACY_METHOD, TrainConfig

#: One-shot `denoise` predicts with 8-fold test-time augmentation unless told --no-tta: on fine
#: filaments, membranes and textures it gave +0.2-0.4 dB for ~5% of the one-shot time on a
#: 512x512 image (docs/fine_structures.md); above this many pixels prediction would take too long.
ONE_SHOT_TTA = True
ONE_SHOT_TTA_MAX_PIXELS = 4 * 512 * 512
#: Seconds of training of a run that trains and then denoises, per device type.
DEFAULT_BUDGET_S = {"cpu": 165.0, "cuda": 165.0, "mps": 165.0}


@dataclass(frozen=True)
class DefaultPlan:
    """The defaults for one device: ``method``, a training length (``time_budget_s`` or
    ``steps``), why, and (with a shape) the expected training and denoising seconds."""

    method: str
    time_budget_s: float | None
    steps: int | None
    device_type: str
    reason: str
    expected_train_s: float | None = None
    expected_predict_s: float | None = None

    @property
    def length(self) -> dict[str, Any]:
        """The training length as :class:`TrainConfig` fields."""
        return {"steps": self.steps, "epochs": None, "time_budget_s": self.time_budget_s}

    @property
    def expected_s(self) -> float | None:
        """Training plus denoising, seconds (None when unknown)."""
        if self.expected_train_s is None:
            return None
        return self.expected_train_s + (self.expected_predict_s or 0.0)


def default_plan(device_type: str = "cpu", shape: tuple[int, ...] | None = None,
                 axes: str | None = None, threads: int | None = None) -> DefaultPlan:
    """The default method and training length on ``device_type`` (``"cpu"``, ``"cuda"``,
    ``"mps"``); with the data's ``shape`` and ``axes``, the expected duration too (on a CPU,
    with ``threads`` torch threads: default all cores)."""
    kind = device_type.split(":")[0]
    budget = DEFAULT_BUDGET_S.get(kind, DEFAULT_BUDGET_S["cpu"])
    reason = ("HQ-SSL for a time budget: the best single-image method at equal training time "
              "(docs/benchmarks.md)")
    plan = DefaultPlan(DEFAULT_METHOD, budget, None, kind, reason)
    if shape is None or axes is None:
        return plan
    from .training.duration import expected_duration
    from .methods.registry import method_class

    values = method_class(DEFAULT_METHOD).defaults_for(kind, False)
    config = TrainConfig(method=DEFAULT_METHOD, axes=axes, steps=None, time_budget_s=budget,
                         **values).validate()
    train_s, predict_s = expected_duration(config, shape, kind, threads)
    return DefaultPlan(plan.method, budget, None, kind, reason, train_s, predict_s)


__all__ = ["DEFAULT_BUDGET_S", "DEFAULT_METHOD", "DefaultPlan", "LEGACY_METHOD", "ONE_SHOT_TTA",
           "ONE_SHOT_TTA_MAX_PIXELS", "default_plan"]
