"""A zarr store is read only when it is whole and consistent, as a TIFF is.

* :func:`check_metadata_files`: every zarr metadata file (``.zgroup``, ``.zattrs``,
  ``.zarray``, ``zarr.json``, consolidated ``.zmetadata``) of a folder is a JSON object;
* :func:`check_chunks`: every chunk (or shard) of an array is in the store (zarr would
  read a missing one as the fill value, a flat region in the result), unless the caller
  allows missing chunks (writers that leave out chunks holding only the fill value);
* :class:`CheckedArray`: a chunk that cannot be decoded is a :class:`DataError` naming the
  array, not a codec's traceback;
* :func:`check_ngff_axes`: the NGFF axes and scales fit the array.

Each raises :class:`~..engine.errors.DataError` with one line naming the file and the fix.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

import numpy as np
import zarr

from ..engine.errors import BlindspotError, DataError

log = logging.getLogger(__name__)

METADATA_FILES = (".zgroup", ".zattrs", ".zarray", "zarr.json", ".zmetadata")
#: The fix for a store that is damaged.
REPAIR = "copy the store again from its source, or write it again"


def check_metadata_files(folder: str) -> None:
    """Refuse a damaged zarr metadata file in ``folder`` (not JSON, or not a JSON object)."""
    for name in METADATA_FILES:
        path = os.path.join(folder, name)
        if not os.path.isfile(path):
            continue
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DataError(f"{path!r} is damaged (not valid JSON: {exc}); {REPAIR}.") from None
        except OSError as exc:
            raise DataError(f"{path!r} cannot be read ({exc.strerror}): check its permissions.") from None
        if not isinstance(data, dict):
            raise DataError(f"{path!r} is damaged (a JSON {type(data).__name__}, not the object zarr "
                            f"metadata is); {REPAIR}.")


def array_folder(array: Any) -> str | None:
    """The folder of a zarr array in a local store, else None."""
    root = getattr(getattr(array, "store", None), "root", None)
    if root is None:
        return None
    prefix = getattr(getattr(array, "store_path", None), "path", "") or ""
    return os.path.join(os.fspath(root), *prefix.split("/")) if prefix else os.fspath(root)


def _present(folder: str) -> set[str]:
    """Every file under ``folder`` as a ``/``-separated key (one listing of the store)."""
    keys: set[str] = set()
    for root, _, files in os.walk(folder):
        rel = os.path.relpath(root, folder)
        prefix = "" if rel == "." else rel.replace(os.sep, "/") + "/"
        keys.update(prefix + f for f in files)
    return keys


def check_chunks(array: Any, allow_missing: bool = False) -> int:
    """Refuse an array of a local store with chunks missing (unless ``allow_missing``, which
    logs how many are read as the fill value); returns the number missing."""
    folder = array_folder(array)
    expected = getattr(array, "_iter_shard_keys", None)
    if folder is None or expected is None or int(np.prod(array.shape)) == 0:
        return 0
    present = _present(folder)
    missing, first, total = 0, None, 0
    for key in expected():
        total += 1
        if key not in present:
            missing += 1
            first = first or key
    if not missing:
        return 0
    fill = getattr(array, "fill_value", 0)
    if allow_missing:
        log.warning("%s: %d of %d chunks are missing; they are read as the fill value %s.",
                    folder, missing, total, fill)
        return missing
    raise DataError(f"{folder!r} lacks {missing} of its {total} chunks (first: {first!r}), which "
                    f"would be read as {fill} (a flat region): the copy is incomplete; {REPAIR} (if "
                    "its writer leaves out chunks that hold only the fill value, add "
                    "--allow-missing-chunks).")


class CheckedArray(zarr.Array):  # type: ignore[misc]
    """A ``zarr.Array`` whose ``[...]`` reads raise :class:`DataError` naming the array when a
    chunk cannot be decoded (a codec's error is no use to the user)."""

    def __getitem__(self, index: Any) -> Any:
        try:
            return super().__getitem__(index)
        except (BlindspotError, MemoryError, IndexError, TypeError):
            raise
        except Exception as exc:  # noqa: BLE001 - codecs raise many types for damaged chunks
            label = array_folder(self) or str(self)
            raise DataError(f"{label!r}: a chunk cannot be decoded ({type(exc).__name__}: "
                            f"{exc}); the store is damaged: {REPAIR}.") from exc


def checked_array(array: Any) -> CheckedArray:
    """``array`` as a :class:`CheckedArray`."""
    return CheckedArray(array._async_array)


def check_ngff_axes(where: str, names: list[str], letters: str | None, shape: tuple[int, ...],
                    scales: list[list[float] | None]) -> None:
    """Refuse NGFF ``axes`` (their ``names``, our ``letters`` or None when they repeat) that do
    not fit an array of ``shape``, and ``scales`` of another length."""
    fix = f"correct the \"axes\" of the multiscales metadata in {where!r}, or give the axes (--axes)"
    if letters is None:
        raise DataError(f"{where!r}: the OME-NGFF axes {names} are not distinct axes (t, c, z, y, "
                        f"x, at most one other); {fix}.")
    if len(letters) != len(shape):
        raise DataError(f"{where!r}: the OME-NGFF metadata names {len(letters)} axes {names} but "
                        f"the array has {len(shape)} dimensions (shape {tuple(shape)}); {fix}.")
    for scale in scales:
        if scale is not None and len(scale) != len(shape):
            raise DataError(f"{where!r}: an OME-NGFF scale has {len(scale)} values {scale} for "
                            f"{len(shape)} axes; correct the coordinateTransformations, or "
                            f"{REPAIR}.")


__all__ = ["CheckedArray", "METADATA_FILES", "array_folder", "check_chunks", "check_metadata_files",
           "check_ngff_axes", "checked_array"]
