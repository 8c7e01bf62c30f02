"""Noise2Void / N2V2 blind-spot masking.

A stratified random set of pixels is chosen in every patch (one per grid cell, so
masked pixels never cluster) and each is replaced by a value from its
``(2r+1)^d`` neighbourhood that never includes the pixel itself:

* ``"random"`` (Noise2Void): a uniformly random neighbour;
* ``"median"`` (N2V2): the median of the neighbourhood without the centre.

The network is then trained to predict the *original* value at those pixels only.
All functions work on torch tensors of shape ``(B, C, *spatial)`` on any device.
"""

from __future__ import annotations

import itertools
import math

import torch


def grid_spacing(fraction: float, ndim: int) -> int:
    """Side of the grid cell holding one masked pixel, for a masked ``fraction``."""
    return max(1, int(round((1.0 / fraction) ** (1.0 / ndim))))


def stratified_coords(batch: int, spatial: tuple[int, ...], fraction: float,
                      generator: torch.Generator, device: torch.device | str = "cpu") -> torch.Tensor:
    """Masked pixel coordinates, one per grid cell of each patch.

    Returns a long tensor of shape ``(N, 1 + ndim)``: batch index then spatial indices.
    """
    ndim = len(spatial)
    # a patch smaller than one grid cell still gets (at least) one masked pixel
    cell = min(grid_spacing(fraction, ndim), min(spatial))
    axes = [torch.arange(0, s, cell) for s in spatial]
    corners = torch.cartesian_prod(*axes) if ndim > 1 else axes[0][:, None]
    corners = corners.reshape(-1, ndim)
    n = corners.shape[0]
    offsets = torch.randint(0, cell, (batch, n, ndim), generator=generator)
    coords = corners[None] + offsets
    inside = torch.ones(coords.shape[:2], dtype=torch.bool)
    for d, s in enumerate(spatial):
        inside &= coords[..., d] < s
    b_idx = torch.arange(batch)[:, None].expand(batch, n)
    out = torch.cat([b_idx[inside][:, None], coords[inside]], dim=1)
    return out.to(device)


def _window_offsets(radius: int, ndim: int) -> torch.Tensor:
    """All offsets of the ``(2r+1)^ndim`` window except the centre: ``(W-1, ndim)``."""
    rng = range(-radius, radius + 1)
    offs = [o for o in itertools.product(rng, repeat=ndim) if any(o)]
    return torch.tensor(offs, dtype=torch.long)


def _neighbour_coords(coords: torch.Tensor, offsets: torch.Tensor,
                      spatial: tuple[int, ...]) -> torch.Tensor:
    """Add ``offsets`` to spatial ``coords``; an offset leaving the patch is mirrored.

    Mirroring the *offset* (not the position) keeps every neighbour distinct from the
    centre pixel, also at the patch border.
    ``coords``: ``(N, 1+d)``; ``offsets``: ``(N, K, d)``; returns ``(N, K, d)``.
    """
    pos = coords[:, None, 1:] + offsets
    size = torch.tensor(spatial, device=coords.device)
    outside = (pos < 0) | (pos >= size)
    return torch.where(outside, coords[:, None, 1:] - offsets, pos)


def _gather(x: torch.Tensor, b: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    """Values of ``x`` (B, C, *sp) at batch ``b`` (N,) and positions ``pos`` (N, K, d): (N, K, C)."""
    xc = x.movedim(1, -1)
    idx = (b[:, None].expand(pos.shape[:2]),) + tuple(pos[..., d] for d in range(pos.shape[-1]))
    return xc[idx]


def replacement_values(x: torch.Tensor, coords: torch.Tensor, radius: int, mode: str,
                       generator: torch.Generator) -> torch.Tensor:
    """Replacement values ``(N, C)`` for the masked pixels ``coords`` of ``x``."""
    ndim = x.ndim - 2
    spatial = tuple(x.shape[2:])
    offsets = _window_offsets(radius, ndim).to(x.device)
    if mode == "random":
        pick = torch.randint(0, offsets.shape[0], (coords.shape[0],), generator=generator)
        chosen = offsets[pick.to(x.device)][:, None, :]
        pos = _neighbour_coords(coords, chosen, spatial)
        return _gather(x, coords[:, 0], pos)[:, 0, :]
    if mode == "median":
        allo = offsets[None].expand(coords.shape[0], -1, -1)
        pos = _neighbour_coords(coords, allo, spatial)
        return _gather(x, coords[:, 0], pos).median(dim=1).values
    raise ValueError(f"unknown replacement mode {mode!r}")


def apply_mask(x: torch.Tensor, fraction: float, radius: int, mode: str,
               generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Mask a batch: returns ``(masked copy of x, coords (N, 1+d))``."""
    coords = stratified_coords(x.shape[0], tuple(x.shape[2:]), fraction, generator, x.device)
    values = replacement_values(x, coords, radius, mode, generator)
    masked = x.clone()
    xm = masked.movedim(1, -1)
    xm[(coords[:, 0],) + tuple(coords[:, d] for d in range(1, coords.shape[1]))] = values
    return masked, coords


def masked_mse(prediction: torch.Tensor, target: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
    """Mean squared error between ``prediction`` and ``target`` at ``coords`` only."""
    idx = (coords[:, 0],) + tuple(coords[:, d] for d in range(1, coords.shape[1]))
    p = prediction.movedim(1, -1)[idx].float()
    t = target.movedim(1, -1)[idx].float()
    return torch.mean((p - t) ** 2)


def expected_masked_count(spatial: tuple[int, ...], fraction: float) -> int:
    """Number of masked pixels per patch for ``spatial`` and ``fraction``."""
    cell = min(grid_spacing(fraction, len(spatial)), min(spatial))
    return math.prod(math.ceil(s / cell) for s in spatial)
