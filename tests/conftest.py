"""Fixtures shared by every test directory."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from napari_blindspot.engine.methods import REGISTRY, Method, Setting


class ToyNet(nn.Module):
    """One 3x3 convolution."""

    def __init__(self, channels: int, ndim: int) -> None:
        super().__init__()
        conv = nn.Conv3d if ndim == 3 else nn.Conv2d
        self.conv = conv(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class ToyMethod(Method):
    """A method written as a plugin author would: this class and one registry entry."""

    name = "toy"
    display_name = "Toy smoother"
    help = "A toy method of the tests: one 3x3 convolution fitted to the noisy image."
    defaults = {"batch_size": 2}
    settings = (Setting("mask_fraction", "Toy fraction", "a share the toy method is given",
                        kind="percent", flag="--toy-fraction", minimum=0.0001, maximum=0.25),)

    def build(self, config, channels, ndim, normalization=None) -> nn.Module:
        return ToyNet(channels, ndim)

    def loss(self, net, batch, generator, channels=None) -> torch.Tensor:
        x = batch[0].float()
        return F.mse_loss(net(x).float(), x)


@pytest.fixture
def toy_method(monkeypatch) -> Iterator[type[Method]]:
    """:class:`ToyMethod` registered for the test (the registry line a new method adds)."""
    monkeypatch.setitem(REGISTRY, ToyMethod.name, ToyMethod)
    yield ToyMethod
