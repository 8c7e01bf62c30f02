"""What a training run draws its patches from: one image, or several of any shapes.

Several images train one model: every patch comes from an image picked with probability
proportional to its pixels (:class:`~.patches.MultiSampler`), each image holds out its own
validation patches, and the normalisation and HQ-SSL's noise calibration are measured on all
of them pooled.  Pooled, not per image, because the model applies one normalisation and one
noise model to every image it later denoises: per-image statistics would train it on
intensities (and noise levels, in normalised units) that prediction never gives it, and a
Poisson-Gaussian noise model (``var = a*x + b``) is a property of the camera in raw intensity
units, the same for every image of one microscope.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..axes import CanonicalView
from ..config import TrainConfig
from ..errors import DataError
from ..normalization import Normalization
from .patches import MultiSampler, PatchSampler, count_patches, split_regions


def image_groups(images: list[Any], target: Any, axes: list[str] | None, config: TrainConfig,
                 method: Any) -> list[list[CanonicalView]]:
    """One group of aligned views per image: ``[image]`` or ``[image, target]`` (Noise2Noise).
    ``target``: None, one array (one image) or a list (one per image); ``axes``: one axes string
    per image (default ``config.axes``)."""
    from ..model import check_image  # model imports this module's users; keep the import late

    targets = (list(target) if isinstance(target, (list, tuple)) else [target]) \
        if target is not None else [None] * len(images)
    if len(targets) != len(images):
        raise DataError(f"{len(images)} images but {len(targets)} targets: give one target per image.")
    axes_list = list(axes) if axes is not None else [config.axes] * len(images)
    if len(axes_list) != len(images):
        raise DataError(f"{len(images)} images but {len(axes_list)} axes strings: give one per image.")
    groups: list[list[CanonicalView]] = []
    for k, (image, tgt, ax) in enumerate(zip(images, targets, axes_list)):
        check_image(image)
        method.check_inputs(image, tgt)
        if tgt is not None:
            check_image(tgt)
        group = [CanonicalView(image, ax, config.train_3d)]
        if tgt is not None:
            group.append(CanonicalView(tgt, ax, config.train_3d))
        if k and group[0].n_channels != groups[0][0].n_channels:
            raise DataError(f"Image {k + 1} has {group[0].n_channels} channel(s), image 1 "
                            f"{groups[0][0].n_channels}: one model trains on images with the "
                            "same channels.")
        groups.append(group)
    return groups


def build_samplers(groups: list[list[CanonicalView]], normalization: Normalization,
                   patch_shape: tuple[int, ...], validation_fraction: float,
                   rng: np.random.Generator, seed: int, independent: bool,
                   ) -> tuple[Any, list[int], list[PatchSampler]]:
    """The training sampler (one image's :class:`PatchSampler`, or a :class:`MultiSampler`),
    each image's weight (its patch count) and the validation samplers (one per image that
    holds patches out; none when ``validation_fraction`` is 0)."""
    samplers, weights, val_samplers = [], [], []
    for group in groups:
        train_region, val_region = split_regions(group[0], patch_shape, validation_fraction)
        samplers.append(PatchSampler(group, normalization, patch_shape, train_region, rng,
                                     independent_channels=independent))
        weights.append(count_patches(group[0], patch_shape, independent))
        if val_region is not None:
            val_samplers.append(PatchSampler(group, normalization, patch_shape, val_region,
                                             np.random.default_rng(seed + 2),
                                             independent_channels=independent, augment=False))
    sampler = samplers[0] if len(samplers) == 1 else MultiSampler(samplers, weights, rng)
    return sampler, weights, val_samplers


__all__ = ["build_samplers", "image_groups"]
