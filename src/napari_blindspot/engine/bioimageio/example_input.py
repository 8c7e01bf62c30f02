"""The test input of an exported package: a crop of the user's image, or a synthetic frame.

bioimage.io consumers check a package by running its network on the test input and
comparing with the test output, and show both in the model's card.  The crop is one
sample (the middle frame or volume) of the user's image, centred, in the package's axes
``(1, C, [Z,] Y, X)`` and the image's intensity units.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..axes import CanonicalView, check_axes
from ..errors import DataError
from ..normalization import Normalization

#: Largest test crop side in pixels (Y and X; Z for 3D models: :data:`MAX_Z`).
MAX_SIDE = 256
MAX_Z = 32


@dataclass(frozen=True)
class SizeRule:
    """Valid sizes along one spatial axis: ``minimum + n * step`` (bioimage.io's
    ``ParameterizedSize``) and the halo a tiled consumer crops from each tile side."""

    minimum: int
    step: int
    halo: int

    def largest_valid(self, size: int, cap: int) -> int | None:
        """The largest valid size ``<= min(size, cap)``, or None when ``size`` is too small."""
        limit = min(size, max(cap, self.minimum))
        if limit < self.minimum:
            return None
        return self.minimum + (limit - self.minimum) // self.step * self.step


@dataclass
class ExampleInput:
    """``data`` ``(1, C, [Z,] Y, X)`` float32 in intensity units and where it came from."""

    data: np.ndarray
    origin: str


def size_rules(multiple: int, radius: int, ndim: int) -> dict[str, SizeRule]:
    """Per spatial axis (``"z"``, ``"y"``, ``"x"``): sizes the network takes and its halo.

    Y and X carry a halo of the network's receptive radius rounded up to ``multiple`` (a
    consumer padding an image by the halo then keeps the network's pooling grid, and the
    result inside the halo is napari-blindspot's), so their minimum is twice that plus one step; Z (3D models) has no halo, so that stacks of a
    few slices stay valid: a consumer tiling along Z may show seams there.
    """
    halo = -(-radius // multiple) * multiple  # a multiple: padding keeps the pooling grid
    yx_min = 2 * halo + multiple
    rules = {"y": SizeRule(yx_min, multiple, halo), "x": SizeRule(yx_min, multiple, halo)}
    if ndim == 3:
        rules = {"z": SizeRule(multiple, multiple, 0), **rules}
    return rules


def crop_sample(data: Any, axes: str, train_3d: bool, channels: int,
                rules: dict[str, SizeRule], name: str) -> ExampleInput:
    """The centred crop of the middle sample of ``data`` (axes ``axes``) as a test input."""
    axes = check_axes(axes, tuple(np.shape(data)))
    view = CanonicalView(data, axes, train_3d)
    if view.n_channels != channels:
        raise DataError(f"The sample {name} has {view.n_channels} channel(s) (axes {axes!r}) but the "
                        f"model takes {channels}; give an image like the training data.")
    s = view.n_samples // 2
    block = np.asarray(view.read(s), np.float32)
    spatial = block.shape[1:]
    caps = {"z": MAX_Z, "y": MAX_SIDE, "x": MAX_SIDE}
    region: list[slice] = [slice(None)]
    for axis, size in zip(rules, spatial):
        valid = rules[axis].largest_valid(size, caps[axis])
        if valid is None:
            raise DataError(f"The sample {name} is {size} pixels along {axis.upper()}, smaller than the "
                            f"{rules[axis].minimum} the exported network needs; give a larger image.")
        start = (size - valid) // 2
        region.append(slice(start, start + valid))
    crop = np.ascontiguousarray(block[tuple(region)])
    where = ", ".join(f"{a.upper()} {sl.start}:{sl.stop}" for a, sl in zip(rules, region[1:]))
    return ExampleInput(crop[None], f"a crop of {name} (sample {s} of {view.n_samples}; {where})")


def synthetic_sample(normalization: Normalization, channels: int,
                     rules: dict[str, SizeRule]) -> ExampleInput:
    """A synthetic noisy fluorescence frame (the bundled sample, ``samples.py``) scaled per
    channel to the training data's mean and standard deviation."""
    from ...samples.fluorescence import fluorescence_timelapse

    sizes = [r.largest_valid(max(r.minimum, 128 if a != "z" else 16), 10 ** 6) for a, r in rules.items()]
    side = max(sizes[-2:])
    frames = sizes[0] if "z" in rules else 1
    sample = fluorescence_timelapse(frames=frames, size=side, seed=0).noisy.astype(np.float32)
    base = sample[:, : sizes[-2], : sizes[-1]]
    base = (base - base.mean()) / max(float(base.std()), 1e-12)
    out = np.stack([base * normalization.std[c] + normalization.mean[c]
                    for c in range(channels)]).astype(np.float32)
    if "z" not in rules:
        out = out[:, 0]
    return ExampleInput(out[None], "a synthetic noisy fluorescence image (napari-blindspot's bundled "
                                "sample, scaled to the training data's mean and standard deviation), "
                                "because no sample image was given")


__all__ = ["SizeRule", "ExampleInput", "crop_sample", "size_rules", "synthetic_sample"]
