"""How two paths relate, for the rule that no output may touch an input.

An output may not be an input (``"same"``: equal, spelled differently, or through a symbolic
or hard link), lie inside one (``"inside"``: a file written into an input's zarr store), or
contain one (``"contains"``: a folder output whose replacement would remove the input).
Paths are compared once every symbolic link on the way is resolved.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

from .atomic import same_file
from .errors import ConfigError

#: How an output relates to an input: the words of the refusal.
WORDS = {"same": "is", "inside": "is inside", "contains": "contains"}


def real(path: str | os.PathLike) -> str:
    """``path`` absolute, every symbolic link resolved, case-normalised where the system is."""
    return os.path.normcase(os.path.realpath(os.path.abspath(os.fspath(path).rstrip("/\\") or "/")))


def _under(child: str, parent: str) -> bool:
    return child != parent and child.startswith(parent.rstrip(os.sep) + os.sep)


def relation(output: str | os.PathLike, other: str | os.PathLike) -> str | None:
    """``"same"``, ``"inside"`` (``output`` is inside ``other``), ``"contains"`` (``output``
    contains ``other``) or None."""
    if same_file(output, other):
        return "same"
    a, b = real(output), real(other)
    if _under(a, b):
        return "inside"
    if _under(b, a):
        return "contains"
    return None


def check_apart(outputs: Sequence[tuple[str, str]], inputs: Iterable[tuple[str, str]]) -> None:
    """Refuse an output that is, is inside or contains an input, or another output.

    ``outputs`` and ``inputs``: ``(flag, path)`` pairs (``IMAGE`` for an image); empty paths
    are skipped.  Raises :class:`ConfigError` naming both and the fix.
    """
    inputs = [(f, p) for f, p in inputs if p]
    outputs = [(f, p) for f, p in outputs if p]
    for i, (flag, out) in enumerate(outputs):
        for in_flag, path in inputs:
            how = relation(out, path)
            if how is not None:
                what = "the input image" if in_flag == "IMAGE" else f"the {in_flag} file"
                raise ConfigError(f"{flag} {out!r} {WORDS[how]} {what} ({path!r}): writing it could "
                                  "destroy the input; choose an output outside every input "
                                  "(inputs are never changed, even with --overwrite).")
        for other_flag, other in outputs[:i]:
            how = relation(out, other)
            if how == "same":
                raise ConfigError(f"{flag} and {other_flag} are the same file ({out!r}): one would "
                                  "overwrite the other; give them different names.")
            if how is not None:
                raise ConfigError(f"{flag} {out!r} {WORDS[how]} the {other_flag} output "
                                  f"({other!r}): one would destroy the other; give them separate "
                                  "places.")


__all__ = ["check_apart", "real", "relation"]
