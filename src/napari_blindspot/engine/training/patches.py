"""Lazy random patch sampling with augmentation and a held-out validation split.

Patches are read on demand from a :class:`~.axes.CanonicalView`; nothing but the
current batch is held in memory, whatever the size of the stack.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..axes import CanonicalView
from ..errors import DataError
from ..normalization import Normalization, check_finite


#: The smallest patch sides the configuration allows (see :class:`~.config.TrainConfig`).
MIN_PATCH = 8
#: A default patch shrinks to a quarter of a small image, but not below this (nor beyond the image).
SMALL_IMAGE_PATCH = 64
MIN_PATCH_Z = 4


@dataclass(frozen=True)
class Region:
    """A set of samples and a band of rows ``[y0, y1)`` that patches may come from."""

    samples: np.ndarray
    y0: int
    y1: int


def shrink_default_patch(view: CanonicalView, patch_size: int, patch_size_z: int,
                         defaults: tuple[int, int]) -> tuple[int, int]:
    """Patch sizes that fit ``view``: a size left at its default ``defaults`` (YX, Z) shrinks to
    a quarter of the image's shorter side (a multiple of 4, not below :data:`SMALL_IMAGE_PATCH`
    unless the image is smaller), so that a small image still gives
    patches from many places (Set12's 256x256 house, HQ-SSL at 3 minutes: 128-pixel patches
    29.28 dB, 64-pixel patches with 4x the batch 30.84 dB); a size the user chose is kept (and
    refused later if too big)."""
    spatial = view.spatial_shape
    yx, z = patch_size, patch_size_z
    largest_yx = min(spatial[-2:]) // 4 * 4
    quarter = max(SMALL_IMAGE_PATCH, min(spatial[-2:]) // 16 * 4)
    if yx == defaults[0] and min(quarter, largest_yx) < yx:
        yx = max(MIN_PATCH, min(quarter, largest_yx))
    if view.train_3d and z == defaults[1] and spatial[0] // 4 * 4 < z:
        z = max(MIN_PATCH_Z, spatial[0] // 4 * 4)
    return yx, z


def patch_shape_for(view: CanonicalView, patch_size: int, patch_size_z: int) -> tuple[int, ...]:
    """The patch shape for ``view``; raises :class:`DataError` if the image is smaller."""
    shape = (patch_size_z, patch_size, patch_size) if view.train_3d else (patch_size, patch_size)
    spatial = view.spatial_shape
    if any(s == 0 for s in spatial) or view.n_samples == 0:
        raise DataError(f"The image is empty (shape {tuple(view.data.shape)}).")
    if any(s < p for s, p in zip(spatial, shape)):
        names = view.spatial_axes
        sizes = ' x '.join(f'{n}={s}' for n, s in zip(names, spatial))
        axes_hint = (f"check the axes ({view.axes!r} for shape {tuple(view.data.shape)}): Y and X "
                     "must be the image's rows and columns")
        largest_yx = min(spatial[-2:]) // 4 * 4
        if largest_yx < MIN_PATCH:
            raise DataError(f"The image ({sizes}) is too small to train on: Y and X need at least "
                            f"{MIN_PATCH} pixels each; {axes_hint}.")
        fixes = []
        if any(s < p for s, p in zip(spatial[-2:], shape[-2:])):
            fixes.append(f"a patch size of at most {largest_yx} (patch_size, --patch-size)")
        if view.train_3d and spatial[0] < shape[0]:
            largest_z = spatial[0] // 4 * 4
            fixes.append(f"a Z patch of at most {largest_z} (patch_size_z, --patch-size-z)"
                         if largest_z >= MIN_PATCH_Z else "2D training, as the stack has too few "
                         f"Z slices for 3D patches (at least {MIN_PATCH_Z})")
        raise DataError(f"The image ({sizes}) is smaller than the training patch "
                        f"({' x '.join(map(str, shape))}): choose {' and '.join(fixes)}, or "
                        f"{axes_hint}.")
    return shape


def split_regions(view: CanonicalView, patch_shape: tuple[int, ...],
                  fraction: float) -> tuple[Region, Region | None]:
    """Split the data into a training and a validation region.

    With 10 or more samples, the last ``fraction`` of samples (at least one) is held
    out.  Otherwise a band of rows at the bottom of every sample is held out when the
    image is tall enough for both a training and a validation patch.  For a single
    small image the validation patches overlap the training data (the validation loss
    then only tracks convergence, which is all it is used for in self-supervised
    training).
    """
    n, height, ph = view.n_samples, view.spatial_shape[-2], patch_shape[-2]
    everything = Region(np.arange(n), 0, height)
    if fraction <= 0:
        return everything, None
    if n >= 10:
        n_val = max(1, int(round(fraction * n)))
        return (Region(np.arange(n - n_val), 0, height), Region(np.arange(n - n_val, n), 0, height))
    band = max(ph, int(round(fraction * height)))
    if height - band >= ph:
        return Region(np.arange(n), 0, height - band), Region(np.arange(n), height - band, height)
    return everything, everything


class PatchSampler:
    """Draws random, augmented, normalised patches from one or more aligned views.

    Parameters
    ----------
    views
        One view, or two aligned views of the same shape (Noise2Noise input and target).
    normalization
        Per-channel statistics applied to every patch.
    patch_shape
        ``(Y, X)`` or ``(Z, Y, X)`` in pixels.
    region
        Where patches may come from.
    rng
        The random generator (all randomness of sampling and augmentation).
    independent_channels
        If True each patch holds one channel (``C=1``) and channels act as samples.
    augment
        Random flips and 90-degree rotations in the YX plane.
    """

    def __init__(self, views: list[CanonicalView], normalization: Normalization,
                 patch_shape: tuple[int, ...], region: Region, rng: np.random.Generator,
                 independent_channels: bool = True, augment: bool = True) -> None:
        self.views = views
        self.normalization = normalization
        self.patch_shape = tuple(patch_shape)
        self.region = region
        self.rng = rng
        self.independent_channels = independent_channels
        self.augment = augment
        view = views[0]
        self.n_channels = view.n_channels
        self.spatial = view.spatial_shape
        self.out_channels = 1 if independent_channels else view.n_channels

    def _origin(self) -> tuple[int, ...]:
        r = self.region
        origin = []
        for axis, (size, p) in enumerate(zip(self.spatial, self.patch_shape)):
            lo, hi = (r.y0, r.y1) if axis == len(self.spatial) - 2 else (0, size)
            origin.append(int(self.rng.integers(lo, max(lo, hi - p) + 1)))
        return tuple(origin)

    def sample(self) -> np.ndarray:
        """One patch stack: shape ``(V, C, *patch_shape)`` float32 (V views)."""
        return self._sample()[0]

    def _sample(self, channel: int | None = None) -> tuple[np.ndarray, int]:
        """One patch stack and its data channel (-1 for all channels); independent channels:
        of data channel ``channel``, or a random one."""
        s = int(self.rng.choice(self.region.samples))
        origin = self._origin()
        region = tuple(slice(o, o + p) for o, p in zip(origin, self.patch_shape))
        if not self.independent_channels:
            channel = None
        elif channel is None:
            channel = int(self.rng.integers(self.n_channels))
        blocks = []
        for view in self.views:
            block = view.read(s, region)
            check_finite(block, f"sample {s} at {origin}")
            if channel is not None:
                block = block[channel:channel + 1]
            blocks.append(self.normalization.normalize(block, channel))
        stack = np.stack(blocks)
        if self.augment:
            k = int(self.rng.integers(4))
            if k and self.patch_shape[-1] == self.patch_shape[-2]:
                stack = np.rot90(stack, k, axes=(-2, -1))
            if self.rng.random() < 0.5:
                stack = stack[..., ::-1]
        return np.ascontiguousarray(stack, dtype=np.float32), -1 if channel is None else channel

    def batch(self, batch_size: int) -> np.ndarray:
        """``batch_size`` patches: shape ``(V, B, C, *patch_shape)`` float32."""
        return self.draw(batch_size)[0]

    def draw(self, batch_size: int) -> tuple[np.ndarray, np.ndarray | None]:
        """A batch ``(V, B, C, *patch_shape)`` float32 and, with independent channels, the data
        channel of each patch ``(B,)`` int64 (None when every patch holds all channels).  Several
        independent channels take turns (from a random one): a batch of ``k * C`` patches holds
        ``k`` of every channel."""
        patches, channels = zip(*(self._sample(c) for c in _turns(self, batch_size)))
        return (np.stack(patches, axis=1),
                np.asarray(channels, np.int64) if self.independent_channels else None)

    def fixed_set(self, count: int) -> tuple[np.ndarray, np.ndarray | None]:
        """A fixed set of ``count`` un-augmented patches and their channels (for validation)."""
        augment, self.augment = self.augment, False
        try:
            return self.draw(count)
        finally:
            self.augment = augment


class MultiSampler:
    """Draws patches from several images (each a :class:`PatchSampler`), picking the image of
    every patch at random with probability ``weights`` (normalised): with weights proportional
    to the images' pixels, every pixel of every image is equally likely, whatever their shapes.
    ``rng`` is the samplers' shared generator."""

    def __init__(self, samplers: list[PatchSampler], weights: list[float], rng: np.random.Generator) -> None:
        self.samplers = samplers
        w = np.asarray(weights, np.float64)
        self.p = w / w.sum()
        self.rng = rng
        self.independent_channels = samplers[0].independent_channels

    @property
    def n_channels(self) -> int:
        return self.samplers[0].n_channels

    def _sample(self, channel: int | None = None) -> tuple[np.ndarray, int]:
        k = int(self.rng.choice(len(self.samplers), p=self.p)) if len(self.samplers) > 1 else 0
        return self.samplers[k]._sample(channel)

    def draw(self, batch_size: int) -> tuple[np.ndarray, np.ndarray | None]:
        """As :meth:`PatchSampler.draw`, each patch from an image picked at random."""
        patches, channels = zip(*(self._sample(c) for c in _turns(self, batch_size)))
        return (np.stack(patches, axis=1),
                np.asarray(channels, np.int64) if self.independent_channels else None)

    def batch(self, batch_size: int) -> np.ndarray:
        return self.draw(batch_size)[0]


def _turns(sampler: PatchSampler | MultiSampler, batch_size: int) -> list[int | None]:
    """The data channel of every patch of a batch: in turn from a random one with several
    independent channels, else None (random, or all channels)."""
    n = sampler.n_channels
    if not sampler.independent_channels or n == 1:
        return [None] * batch_size
    start = int(sampler.rng.integers(n))
    return [(start + i) % n for i in range(batch_size)]


def count_patches(view: CanonicalView, patch_shape: tuple[int, ...], independent_channels: bool) -> int:
    """How many non-overlapping patches the data holds (one epoch's worth)."""
    per_sample = int(np.prod([max(1, s // p) for s, p in zip(view.spatial_shape, patch_shape)]))
    channels = view.n_channels if independent_channels else 1
    return max(1, per_sample * view.n_samples * channels)
