"""2D-per-slice or 3D training for a z-stack, decided from the stack's anisotropy and device.

Measured in ``docs/zstack.md`` (HQ-SSL, synthetic confocal volume, FMD noise, one CPU thread):

* z-spacing 4x the pixel size (a typical confocal stack): 3D was no better even at the same
  number of steps (38.90 vs 39.13 dB) and a 3D step cost ~10x a 2D step: 2D.
* isotropic: 3D gained 1.8 dB at the same steps (42.06 vs 40.26), but at the same *time* on the
  CPU 2D caught up (800 2D steps in 226 s: 42.30; 100 3D steps in 213 s: 42.06): on a CPU 2D is
  as good and far cheaper to predict, on a GPU (where time per step is not the limit; not
  measured here) the per-step gain makes 3D the choice.

Without pixel sizes a stack counts as anisotropic (the common case, and the cheaper choice).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

#: 3D training is the default when the z-spacing is at most this many lateral pixel sizes.
MAX_3D_ANISOTROPY = 2.0
#: ... and the stack has at least this many slices (a 3D training patch is 16 deep).
MIN_3D_SLICES = 16


def anisotropy(pixel_size: Mapping[str, float] | None) -> float | None:
    """z-spacing over the lateral pixel size (the mean of X and Y), or None if not known."""
    px = dict(pixel_size or {})
    lateral = [float(px[a]) for a in ("X", "Y") if px.get(a)]
    z = px.get("Z")
    if not lateral or not z or z <= 0 or min(lateral) <= 0:
        return None
    return float(z) / (sum(lateral) / len(lateral))


def default_train_3d(axes: str, shape: Sequence[int], pixel_size: Mapping[str, float] | None,
                     device_type: str = "cpu") -> tuple[bool, str]:
    """Whether to train in 3D by default on ``device_type`` ("cpu", "cuda", "mps"), and why
    (one sentence for the user)."""
    axes = axes.upper()
    if "Z" not in axes:
        return False, "no Z axis: 2D training"
    slices = int(shape[axes.index("Z")])
    ratio = anisotropy(pixel_size)
    if ratio is None:
        return False, ("2D training slice by slice: the stack has no pixel sizes, so it counts as "
                       "anisotropic (give --3d for a near-isotropic stack)")
    if ratio > MAX_3D_ANISOTROPY:
        return False, (f"2D training slice by slice: the z-spacing is {ratio:.1f}x the pixel size, "
                       f"so neighbouring slices add little (3D helps up to {MAX_3D_ANISOTROPY:g}x)")
    if slices < MIN_3D_SLICES:
        return False, (f"2D training slice by slice: {slices} slices are too few for 3D patches "
                       f"(at least {MIN_3D_SLICES})")
    if device_type == "cpu":
        return False, (f"2D training slice by slice: the stack is near-isotropic (z-spacing "
                       f"{ratio:.1f}x the pixel size), but on a CPU a 3D step costs ~10x a 2D step "
                       f"and 3D was no better at the same time")
    return True, (f"3D training: the stack is near-isotropic (z-spacing {ratio:.1f}x the pixel "
                  f"size), so neighbouring slices help")
