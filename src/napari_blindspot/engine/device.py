"""Choosing the compute device (CUDA, Apple MPS, CPU) and CPU threads."""

from __future__ import annotations

import os

import torch

from .errors import ConfigError


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


def configure_threads(num_threads: int | None = None) -> int:
    """Set torch's intra-op CPU threads (default: all cores this process may use)."""
    if num_threads is None:
        try:
            num_threads = len(os.sched_getaffinity(0))
        except AttributeError:  # pragma: no cover - macOS/Windows
            num_threads = os.cpu_count() or 1
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


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """The mixed-precision dtype for ``device`` (bfloat16 or float16 on CUDA), else None."""
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
