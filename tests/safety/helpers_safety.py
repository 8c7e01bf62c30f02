"""Shared helpers for the safety suite (tests/safety/test_safety_*.py): a workspace of user files
whose every byte, mode and name is fingerprinted before a case and compared after it.

A case passes only if the message names the problem *and* nothing the user had changed:
no input, no earlier output, no new half-written file or temporary debris.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile

from helpers_engine import untrained_model

from napari_blindspot.cli import main
from napari_blindspot.io.tiff import write_tiff

#: The smallest training the CLI accepts that still runs every part of the loop.
TINY = ["--steps", "4", "--patch-size", "32", "--batch-size", "2", "--features", "8",
        "--depth", "2", "--validation-fraction", "0.1", "--threads", "1"]


def fingerprint(root: Path) -> dict[str, tuple[Any, ...]]:
    """Every entry under ``root`` (hidden ones too): path -> (kind, sha256 or link, mode)."""
    out: dict[str, tuple[Any, ...]] = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            rel = str(path.relative_to(root))
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(path))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", stat.S_IMODE(st.st_mode))
            else:
                out[rel] = ("file", hashlib.sha256(path.read_bytes()).hexdigest(),
                            stat.S_IMODE(st.st_mode), st.st_nlink)
    return out


def noisy_stack(frames: int = 2, size: int = 64, seed: int = 0, dtype: Any = np.uint16) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    clean = 200 + 150 * np.sin(xx / 7.0) * np.cos(yy / 9.0)
    data = clean[None] + rng.normal(0, 20, (frames, size, size))
    return np.clip(data, 0, None).astype(dtype)


@dataclass
class Workspace:
    """A folder with what a user has: an image, an earlier result, a model, a config."""

    root: Path
    raw: Path
    earlier: Path
    model: Path
    config: Path

    def snapshot(self) -> dict[str, tuple[Any, ...]]:
        return fingerprint(self.root)

    def assert_unchanged(self, before: dict[str, tuple[Any, ...]]) -> None:
        after = self.snapshot()
        assert after == before, _diff(before, after)

    def path(self, name: str) -> str:
        return str(self.root / name)


def _diff(before: dict, after: dict) -> str:
    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    changed = sorted(k for k in set(before) & set(after) if before[k] != after[k])
    return f"files changed: added {added}, removed {removed}, changed {changed}"


def make_workspace(root: Path) -> Workspace:
    root.mkdir(parents=True, exist_ok=True)
    raw = root / "raw.tif"
    write_tiff(raw, noisy_stack(), "TYX", pixel_size={"X": 0.2, "Y": 0.2}, dtype=np.uint16)
    earlier = root / "earlier.tif"
    write_tiff(earlier, noisy_stack(seed=1).astype(np.float32) / 2, "TYX", dtype=np.float32)
    model = root / "model.safetensors"
    untrained_model("n2v2", mean=250.0, std=60.0).save(str(model))
    config = root / "config.json"
    config.write_text(json.dumps({"batch_size": 2, "patch_size": 32}))
    return Workspace(root, raw, earlier, model, config)


def cli(capsys: pytest.CaptureFixture, *args: Any) -> tuple[int, str]:
    """Run ``blindspot ARGS``; returns the exit code and stderr."""
    capsys.readouterr()
    rc = main([str(a) for a in args])
    return rc, capsys.readouterr().err


def one_line_error(err: str) -> str:
    """The error line of a failed run; asserts there is exactly one and no traceback."""
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.startswith("blindspot: error:")]
    assert len(lines) == 1, err
    return lines[0]


def tiff_bytes(data: np.ndarray, **kwargs: Any) -> bytes:
    """The bytes of a TIFF holding ``data`` (tifffile, in memory)."""
    import io

    buf = io.BytesIO()
    tifffile.imwrite(buf, data, **kwargs)
    return buf.getvalue()
