"""structN2V masks (Broaddus et al. 2020): hide the blind spot's correlated neighbours too.

Noise correlated along rows or columns (sCMOS line noise, scan stripes) is predictable from
the neighbours on the same line, so a plain blind-spot network learns to reproduce it.
structN2V replaces, besides the masked centre pixel, the pixels of a small structuring
element around it with random values (uniform over the patch's intensity range), so the
network never sees the correlated neighbours of a pixel it is trained on.

A mask is named in :attr:`~.config.TrainConfig.struct_mask`:

* ``"none"``: plain N2V/N2V2;
* ``"horizontal"``: a ``1 x span`` line along X (noise correlated along rows);
* ``"vertical"``: a ``span x 1`` line along Y (noise correlated along columns);
* a pattern of 0/1 with odd sides, its rows (Y) separated by ``/``, e.g. ``"11111"``
  (a horizontal line of 5) or ``"010/111/010"``; its centre is the blind spot itself
  (0 or 1 there means the same).

Masks act in the YX plane (3D patches: the same Z slice as the blind spot).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ...errors import ConfigError

#: The named masks (besides a user pattern).
STRUCT_MASK_NAMES = ("none", "horizontal", "vertical")
#: Length of the named lines, the blind spot included.
DEFAULT_STRUCT_SPAN = 5
#: Longest side of a mask: lines longer than this hide too much of a training patch.
MAX_STRUCT_SIZE = 31
_ROW_SEPARATORS = ("/", ";", "\n")


_HINT = ("give 'none', 'horizontal', 'vertical' or a pattern of 0/1 with rows separated by '/', "
         "e.g. '11111' or '010/111/010'")


def pattern_problem(text: str) -> tuple[np.ndarray | None, str]:
    """``(pattern, "")`` for a good pattern string, else ``(None, why)`` in one line.

    Rows are separated by ``/``, ``;`` or new lines; spaces and commas are ignored; the
    pattern is a boolean ``(Y, X)`` array.
    """
    normalised = str(text).strip()
    for sep in _ROW_SEPARATORS[1:]:
        normalised = normalised.replace(sep, "/")
    rows = [r.replace(" ", "").replace(",", "").replace("\t", "") for r in normalised.split("/")]
    rows = [r for r in rows if r]
    if not rows or any(set(r) - {"0", "1"} for r in rows):
        return None, _HINT
    if len({len(r) for r in rows}) != 1:
        return None, (f"its rows have different lengths ({', '.join(str(len(r)) for r in rows)}); "
                      + _HINT)
    pattern = np.array([[c == "1" for c in r] for r in rows], dtype=bool)
    if any(s % 2 == 0 for s in pattern.shape):
        return None, (f"it is {pattern.shape[0]} x {pattern.shape[1]} pixels and has no centre pixel "
                      "(the blind spot); give odd sides, e.g. '11111' rather than '1111'")
    if max(pattern.shape) > MAX_STRUCT_SIZE:
        return None, f"give sides of at most {MAX_STRUCT_SIZE} pixels"
    centre = tuple(s // 2 for s in pattern.shape)
    around = pattern.copy()
    around[centre] = False
    if not around.any():
        return None, "it hides nothing besides the blind spot; use 'none' for plain N2V/N2V2"
    return pattern, ""


def parse_pattern(text: str) -> np.ndarray:
    """The boolean ``(Y, X)`` array of a pattern string; :class:`ConfigError` if it is bad."""
    pattern, why = pattern_problem(text)
    if pattern is None:
        raise ConfigError(f"Invalid setting struct_mask={text!r}: {why}")
    return pattern


def mask_pattern(mask: str, span: int) -> np.ndarray | None:
    """The ``(Y, X)`` boolean pattern of ``mask`` (centre = blind spot), None for ``"none"``."""
    if mask == "none":
        return None
    if mask == "horizontal":
        return np.ones((1, span), dtype=bool)
    if mask == "vertical":
        return np.ones((span, 1), dtype=bool)
    return parse_pattern(mask)


def check_struct_mask(mask: object, span: object) -> tuple[str, str] | None:
    """``(field, why)`` when ``(mask, span)`` is not a valid structN2V setting, else None."""
    if not isinstance(mask, str):
        return "struct_mask", "must be 'none', 'horizontal', 'vertical' or a 0/1 pattern"
    if not isinstance(span, int) or isinstance(span, bool) or not 3 <= span <= MAX_STRUCT_SIZE \
            or span % 2 == 0:
        return "struct_span", (f"must be an odd integer from 3 to {MAX_STRUCT_SIZE} (the line's "
                               "length, the blind spot in its middle)")
    if mask not in STRUCT_MASK_NAMES:
        why = pattern_problem(mask)[1]
        if why:
            return "struct_mask", why
    return None


def struct_offsets(mask: str, span: int, ndim: int) -> torch.Tensor:
    """Offsets of the hidden neighbours (the centre excluded): long ``(K, ndim)``, the last two
    columns Y, X (a leading Z column of zeros in 3D); ``(0, ndim)`` for ``"none"``."""
    pattern = mask_pattern(mask, span)
    if pattern is None:
        return torch.zeros((0, ndim), dtype=torch.long)
    centre = np.array(pattern.shape) // 2
    pattern = pattern.copy()
    pattern[tuple(centre)] = False
    yx = np.argwhere(pattern) - centre
    offsets = np.zeros((yx.shape[0], ndim), dtype=np.int64)
    offsets[:, -2:] = yx
    return torch.from_numpy(offsets)


def struct_extent(mask: str, span: int) -> int:
    """The largest distance (pixels, along Y or X) of a hidden neighbour from the blind spot."""
    pattern = mask_pattern(mask, span)
    return 0 if pattern is None else max(s // 2 for s in pattern.shape)


def pattern_from_file(path: str | Path) -> str:
    """A mask pattern read from a text file (rows of 0/1 on lines, e.g. ``0 1 0``), as the
    one-line form a configuration stores (``"010/111/010"``)."""
    text = Path(path).read_text(encoding="utf-8")
    rows = [line.split("#")[0].replace(" ", "").replace(",", "").replace("\t", "")
            for line in text.splitlines()]
    pattern = "/".join(r for r in rows if r)
    parse_pattern(pattern)  # a clear error for a bad file, before training starts
    return pattern


def struct_mask_text(mask: str, span: int) -> str:
    """E.g. ``horizontal line of 5 pixels (along X)``, ``pattern 010/111/010`` or ``none``."""
    if mask == "none":
        return "none (plain blind spot)"
    if mask in ("horizontal", "vertical"):
        return f"{mask} line of {span} pixels (along {'X' if mask == 'horizontal' else 'Y'})"
    return f"pattern {mask} (rows along Y, the centre is the blind spot)"
