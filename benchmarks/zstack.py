"""z-stacks: 2D-per-slice against 3D training (issue 22, item 4), at fixed step counts.

A synthetic confocal volume (3D curved filaments and round cells with a membrane and a
textured inside), blurred by an anisotropic confocal PSF (axial blur ~3x the lateral), sampled
with a z-spacing of ``--spacing`` pixels (1: isotropic; 4: a typical confocal stack) and given
the Poisson-Gaussian noise measured on FMD (:data:`.fine_structures_data.FMD_NOISE`).  Both
trainings see the same ``ZYX`` stack with the CPU defaults: 2D trains one model on every slice
(``train_3d=False``), 3D on ``16x64x64`` patches (``train_3d=True``).  ``2d`` and ``3d`` train
from random weights (as measured before the warm start); ``2d_prior`` is 2D from the trained
prior, as the one-shot default trains a stack on a CPU (the prior fits the 2D network only)::

    python -m benchmarks.zstack --spacing 1 4 --steps 200
    python -m benchmarks.zstack --spacing 4 1 --steps 100 300 --modes 2d_prior

writes ``docs/zstack.json`` and the table in ``docs/zstack.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

from .doc_blocks import write_block
from .fine_structures_data import add_fmd_noise
from .metrics import psnr
from .report import table
from .warm_start import prior_digest

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "zstack.json"
#: Lateral PSF sigma in pixels; the axial one is AXIAL_RATIO times it (confocal, NA ~1.2).
PSF_XY, AXIAL_RATIO = 0.8, 3.0


def volume(spacing: int, depth: int = 32, size: int = 128, seed: int = 0) -> np.ndarray:
    """Clean ``(depth, size, size)`` float32 volume (0..255), z-spacing ``spacing`` pixels."""
    rng = np.random.default_rng([seed, 3])
    zf = depth * spacing  # rendered on an isotropic grid, then sampled every `spacing` planes
    vol = np.zeros((zf, size, size), np.float32)
    zz, yy, xx = np.ogrid[0:zf, 0:size, 0:size]
    for _ in range(max(2, zf * size * size // 120_000)):  # cells: membrane + speckled inside
        c = rng.uniform([0, 0, 0], [zf, size, size])
        r = rng.uniform(10, 22)
        d = np.sqrt((zz - c[0]) ** 2 + (yy - c[1]) ** 2 + (xx - c[2]) ** 2)
        vol += rng.uniform(40, 110) * np.exp(-0.5 * ((d - r) / 0.9) ** 2)
        vol += rng.uniform(5, 20) * (d < r - 2)
    n_fil = zf * size * size // 12_000
    pts = []
    for _ in range(n_fil):  # filaments: smooth 3D curves
        n = int(rng.uniform(0.5, 1.5) * size * 4)
        heading = rng.normal(size=3)
        heading /= np.linalg.norm(heading)
        turn = ndimage.gaussian_filter1d(rng.normal(0, 1, (n, 3)), 30.0, axis=0) * 0.6
        direction = heading + np.cumsum(turn, axis=0) * 0.25
        direction /= np.linalg.norm(direction, axis=1, keepdims=True)
        p = rng.uniform([0, 0, 0], [zf, size, size]) + np.cumsum(0.25 * direction, axis=0)
        pts.append((p, rng.lognormal(np.log(50.0), 0.5)))
    lines = np.zeros_like(vol)
    for p, peak in pts:
        idx = np.round(p).astype(int)
        keep = np.all((idx >= 0) & (idx < np.array(vol.shape)), axis=1)
        np.add.at(lines, tuple(idx[keep].T), peak * 0.25 * 6.0)
    vol += ndimage.gaussian_filter(lines, 0.6)
    vol += ndimage.gaussian_filter(rng.uniform(0, 6, vol.shape).astype(np.float32), 4.0)
    vol = ndimage.gaussian_filter(vol, (PSF_XY * AXIAL_RATIO, PSF_XY, PSF_XY))
    vol = vol[::spacing]
    return np.clip(3.0 + vol, 0, 255).astype(np.float32)


#: The trainings: 2D and 3D from random weights, 2D from the trained prior (the CPU default).
MODES = {"2d": "2D", "3d": "3D", "2d_prior": "2D from the prior"}


def train_denoise(noisy: np.ndarray, three_d: bool, steps: int, threads: int,
                  warm_start: str = "none") -> tuple[np.ndarray, dict]:
    import torch

    from napari_blindspot.engine import TrainConfig, TrainingFinished, TrainingRun

    torch.set_num_threads(threads)
    config = TrainConfig.for_method("hqssl", axes="ZYX", train_3d=three_d, steps=steps,
                                    device="cpu", num_threads=threads, seed=0,
                                    warm_start=warm_start)
    run = TrainingRun(noisy, config)
    run.prepare()
    fin = None
    for ev in run.events():
        if isinstance(ev, TrainingFinished):
            fin = ev
    assert fin is not None
    started = bool(fin.model.info.get("warm_start"))
    if started != (warm_start == "prior"):
        raise SystemExit(f"the 2D run {'did' if started else 'did not'} start from the prior: nothing recorded")
    t0 = time.perf_counter()
    out = fin.model.denoise(noisy, "ZYX")
    return np.asarray(out, np.float32), {
        "steps": int(fin.step), "loop_s": float(fin.elapsed_s),
        "s_per_step": fin.elapsed_s / max(fin.step, 1), "predict_s": time.perf_counter() - t0,
        **({"prior_sha256": prior_digest()} if started else {}),
        "patch": [config.patch_size_z, config.patch_size, config.patch_size] if three_d
        else [config.patch_size, config.patch_size], "batch_size": config.batch_size}


def render(res: dict) -> str:
    rows = []
    for key, e in sorted(res.items()):
        for mode in MODES:
            for steps, r in sorted(e.get(mode, {}).items(), key=lambda kv: int(kv[0])):
                rows.append([f"{e['spacing']}x ({e['shape'][0]}x{e['shape'][1]}x{e['shape'][2]})",
                             f"{e['noisy']:.2f}", MODES[mode], steps, f"{r['psnr']:.2f}",
                             f"{r['s_per_step']:.3f}", f"{r['loop_s']:.0f}"])
    return table(["z-spacing / pixel", "noisy", "training", "steps", "PSNR", "s/step (1 thread)",
                  "training loop s"], rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.zstack", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--spacing", type=int, nargs="+", default=[1, 4])
    p.add_argument("--steps", type=int, nargs="+", default=[200])
    p.add_argument("--modes", nargs="+", default=["2d", "3d"], choices=tuple(MODES))
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    res: dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    for spacing in args.spacing:
        clean = volume(spacing)
        noisy = add_fmd_noise(clean, seed=spacing)
        e = res.setdefault(f"spacing{spacing}", {"spacing": spacing, "shape": list(clean.shape),
                                                 "noisy": psnr(clean, noisy.astype(np.float32), 255.0)})
        for steps in args.steps:
            for mode in args.modes:
                if str(steps) in e.get(mode, {}):
                    continue
                print(f"spacing {spacing}: {mode} {steps} steps", flush=True)
                out, info = train_denoise(noisy, mode == "3d", steps, args.threads,
                                          "prior" if mode == "2d_prior" else "none")
                info["psnr"] = psnr(clean, out, 255.0)
                print(f"    {info['psnr']:.2f} dB, {info['s_per_step']:.3f} s/step", flush=True)
                e.setdefault(mode, {})[str(steps)] = info
                RESULTS.write_text(json.dumps(res, indent=1, sort_keys=True))
    body = render(res)
    print(body)
    write_block(ROOT / "docs" / "zstack.md", "zstack", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
