"""Which folders napari-blindspot may replace: only the OME-Zarr images it wrote itself.

Every OME-Zarr image :class:`~.omezarr.OmeZarrWriter` writes carries :data:`MARKER` in its
group attributes.  ``--overwrite`` replaces an existing folder only when it carries the
marker *and* holds nothing but what the writer puts there (zarr metadata files and the
chunks of its pyramid levels ``0``, ``1``, ...): a folder of the user's, a zarr store written
by another tool, or one of ours that the user has since put files into, is refused.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

from ..engine.errors import ConfigError

#: The group attribute that marks an OME-Zarr image napari-blindspot wrote.
MARKER = "napari_blindspot"
_METADATA = {".zgroup", ".zattrs", ".zarray", "zarr.json", ".zmetadata"}
#: A chunk key part: a number (``0``, ``0.1.2`` with dots in zarr v2) or ``c`` (zarr v3 prefix).
_CHUNK = re.compile(r"^(c|\d+(\.\d+)*)$")


def marker_attributes() -> dict[str, Any]:
    """What the writer puts under :data:`MARKER`."""
    from .. import __version__

    return {"written_by": "napari-blindspot", "version": str(__version__)}


def _attributes(folder: str) -> dict[str, Any]:
    """The group attributes of the zarr store ``folder`` (v2 ``.zattrs`` or v3 ``zarr.json``)."""
    for name in (".zattrs", "zarr.json"):
        try:
            with open(os.path.join(folder, name), encoding="utf-8") as f:
                data = json.load(f)
        except (OSError, ValueError):
            continue
        if isinstance(data, dict):
            attrs = data.get("attributes", {}) if name == "zarr.json" else data
            if isinstance(attrs, dict):
                return attrs
    return {}


def foreign_entry(folder: str) -> str | None:
    """The first entry of ``folder`` (relative path) that the writer does not put there, else
    None: only metadata files at the top, and level folders ``0``, ``1``... of chunks."""
    for name in os.listdir(folder):
        path = os.path.join(folder, name)
        if name in _METADATA and os.path.isfile(path) and not os.path.islink(path):
            continue
        if not (name.isdigit() and os.path.isdir(path) and not os.path.islink(path)):
            return name
        for root, dirs, files in os.walk(path):
            for entry in dirs + files:
                full = os.path.join(root, entry)
                ok = entry in _METADATA or _CHUNK.match(entry)
                if not ok or os.path.islink(full):
                    return os.path.relpath(full, folder)
    return None


def is_own_output(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a folder napari-blindspot wrote and nothing else was added to."""
    folder = os.fspath(path)
    if os.path.islink(folder) or not os.path.isdir(folder):
        return False
    marker = _attributes(folder).get(MARKER)
    return isinstance(marker, dict) and marker.get("written_by") == "napari-blindspot" \
        and foreign_entry(folder) is None


def check_replaceable(flag: str, path: str | os.PathLike) -> None:
    """Refuse to replace the existing folder ``path`` unless napari-blindspot wrote it (see
    the module docstring); a file or a missing path passes."""
    folder = os.path.realpath(os.fspath(path))
    if not os.path.isdir(folder):
        return
    marker = _attributes(folder).get(MARKER)
    if not (isinstance(marker, dict) and marker.get("written_by") == "napari-blindspot"):
        raise ConfigError(f"{flag} {os.fspath(path)!r} is an existing folder that napari-blindspot did "
                          "not write: --overwrite replaces only our own earlier results; move it "
                          "away or choose another output name.")
    extra = foreign_entry(folder)
    if extra is not None:
        raise ConfigError(f"{flag} {os.fspath(path)!r} is an earlier result that now also holds "
                          f"{extra!r}, which napari-blindspot did not write: replacing it would "
                          "delete that; move it out or choose another output name.")


__all__ = ["MARKER", "check_replaceable", "foreign_entry", "is_own_output", "marker_attributes"]
