"""What a training run checks and sets up around the loop (:class:`.training.TrainingRun`):
the patch a small image can hold, independent or joint channels, the model to continue, the
noise reference, the memory a step needs and the fixed validation batch.  Plain functions over the run's parts; no state."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import torch
from torch import nn

from ..axes import CanonicalView
from .channel_choice import ChannelChoice, choose_channels
from ..config import ALL_CHANNELS_AT_ONCE, TrainConfig
from ..system.device import select_device
from ..errors import ConfigError, DataError
from ..system.memory import check_training_memory, training_estimate
from ..model import DenoisingModel, check_image
from .patches import shrink_default_patch

log = logging.getLogger(__name__)

MAX_VALIDATION_PATCHES = 128
MIN_VALIDATION_PATCHES = 8
#: The most patches a step gets when a default batch grows for a smaller patch.
MAX_GROWN_BATCH = 16


def fit_default_patch(method: Any, view: CanonicalView, c: TrainConfig) -> TrainConfig:
    """A default patch larger than a quarter of a small image shrinks (a chosen one is kept);
    a default batch grows by as much, so that a step sees as many pixels."""
    general = TrainConfig()  # the general defaults, then the method's for this device and 2D/3D
    d = method.defaults_for(select_device(c.device).type, c.train_3d)
    yx, z = shrink_default_patch(view, c.patch_size, c.patch_size_z,
                                 (d.get("patch_size", general.patch_size),
                                  d.get("patch_size_z", general.patch_size_z)))
    if (yx, z) == (c.patch_size, c.patch_size_z):
        return c
    batch = c.batch_size
    if batch == d.get("batch_size", general.batch_size) and yx < c.patch_size:
        # a default batch grows with the shrink, so that a step sees as many pixels (at most 16)
        batch = max(batch, min(MAX_GROWN_BATCH, round(batch * (c.patch_size / yx) ** 2)))
    log.info("a small image: patches of %d (Z %d), %d a step", yx, z, batch)
    return c.replace(patch_size=yx, patch_size_z=z, batch_size=batch)


def noise_reference_view(method: Any, config: TrainConfig, data: Any,
                         noise_reference: Any) -> CanonicalView | None:
    """The second acquisition the noise is measured against (the method checks it)."""
    method.check_noise_reference(config, data, noise_reference)
    if noise_reference is None:
        return None
    check_image(noise_reference)
    return CanonicalView(noise_reference, config.axes, config.train_3d)


def check_continuable(initial: DenoisingModel, config: TrainConfig, n_channels: int) -> None:
    """Refuse to continue ``initial`` with settings that change its network or channels."""
    changed = [f for f in initial.method.network_fields(initial.config)
               if getattr(config, f) != getattr(initial.config, f)]
    if changed:
        raise ConfigError(
            "To continue training, the settings that define the network must stay as in the "
            "model: " + ", ".join(f"{f}={getattr(config, f)!r} (model: {getattr(initial.config, f)!r})"
                                  for f in changed) + ".")
    if initial.channels != n_channels:
        raise DataError(f"The model to continue was trained on {initial.channels} channel(s), "
                        f"the image has {n_channels}.")


def check_step_memory(method: Any, net: nn.Module, c: TrainConfig, net_channels: int, n_views: int,
                      patch_shape: tuple[int, ...], device: torch.device,
                      autocast: Callable[[], Any], n_val: int, step_patches: int | None = None) -> Any:
    """Refuse, before anything big is allocated, a step of ``step_patches`` patches (default
    the batch size) that cannot fit (:mod:`.memory`); returns the estimate."""
    channels = None if c.channels in ALL_CHANNELS_AT_ONCE else torch.zeros(1, dtype=torch.long)
    estimate = training_estimate(
        net, lambda probe, b: method.loss(probe, b, torch.Generator().manual_seed(0), channels),
        net_channels, n_views, patch_shape, method.size_multiple(c), device, autocast)
    val_bytes = n_val * n_views * net_channels * 4 * float(np.prod(patch_shape))
    check_training_memory(estimate, step_patches or c.batch_size, patch_shape, device, extra=val_bytes)
    return estimate


def validation_size(fraction: float, epoch_patches: int) -> int:
    """How many patches are held out for validation (between the module's bounds)."""
    return int(np.clip(round(fraction * epoch_patches), MIN_VALIDATION_PATCHES, MAX_VALIDATION_PATCHES))


def validation_batch(val_samplers: Sequence[Any], weights: Sequence[float],
                     n_val: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The fixed validation batch, ``(views, N, C, *patch)`` float32, every image holding out
    its share (at least one patch each), and its channel index (``(N,)``, independent channels)
    or None."""
    shares = np.maximum(1, np.round(n_val * np.asarray(weights, float) / sum(weights))).astype(int)
    sets = [vs.fixed_set(int(n)) for vs, n in zip(val_samplers, shares)]
    batch = torch.from_numpy(np.concatenate([v for v, _ in sets], axis=1))
    channels = None if sets[0][1] is None else torch.from_numpy(np.concatenate([ch for _, ch in sets]))
    return batch, channels


def resolve_channels(config: TrainConfig, view: CanonicalView, initial: DenoisingModel | None
                     ) -> tuple[TrainConfig, ChannelChoice | None]:
    """``config`` with ``channels="auto"`` made concrete: the mode of the model to continue,
    else the mode measured from ``view`` (:func:`.channel_choice.choose_channels`, returned too);
    then the time budget per channel network (:func:`per_channel_budget`)."""
    choice = None
    if config.channels == "auto":
        if initial is not None:
            config = config.replace(channels=initial.config.channels)
        else:
            choice = choose_channels(view)
            config = config.replace(channels=choice.mode)
    budget = config.time_budget_s
    config = per_channel_budget(config, view.n_channels)
    if choice is not None and config.time_budget_s != budget:
        choice = replace(choice, reason=f"{choice.reason}; the time budget is per channel network: "
                         f"{view.n_channels} x {budget:g} s")
    return config, choice


def per_channel_budget(config: TrainConfig, n_channels: int) -> TrainConfig:
    """A time budget buys every network its time: separate channels (C networks, a step costs C
    single-channel steps) train for up to C x ``time_budget_s``, so every channel trains as long
    as it would alone (a step or epoch count is per channel already)."""
    if config.channels != "separate" or n_channels < 2 or not config.time_budget_s:
        return config
    log.info("separate channels: the time budget of %g s is per channel, %g s in all",
             config.time_budget_s, config.time_budget_s * n_channels)
    return config.replace(time_budget_s=config.time_budget_s * n_channels)
