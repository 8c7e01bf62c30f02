"""Shared helpers for the engine tests (plain functions, no Qt); the fixtures are in conftest.py."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from napari_blindspot.samples import comparison
from napari_blindspot.engine import DenoisingModel, TrainConfig
from napari_blindspot.engine.methods import get_method
from napari_blindspot.engine.normalization import Normalization

#: Torch threads for the training tests.  One thread keeps the tiny networks of the
#: tests fast and their timings stable on a shared 2-core machine (intra-op threads
#: gain nothing on 32x32 patches and spin badly when the cores are busy).
TEST_THREADS = 1


def psnr(image: np.ndarray, reference: np.ndarray) -> float:
    """Peak signal-to-noise ratio of ``image`` against ``reference`` (range of the reference)."""
    reference = np.asarray(reference, np.float64)
    return comparison.psnr(reference, image, float(reference.max() - reference.min()))


def smooth_image(shape: tuple[int, ...], seed: int = 0, blobs: int = 12) -> np.ndarray:
    """A smooth synthetic image in about [0, 1]: a sum of Gaussian blobs per 2D frame.

    ``shape`` is ``(..., Y, X)``; every leading index gets its own blob pattern.
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:shape[-2], :shape[-1]].astype(np.float32)
    out = np.zeros(shape, np.float32)
    for idx in np.ndindex(shape[:-2]):
        frame = np.zeros(shape[-2:], np.float32)
        for _ in range(blobs):
            cy, cx = rng.uniform(0, shape[-2]), rng.uniform(0, shape[-1])
            r = rng.uniform(4, 12)
            frame += rng.uniform(0.3, 1.0) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r))
        out[idx] = frame
    return out


def gaussian_pair(shape: tuple[int, ...] = (2, 96, 96), sigma: float = 15.0,
                  seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """``(clean, noisy)`` float32: a smooth image in [100, ~200] plus Gaussian noise ``sigma``."""
    clean = (100 + 100 * smooth_image(shape)).astype(np.float32)
    rng = np.random.default_rng(seed)
    noisy = (clean + rng.normal(0, sigma, clean.shape)).astype(np.float32)
    return clean, noisy


def small_config(method: str = "n2v2", **overrides: Any) -> TrainConfig:
    """A validated config with small, fast settings for tests (overridable)."""
    values: dict[str, Any] = dict(
        method=method, axes="YX", patch_size=32, patch_size_z=8, batch_size=4, steps=10,
        unet_features=8, unet_depth=2, hq_features=4, hq_depth=2, validation_interval=5,
        learning_rate=1e-3, num_threads=TEST_THREADS, device="cpu", tile_size=256,
    )
    if method == "hqssl":
        values["noise_model"] = "gaussian"
    values.update(overrides)
    return TrainConfig(**values).validate()


def untrained_model(method: str = "n2v2", ndim: int = 2, channels: int = 1, seed: int = 0,
                    mean: float = 100.0, std: float = 20.0, **overrides: Any) -> DenoisingModel:
    """A model with random weights (no training) for prediction and file tests."""
    axes = ("ZYX" if ndim == 3 else "YX") if channels == 1 else ("CZYX" if ndim == 3 else "CYX")
    overrides.setdefault("axes", axes)
    overrides.setdefault("train_3d", ndim == 3)
    config = small_config(method, **overrides)
    normalization = Normalization((mean,) * channels, (std,) * channels)
    net_channels = 1 if config.channels != "joint" else channels
    torch.manual_seed(seed)
    net = get_method(config).build(config, net_channels, ndim, normalization)
    return DenoisingModel(config, net, normalization, channels)


class CountingArray:
    """A lazy array-like: numpy-style ``__getitem__`` that records every read.

    Converting the whole thing to numpy (``np.asarray``) raises, so any code path that
    materialises the full array fails loudly.
    """

    def __init__(self, data: np.ndarray) -> None:
        self._data = data
        self.shape = data.shape
        self.dtype = data.dtype
        self.ndim = data.ndim
        self.reads: list[int] = []  # number of elements of each read

    def __getitem__(self, index: Any) -> np.ndarray:
        block = np.array(self._data[index])
        self.reads.append(int(block.size))
        return block

    def __len__(self) -> int:
        return self.shape[0]

    def __array__(self, *args: Any, **kwargs: Any) -> np.ndarray:  # pragma: no cover - must not run
        raise AssertionError("the whole lazy array was materialised")
