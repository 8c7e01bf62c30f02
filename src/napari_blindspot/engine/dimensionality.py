"""2D-per-slice or 3D training for a z-stack, decided from the stack's anisotropy.

3D training sees the neighbouring slices, which helps only where they show the same structure:
when the z-spacing is close to the lateral pixel size.  In a typical confocal stack (z-spacing
3-5x the pixel size, axial blur ~3x the lateral) the neighbouring slices are much less alike, and
a 3D step costs several 2D steps on a CPU, so slice-by-slice training is better at the same time
(measured in ``docs/zstack.md``).  Without pixel sizes the stack counts as anisotropic (the
common case, and the cheaper choice).
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


def default_train_3d(axes: str, shape: Sequence[int],
                     pixel_size: Mapping[str, float] | None) -> tuple[bool, str]:
    """Whether to train in 3D by default, and why (one sentence for the user)."""
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
    return True, (f"3D training: the stack is near-isotropic (z-spacing {ratio:.1f}x the pixel "
                  f"size), so neighbouring slices help")
