"""Choosing the compute device (CUDA, Apple MPS, CPU), CPU threads, and how a network runs there.

Two settings decide most of the speed of a convolutional network on a device:

* the memory format: networks run channels-last (``N, [Z,] Y, X, C`` in memory), which
  oneDNN on CPUs and cuDNN's tensor-core kernels on GPUs compute without reordering every
  layer;
* mixed precision: convolutions in bfloat16 (or float16 on GPUs without bfloat16) where the
  hardware computes it natively -- CUDA GPUs, and CPUs with AVX512-BF16 or AMX -- while losses,
  noise models and posteriors stay float32.  Elsewhere (e.g. AVX2-only CPUs, where bfloat16
  is emulated and slower) everything stays float32.
"""

from __future__ import annotations

import contextlib
import logging
import os
from typing import Any

import torch

log = logging.getLogger(__name__)
from torch import nn

from ..errors import ConfigError


def available_devices() -> list[str]:
    """Device names usable on this machine, best first (always ends with ``"cpu"``)."""
    names = [f"cuda:{i}" for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        names.append("mps")
    return names + ["cpu"]


def select_device(name: str = "auto") -> torch.device:
    """Resolve ``"auto"`` (CUDA, else MPS, else CPU) or check an explicit device name.

    Raises :class:`ConfigError` if an explicit GPU is asked for but is not available.
    """
    name = (name or "auto").lower()
    if name == "auto":
        return torch.device(available_devices()[0])
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise ConfigError(f"Unknown device {name!r}: use 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'.") from exc
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError("A CUDA GPU was requested but none is available (no GPU, or a CPU-only "
                              "torch build): choose device 'auto' or 'cpu'.")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ConfigError(f"CUDA device {device.index} does not exist; this machine has "
                              f"{torch.cuda.device_count()} GPU(s).")
    if device.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ConfigError("Apple MPS was requested but is not available: choose 'auto' or 'cpu'.")
    return device


def available_cores() -> int:
    """CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS/Windows
        return os.cpu_count() or 1


def interactive_threads() -> int:
    """CPU threads for torch under an interactive front end (napari): all cores but one, which
    stays free for the interface."""
    return max(1, available_cores() - 1)


def configure_threads(num_threads: int | None = None) -> int:
    """Set torch's intra-op CPU threads (default, and at most: all cores this process may use;
    more threads than cores only make each step slower)."""
    cores = available_cores()
    if num_threads is None:
        num_threads = cores
    elif num_threads > cores:
        log.info("%d CPU threads asked for; this process may use %d cores: using %d.",
                 num_threads, cores, cores)
        num_threads = cores
    if torch.get_num_threads() != num_threads:
        torch.set_num_threads(max(1, int(num_threads)))
    return torch.get_num_threads()


def describe_device(device: torch.device | str) -> str:
    """Plain-language device name, e.g. ``"CUDA: NVIDIA H100"`` or ``"CPU, 8 threads"``."""
    device = torch.device(device)
    if device.type == "cuda":
        return f"CUDA: {torch.cuda.get_device_name(device)}"
    if device.type == "mps":
        return "Apple GPU (MPS)"
    n = torch.get_num_threads()
    return f"CPU, {n} thread{'s' if n != 1 else ''}"


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX512-BF16 or AMX), so that bfloat16
    convolutions are faster than float32 ones (on other CPUs they are emulated, and slower)."""
    cpu = getattr(torch, "cpu", None)
    for probe in ("_is_amx_tile_supported", "_is_avx512_bf16_supported"):
        check = getattr(cpu, probe, None)
        try:
            if check is not None and check():
                return True
        except Exception:  # pragma: no cover - probes are private torch API
            continue
    return False


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """The mixed-precision dtype for ``device``, or None for float32 throughout.

    CUDA: bfloat16 (float16 on GPUs without it); CPU: bfloat16 where the CPU computes it
    natively (:func:`cpu_has_native_bf16`); Apple MPS and other CPUs: None.
    """
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "cpu" and cpu_has_native_bf16():
        return torch.bfloat16
    return None


def autocast(device: torch.device, dtype: torch.dtype | None) -> Any:
    """A context in which ``device``'s autocast runs eligible ops in ``dtype`` (None: off)."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def memory_format(ndim: int) -> torch.memory_format:
    """The fastest memory format for ``ndim``-D convolutions: channels-last (2D and 3D).

    ``python -m benchmarks.engine_speed`` measures it against the default layout.
    """
    return torch.channels_last if ndim == 2 else torch.channels_last_3d


def place_network(net: nn.Module, device: torch.device, ndim: int) -> nn.Module:
    """Move ``net`` (``ndim`` spatial dimensions) to ``device`` in its fastest memory format."""
    return net.to(device=device, memory_format=memory_format(ndim))


def default_tile_batch(device: torch.device) -> int:
    """Tiles predicted together when the configuration leaves it open: 1 on a CPU (one tile at
    a time was faster, see ``python -m benchmarks.engine_speed --tiles``), 4 on GPUs (which need
    the parallel work)."""
    return 1 if device.type == "cpu" else 4
