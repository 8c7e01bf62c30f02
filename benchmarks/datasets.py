"""Benchmark data: Set12 + Gaussian noise, the synthetic fluorescence stack, FMD confocal, and
(full mode, when present) BSD68 and Kodak.

Everything is read from the data directory (default ``../shared/data`` beside the repository;
nothing is copied into the repository) or generated with a fixed seed.  A :class:`Unit` is what
one model is trained on: the noisy data itself (self-supervised, as a biologist would), with the
clean reference kept aside for scoring.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

SET12_NAMES = {"01": "cameraman", "02": "house", "03": "peppers", "04": "starfish",
               "05": "monarch", "06": "airplane", "07": "parrot", "08": "lena", "09": "barbara",
               "10": "boat", "11": "man", "12": "couple"}
SIGMA = 25.0


@dataclass
class Unit:
    """One training unit: ``noisy`` (what the methods see), ``clean`` (for scoring only)."""

    dataset: str
    name: str
    noisy: np.ndarray
    clean: np.ndarray
    axes: str
    data_range: float
    sigma: float                     # noise std for the classical baseline (true or oracle)
    sigma_note: str
    gaussian: bool = False           # synthetic Gaussian noise of known sigma
    #: Noise2Noise: (input, target, axes) to train on; prediction is on ``noisy``.
    n2n: tuple[np.ndarray, np.ndarray, str] | None = None
    #: Frames the classical baseline is scored on (None: all); BM3D is slow on long stacks.
    classical_frames: list[int] | None = None
    info: dict[str, Any] = field(default_factory=dict)


class MissingData(Exception):
    """A data set is not where it should be."""


def default_data_dir() -> Path:
    env = os.environ.get("BLINDSPOT_DATA_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "shared" / "data"


def _png(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im)


def _center_crop(a: np.ndarray, size: int | None) -> np.ndarray:
    if not size:
        return a
    h, w = a.shape[-2], a.shape[-1]
    if h <= size and w <= size:
        return a
    y0, x0 = max(0, (h - size) // 2), max(0, (w - size) // 2)
    return a[..., y0:y0 + size, x0:x0 + size]


def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng([seed, *key])


def set12_units(data_dir: Path, ids: list[str], crop: int | None, seed: int) -> list[Unit]:
    folder = data_dir / "set12"
    if not folder.is_dir():
        raise MissingData(f"Set12 not found: {folder} does not exist")
    units = []
    for i, ident in enumerate(ids):
        path = folder / f"{ident}.png"
        if not path.is_file():
            raise MissingData(f"Set12 image {path} not found")
        clean = _center_crop(_png(path).astype(np.float32), crop)
        noise = _rng(seed, 12, int(ident)).normal(0.0, SIGMA, clean.shape).astype(np.float32)
        units.append(Unit("set12", f"set12_{ident}", clean + noise, clean, "YX", 255.0, SIGMA,
                          "true σ = 25", gaussian=True,
                          info={"image": f"{ident} ({SET12_NAMES.get(ident, '?')})",
                                "shape": list(clean.shape)}))
    return units


def fluorescence_unit(frames: int, size: int, seed: int) -> Unit:
    from napari_blindspot.samples.fluorescence import fluorescence_timelapse

    s = fluorescence_timelapse(frames=frames, size=size, seed=seed)
    clean = s.clean.astype(np.float32)
    sigma = float(np.std(s.noisy.astype(np.float64) - clean))
    rng = float(clean.max() - clean.min())
    return Unit("fluo", "fluo", s.noisy, clean, s.axes, rng, sigma,
                "oracle σ = std(noisy − clean) (the noise is Poisson-Gaussian)",
                info={"shape": list(s.noisy.shape), "noise": s.noise,
                      "desc": f"{frames} frames of {size}×{size} (TYX), gain {s.noise['a']:g}, "
                              f"read-noise variance {s.noise['b']:g}",
                      "generator": f"samples.fluorescence_timelapse(frames={frames}, size={size}, "
                                   f"seed={seed})"})


def _fmd_dir(data_dir: Path) -> Path:
    d = data_dir / "fmd_confocal_bpae_b"
    if not d.is_dir():
        raise MissingData(f"FMD confocal data not found: {d} does not exist")
    return d


def fmd_unit(data_dir: Path, fovs: list[int], crop: int | None) -> Unit:
    """Capture 0 of each field of view (one model over all of them, ``SYX``), avg50 as truth;
    capture 1 as the Noise2Noise target."""
    d = _fmd_dir(data_dir)
    noisy, second, clean = [], [], []
    for f in fovs:
        tag = f"fov{f:02d}"
        for lst, path in ((noisy, d / "raw" / f"{tag}_capture0.png"),
                          (second, d / "raw" / f"{tag}_capture1.png"),
                          (clean, d / "gt" / f"{tag}_avg50.png")):
            if not path.is_file():
                raise MissingData(f"FMD file {path} not found")
            lst.append(_center_crop(_png(path), crop))
    noisy_a, second_a = np.stack(noisy), np.stack(second)
    clean_a = np.stack(clean).astype(np.float32)
    sigma = float(np.std(noisy_a.astype(np.float64) - clean_a))
    return Unit("fmd", "fmd", noisy_a, clean_a, "SYX", 255.0, sigma,
                "oracle σ = std(noisy − avg50)", n2n=(noisy_a, second_a, "SYX"),
                info={"fovs": fovs, "shape": list(noisy_a.shape),
                      "desc": f"capture 0 of field(s) of view {', '.join(map(str, fovs))} "
                              f"({'×'.join(map(str, noisy_a.shape[1:]))}"
                              f"{', centre crop' if crop else ''}), one model for all (SYX)",
                      "n2n": "Noise2Noise trains capture 0 → capture 1 and denoises capture 0"})


def fmd_stack_unit(data_dir: Path, frames: int | None, crop: int | None,
                   classical_frames: int) -> Unit:
    """The 50 raw captures of field of view 03 (``TYX``), scored frame by frame against avg50.
    Noise2Noise trains on even frames -> odd frames."""
    d = _fmd_dir(data_dir)
    files = sorted(p for p in glob.glob(str(d / "stack_fov03" / "*.png")))
    if not files:
        raise MissingData(f"FMD stack not found in {d / 'stack_fov03'}")
    files = files[:frames] if frames else files
    stack = np.stack([_center_crop(_png(Path(f)), crop) for f in files])
    gt_path = d / "gt" / "fov03_avg50.png"
    if not gt_path.is_file():
        raise MissingData(f"FMD ground truth {gt_path} not found")
    clean = _center_crop(_png(gt_path), crop).astype(np.float32)[None]
    sigma = float(np.std(stack.astype(np.float64) - clean))
    n = stack.shape[0] - stack.shape[0] % 2
    pairs = (stack[0:n:2], stack[1:n:2], "TYX") if n >= 2 else None
    return Unit("fmd_stack", "fmd_stack", stack, clean, "TYX", 255.0, sigma,
                "oracle σ = std(noisy − avg50)", n2n=pairs,
                classical_frames=list(range(min(classical_frames, stack.shape[0]))),
                info={"frames": int(stack.shape[0]), "shape": list(stack.shape),
                      "desc": f"the first {stack.shape[0]} raw frames "
                              f"({'×'.join(map(str, stack.shape[1:]))}"
                              f"{', centre crop' if crop else ''}, TYX); the classical baseline is "
                              f"scored on the first {min(classical_frames, stack.shape[0])} frame(s)",
                      "n2n": "Noise2Noise trains even frames → odd frames and denoises every "
                             "frame"})


def _find_images(folder: Path) -> list[Path]:
    exts = (".png", ".tif", ".tiff", ".jpg", ".jpeg", ".bmp")
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in exts)


def published_units(data_dir: Path, name: str, seed: int, limit: int | None = None) -> list[Unit]:
    """BSD68 (grayscale) or Kodak (colour) + Gaussian sigma 25, one model per image."""
    candidates = {"bsd68": ["bsd68", "BSD68", "bsd68_gray"], "kodak": ["kodak", "Kodak", "kodak24"]}
    folder = next((data_dir / c for c in candidates[name] if (data_dir / c).is_dir()), None)
    if folder is None:
        raise MissingData(f"{name.upper()} not found: put its images in {data_dir / name}/ "
                          f"(PNG), or pass --data-dir pointing at a folder that has {name}/")
    files = _find_images(folder)[:limit] if limit else _find_images(folder)
    if not files:
        raise MissingData(f"{folder} holds no images")
    units = []
    for k, path in enumerate(files):
        img = _png(path).astype(np.float32)
        color = name == "kodak"
        if color and img.ndim == 2:
            img = np.repeat(img[..., None], 3, axis=-1)
        if not color and img.ndim == 3:
            img = img[..., :3] @ np.array([0.299, 0.587, 0.114], np.float32)
        img = img[..., :3] if color else img
        noise = _rng(seed, 68 if name == "bsd68" else 24, k).normal(0, SIGMA, img.shape)
        units.append(Unit(name, f"{name}_{path.stem}", (img + noise).astype(np.float32), img,
                          "YXC" if color else "YX", 255.0, SIGMA, "true σ = 25", gaussian=True,
                          info={"image": path.name, "shape": list(img.shape)}))
    return units
