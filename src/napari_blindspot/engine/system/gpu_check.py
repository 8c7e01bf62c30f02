"""The GPU check behind ``blindspot doctor``: what torch was built for, which devices it sees,
and whether every method trains and predicts there as it does on the CPU.

The CPU in float32 is the reference.  Every other *target* -- each CUDA or ROCm GPU in its
mixed precision (bfloat16, or float16 where the GPU lacks it) and in float32 (where cuDNN computes
convolutions in TF32 by default), Apple's MPS in float32, and a CPU that computes bfloat16
natively in bfloat16 -- runs, per method, with the same seed and data:

* **prediction**: the weights trained on the CPU predict the same image on the target; the
  difference to the CPU's prediction, in units of the image's standard deviation, must
  stay within the target precision's :data:`TOLERANCES` (the largest and the mean difference);
* **training**: the same run trains on the target; its validation losses at the same steps
  (the same patches and masks: the sampling and masking randomness come from CPU generators) must
  stay within the precision's looser training tolerance of the CPU's.

:func:`run_checks` returns :class:`Check` results (no prints); :mod:`..cli.doctor` prints them.
"""

from __future__ import annotations

import copy
import importlib.metadata
import importlib.util
import math
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from . import device as _device
from . import native_libs
from ..config import TrainConfig
from .device import autocast_dtype, available_devices
from ..methods.registry import method_class, method_names
from ..model import DenoisingModel
from ..training.loop import TrainingRun


@dataclass(frozen=True)
class Tolerance:
    """Allowed differences to the CPU's float32 results.

    ``max_diff`` and ``mean_diff``: prediction, the largest and the mean absolute difference in
    units of the input image's standard deviation; ``loss``: training, the absolute difference
    of a validation loss relative to ``max(|CPU loss|, 0.1)``.
    """

    max_diff: float
    mean_diff: float
    loss: float


#: Per precision.  bfloat16 keeps 8 significant bits (relative rounding 2**-9 = 0.2% per
#: operation), float16 and TF32 11 (2**-12); the rounding adds up over a network's ~20 layers,
#: and a few training steps in another precision drift apart.  A CPU computing in bfloat16
#: (`blindspot doctor` on an Intel Xeon with AMX, default networks, 30 steps) differed from
#: float32 by at most 0.035 image standard deviations in prediction (mean 0.0022) and 0.066 in
#: validation loss (N2V2; tests/engine/test_gpu_check.py runs that comparison on small networks):
#: the bfloat16 limits are 3-6x that; TF32 and float16 limits are tighter but not 8x, since the
#: training drift does not shrink with the rounding; float32 differs only in the order of sums.
TOLERANCES = {
    "float32": Tolerance(1e-3, 1e-4, 1e-2),
    "tf32": Tolerance(3e-2, 2e-3, 5e-2),
    "float16": Tolerance(5e-2, 3e-3, 1e-1),
    "bfloat16": Tolerance(2e-1, 1e-2, 2e-1),
}


@dataclass(frozen=True)
class Target:
    """A device and whether it computes in mixed precision there."""

    device: torch.device
    mixed_precision: bool

    @property
    def precision(self) -> str:
        """``"bfloat16"``, ``"float16"``, ``"tf32"`` or ``"float32"``."""
        if self.mixed_precision:
            dtype = autocast_dtype(self.device)
            if dtype is not None:
                return str(dtype).removeprefix("torch.")
        if self.device.type == "cuda" and torch.backends.cudnn.allow_tf32:
            return "tf32"
        return "float32"

    @property
    def label(self) -> str:
        words = {"tf32": "float32, TF32 convolutions"}
        return f"{self.device} ({words.get(self.precision, self.precision)})"


@dataclass
class Check:
    """One line of the report: ``passed`` None for facts and skipped checks."""

    name: str
    passed: bool | None
    detail: str
    figures: dict[str, Any] = field(default_factory=dict)


# ------------------------------------------------------------------ the facts
def torch_build() -> str:
    """What this torch was built for, e.g. ``"torch 2.5.1, CUDA 12.4"``, ``"... ROCm 6.2"``,
    ``"... CPU only"`` or ``"... CPU and Apple MPS"``."""
    hip = getattr(torch.version, "hip", None)
    if hip:
        kind = f"ROCm {hip}"
    elif torch.version.cuda:
        kind = f"CUDA {torch.version.cuda}"
        if torch.backends.cudnn.is_available():
            kind += f", cuDNN {torch.backends.cudnn.version()}"
    elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_built():
        kind = "CPU and Apple MPS"
    else:
        kind = "CPU only"
    return f"torch {torch.__version__}, {kind}"


def device_facts() -> list[Check]:
    """One fact per device torch can use: its name, memory and bfloat16 support."""
    facts = []
    for name in available_devices():
        device = torch.device(name)
        if device.type == "cuda":
            p = torch.cuda.get_device_properties(device)
            bf16 = torch.cuda.is_bf16_supported()
            detail = (f"{p.name}, {p.total_memory / 2**30:.0f} GiB, compute capability "
                      f"{p.major}.{p.minor}, bfloat16 {'yes' if bf16 else 'no (float16 instead)'}")
        elif device.type == "mps":
            detail = "Apple GPU; trains and predicts in float32"
        else:
            bf16 = _device.cpu_has_native_bf16()
            detail = (f"{platform.processor() or platform.machine()}, "
                      f"{torch.get_num_threads()} thread(s), bfloat16 "
                      + ("native (AVX512-BF16 or AMX): mixed precision is used" if bf16 else
                         "emulated (slower than float32): float32 is used"))
        facts.append(Check(f"device {name}", None, detail))
    return facts


def triton_facts() -> Check:
    """Whether triton is installed and what napari-blindspot's guard (:mod:`.native_libs`)
    would do about it."""
    if importlib.util.find_spec("triton") is None:
        return Check("triton", None, "not installed; the guard has nothing to do (training and "
                     "prediction run eagerly and never need it)")
    try:
        version = importlib.metadata.version("triton")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - unusual installs
        version = "?"
    return Check("triton", None, f"{version} installed; the guard {native_libs.guard_plan()}")


def facts() -> list[Check]:
    return [Check("torch", None, torch_build())] + device_facts() + [triton_facts()]


# ------------------------------------------------------------------ comparisons
def compare_predictions(reference: np.ndarray, other: np.ndarray, tolerance: Tolerance,
                        scale: float) -> tuple[bool, dict[str, float]]:
    """Whether ``other`` agrees with ``reference`` (same shape) within ``tolerance``; the
    differences in units of ``scale`` (the input image's standard deviation)."""
    if other.shape != reference.shape:
        return False, {"max_diff": float("inf"), "mean_diff": float("inf")}
    scale = float(scale) or 1.0
    diff = np.abs(other.astype(np.float64) - reference.astype(np.float64)) / scale
    if not np.isfinite(diff).all():
        return False, {"max_diff": float("inf"), "mean_diff": float("inf")}
    figures = {"max_diff": float(diff.max()), "mean_diff": float(diff.mean())}
    return (figures["max_diff"] <= tolerance.max_diff
            and figures["mean_diff"] <= tolerance.mean_diff), figures


def compare_losses(reference: dict[int, float], other: dict[int, float], tolerance: Tolerance
                   ) -> tuple[bool, dict[str, float]]:
    """Whether the validation losses ``other`` (step -> loss) agree with ``reference`` at every
    step of ``reference`` within ``tolerance.loss``; the largest relative difference."""
    worst = 0.0
    for step, ref in reference.items():
        value = other.get(step)
        if value is None or not math.isfinite(value):
            return False, {"loss_diff": float("inf")}
        worst = max(worst, abs(value - ref) / max(abs(ref), 0.1))
    return worst <= tolerance.loss, {"loss_diff": worst}


# ------------------------------------------------------------------ the runs
def check_data(frames: int = 4, size: int = 96, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two noisy acquisitions ``(T, Y, X)`` float32 of one synthetic scene (Noise2Noise needs the
    second): Poisson-Gaussian noise as in :func:`..samples.fluorescence_timelapse`."""
    from ...samples.fluorescence import fluorescence_timelapse

    sample = fluorescence_timelapse(frames=frames, size=size, seed=seed)
    rng = np.random.default_rng(seed + 1)
    a, b = sample.noise["a"], sample.noise["b"]
    second = a * rng.poisson(sample.clean / a) + rng.normal(0, math.sqrt(b), sample.clean.shape)
    return sample.noisy.astype(np.float32), second.astype(np.float32)


def check_config(method: str, target: Target, steps: int, **overrides: Any) -> TrainConfig:
    """The checks' training settings for ``method`` on ``target`` (``overrides`` win)."""
    values: dict[str, Any] = dict(axes="TYX", steps=steps, patch_size=64,
                                  validation_interval=max(1, steps // 3), validation_fraction=0.25,
                                  seed=0, device=str(target.device),
                                  mixed_precision=target.mixed_precision)
    values.update(overrides)
    return TrainConfig.for_method(method, **values)


def train_on(method: str, target: Target, data: tuple[np.ndarray, np.ndarray], steps: int,
             **overrides: Any) -> tuple[DenoisingModel, dict[int, float]]:
    """Train ``method`` on ``target``; the model and its validation losses by step."""
    config = check_config(method, target, steps, **overrides)
    target_image = data[1] if method_class(method).takes_target() else None
    run = TrainingRun(data[0], config, target=target_image)
    losses = {}
    for ev in run.events():
        if getattr(ev, "validated", False):
            losses[ev.step] = float(ev.val_loss)
    return run.model, losses


def moved(model: DenoisingModel, target: Target) -> DenoisingModel:
    """A copy of ``model`` on ``target``'s device, predicting in its precision."""
    config = model.config.replace(mixed_precision=target.mixed_precision, device=str(target.device))
    return DenoisingModel(config, copy.deepcopy(model.net).to(target.device), model.normalization,
                          model.channels, dict(model.info))


def default_targets() -> list[Target]:
    """Everything on this machine to compare with the CPU in float32."""
    targets = []
    for name in available_devices():
        device = torch.device(name)
        if device.type == "cuda":
            targets += [Target(device, True), Target(device, False)]
        elif device.type == "mps":
            targets.append(Target(device, False))
        elif _device.cpu_has_native_bf16():
            targets.append(Target(device, True))
    return targets


def run_checks(methods: Sequence[str] | None = None, targets: Sequence[Target] | None = None,
               steps: int = 30, progress: Callable[[Check], None] | None = None,
               data: tuple[np.ndarray, np.ndarray] | None = None, **overrides: Any) -> list[Check]:
    """Train and predict every method on the CPU, then on every target, and compare.

    ``data``: two noisy acquisitions ``(T, Y, X)`` (default :func:`check_data`); ``overrides``:
    training settings for every run (smaller networks in tests).  ``progress`` gets each
    :class:`Check` as it is made.  Returns them all, facts first.
    """
    methods = list(methods or method_names())
    targets = default_targets() if targets is None else list(targets)
    results: list[Check] = []

    def add(check: Check) -> None:
        results.append(check)
        if progress is not None:
            progress(check)

    for fact in facts():
        add(fact)
    data = check_data() if data is None else data
    cpu = Target(torch.device("cpu"), False)
    for method in methods:
        start = time.perf_counter()
        try:
            model, ref_losses = train_on(method, cpu, data, steps, **overrides)
            reference = model.denoise(data[0], "TYX")
        except Exception as exc:  # a check reports every failure and goes on
            add(Check(f"{method} on the CPU (float32)", False, f"failed: {exc}"))
            continue
        ok = bool(np.isfinite(reference).all()) and all(map(math.isfinite, ref_losses.values()))
        losses = ", ".join(f"{v:.4f}" for v in ref_losses.values())
        add(Check(f"{method} on the CPU (float32)", ok,
                  f"trained {steps} steps and predicted in {time.perf_counter() - start:.1f} s; "
                  f"validation losses {losses}", {"losses": ref_losses}))
        for target in targets:
            add(_compare_target(method, target, model, reference, ref_losses, data, steps, overrides))
    if not targets:
        add(Check("accelerators", None, "none here (no CUDA, ROCm or MPS device, and the CPU has "
                  "no native bfloat16): only the CPU was checked"))
    return results


def _compare_target(method: str, target: Target, model: DenoisingModel, reference: np.ndarray,
                    ref_losses: dict[int, float], data: tuple[np.ndarray, np.ndarray], steps: int,
                    overrides: dict[str, Any]) -> Check:
    tolerance = TOLERANCES[target.precision]
    name = f"{method} on {target.label} vs the CPU"
    try:
        pred_ok, pred = compare_predictions(reference, moved(model, target).denoise(data[0], "TYX"),
                                            tolerance, float(np.std(data[0])))
        _, losses = train_on(method, target, data, steps, **overrides)
    except Exception as exc:  # a check reports every failure and goes on
        return Check(name, False, f"failed: {exc}")
    loss_ok, loss = compare_losses(ref_losses, losses, tolerance)
    detail = (f"prediction of the CPU's weights: largest difference {pred['max_diff']:.2g} "
              f"(allowed {tolerance.max_diff:g}), mean {pred['mean_diff']:.2g} (allowed "
              f"{tolerance.mean_diff:g}) image standard deviations; training: validation losses "
              f"within {loss['loss_diff']:.2g} (allowed {tolerance.loss:g})")
    return Check(name, pred_ok and loss_ok, detail, {**pred, **loss, "losses": losses})


def summary(checks: Sequence[Check]) -> tuple[int, int]:
    """``(passed, failed)`` among the checks that pass or fail."""
    passed = sum(1 for c in checks if c.passed is True)
    return passed, sum(1 for c in checks if c.passed is False)
