"""The memory guard: what a training step or a prediction needs, and what the machine has.

A process that asks for more memory than the machine has is not told so: Linux
overcommits, then the kernel kills the process (inside napari, the viewer with every
unsaved layer).  So the engine estimates before it allocates:

* a training step holds the network's activations for the backward pass, per patch;
  they are *measured* on a small probe patch (the bytes autograd saves, scaled by the
  number of pixels), times :data:`TRAIN_PEAK_FACTOR` for the gradients of the backward
  pass, plus the batch itself and the weights with their gradients and Adam moments;
* a prediction holds the tiles in flight (measured the same way, without a backward pass)
  and the result arrays.

:func:`check_training_memory` refuses a training that would not fit, naming the largest
batch size that does; :func:`plan_prediction` shrinks the tiles in flight (then the tile
size) to fit, with a message, and refuses only when the result itself does not fit.
``BLINDSPOT_MAX_MEMORY`` (e.g. ``8G``) caps the memory the guard assumes available, for
shared machines.  :func:`is_out_of_memory` recognises the allocation failures that still
happen (CPU and GPU) so that front ends can say which setting to lower.
"""

from __future__ import annotations

import copy
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import ConfigError, ResourceError

log = logging.getLogger(__name__)

#: Share of the available memory a job may plan to use (the rest: allocator slack, other
#: programs, napari's own layers).
USABLE_FRACTION = 0.8
#: Peak of a training step over the activations autograd saves: the backward pass holds
#: gradients of the activations as it goes, and the allocators keep slack.
TRAIN_PEAK_FACTOR = 2.0
#: Peak of an inference pass over the activations it would save for a backward pass
#: (an upper bound: without autograd most activations are freed as soon as used).
INFER_PEAK_FACTOR = 1.0
#: Side of the probe patch, in pixels (rounded up to the network's size multiple).
PROBE_SIDE = 32

ENV_LIMIT = "BLINDSPOT_MAX_MEMORY"


# ------------------------------------------------------------------ what the machine has
def format_bytes(n: float) -> str:
    """``1536`` -> ``"1.5 KiB"`` (binary units, as ``free -h`` and ``BLINDSPOT_MAX_MEMORY``)."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024.0
    return f"{n:.1f} TiB"  # pragma: no cover


def parse_bytes(text: str) -> int:
    """``"8G"`` (8 GiB), ``"512M"``, ``"1.5GiB"``, ``"123456"`` -> bytes; raises :class:`ConfigError`."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([kKmMgGtT]?)i?[bB]?\s*", str(text))
    if not match:
        raise ConfigError(f"{ENV_LIMIT}={text!r} is not a size: use e.g. 8G or 512M.")
    value = float(match.group(1)) * 1024 ** " KMGT".index(match.group(2).upper() or " ")
    return int(value)


def _read_int(path: str) -> int | None:
    try:
        with open(path, encoding="ascii") as f:
            text = f.read().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def system_available() -> int | None:
    """Bytes of RAM this process can still use: MemAvailable, within any cgroup limit."""
    candidates = []
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    candidates.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    for limit_file, usage_file in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                                   ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                    "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        limit, usage = _read_int(limit_file), _read_int(usage_file)
        if limit is not None and usage is not None and limit < 1 << 60:
            candidates.append(max(0, limit - usage))
    if not candidates:
        try:
            candidates.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
            return None
    return min(candidates)


def available_memory(device: torch.device | str | None = None) -> int | None:
    """Bytes a job on ``device`` (default: the CPU) may still allocate; None if unknown.

    CUDA: the GPU's free memory plus what torch has cached but not used.  CPU and Apple
    MPS (which shares the system memory): :func:`system_available`.  Capped by
    ``BLINDSPOT_MAX_MEMORY`` when set.
    """
    device = torch.device(device) if device is not None else torch.device("cpu")
    free: int | None
    if device.type == "cuda":
        try:
            free = int(torch.cuda.mem_get_info(device)[0])
            free += int(torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device))
        except Exception:  # noqa: BLE001 - driver trouble: no estimate rather than a crash
            free = None
    else:
        free = system_available()
    cap = os.environ.get(ENV_LIMIT)
    if cap:
        limit = parse_bytes(cap)
        free = limit if free is None else min(free, limit)
    return free


def where(device: torch.device) -> str:
    return "GPU memory" if device.type == "cuda" else "memory"


# ------------------------------------------------------------------ measuring a network
def _saved_bytes(run: Callable[[], Any], exclude: set[int]) -> int:
    """Bytes of the tensors autograd saves while ``run()`` builds its graph (each storage
    once; storages in ``exclude``, the weights, not counted)."""
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        try:
            storage = t.untyped_storage()
            key, size = storage.data_ptr(), storage.nbytes()
        except Exception:  # noqa: BLE001 - sparse or other exotic tensors
            key, size = id(t), t.numel() * t.element_size()
        if key not in exclude:
            seen[key] = max(seen.get(key, 0), size)
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = run()
    del out
    return sum(seen.values())


def probe_shape(shape: tuple[int, ...], multiple: int) -> tuple[int, ...]:
    """The probe patch for ``shape``: at most :data:`PROBE_SIDE` (rounded up to ``multiple``)."""
    side = -(-max(PROBE_SIDE, 2 * multiple) // multiple) * multiple
    return tuple(min(int(s), side) for s in shape)


def bytes_per_pixel(net: nn.Module, loss: Callable[[nn.Module, torch.Tensor], Any],
                    channels: int, n_views: int, spatial: tuple[int, ...], multiple: int,
                    device: torch.device, autocast: Callable[[], Any], train: bool) -> float:
    """Activation bytes per patch pixel that a forward pass of ``loss(net, batch)`` keeps for
    backward, measured on one probe patch.  ``train``: on a copy of ``net`` in training mode
    (batch-norm statistics and random state of the real network stay untouched)."""
    shape = probe_shape(spatial, multiple)
    probe = copy.deepcopy(net) if train else net
    if train:
        probe.train()
    exclude = {p.untyped_storage().data_ptr() for p in probe.parameters()}
    exclude |= {b.untyped_storage().data_ptr() for b in probe.buffers()}
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices), torch.enable_grad(), autocast():
        batch = torch.randn((n_views, 1, channels) + shape, device=device)
        batch.requires_grad_(not train)  # inference: a graph through the input, not the weights
        saved = _saved_bytes(lambda: loss(probe, batch), exclude)
    return saved / float(np.prod(shape))


# ------------------------------------------------------------------ training
@dataclass(frozen=True)
class TrainingEstimate:
    """Bytes a training step needs: ``fixed + per_patch * batch_size``."""

    fixed: float
    per_patch: float

    def total(self, batch_size: int) -> float:
        return self.fixed + self.per_patch * batch_size

    def largest_batch(self, budget: float) -> int:
        return max(0, int((budget - self.fixed) // max(self.per_patch, 1.0)))


def training_estimate(net: nn.Module, loss: Callable[[nn.Module, torch.Tensor], Any],
                      channels: int, n_views: int, patch_shape: tuple[int, ...], multiple: int,
                      device: torch.device, autocast: Callable[[], Any]) -> TrainingEstimate:
    """Estimate a training step of ``net`` on patches ``(n_views, B, channels, *patch_shape)``."""
    pixels = float(np.prod(patch_shape))
    per_pixel = bytes_per_pixel(net, loss, channels, n_views, patch_shape, multiple, device,
                                autocast, train=True)
    # the batch: sampled patches, their stack and the tensor on the device
    batch = 3.0 * n_views * channels * pixels * 4
    weights = sum(p.numel() * p.element_size() for p in net.parameters())
    # weights, gradients, two Adam moments, the best state and the final snapshot
    return TrainingEstimate(fixed=6.0 * weights, per_patch=TRAIN_PEAK_FACTOR * per_pixel * pixels + batch)


def check_training_memory(estimate: TrainingEstimate, batch_size: int, patch_shape: tuple[int, ...],
                          device: torch.device, extra: float = 0.0) -> None:
    """Raise :class:`ConfigError` if a training step cannot fit into ``device``'s memory
    (``extra``: bytes held besides the step, e.g. the validation patches)."""
    free = available_memory(device)
    estimate = TrainingEstimate(estimate.fixed + extra, estimate.per_patch)
    need = estimate.total(batch_size)
    log.info("training step needs about %s (%s available)", format_bytes(need),
             "unknown" if free is None else format_bytes(free))
    if free is None or need <= USABLE_FRACTION * free:
        return
    fits = estimate.largest_batch(USABLE_FRACTION * free)
    patch = " x ".join(map(str, patch_shape))
    advice = (f"lower the batch size to at most {fits}" if fits >= 1
              else "lower the patch size (a batch of one patch does not fit)")
    raise ConfigError(
        f"A training step with batch size {batch_size} and {patch} patches needs about "
        f"{format_bytes(need)} of {where(device)}, but only {format_bytes(free)} are available: "
        f"{advice} (batch_size / --batch-size, patch_size / --patch-size), or close other programs.")


# ------------------------------------------------------------------ prediction
@dataclass(frozen=True)
class PredictionPlan:
    """How a prediction runs: tile shape, tiles per batch, and a note if it was shrunk."""

    tile_shape: tuple[int, ...]
    tile_batch: int
    note: str | None = None


def plan_prediction(per_pixel: float, tile_shape: tuple[int, ...], tile_batch: int,
                    result_bytes: float, sample_bytes: float, minimal_tile: int,
                    device: torch.device, tta: bool = False) -> PredictionPlan:
    """Fit a prediction into memory: shrink ``tile_batch``, then the tile sides (down to
    ``minimal_tile``, the smallest tile that holds the network's context), with a note.

    ``per_pixel``: activation bytes per tile pixel; ``result_bytes``: the outputs the caller
    assembles (held on the CPU); ``sample_bytes``: one sample with its blended accumulators.
    Raises :class:`ResourceError` when even the result does not fit.
    """
    host_free = available_memory("cpu")
    host_need = result_bytes + sample_bytes
    if host_free is not None and host_need > USABLE_FRACTION * host_free:
        raise ResourceError(
            f"The denoised result needs about {format_bytes(host_need)} of memory but only "
            f"{format_bytes(host_free)} are available: denoise a crop or fewer frames at a time, "
            "or close other programs.")
    free = available_memory(device)
    if free is None:
        return PredictionPlan(tuple(tile_shape), tile_batch)
    budget = USABLE_FRACTION * free - (0 if device.type == "cuda" else host_need)
    factor = INFER_PEAK_FACTOR * (2.0 if tta else 1.0)

    def need(shape: tuple[int, ...], batch: int) -> float:
        return factor * per_pixel * float(np.prod(shape)) * batch

    shape, batch = tuple(int(t) for t in tile_shape), int(tile_batch)
    original = (shape, batch)
    while need(shape, batch) > budget and batch > 1:
        batch = max(1, batch // 2)
    while need(shape, batch) > budget and max(shape[-2:]) > minimal_tile:
        shape = shape[:-2] + tuple(max(minimal_tile, s // 2) for s in shape[-2:])
    if need(shape, batch) > budget:
        raise ResourceError(
            f"Denoising needs about {format_bytes(need(shape, batch))} of {where(device)} even with "
            f"single tiles of {' x '.join(map(str, shape))} pixels, but only {format_bytes(free)} "
            "are available: close other programs, or use another device (--device cpu).")
    note = None
    if (shape, batch) != original:
        note = (f"Denoising with {original[1]} tile(s) of {' x '.join(map(str, original[0]))} "
                f"pixels at a time would need about {format_bytes(need(*original))} of "
                f"{where(device)} ({format_bytes(free)} available): using {batch} tile(s) of "
                f"{' x '.join(map(str, shape))} pixels instead (same result, slower).")
        log.warning(note)
    return PredictionPlan(shape, batch, note)


# ------------------------------------------------------------------ failures
def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is an allocation failure (Python, torch on CPU, CUDA or MPS)."""
    if isinstance(exc, MemoryError):
        return True
    oom = getattr(torch, "OutOfMemoryError", None) or getattr(torch.cuda, "OutOfMemoryError", None)
    if oom is not None and isinstance(exc, oom):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and ("out of memory" in text
                                              or "can't allocate memory" in text
                                              or "not enough memory" in text
                                              or "failed to allocate" in text)


#: How the command line names the settings that bound memory (front ends pass their own).
CLI_NAMES = {"batch_size": "the batch size (--batch-size)", "patch_size": "the patch size (--patch-size)",
             "tile_size": "the tile size (--tile-size)", "tta": "--tta"}


def out_of_memory_message(exc: BaseException, doing: str,
                          names: dict[str, str] | None = None) -> str:
    """One line for an out-of-memory ``exc`` raised while ``doing`` (e.g. "training"):
    which settings to lower, named as in ``names`` (default :data:`CLI_NAMES`)."""
    n = {**CLI_NAMES, **(names or {})}
    text = str(exc).lower()
    gpu = "cuda" in text or "gpu" in text or "mps" in text or type(exc).__name__ == "OutOfMemoryError"
    what = "GPU memory" if gpu else "memory"
    denoising = f"{n['tile_size']}, or leave out {n['tta']}"
    if "denois" in doing or "predict" in doing:
        fix = f"lower {denoising}"
    else:
        fix = f"lower {n['batch_size']} or {n['patch_size']} (when denoising: {denoising})"
    return f"Out of {what} while {doing}: {fix}; or close other programs using it."


__all__ = ["available_memory", "bytes_per_pixel", "check_training_memory", "format_bytes",
           "is_out_of_memory", "out_of_memory_message", "plan_prediction", "training_estimate",
           "TrainingEstimate", "PredictionPlan", "USABLE_FRACTION"]
