"""The one source of default training settings for the engine, the command line and the widget.

The evidence (docs/benchmarks.md, docs/performance.md, issue 20) picks them:

- the method: HQ-SSL, the best of our single-image methods at the same training time (on the
  Set12 and real confocal yardsticks it beats N2V2 trained as long);
- the length of a run that trains and then denoises (one-shot ``blindspot denoise`` and the
  widget's Train): a time budget, so a busy or slow machine still ends in time.  On a CPU,
  45 s: ~500 steps on two quiet cores, 39.5 dB mean over the ten FMD confocal fields with
  4-rotation test-time augmentation (since issue 22's seventh round all eight transforms where
  the rotations share a network pass), about a minute in all for a 512x512 frame (issue 23,
  docs/performance.md: "A result in a minute"); 165 s (``--minutes 2.75``) gives ~0.5 dB more.
  On a GPU no measurement picks a length yet: it keeps 165 s, which buys many more steps.

:func:`default_plan` gives them for a device (and, with a shape, the expected duration);
:meth:`TrainConfig.for_method` then adds the method's own defaults for the device.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# The default method of every front end is TrainConfig's (config.DEFAULT_METHOD, kept there
# so that config.py needs nothing from this module).
from .config import DEFAULT_METHOD, LEGACY_METHOD, TrainConfig

#: One-shot `denoise` and the widget's Train predict with test-time augmentation over this many
#: transforms (the four rotations and their mirror images) unless told --no-tta: +0.1-0.3 dB on
#: FMD fields, filaments, membranes and textures with the rotations (docs/fine_structures.md,
#: docs/performance.md), +0.01-0.14 dB more with the mirror images (issue 22, the seventh
#: round), in less time than the rotations alone took before HQ-SSL's 2D rotations shared one
#: network pass.  Models whose transforms share no pass (other methods, 3D) predict over the
#: ONE_SHOT_TTA_UNSHARED rotations, as before.  Above ONE_SHOT_TTA_MAX_PIXELS pixels prediction
#: would take too long: no augmentation.
ONE_SHOT_TTA = 8
ONE_SHOT_TTA_UNSHARED = 4
ONE_SHOT_TTA_MAX_PIXELS = 4 * 512 * 512
#: Seconds of training of a run that trains and then denoises, per device type.
DEFAULT_BUDGET_S = {"cpu": 45.0, "cuda": 165.0, "mps": 165.0}
#: The longer CPU setting for the best quality (``--minutes 2.75``): +0.3-0.6 dB on FMD fields.
BEST_QUALITY_BUDGET_S = 165.0


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
              "(docs/benchmarks.md); on a CPU a minute in all (docs/performance.md)")
    plan = DefaultPlan(DEFAULT_METHOD, budget, None, kind, reason)
    if shape is None or axes is None:
        return plan
    from .training.duration import expected_duration
    from .methods.registry import method_class

    values = method_class(DEFAULT_METHOD).defaults_for(kind, False)
    config = TrainConfig(method=DEFAULT_METHOD, axes=axes, steps=None, time_budget_s=budget,
                         **values).validate()
    tta = one_shot_tta(shape, method_class(DEFAULT_METHOD).shares_tta(config))
    train_s, predict_s = expected_duration(config, shape, kind, threads, tta=tta)
    return DefaultPlan(plan.method, budget, None, kind, reason, train_s, predict_s)


def one_shot_tta(shape: tuple[int, ...], shared: bool = True) -> int | bool:
    """The test-time augmentation a train-then-denoise run of data of ``shape`` predicts with
    (:func:`one_shot_tta_for_pixels` of its number of pixels)."""
    pixels = 1
    for n in shape:
        pixels *= int(n)
    return one_shot_tta_for_pixels(pixels, shared)


def one_shot_tta_for_pixels(pixels: int, shared: bool = True) -> int | bool:
    """Transforms of the test-time augmentation for ``pixels`` pixels in all: up to
    :data:`ONE_SHOT_TTA_MAX_PIXELS`, :data:`ONE_SHOT_TTA` for a model whose transforms share
    network passes (``shared``, :attr:`.DenoisingModel.shares_tta`), else
    :data:`ONE_SHOT_TTA_UNSHARED`; above, False (none)."""
    n = ONE_SHOT_TTA if shared else ONE_SHOT_TTA_UNSHARED
    return n if n and pixels <= ONE_SHOT_TTA_MAX_PIXELS else False


def tta_words(transforms: int | bool) -> str:
    """What a test-time augmentation averages over, in words."""
    return {8: "the rotations and their mirror images", 4: "the rotations", 2: "the half turn"}.get(
        int(transforms), f"{int(transforms)} transforms")


__all__ = ["BEST_QUALITY_BUDGET_S", "DEFAULT_BUDGET_S", "DEFAULT_METHOD", "DefaultPlan", "LEGACY_METHOD", "ONE_SHOT_TTA",
           "ONE_SHOT_TTA_MAX_PIXELS", "ONE_SHOT_TTA_UNSHARED", "default_plan", "one_shot_tta",
           "one_shot_tta_for_pixels", "tta_words"]
