"""The network a bioimage.io package runs: the method's whole inference in one module.

A bioimage.io consumer (bioimageio.core, deepImageJ, ilastik, QuPath) applies the package's
preprocessing (per-channel ``(x - mean) / std``, the training data's statistics), runs this
module, then the postprocessing (``x * std + mean``).  The module calls the method's own
:meth:`~napari_blindspot.engine.methods.Method.infer`, so HQ-SSL's output is its Bayesian
posterior mean (the noise model is part of the weights) and a consumer that only runs the
network gets what napari-blindspot computes.  Nothing here needs bioimageio packages: the
package's ``pytorch_state_dict`` weights name :class:`BlindspotNetwork` in this module as
their architecture (``import_from: napari_blindspot.engine.bioimageio.network``).

Input ``(B, C, Y, X)`` (``(B, C, Z, Y, X)`` for 3D models), float32, normalised units.
Output: the denoised tensor of the same shape; methods with an uncertainty (HQ-SSL) return
``(denoised, std)``, the posterior standard deviation in normalised units.
"""

from __future__ import annotations

import json
from typing import Any

import torch
from torch import nn

from ..config import ALL_CHANNELS_AT_ONCE, TrainConfig
from ..methods import get_method
from ..normalization import Normalization


class BlindspotNetwork(nn.Module):
    """``config`` (a :class:`TrainConfig` as a dict or JSON), the image's channel count and the
    training data's ``normalization`` (``{"mean": [...], "std": [...]}`` per channel; it sizes
    the noise models, one parameter set per data channel).

    With ``channels: independent`` every channel is denoised alone by one shared network
    (channels are folded into the batch, each with its data channel's noise parameters), as
    :class:`~..model.DenoisingModel` does.
    """

    def __init__(self, config: dict[str, Any] | str, channels: int,
                 normalization: dict[str, list[float]] | None = None) -> None:
        super().__init__()
        cfg = TrainConfig.from_json(config) if isinstance(config, str) else TrainConfig.from_dict(
            json.loads(json.dumps(config)))
        self.config = cfg
        self.channels = int(channels)
        self.method = get_method(cfg)
        self.fold_channels = cfg.channels not in ALL_CHANNELS_AT_ONCE
        net_channels = 1 if self.fold_channels else self.channels
        norm = Normalization.from_dict(normalization) if normalization is not None else None
        self.net = self.method.build(cfg, net_channels, 3 if cfg.train_3d else 2, norm)
        self.output_keys = ("denoised", "std") if self.method.has_uncertainty else ("denoised",)
        self.eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, ...]:
        b, c = x.shape[0], x.shape[1]
        y = x.float()
        data_channels = None
        if self.fold_channels:
            y = y.reshape((b * c, 1) + tuple(y.shape[2:]))
            if self.channels > 1:  # one data channel: its parameter set is the only one
                data_channels = torch.arange(c, device=y.device).repeat(b)  # of each folded image
        out = self.method.infer(self.net, y, data_channels)
        res = [out[k] for k in self.output_keys]
        if self.fold_channels:
            res = [r.reshape((b, c) + tuple(r.shape[2:])) for r in res]
        return tuple(res) if len(res) > 1 else res[0]


__all__ = ["BlindspotNetwork"]
