"""Noise2Void / N2V2 blind-spot masking.

A stratified random set of pixels is chosen in every patch (one per grid cell, so
masked pixels never cluster) and each is replaced by a value from its
``(2r+1)^d`` neighbourhood that never includes the pixel itself:

* ``"random"`` (Noise2Void): a uniformly random neighbour;
* ``"median"`` (N2V2): the median of the neighbourhood without the centre.

With a structN2V mask (:mod:`.struct_mask`) the pixels of that mask around each masked
pixel are replaced too, by values drawn uniformly from the patch's (and channel's) intensity
range, and the centre's replacement is taken from the window *outside* the mask (a neighbour
on the same stripe would carry the stripe into the blind spot).

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


def window_offsets(radius: int, ndim: int, exclude: torch.Tensor | None = None) -> torch.Tensor:
    """All offsets of the ``(2r+1)^ndim`` window except the centre (and the offsets
    ``exclude`` ``(K, ndim)``, a structN2V mask): ``(W', ndim)``."""
    rng = range(-radius, radius + 1)
    hidden = set() if exclude is None else {tuple(int(v) for v in o) for o in exclude.tolist()}
    offs = [o for o in itertools.product(rng, repeat=ndim) if any(o) and o not in hidden]
    if not offs:
        raise ValueError(f"the structN2V mask covers the whole replacement window of radius {radius}")
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
                       generator: torch.Generator, exclude: torch.Tensor | None = None) -> torch.Tensor:
    """Replacement values ``(N, C)`` for the masked pixels ``coords`` of ``x``, taken from
    the window of ``radius`` without the offsets ``exclude`` ``(K, d)``."""
    ndim = x.ndim - 2
    spatial = tuple(x.shape[2:])
    offsets = window_offsets(radius, ndim, exclude).to(x.device)
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


def struct_positions(coords: torch.Tensor, struct: torch.Tensor,
                     spatial: tuple[int, ...]) -> torch.Tensor:
    """Batch and spatial indices ``(N*K, 1+d)`` of the structN2V mask ``struct`` ``(K, d)``
    around every masked pixel ``coords`` ``(N, 1+d)``; offsets leaving the patch are mirrored."""
    offsets = struct.to(coords.device)[None].expand(coords.shape[0], -1, -1)
    pos = _neighbour_coords(coords, offsets, spatial)
    b = coords[:, 0, None, None].expand(pos.shape[0], pos.shape[1], 1)
    return torch.cat([b, pos], dim=2).reshape(-1, coords.shape[1])


def _random_field(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Values drawn uniformly from each patch's and channel's ``[min, max]``, shaped like ``x``
    (one value per pixel, so a pixel hidden by two masks gets one value whatever the order)."""
    flat = x.detach().flatten(2)
    lo = flat.min(dim=2).values
    hi = flat.max(dim=2).values
    u = torch.rand(x.shape, generator=generator, dtype=torch.float32).to(x.device, x.dtype)
    shape = x.shape[:2] + (1,) * (x.ndim - 2)
    return lo.reshape(shape) + u * (hi - lo).reshape(shape)


def apply_mask(x: torch.Tensor, fraction: float, radius: int, mode: str,
               generator: torch.Generator,
               struct: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Mask a batch: returns ``(masked copy of x, coords (N, 1+d))``.

    ``struct`` ``(K, d)``: the offsets of a structN2V mask (:func:`.struct_mask.struct_offsets`),
    hidden around every masked pixel; None or empty for plain N2V/N2V2.
    """
    coords = stratified_coords(x.shape[0], tuple(x.shape[2:]), fraction, generator, x.device)
    use_struct = struct is not None and struct.shape[0] > 0
    values = replacement_values(x, coords, radius, mode, generator, struct if use_struct else None)
    masked = x.clone()
    xm = masked.movedim(1, -1)
    xm[(coords[:, 0],) + tuple(coords[:, d] for d in range(1, coords.shape[1]))] = values
    if use_struct:
        # written after the centres: a centre on another pixel's mask is hidden as well
        hide = struct_positions(coords, struct, tuple(x.shape[2:]))
        idx = tuple(hide[:, d] for d in range(hide.shape[1]))
        xm[idx] = _random_field(x, generator).movedim(1, -1)[idx]
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
