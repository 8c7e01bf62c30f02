"""A warm start for one-shot HQ-SSL (issue 23, item 2): a prior trained ahead of time,
fine-tuned on the user's image, against training from scratch, at the same number of steps.

The first prior's training images are generated here from seeds: filaments and membranes from
:mod:`benchmarks.fine_structures_data` (seeds 100+, apart from its development and held-out
seeds) and textured blobs (nuclei-like), with the Poisson-Gaussian noise measured on FMD.  The
shipped prior is that one trained further by :mod:`benchmarks.prior_training` (issue 22): on a
broader generated set, then with natural pictures bundled with scikit-image (BSD, most stated
CC0 or public domain; not ``camera``, which Set12 holds), 61,000 steps in all; the weights carry
the project's own licence.  It is fine-tuned at a quarter of the learning rate (``PRIOR_LR_SCALE``)
and blended back with the prior (``PRIOR_KEEP``; ``--keep`` to measure another share).  It is
measured on the real FMD confocal fields (cells and nuclei, which no prior saw), Set12's natural
images with Gaussian noise and the fine set's stress fibres (a kind no prior saw)::

    python -m benchmarks.warm_start train --steps 3000 --out first_prior.pt   # the first prior
    python -m benchmarks.warm_start measure --arm prior --fovs 1 2 3 --steps 500  # the shipped prior
    python -m benchmarks.warm_start measure --arm prior --prior first_prior.pt --label prior_v1 ...
    python -m benchmarks.warm_start measure --arm prior --keep 1 --label keep1 ...  # no blend
    python -m benchmarks.warm_start measure --arm scratch --fovs 1 2 3 --steps 500
    python -m benchmarks.warm_start render                        # the table in docs/performance.md

The first prior is in git (``git show dbfc814:src/napari_blindspot/engine/methods/hqssl/prior_2d.pt``),
the broader one too (``git show d15998e:...``).  ``--lr`` sets the rate for random weights: a
network from the prior trains at a quarter of it (``--lr 0.008``: the full rate of before, 2e-3).

Every arm uses the CPU's one-shot HQ-SSL settings (two threads, seed 0) and is compared at the
4-rotation prediction; each result also holds the prediction as one-shot `denoise` makes it
(``oneshot``: all eight transforms since issue 22's seventh round); results accumulate in
``docs/warm_start.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "warm_start.json"
DOC = ROOT / "docs" / "performance.md"
#: Seeds of the prior's training images (the fine set's dev/held-out seeds are below 100).
PRIOR_SEEDS = range(100, 104)


def blobs(seed: int, size: int = 512) -> np.ndarray:
    """Textured ellipses of varied brightness over a faint haze: nuclei-like, float32 0..255."""
    rng = np.random.default_rng(seed)
    img = np.zeros((size, size), np.float32)
    yy, xx = np.mgrid[:size, :size]
    for _ in range(int(rng.integers(8, 20))):
        cy, cx = rng.uniform(0, size, 2)
        ry, rx = rng.uniform(15, 45, 2)
        th = rng.uniform(0, np.pi)
        dy, dx = yy - cy, xx - cx
        u = (dy * np.cos(th) + dx * np.sin(th)) / ry
        v = (-dy * np.sin(th) + dx * np.cos(th)) / rx
        tex = ndimage.gaussian_filter(rng.normal(0, 1, (size, size)), rng.uniform(1, 4))
        img += ((u * u + v * v) < 1) * rng.uniform(40, 180) * (1 + 0.3 * tex / (tex.std() + 1e-6))
    haze = 10 * ndimage.gaussian_filter(rng.random((size, size)), 20)
    return np.clip(ndimage.gaussian_filter(img, 1.2) + 3 + haze, 0, 255).astype(np.float32)


def training_images() -> list[np.ndarray]:
    """The prior's noisy uint8 training images (Y, X)."""
    from . import fine_structures_data as fsd

    images = []
    for seed in PRIOR_SEEDS:
        for kind in ("filaments", "membranes"):
            images.append(fsd.add_fmd_noise(getattr(fsd, kind)(seed), seed))
        images.append(fsd.add_fmd_noise(blobs(seed), seed))
    return images


def load() -> dict:
    return json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}


def save(res: dict) -> None:
    """Write the results atomically (measurements may run side by side)."""
    from napari_blindspot.engine.atomic import atomic_path

    with atomic_path(RESULTS) as tmp:
        Path(tmp).write_text(json.dumps(res, indent=1, sort_keys=True) + "\n")


def train(args: argparse.Namespace) -> None:
    """Train the prior (the CPU's one-shot network) on :func:`training_images`, write its weights."""
    import torch

    from napari_blindspot.engine import TrainingFinished, TrainingRun
    from napari_blindspot.engine.methods.hqssl.prior_weights import save_prior

    from .one_minute import THREADS, config

    torch.set_num_threads(THREADS)
    images = training_images()

    run = TrainingRun(images, config(args.steps, warm_start="none"), axes=["YX"] * len(images))
    t0 = time.perf_counter()
    model = None
    for ev in run.events():
        if isinstance(ev, TrainingFinished):
            model = ev.model
    assert model is not None
    save_prior(model, args.steps, Path(args.out))
    print(f"prior: {args.steps} steps on {len(images)} images in {time.perf_counter() - t0:.0f} s",
          flush=True)


def units(fovs: list[int], set12: list[str], fine: list[str] = ()) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``(name, noisy, clean)`` of FMD fields ``fovs``, Set12 images ``set12`` (sigma 25) and
    fine-set images ``fine`` (e.g. ``fibres_1``: :mod:`benchmarks.fine_structures_data`)."""
    from . import fine_structures_data as fsd

    out = []
    if fovs:
        from .one_minute import units as fmd

        out += fmd("fmd", fovs)
    for u in fsd.set12(list(set12)) if set12 else []:
        out.append((u.name, u.noisy, u.clean.astype(np.float32)))
    for name in fine:
        kind, seed = name.rsplit("_", 1)
        s = fsd.synthetic(kind, int(seed))
        out.append((s.name, s.noisy, s.clean.astype(np.float32)))
    return out


def prior_digest() -> str:
    """The first 16 hex digits of the sha256 of the prior file in use (which prior a result used)."""
    from napari_blindspot.engine.methods.hqssl import prior_weights

    return hashlib.sha256(prior_weights.PRIOR_FILE.read_bytes()).hexdigest()[:16]


def measure(args: argparse.Namespace) -> None:
    import torch

    from .metrics import psnr
    from .one_minute import THREADS, predict, train as train_one

    from napari_blindspot.engine.defaults import one_shot_tta
    from napari_blindspot.engine.methods.hqssl import prior_weights

    torch.set_num_threads(THREADS)
    if args.keep is not None:  # another blend of the fine-tuned weights with the prior's
        from napari_blindspot.engine.methods.hqssl import method

        if args.arm != "prior" or not args.label or not 0 < args.keep <= 1:
            raise SystemExit("--keep needs --arm prior, a --label and a share in (0, 1]")
        method.PRIOR_KEEP = args.keep
    if args.prior:  # a candidate prior file instead of the shipped one
        if args.arm != "prior" or not Path(args.prior).is_file():
            raise SystemExit(f"--prior {args.prior}: needs --arm prior and an existing prior file")
        prior_weights.PRIOR_FILE = Path(args.prior)
    digest = prior_digest()
    arm = args.label or args.arm
    section = (f"{arm}|{args.steps}" + (f"|lr{args.lr:g}" if args.lr else "")
               + (f"|seed{args.seed}" if args.seed else "")
               + (f"|sigma{args.noise_sigma:g}" if args.noise_sigma else ""))
    res = load()
    for name, noisy, clean in units(args.fovs, args.set12, args.fine):
        if name in res.get(section, {}) and not args.force:
            continue
        over = {"warm_start": "prior" if args.arm == "prior" else "none"}
        if args.lr:
            over["learning_rate"] = args.lr
        if args.seed:
            over["seed"] = args.seed
        if args.noise_sigma:  # the true noise instead of the curve measured on the image
            over.update(noise_model="gaussian-known", noise_sigma=args.noise_sigma)
        model, info = train_one(noisy, args.steps, **over)
        started = bool(model.info.get("warm_start"))
        if started != (args.arm == "prior"):
            raise SystemExit(f"{name}: the run {'did' if started else 'did not'} start from the prior "
                             f"({prior_weights.PRIOR_FILE}); nothing recorded")
        if started:
            from napari_blindspot.engine.methods.hqssl import method

            info["prior_sha256"], info["prior_keep"] = digest, method.PRIOR_KEEP
        peak = 255.0
        entry = {"noisy": psnr(clean, noisy.astype(np.float32), peak), **info,
                 "tta4": psnr(clean, predict(model, noisy, "tta4"), peak),
                 "date": time.strftime("%Y-%m-%d %H:%M")}
        # as one-shot `blindspot denoise` predicts: all eight transforms on small images
        shots = one_shot_tta(noisy.shape, model.shares_tta)
        entry["oneshot_tta"] = shots
        entry["oneshot"] = entry["tta4"] if shots == 4 else psnr(
            clean, np.asarray(model.denoise(noisy, "YX", tta=shots), np.float32), peak)
        res = load()
        res.setdefault(section, {})[name] = entry
        save(res)
        print(section, name, round(entry["tta4"], 3), round(entry["oneshot"], 3), flush=True)


def bm3d_psnr() -> dict[str, float]:
    """BM3D's PSNR per image (true/oracle sigma) from docs/fine_structures.json, where measured."""
    path = ROOT / "docs" / "fine_structures.json"
    table = json.loads(path.read_text()).get("table", {}) if path.is_file() else {}
    return {name: e["bm3d"]["psnr"] for name, e in table.items() if "bm3d" in e}


#: The arms of the table: from random weights, the first prior (3,000 steps on twelve
#: fluorescence-like images, :func:`train`), the broader prior (:mod:`benchmarks.prior_training`,
#: synthetic images; fine-tuned at the full rate), the broader prior trained 3,000 steps further
#: with natural pictures (fine-tuned at a quarter of the rate, as every arm after it), the
#: fifth round's (that prior trained 7,500 steps further the same way), the sixth round's (the
#: fifth round's trained 14,000 steps further; measured again in the seventh round, on the same
#: machine as the blended arm: ``--keep 1 --label keep1``; the sixth round's own results are kept
#: under ``prior_v5``), the seventh round's (the sixth round's prior, the fine-tuned weights
#: blended back with it: method.PRIOR_KEEP; ``prior_v6``), the eighth round's (that prior
#: trained 14,000 steps further, blended the same way; ``prior_v7``) and the shipped one (the
#: ninth round's: trained 16,000 steps further again).
ARMS = (("scratch", "from scratch"), ("prior_v1", "first prior"),
        ("prior_v2", "broader prior, full rate"), ("prior_v3q", "natural pictures, 9,500 steps"),
        ("prior_v4", "natural pictures, 17,000 steps"), ("keep1", "31,000 steps, not blended"),
        ("prior_v6", "31,000 steps, blended"), ("prior_v7", "45,000 steps, blended"),
        ("prior", "61,000 steps, blended (shipped)"))


def _cell(v: float | None, fmt: str = ".2f") -> str:
    return "—" if v is None else format(v, fmt)


def table(res: dict, bm3d: dict[str, float] | None = None) -> str:
    """Per image and length: PSNR of each arm (:data:`ARMS`, four rotations), the shipped arm
    as one-shot `denoise` predicts (all eight transforms on small images; where measured), its
    gain over random weights and over the arm before it, and (``bm3d``: PSNR per image) BM3D
    with the true sigma against the one-shot result; then the means of each difference per group
    of images (``fmd``, ``set12``, ...)."""
    bm3d = bm3d or {}
    arms: dict[tuple[str, str], dict[str, float]] = {}
    oneshot: dict[tuple[str, str], float] = {}
    for section, entries in res.items():
        if "|" not in section:
            continue
        arm, rest = section.split("|", 1)
        if arm not in dict(ARMS):  # a candidate's label: measured, not in the table
            continue
        rest = (rest.replace("|lr", " at lr ").replace("|seed", ", seed ")
                .replace("|sigma", ", true sigma "))  # a cell: no "|" in it
        for name, e in entries.items():
            arms.setdefault((rest, name), {})[arm] = e["tta4"]
            if arm == ARMS[-1][0] and "oneshot" in e:
                oneshot[(rest, name)] = e["oneshot"]
    if not arms:
        return "(no measurement yet: `python -m benchmarks.warm_start measure ...`)"
    heads = [label + ", dB" for _, label in ARMS]
    out = ["| image | steps | " + " | ".join(heads) + " | shipped, one-shot TTA, dB | shipped − scratch "
           f"| shipped − {ARMS[-2][1]} | BM3D (true sigma), dB | shipped (one-shot) − BM3D |",
           "|---|---|" + "---|" * (len(ARMS) + 5)]
    diffs: dict[tuple[str, str], dict[str, list[float]]] = {}
    for (rest, name), by in sorted(arms.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        values = [by.get(key) for key, _ in ARMS]
        a, before, b = values[0], values[-2], values[-1]
        ref, shot = bm3d.get(name), oneshot.get((rest, name))
        best = shot if shot is not None else b
        d = {"scratch": None if a is None or b is None else b - a,
             "before": None if before is None or b is None else b - before,
             "bm3d": None if ref is None or best is None else best - ref}
        group = diffs.setdefault((name.split("_")[0], rest), {})
        for key, v in d.items():
            if v is not None:
                group.setdefault(key, []).append(v)
        out.append(f"| {name} | {rest} | " + " | ".join(_cell(v) for v in values) + f" | {_cell(shot)}"
                   + f" | {_cell(d['scratch'], '+.2f')} | {_cell(d['before'], '+.2f')} | {_cell(ref)}"
                   + f" | {_cell(d['bm3d'], '+.2f')} |")
    for (group, rest), ds in sorted(diffs.items()):
        if not any(ds.get(k) for k in ("scratch", "before", "bm3d")):
            continue
        cells = [f"**{np.mean(ds[k]):+.2f}** ({len(ds[k])})" if ds.get(k) else ""
                 for k in ("scratch", "before")]
        vs = f"**{np.mean(ds['bm3d']):+.2f}** ({len(ds['bm3d'])})" if ds.get("bm3d") else ""
        out.append(f"| **mean, {group}** (images measured) | {rest} |" + " |" * (len(ARMS) + 1)
                   + f" {cells[0]} | {cells[1]} | | {vs} |")
    return "\n".join(out)


def render(args: argparse.Namespace) -> None:
    from .doc_blocks import write_block

    write_block(DOC, "warm_start", table(load(), bm3d_psnr()))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("--steps", type=int, default=3000)
    t.add_argument("--out", required=True,
                   help="where to write the prior (the shipped file is benchmarks.prior_training's)")
    m = sub.add_parser("measure")
    m.add_argument("--arm", choices=("scratch", "prior"), required=True)
    m.add_argument("--fovs", type=int, nargs="*", default=[])
    m.add_argument("--set12", nargs="*", default=[])
    m.add_argument("--fine", nargs="*", default=[], help="fine-set images, e.g. fibres_1 filaments_7")
    m.add_argument("--steps", type=int, default=500)
    m.add_argument("--lr", type=float, default=None)
    m.add_argument("--seed", type=int, default=0, help="the training's seed (patches, masks) [0]")
    m.add_argument("--noise-sigma", type=float, default=None,
                   help="give the true Gaussian noise sigma (0..255 units) instead of measuring the noise")
    m.add_argument("--force", action="store_true")
    m.add_argument("--prior", help="a prior file to start from instead of the shipped one (arm prior)")
    m.add_argument("--label", help="the results' arm name (default: --arm)")
    m.add_argument("--keep", type=float, default=None,
                   help="the share of the fine-tuned weights kept in the blend with the prior "
                   "(default: the engine's PRIOR_KEEP; 1: no blend); needs --label")
    sub.add_parser("render")
    args = p.parse_args(argv)
    {"train": train, "measure": measure, "render": render}[args.cmd](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
