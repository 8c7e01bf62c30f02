"""Fine structures against BM3D: the per-image table and the factor study (issue 22, item 1).

Runs HQ-SSL at FIXED STEP COUNTS (a shared machine makes time budgets load-dependent; the
measured steps/s converts them to time), BM3D given the oracle sigma, and writes
``docs/fine_structures.json`` (every result, so that a rerun only computes what is missing)
and ``docs/fine_structures.md`` with the figure ``docs/images/fine_structures.png``::

    python -m benchmarks.fine_structures study            # factors, 256x256 crops of DEV
    python -m benchmarks.fine_structures table            # full-size per-image table
    python -m benchmarks.fine_structures fmd              # FMD fields 1-2, before/after
    python -m benchmarks.fine_structures render           # only rewrite the Markdown

Use one thread (``OMP_NUM_THREADS=1``; ``--threads``) on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from . import fine_structures_data as fsd
from .datasets import Unit, default_data_dir, fmd_unit
from .metrics import classical_denoise, psnr

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "fine_structures.json"
#: 96x96 crops of the images and results, for the figure (float16, intensity units; not in git).
CROPS = ROOT / "benchmarks" / "results" / "fine_structures_crops.npz"
CROP = (slice(64, 160), slice(64, 160))
#: "1x" training length of the study and of the table: about what the one-shot CLI default
#: (2.75 min) gives on two idle cores with the CPU network (see the measured steps/s).
STEPS = 300
STUDY_CROP = 256

#: The factor study: name -> (config overrides, steps multiplier, prediction options).
#: "base" is the CPU default; every other entry changes one factor.
FACTORS: dict[str, tuple[dict[str, Any], float, dict[str, Any]]] = {
    "base": ({}, 1, {}),
    "tta": ({}, 1, {"tta": True}),
    "prior mean": ({}, 1, {"prior": True}),
    "3x steps": ({}, 3, {}),
    "features 32": ({"hq_features": 32}, 1, {}),
    "depth 4": ({"hq_depth": 4}, 1, {}),
    "features 32, depth 4": ({"hq_features": 32, "hq_depth": 4}, 1, {}),
    "paper net 48/5": ({"hq_features": 48, "hq_depth": 5}, 1, {}),
    "patch 64, batch 4": ({"patch_size": 64, "batch_size": 4}, 1, {}),
    "patch 256": ({"patch_size": 256}, 1, {}),
    "lr 1e-3": ({"learning_rate": 1e-3}, 1, {}),
    "lr 4e-3": ({"learning_rate": 4e-3}, 1, {}),
    "noise affine": ({"noise_model": "affine"}, 1, {}),
    "noise gaussian": ({"noise_model": "gaussian"}, 1, {}),
    "robust normalisation": ({}, 1, {"normalization": "robust"}),
    # the noise measured against a second acquisition (an oracle of the calibration):
    "noise from a 2nd acquisition": ({"noise_calibration": "pair"}, 1, {"pair": True}),
    # thin lines count as rough in the calibration (engine.methods.hqssl.noise_estimate.RIDGE_AWARE)
    "ridge-aware calibration": ({}, 1, {"ridge": True}),
    "ridge-aware + tta": ({}, 1, {"ridge": True, "tta": True}),
    "noise refit after training": ({"noise_fit": "refit"}, 1, {}),
    "ridge-aware + refit": ({"noise_fit": "refit"}, 1, {"ridge": True}),
}


def load(path: Path = RESULTS) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def save(res: dict, path: Path = RESULTS) -> None:
    """Write ``res`` to ``path`` atomically (benchmarks may run side by side)."""
    from napari_blindspot.engine.atomic import atomic_path

    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps(res, indent=1, sort_keys=True))


def robust_normalization(noisy: np.ndarray) -> Any:
    """Median and a percentile spread instead of mean/std (sparse bright structures make the
    std large and squeeze the background into a narrow band)."""
    from napari_blindspot.engine.normalization import Normalization

    lo, med, hi = np.percentile(noisy.astype(np.float64), [1, 50, 99])
    return Normalization((float(med),), (float(max(hi - lo, 1e-6) / 4.0),))


def second_acquisition(u: Unit) -> np.ndarray:
    """Another noisy realisation of ``u``'s clean image (its own seed)."""
    if u.gaussian:
        rng = np.random.default_rng([7, zlib.crc32(u.name.encode())])
        return (u.clean + rng.normal(0.0, u.sigma, u.clean.shape)).astype(np.float32)
    return fsd.add_fmd_noise(u.clean, seed=1000 + int(u.info.get("seed", 0)))


def train(noisy: np.ndarray, axes: str, overrides: dict[str, Any], steps: int,
          normalization: str | None, threads: int, seed: int = 0,
          reference: np.ndarray | None = None, ridge: bool | None = None) -> tuple[Any, dict]:
    """Train HQ-SSL with the CPU defaults plus ``overrides`` for ``steps`` steps."""
    import torch

    from napari_blindspot.engine import TrainConfig, TrainingFinished, TrainingRun

    torch.set_num_threads(threads)
    config = TrainConfig.for_method("hqssl", axes=axes, steps=steps, device="cpu",
                                    num_threads=threads, seed=seed, **overrides)
    from napari_blindspot.engine.methods.hqssl import noise_estimate

    saved = noise_estimate.RIDGE_AWARE
    if ridge is not None:
        noise_estimate.RIDGE_AWARE = ridge
    t0 = time.perf_counter()
    run = TrainingRun(noisy, config, noise_reference=reference)
    if normalization == "robust":
        run.normalization = robust_normalization(noisy)
    try:
        run.prepare()
    finally:
        noise_estimate.RIDGE_AWARE = saved
    finished = None
    for ev in run.events():
        if isinstance(ev, TrainingFinished):
            finished = ev
    assert finished is not None
    info = {"steps": int(finished.step), "loop_s": float(finished.elapsed_s),
            "steps_per_s": finished.step / max(finished.elapsed_s, 1e-9),
            "train_s": time.perf_counter() - t0, "threads": threads,
            "config": {k: getattr(config, k) for k in ("hq_features", "hq_depth", "patch_size",
                                                       "batch_size", "learning_rate",
                                                       "noise_model")}}
    return finished.model, info


def denoise(model: Any, noisy: np.ndarray, axes: str, predict: dict[str, Any]) -> tuple[np.ndarray, float]:
    """Posterior mean (or, ``prior``, the blind-spot prior's mean), with ``tta`` or not."""
    infer = model.method.infer
    if predict.get("prior"):
        model.method.infer = lambda net, x, channels=None: {"denoised": net.prior(x.float())[0]}
    t1 = time.perf_counter()
    try:
        out = model.denoise(noisy, axes, tta=bool(predict.get("tta")))
    finally:
        model.method.infer = infer
    return np.asarray(out, np.float32), time.perf_counter() - t1


def keep_crop(key: str, image: np.ndarray) -> None:
    """Store the figure's crop of ``image`` under ``key`` ("section|unit|what")."""
    CROPS.parent.mkdir(parents=True, exist_ok=True)
    crops = dict(np.load(CROPS)) if CROPS.is_file() else {}
    crops[key] = np.asarray(image, np.float32)[CROP].astype(np.float16)
    np.savez_compressed(CROPS, **crops)


def bm3d_entry(u: Unit, section: str = "") -> dict:
    t0 = time.perf_counter()
    out = classical_denoise(u.noisy.astype(np.float32), u.sigma)
    for what, img in (("clean", u.clean), ("noisy", u.noisy), ("BM3D", out)):
        keep_crop(f"{section}|{u.name}|{what}", img)
    return {"psnr": psnr(u.clean, out, u.data_range), "sigma": u.sigma, "s": time.perf_counter() - t0}


def unit_entry(u: Unit) -> dict:
    return {"noisy": psnr(u.clean, u.noisy.astype(np.float32), u.data_range),
            "held_out": bool(u.info.get("held_out")), "shape": list(u.noisy.shape),
            "fresh": bool(u.info.get("fresh")),
            "sigma_note": u.sigma_note}


def dev_units(crop: int | None) -> list[Unit]:
    units = [fsd.synthetic_unit(k, s, crop=crop) for k, s in fsd.DEV]
    return units + fsd.set12(list(fsd.SET12_DEV), crop=crop)


def all_units() -> list[Unit]:
    units = [fsd.synthetic_unit(k, s) for k, s in fsd.DEV + fsd.HELD_OUT + fsd.FRESH + fsd.FRESH2 + fsd.UNSEEN]
    return units + fsd.set12([f"{i:02d}" for i in range(1, 13)])


def _measure(res: dict, section: str, units: list[Unit], runs: dict[str, tuple], threads: int,
             with_bm3d: bool = True) -> None:
    """Fill ``res[section][unit][run]`` for what is missing, saving after each result."""
    sec = res.setdefault(section, {})
    models: dict[str, tuple[Any, dict]] = {}  # runs that differ only in prediction share one
    for u in units:
        entry = sec.setdefault(u.name, unit_entry(u))
        if with_bm3d and "bm3d" not in entry:
            entry["bm3d"] = bm3d_entry(u, section)
            save(res)
    for name, (overrides, mult, predict) in runs.items():  # factor by factor, over the images
        for u in units:
            entry = sec[u.name]
            if name in entry.get("ours", {}):
                continue
            steps = int(round(STEPS * mult))
            print(f"[{section}] {u.name}: {name} ({steps} steps)", flush=True)
            key = json.dumps([u.name, overrides, steps, predict.get("normalization"),
                              predict.get("ridge")], sort_keys=True)
            if key not in models:
                ref = second_acquisition(u) if predict.get("pair") else None
                models[key] = train(u.noisy, u.axes, overrides, steps, predict.get("normalization"),
                                    threads, reference=ref, ridge=predict.get("ridge"))
            model, info = models[key]
            info = dict(info)
            out, info["predict_s"] = denoise(model, u.noisy, u.axes, predict)
            info["psnr"] = psnr(u.clean, out, u.data_range)
            keep_crop(f"{section}|{u.name}|{name}", out)
            entry.setdefault("ours", {})[name] = info
            print(f"    {info['psnr']:.2f} dB (BM3D {entry.get('bm3d', {}).get('psnr', float('nan')):.2f}), "
                  f"{info['steps_per_s']:.2f} steps/s", flush=True)
            save(res)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.fine_structures", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("part", choices=("study", "table", "fmd", "render"))
    p.add_argument("--factors", nargs="*", help="study: only these factors (default all)")
    p.add_argument("--images", nargs="*", help="only these image names")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--label", default="defaults",
                   help="table/fmd: the name of this run (e.g. 'old defaults')")
    p.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE",
                   help="table/fmd: config overrides for this label (e.g. hq_features=32)")
    p.add_argument("--tta", action=argparse.BooleanOptionalAction, default=None,
                   help="table/fmd: test-time augmentation (default: as the CLI's one-shot)")
    p.add_argument("--ridge", action=argparse.BooleanOptionalAction, default=None,
                   help="table/fmd: ridge-aware noise calibration (default: the engine's)")
    p.add_argument("--steps", type=int, default=STEPS, help="table/fmd: training steps")
    p.add_argument("--tta-both", action="store_true",
                   help="table/fmd: also score the same model without TTA ('LABEL, no TTA')")
    args = p.parse_args(argv)
    res = load()
    overrides = {k: json.loads(v) for k, v in (s.split("=", 1) for s in args.set)}
    predict = {k: v for k, v in (("tta", args.tta), ("ridge", args.ridge)) if v is not None}
    if predict.get("tta") is None:
        from napari_blindspot.engine.defaults import ONE_SHOT_TTA

        predict["tta"] = ONE_SHOT_TTA
    mult = args.steps / STEPS
    runs = {args.label: (overrides, mult, predict)}
    if args.tta_both:
        runs[f"{args.label}, no TTA"] = (overrides, mult, dict(predict, tta=False))
    pick = (lambda us: [u for u in us if not args.images or u.name in args.images])
    if args.part == "study":
        # "base" is the CPU default as it was before this study: the image calibration without
        # the ridge term (only the ridge factors switch it on)
        runs = {k: (o, m, {"ridge": False, **p}) for k, (o, m, p) in FACTORS.items()
                if not args.factors or k in args.factors}
        _measure(res, "study", pick(dev_units(STUDY_CROP)), runs, args.threads)
    elif args.part == "table":
        _measure(res, "table", pick(all_units()), runs, args.threads)
    elif args.part == "fmd":
        units = []
        for fov in (1, 2):
            u = fmd_unit(default_data_dir(), [fov], None)
            u.noisy, u.clean, u.axes, u.name = u.noisy[0], u.clean[0], "YX", f"fmd_fov{fov:02d}"
            units.append(u)
        _measure(res, "fmd", pick(units), runs, args.threads,
                 with_bm3d=False)
    from .fine_structures_report import render

    render(res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
