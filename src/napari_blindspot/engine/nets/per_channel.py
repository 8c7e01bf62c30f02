"""Separate channels: C single-channel networks side by side, one per data channel.

``channels="separate"`` (:mod:`..channel_choice`) trains every channel of a multichannel image
with a network of its own, as that channel would train alone: the same patches (all channels of
a patch come from the same place), its own normalisation and, with HQ-SSL, its own noise model;
network ``c`` sees only channel ``c``.  Every network starts from the weights the single-channel
network would start from with the same seed (:func:`build_per_channel`), so a run trains each
channel exactly as the channel alone would (``tests/engine/test_separate_channels.py``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import nn


class PerChannel(nn.Module):
    """Network ``c`` of ``nets`` on channel ``c`` of the input.

    Input ``(B, C, *sp)`` float; each network maps ``(B, 1, *sp)`` to ``(B, K, *sp)``; the
    output ``(B, K * C, *sp)`` is grouped by output: the first outputs of every channel
    (channels 0..C-1), then the second ones, and so on (K=1: ``(B, C, *sp)``, channel order).
    """

    def __init__(self, nets: list[nn.Module]) -> None:
        super().__init__()
        self.nets = nn.ModuleList(nets)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] != len(self.nets):
            raise ValueError(f"PerChannel: {len(self.nets)} networks, input of {x.shape[1]} channels")
        return self.combine([net(x[:, c:c + 1]) for c, net in enumerate(self.nets)])

    @staticmethod
    def combine(outs: list[torch.Tensor]) -> torch.Tensor:
        """The networks' outputs ``(B, K, *sp)`` (one per channel) as :meth:`forward` gives them."""
        if outs[0].shape[1] == 1:
            return torch.cat(outs, 1)
        return torch.cat([o[:, k:k + 1] for k in range(outs[0].shape[1]) for o in outs], 1)


def build_per_channel(make: Callable[[], nn.Module], channels: int) -> PerChannel:
    """``channels`` networks from ``make()``, each built from the random state this call starts
    with (so each gets the initial weights a single-channel run with the same seed gets); the
    state afterwards is the one building one network leaves."""
    state = torch.get_rng_state()
    nets = []
    for _ in range(channels):
        torch.set_rng_state(state)
        nets.append(make())
    return PerChannel(nets)


def separate_networks(net: nn.Module) -> int:
    """How many separate channel networks ``net`` (or the network it wraps, ``net.net``) holds;
    1 for a network shared by, or joint over, the channels."""
    for m in (net, getattr(net, "net", None)):
        if isinstance(m, PerChannel):
            return len(m.nets)
    return 1


def channel_network(net: nn.Module, channel: int) -> nn.Module:
    """The single-channel network of data ``channel`` in ``net`` (separate channel networks,
    also inside a wrapper such as HQ-SSL's, which then shares its noise model: give it the data
    channel index); ``net`` itself otherwise.  For previews of one channel."""
    if isinstance(net, PerChannel):
        return net.nets[channel]
    inner = getattr(net, "net", None)
    if not isinstance(inner, PerChannel):
        return net
    single = copy.copy(net)  # a view: shares every parameter and buffer with ``net``
    single._modules = dict(net._modules)
    single._modules["net"] = inner.nets[channel]
    if hasattr(single, "channels"):
        single.channels = 1
    return single


def channels_summed(loss: torch.Tensor, net: nn.Module) -> torch.Tensor:
    """A batch loss averaged over every channel, made the *sum* of the channels' losses when
    ``net`` holds separate channel networks: each network's gradient is then the one it gets
    training alone (Adam's steps follow the gradient's scale only through its epsilon)."""
    n = separate_networks(net)
    return loss * n if n > 1 else loss


__all__ = ["PerChannel", "build_per_channel", "channel_network", "channels_summed", "separate_networks"]
