"""A minimal 8-bit grayscale PNG writer (zlib + struct), for side-by-side previews."""

from __future__ import annotations

import os
import struct
import zlib

import numpy as np

from .engine.atomic import atomic_path


def to_uint8(image: np.ndarray, low: float, high: float) -> np.ndarray:
    """Scale ``image`` linearly so that ``low -> 0`` and ``high -> 255`` (clipped)."""
    scale = 255.0 / max(high - low, 1e-12)
    return np.clip((np.asarray(image, np.float64) - low) * scale, 0, 255).astype(np.uint8)


def write_png(path: str | os.PathLike, image: np.ndarray) -> None:
    """Write a 2D uint8 array as a grayscale PNG (atomically, see :mod:`.engine.atomic`)."""
    img = np.ascontiguousarray(image, dtype=np.uint8)
    if img.ndim != 2:
        raise ValueError(f"write_png needs a 2D image, got shape {img.shape}")
    height, width = img.shape
    raw = b"".join(b"\x00" + img[row].tobytes() for row in range(height))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + tag + data
                + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


def side_by_side(images: list[np.ndarray], gap: int = 4) -> np.ndarray:
    """Concatenate equally sized 2D float images horizontally, scaled together to uint8.

    The display range is the 0.1-99.9 percentile of the first image.
    """
    low, high = np.percentile(images[0], [0.1, 99.9])
    tiles = [to_uint8(im, low, high) for im in images]
    spacer = np.full((tiles[0].shape[0], gap), 255, np.uint8)
    parts: list[np.ndarray] = []
    for i, t in enumerate(tiles):
        parts += ([spacer] if i else []) + [t]
    return np.concatenate(parts, axis=1)
