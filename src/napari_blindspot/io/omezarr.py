"""OME-Zarr (OME-NGFF) images with zarr: read lazily, write chunk by chunk.

Reading (:func:`read_omezarr`): a zarr v2 (NGFF 0.4) or v3 (NGFF 0.5, metadata under
``"ome"``) multiscale image, a ``bioformats2raw`` container (its first series), or a plain
zarr array.  The full-resolution level is returned as a lazy ``zarr.Array``, with the axes
and pixel sizes of the NGFF metadata (scale of the first dataset, times the multiscale's own
scale).

Writing (:class:`OmeZarrWriter`): a multiscale image in the NGFF axes order ``TCZYX``
(see :mod:`.layout`), full resolution at ``"0"``, lower levels (2x in Y and X, mean of 2x2
blocks) added by :meth:`OmeZarrWriter.finish` from the written level, chunk by chunk.  Pieces
written with :meth:`OmeZarrWriter.write` are assembled into whole chunks first
(:mod:`.chunks`).  The image is written to a temporary folder beside the target and renamed
to it when finished, so an interrupted write leaves no half image (and an existing one
untouched).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..engine.atomic import clean_debris, resolve_target, temporary_name, write_failed
from ..engine.axes import check_axes, guess_axes
from ..engine.errors import BlindspotError, ConfigError, DataError
from .chunks import ChunkAssembler
from .layout import NGFF_ORDER, OutputLayout
from .ownership import MARKER, check_replaceable, marker_attributes
from .zarr_checks import checked_array, check_chunks, check_metadata_files, check_ngff_axes

#: NGFF axis names -> ours.
_NAMES = {"t": "T", "time": "T", "c": "C", "channel": "C", "z": "Z", "y": "Y", "x": "X"}
#: NGFF (UDUNITS) length units -> the ImageJ unit strings we use, and back.
_UNITS = {"micrometer": "micron", "nanometer": "nm", "millimeter": "mm", "centimeter": "cm",
          "meter": "m", "angstrom": "angstrom"}
_NGFF_UNITS = {v: k for k, v in _UNITS.items()} | {"um": "micrometer", "µm": "micrometer"}
#: Lower pyramid levels are added until the largest of Y and X is at most this.
PYRAMID_MIN = 256
#: Every chunk is stored, even one that holds only zeros: a reader can tell a missing chunk
#: (an incomplete copy) from a dark region.
_EVERY_CHUNK = {"write_empty_chunks": True}


def is_zarr_path(path: str | os.PathLike) -> bool:
    """Whether ``path`` names a zarr store (a ``.zarr`` name, or a folder with zarr metadata)."""
    path = os.fspath(path).rstrip("/\\")
    if path.lower().endswith(".zarr"):
        return True
    return os.path.isdir(path) and any(os.path.exists(os.path.join(path, f))
                                       for f in ("zarr.json", ".zgroup", ".zarray", ".zattrs"))


def _zarr() -> Any:
    import zarr  # a core dependency; imported here to keep `import napari_blindspot` light
    return zarr


@dataclass
class ZarrImage:
    """What :func:`read_omezarr` returns (the same fields as :class:`~.tiff.TiffImage`)."""

    data: Any
    axes: str
    axes_source: str
    pixel_size: dict[str, float] = field(default_factory=dict)
    unit: str = ""  # none when the store names none
    metadata: dict[str, Any] = field(default_factory=dict)


def _multiscales(attrs: dict[str, Any]) -> list[dict[str, Any]] | None:
    if "multiscales" in attrs:
        return attrs["multiscales"]
    ome = attrs.get("ome")
    if isinstance(ome, dict) and "multiscales" in ome:
        return ome["multiscales"]
    return None


def _axes_from_ngff(axes: list[Any]) -> str | None:
    letters = []
    for ax in axes:
        name = ax.get("name", "") if isinstance(ax, dict) else ax
        kind = str(ax.get("type", "")) if isinstance(ax, dict) else ""
        letter = _NAMES.get(str(name).lower()) or {"time": "T", "channel": "C"}.get(kind, "S")
        letters.append(letter)
    out = "".join(letters)
    return out if len(set(out)) == len(out) else None


def _scale(transforms: list[dict[str, Any]] | None) -> list[float] | None:
    for t in transforms or []:
        if t.get("type") == "scale" and "scale" in t:
            return [float(v) for v in t["scale"]]
    return None


def _array(node: Any, key: str, path: str) -> Any:
    """``node[key]``, a zarr array whose metadata was checked (:mod:`.zarr_checks`)."""
    zarr = _zarr()
    folder = os.path.join(path, *str(key).split("/"))
    check_metadata_files(folder)
    try:
        data = node[key]
    except KeyError:
        raise DataError(f"{path!r}: the OME-NGFF metadata names the array {key!r}, which the store "
                        "does not hold: the copy is incomplete; copy it again.") from None
    except Exception as exc:  # noqa: BLE001 - zarr raises many types for bad metadata
        raise DataError(f"{folder!r} is not a readable zarr array ({exc}); copy the store again "
                        "from its source, or write it again.") from exc
    if not isinstance(data, zarr.Array):
        raise DataError(f"{folder!r} is not a zarr array (its .zarray / zarr.json is missing or "
                        "damaged); copy the store again from its source, or write it again.")
    return data


def _checked(data: Any, allow_missing_chunks: bool) -> Any:
    check_chunks(data, allow_missing_chunks)
    return checked_array(data)


def read_omezarr(path: str | os.PathLike, axes: str | None = None, *,
                 allow_missing_chunks: bool = False) -> ZarrImage:
    """Open an OME-Zarr image (or a plain zarr array) lazily; see the module docstring.

    A damaged metadata file, a missing chunk (unless ``allow_missing_chunks``) or NGFF axes
    that do not fit the array (unless ``axes`` is given, which replaces them) raise
    :class:`~..engine.errors.DataError` naming the file and the fix.
    """
    zarr = _zarr()
    path = os.fspath(path)
    check_metadata_files(path)
    try:
        node = zarr.open(path, mode="r")
        attrs = dict(node.attrs)
    except Exception as exc:  # noqa: BLE001 - zarr raises many types for bad stores
        raise DataError(f"Cannot read {path!r} as a zarr store: {exc}") from exc
    if "bioformats2raw.layout" in attrs and hasattr(node, "keys") and "0" in node:
        check_metadata_files(os.path.join(path, "0"))
        node, attrs, path = node["0"], dict(node["0"].attrs), os.path.join(path, "0")
    if isinstance(node, zarr.Array):
        return ZarrImage(_checked(node, allow_missing_chunks), guess_axes(node.shape), "guessed")
    multiscales = _multiscales(attrs)
    if not multiscales:
        arrays = sorted(k for k, _ in node.arrays())
        if len(arrays) == 1:
            data = _array(node, arrays[0], path)
            return ZarrImage(_checked(data, allow_missing_chunks), guess_axes(data.shape), "guessed")
        raise DataError(f"{path!r} is a zarr group without OME-NGFF multiscales metadata; give the "
                        "path of an image (an OME-Zarr image or a zarr array) inside it.")
    ms = multiscales[0] if isinstance(multiscales, list) and multiscales else None
    datasets = ms.get("datasets") if isinstance(ms, dict) else None
    if not datasets or not isinstance(datasets, list) or not isinstance(datasets[0], dict) \
            or "path" not in datasets[0]:
        raise DataError(f"{path!r}: the OME-NGFF multiscales metadata lists no datasets; correct "
                        "it, or copy the store again.")
    data = _array(node, str(datasets[0]["path"]), path)
    shape = tuple(data.shape)
    ngff_axes = ms.get("axes") or []
    scale = _scale(datasets[0].get("coordinateTransformations"))
    outer = _scale(ms.get("coordinateTransformations"))
    if axes is None and ngff_axes:
        names = [str(ax.get("name", "")) if isinstance(ax, dict) else str(ax) for ax in ngff_axes]
        letters = _axes_from_ngff(ngff_axes)
        where = os.path.join(path, "zarr.json" if "ome" in attrs else ".zattrs")
        check_ngff_axes(where, names, letters, shape, [scale, outer])
        try:
            letters = check_axes(str(letters), shape)
        except BlindspotError as exc:
            raise DataError(f"{where!r}: the OME-NGFF axes do not fit the array: {exc}") from None
    else:
        letters = None
    image = _checked(data, allow_missing_chunks)
    pixel: dict[str, float] = {}
    unit = ""
    if letters is None:
        found = axes.upper() if axes else guess_axes(shape)
        return ZarrImage(image, found, "given" if axes else "guessed", {}, "", {"multiscales": ms})
    scale = scale or [1.0] * len(letters)
    outer = outer or [1.0] * len(letters)
    for a, s, o in zip(letters, scale, outer):
        if a in "XYZ":
            pixel[a] = s * o
    units = [ax.get("unit") if isinstance(ax, dict) else None for ax in ngff_axes]
    named = [u for a, u in zip(letters, units) if a == "X" and u]
    if named:
        unit = _UNITS.get(str(named[0]), str(named[0]))
    if all(abs(v - 1.0) < 1e-12 for v in pixel.values()) and not named:
        pixel = {}
    return ZarrImage(image, letters, "ome-ngff", pixel, unit, {"multiscales": ms})


def default_chunks(file_axes: str, file_shape: tuple[int, ...], z_spatial: bool) -> tuple[int, ...]:
    """Chunks for a streamed image: one per T and C, Y/X blocks of up to 512 (2D) or
    Z/Y/X blocks of up to 16x256x256 when Z is predicted as a volume (``z_spatial``)."""
    out = []
    for a, n in zip(file_axes, file_shape):
        if a in "TC":
            out.append(1)
        elif a == "Z":
            out.append(min(n, 16) if z_spatial else 1)
        else:
            out.append(min(n, 256 if z_spatial else 512))
    return tuple(out)


def _downsample(block: np.ndarray) -> np.ndarray:
    """Mean of 2x2 blocks over the last two axes (odd edges: the last row/column repeated)."""
    pad = [(0, 0)] * (block.ndim - 2) + [(0, block.shape[-2] % 2), (0, block.shape[-1] % 2)]
    b = np.pad(block.astype(np.float32), pad, mode="edge")
    b = b.reshape(b.shape[:-2] + (b.shape[-2] // 2, 2, b.shape[-1] // 2, 2))
    return b.mean(axis=(-3, -1))


class OmeZarrWriter:
    """Write an image with ``axes``/``shape`` (the source's, any order) to OME-Zarr at ``path``.

    ``zarr_format`` 2 writes NGFF 0.4 (the most widely read), 3 NGFF 0.5.  ``pixel_size`` maps
    X/Y/Z to sizes in ``unit`` (ImageJ unit strings, e.g. ``"micron"``).  :meth:`write` takes
    source-order indices and blocks; :meth:`finish` writes the lower levels and moves the image
    into place; :meth:`abort` removes what was written.  ``temporary=False`` writes at ``path``
    directly (a scratch store a viewer reads while it fills).
    """

    def __init__(self, path: str | os.PathLike, axes: str, shape: tuple[int, ...], *,
                 dtype: Any = np.float32, pixel_size: dict[str, float] | None = None,
                 unit: str = "micron", chunks: tuple[int, ...] | None = None,
                 z_spatial: bool = False, zarr_format: int = 2, pyramid: bool = True,
                 name: str = "denoised", temporary: bool = True) -> None:
        zarr = _zarr()
        self.target = resolve_target(os.fspath(path).rstrip("/\\"))
        if temporary:
            clean_debris(self.target)
        self.path = temporary_name(self.target) if temporary else self.target
        self.layout = OutputLayout(axes, tuple(shape), NGFF_ORDER)
        self.file_axes, self.file_shape = self.layout.file_axes, self.layout.file_shape
        self.dtype = np.dtype(dtype)
        self.pixel_size = dict(pixel_size or {})
        self.unit = unit
        self.zarr_format = int(zarr_format)
        self.pyramid = pyramid
        self.name = name
        self.chunks = tuple(chunks) if chunks else default_chunks(self.file_axes, self.file_shape,
                                                                  z_spatial)
        self.group = zarr.open_group(self.path, mode="w", zarr_format=self.zarr_format)
        kwargs: dict[str, Any] = {}
        if self.zarr_format == 3:
            kwargs["dimension_names"] = [a.lower() for a in self.file_axes]
        self.array = self.group.create_array("0", shape=self.file_shape, chunks=self.chunks,
                                             dtype=self.dtype, fill_value=0, config=_EVERY_CHUNK,
                                             **kwargs)
        self.levels = [self.array]
        self._write_metadata()
        self.assembler = ChunkAssembler(self.file_shape, self.chunks, self.dtype, self._emit)

    # ---------------------------------------------------------------- writing
    def _emit(self, pos: tuple[int, ...], region: tuple[slice, ...], data: np.ndarray) -> None:
        try:
            self.array[region] = data
        except OSError as exc:  # a full disk, a read-only mount: say so
            raise write_failed(self.target, exc, os.path.exists(self.target)) from exc

    def write(self, index: tuple[Any, ...], block: np.ndarray) -> None:
        """Write ``block`` at the source-order ``index`` (see :class:`~.layout.OutputLayout`)."""
        self.assembler.write(*self.layout.to_file(index, block))

    def _level_scales(self) -> list[list[float]]:
        base = [float(self.pixel_size.get(a, 1.0)) if a in "XYZ" else 1.0 for a in self.file_axes]
        out = []
        for k in range(len(self.levels)):
            out.append([s * (2 ** k if a in "YX" else 1) for a, s in zip(self.file_axes, base)])
        return out

    def _write_metadata(self) -> None:
        unit = _NGFF_UNITS.get(self.unit)
        axes = []
        for a in self.file_axes:
            entry: dict[str, Any] = {"name": a.lower(),
                                     "type": {"T": "time", "C": "channel"}.get(a, "space")}
            if a in "XYZ" and unit and self.pixel_size:
                entry["unit"] = unit
            axes.append(entry)
        multiscale = {
            "name": self.name, "axes": axes,
            "datasets": [{"path": str(k), "coordinateTransformations": [{"type": "scale", "scale": s}]}
                         for k, s in enumerate(self._level_scales())],
            "type": "mean",
        }
        own = {MARKER: marker_attributes()}
        if self.zarr_format == 2:
            self.group.attrs.update({"multiscales": [multiscale | {"version": "0.4"}]} | own)
        else:
            self.group.attrs.update({"ome": {"version": "0.5", "multiscales": [multiscale]}} | own)

    def _add_levels(self) -> None:
        y, x = self.file_axes.index("Y"), self.file_axes.index("X")
        src = self.array
        while self.pyramid and max(src.shape[y], src.shape[x]) > PYRAMID_MIN:
            shape = list(src.shape)
            shape[y], shape[x] = -(-shape[y] // 2), -(-shape[x] // 2)
            chunks = tuple(min(c, s) for c, s in zip(self.chunks, shape))
            kwargs: dict[str, Any] = {}
            if self.zarr_format == 3:
                kwargs["dimension_names"] = [a.lower() for a in self.file_axes]
            dst = self.group.create_array(str(len(self.levels)), shape=tuple(shape), chunks=chunks,
                                          dtype=self.dtype, fill_value=0,
                                          config=_EVERY_CHUNK, **kwargs)
            grid = [range(-(-s // c)) for s, c in zip(shape, chunks)]
            for pos in np.ndindex(*[len(g) for g in grid]):
                region = tuple(slice(p * c, min((p + 1) * c, s)) for p, c, s in zip(pos, chunks, shape))
                src_region = tuple(slice(r.start * 2, min(r.stop * 2, src.shape[i])) if i in (y, x) else r
                                   for i, r in enumerate(region))
                down = _downsample(np.moveaxis(np.asarray(src[src_region]), (y, x), (-2, -1)))
                dst[region] = np.moveaxis(down, (-2, -1), (y, x)).astype(self.dtype)
            self.levels.append(dst)
            src = dst

    def finish(self) -> str:
        """Check every chunk was written, add the lower levels and move the image into place;
        returns its path."""
        self.assembler.check_complete()
        self._add_levels()
        self._write_metadata()
        if self.path != self.target:
            replace_folder(self.path, self.target)
            self.path = self.target
        return self.target

    def abort(self) -> None:
        """Remove the partly written image (the target, if it existed, is unchanged)."""
        if self.path != self.target:
            shutil.rmtree(self.path, ignore_errors=True)


def replace_folder(src: str, target: str) -> None:
    """Move the folder ``src`` to ``target``, replacing what is there only once ``src`` is in
    place (the previous one is renamed aside first and removed last).  Only an earlier result
    of ours is replaced (:func:`~.ownership.check_replaceable`); anything else raises
    :class:`~..engine.errors.ConfigError` and stays."""
    if not os.path.lexists(target):
        os.replace(src, target)
        return
    if not os.path.isdir(target):
        raise ConfigError(f"{target!r} is an existing file, not an OME-Zarr image napari-blindspot "
                          "wrote: move it away or choose another output name.")
    check_replaceable("The output", target)
    old = temporary_name(target, ".old")
    os.replace(target, old)
    try:
        os.replace(src, target)
    except BaseException:
        os.replace(old, target)
        raise
    if os.path.isdir(old) and not os.path.islink(old):
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.unlink(old)


__all__ = ["OmeZarrWriter", "ZarrImage", "default_chunks", "is_zarr_path", "read_omezarr",
           "replace_folder"]
