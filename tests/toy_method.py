"""A denoising method written as a plugin author would: this one module, plus the one registry
line the ``toy_method`` fixture (conftest.py) adds.  It has a setting of its own,
``toy_weight``, that no other method and no TrainConfig field has: the configuration, its JSON,
the command line (option, help, check) and the widget (an editor in the method's advanced
panel) all take it from the declaration below."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from napari_blindspot.engine.methods import Method, Setting

#: The toy method's own setting (declared once: type, default, range, flag, help, label).
TOY_WEIGHT = Setting("toy_weight", "Toy weight", "how strongly the toy's loss pulls the output "
                     "to the noisy input", kind="float", flag="--toy-weight", default=0.5,
                     minimum=0.0, open_minimum=True, maximum=1.0, step=0.1)


class ToyNet(nn.Module):
    """One 3x3 convolution."""

    def __init__(self, channels: int, ndim: int) -> None:
        super().__init__()
        conv = nn.Conv3d if ndim == 3 else nn.Conv2d
        self.conv = conv(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class ToyMethod(Method):
    """One 3x3 convolution fitted to the noisy image (weighted by its own ``toy_weight``)."""

    name = "toy"
    display_name = "Toy smoother"
    help = "A toy method of the tests: one 3x3 convolution fitted to the noisy image."
    defaults = {"batch_size": 2}
    settings = (Setting("mask_fraction", "Toy fraction", "a share the toy method is given",
                        kind="percent", flag="--toy-fraction", default=0.002, minimum=0.0001,
                        maximum=0.25),
                TOY_WEIGHT)

    def build(self, config, channels, ndim, normalization=None) -> nn.Module:
        return ToyNet(channels, ndim)

    def loss(self, net, batch, generator, channels=None) -> torch.Tensor:
        x = batch[0].float()
        return self.config.toy_weight * F.mse_loss(net(x).float(), x)
