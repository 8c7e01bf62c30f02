"""Choosing the noise fit from the data (issue 22): calibration kept vs refit after training.

One training per image with ``noise_fit="refit"`` (the refit changes nothing in training), then the
same network predicts twice: with the image calibration kept (``"fixed"``) and with the refit curve
(``"refit"``).  Both curves are stored, so that any decision rule (``engine.noise_refit``) can be
scored on every image without training again::

    python -m benchmarks.noise_fit_choice measure --images filaments_1 membranes_1 set12_05 set12_09
    python -m benchmarks.noise_fit_choice measure --no-tta --images fmd_fov01 fmd_fov02 fmd_fov03
    python -m benchmarks.noise_fit_choice measure --no-tta --images filaments_4 filaments_5 \
        filaments_6 membranes_3 membranes_4 set12_01 set12_07      # the fresh held-out group
    python -m benchmarks.noise_fit_choice render
    python -m benchmarks.noise_fit_choice measure --round prior --images filaments_7 ... fibres_1 ...
    python -m benchmarks.noise_fit_choice measure --round scratch --images fibres_1 ...
    python -m benchmarks.noise_fit_choice render --round prior

Rounds (:data:`ROUNDS`): ``first`` trains 300 steps from random weights (before the warm start);
``prior`` trains as the one-shot default does today, 500 steps from the shipped prior;
``scratch`` is ``prior``'s length from random weights, a column of ``prior``'s table.

The table scores the rules of ``keep_refit`` (``"bright"``, ``"bright/dark"`` and ``"both"``, the
default) and what each pick costs against the better curve.

Results: ``docs/noise_fit_choice.json`` (first round), ``docs/noise_fit_choice_prior.json`` and
``docs/noise_fit_choice_scratch.json``; the tables go into ``docs/fine_structures.md`` between
``<!-- generated:noise_fit -->`` and ``<!-- generated:noise_fit_prior -->`` markers.  One
thread, TTA on (the one-shot's transforms; entries measured before this was fixed say ``TTA 8``:
eight transforms, 0.09 dB more than the one-shot's four on average), ``--no-tta`` halves the
time; BM3D from ``docs/fine_structures.json`` (computed there, oracle sigma, for an image that
has none yet).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from . import fine_structures as fs
from .datasets import default_data_dir, fmd_unit
from .doc_blocks import write_block
from .metrics import psnr

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "noise_fit_choice.json"
DOC = ROOT / "docs" / "fine_structures.md"


def fmd_units() -> list:
    units = []
    for fov in (1, 2, 3):
        u = fmd_unit(default_data_dir(), [fov], None)
        u.noisy, u.clean, u.axes, u.name = u.noisy[0], u.clean[0], "YX", f"fmd_fov{fov:02d}"
        u.info["held_out"] = True
        units.append(u)
    return units


def measure(units: list, steps: int, threads: int, tta: bool = True, results: Path = RESULTS,
            warm_start: str = "none") -> None:
    """Train each unit once (``noise_fit="refit"``, ``warm_start``) and predict with both
    curves; results accumulate in ``results``."""
    import torch

    from napari_blindspot.engine.defaults import ONE_SHOT_TTA

    transforms = ONE_SHOT_TTA if tta else False  # the one-shot's transforms (entries before: True = 8)
    res = fs.load(results)
    for u in units:
        if not u.name.startswith("fmd"):
            bm3d_missing(u)
        if u.name in res:
            continue
        print(f"{u.name}: training {steps} steps", flush=True)
        model, info = fs.train(u.noisy, u.axes, {"noise_fit": "refit", "warm_start": warm_start},
                               steps, None, threads)
        noise = model.net.noise
        refit_values = noise.post_values.clone()
        entry = {"noisy": psnr(u.clean, u.noisy.astype(np.float32), u.data_range),
                 "held_out": bool(u.info.get("held_out")), "steps_per_s": info["steps_per_s"],
                 "fresh": bool(u.info.get("fresh")), "fresh2": bool(u.info.get("fresh2")),
                 "steps": steps, "warm_start": warm_start,
                 "calibration": model.info["noise_calibration"][0],
                 "refit": model.info["noise_refit"][0], "psnr": {}, "tta": transforms}
        for what in ("fixed", "refit"):
            with torch.no_grad():
                noise.post_values.copy_(noise.values if what == "fixed" else refit_values)
            t0 = time.perf_counter()
            out = np.asarray(model.denoise(u.noisy, u.axes, tta=transforms), np.float32)
            entry["psnr"][what] = psnr(u.clean, out, u.data_range)
            print(f"    {what}: {entry['psnr'][what]:.2f} dB ({time.perf_counter() - t0:.0f} s)", flush=True)
        res = fs.load(results)  # another process may have added images meanwhile
        res[u.name] = entry
        fs.save(res, results)


def bm3d_missing(u) -> None:
    """BM3D with the oracle sigma for ``u`` into ``docs/fine_structures.json`` (``table``), if
    it is not there yet."""
    full = fs.load()
    entry = full.setdefault("table", {}).setdefault(u.name, fs.unit_entry(u))
    if "bm3d" not in entry:
        print(f"{u.name}: BM3D, oracle sigma {u.sigma:.2f}", flush=True)
        entry["bm3d"] = fs.bm3d_entry(u, "table")
        print(f"    {entry['bm3d']['psnr']:.2f} dB ({entry['bm3d']['s']:.0f} s)", flush=True)
        fs.save(full)


def _auto(e: dict) -> float:
    """The PSNR of the curve the default rule keeps for a results entry."""
    from napari_blindspot.engine.methods.hqssl.noise_estimate import NoiseCalibration
    from napari_blindspot.engine.methods.hqssl.noise_fit_choice import keep_refit

    keep = keep_refit(NoiseCalibration.from_dict(e["calibration"]), NoiseCalibration.from_dict(e["refit"]))[0]
    return e["psnr"]["refit" if keep else "fixed"]


def render(res: dict, scratch: dict | None = None) -> str:
    """The table: both curves' PSNR, both rules' ratios and choices, what each choice cost
    against the better curve, and the default rule's result against BM3D; with ``scratch``
    (results of the same images trained from random weights) the default's result from random
    weights and the warm start's gain over it."""
    from napari_blindspot.engine.methods.hqssl.noise_estimate import NoiseCalibration
    from napari_blindspot.engine.methods.hqssl.noise_fit_choice import (BOTH_BRIGHT_ABOVE, RELATIVE_ABOVE,
                                                                        REFIT_BELOW, RULE, keep_refit)

    bm3d = {k: v.get("bm3d", {}).get("psnr") for k, v in fs.load().get("table", {}).items()}
    header = ["image", "set", "noisy", "BM3D, oracle σ", "calibration kept", "refit",
              f"bright ratio (refit if > {REFIT_BELOW})", "bright rule: keeps, cost",
              f"bright ÷ dark (refit if > {RELATIVE_ABOVE})", "bright/dark rule: keeps, cost",
              f"both rule (bright > {BOTH_BRIGHT_ABOVE} and bright ÷ dark > {RELATIVE_ABOVE}): keeps, cost",
              f"auto ({RULE} rule) − BM3D"]
    if scratch is not None:
        header += ["auto, from random weights", "warm start's gain"]
    rows = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    order = sorted(res, key=lambda n: (n.startswith("fmd"), n.startswith("set12"), n))
    for name in order:
        e = res[name]
        cal, ref = NoiseCalibration.from_dict(e["calibration"]), NoiseCalibration.from_dict(e["refit"])
        best = max(e["psnr"].values())
        cells = []
        for rule in ("bright", "bright/dark", "both"):
            keep, ratio = keep_refit(cal, ref, rule)
            got = e["psnr"]["refit" if keep else "fixed"]
            cells += ([] if rule == "both" else [f"{ratio:.2f}"]) + [
                f"{'refit' if keep else 'calibration'}, {got - best:+.2f}"]
        auto = _auto(e)
        b = bm3d.get(name)
        kind = ("FMD" if name.startswith("fmd") else "held out, a kind unseen by the prior"
                if name.startswith("fibres") else "held out, fresh 2" if e.get("fresh2")
                else "held out, fresh" if e.get("fresh") else "held out" if e["held_out"] else "dev")
        t = e.get("tta", True)
        kind += ", no TTA" if not t else ", TTA 8" if t is True else f", TTA {t}"
        if scratch is not None:
            cold = _auto(scratch[name]) if name in scratch else None
            cells += [f"{auto - b:+.2f}" if b else "—", "—" if cold is None else f"{cold:.2f}",
                      "—" if cold is None else f"{auto - cold:+.2f}"]
        else:
            cells += [f"{auto - b:+.2f}" if b else "—"]
        rows.append("| " + " | ".join([name, kind, f"{e['noisy']:.2f}", f"{b:.2f}" if b else "—",
                                       f"{e['psnr']['fixed']:.2f}", f"{e['psnr']['refit']:.2f}", *cells]) + " |")
    return "\n".join(rows)


AUTO_LABEL = "auto noise fit (new default)"


def merge(res: dict) -> None:
    """Copy the ``"auto"`` choice of every image into ``docs/fine_structures.json`` (``table`` or
    ``fmd`` section, under :data:`AUTO_LABEL`): the same training, the curve the rule picks."""
    from napari_blindspot.engine.methods.hqssl.noise_estimate import NoiseCalibration
    from napari_blindspot.engine.methods.hqssl.noise_fit_choice import keep_refit

    full = fs.load()
    for name, e in res.items():
        keep, ratio = keep_refit(NoiseCalibration.from_dict(e["calibration"]),
                                 NoiseCalibration.from_dict(e["refit"]))
        section = full.setdefault("fmd" if name.startswith("fmd") else "table", {})
        if name not in section:
            continue
        label = AUTO_LABEL if e.get("tta", True) else f"{AUTO_LABEL}, no TTA"
        section[name].setdefault("ours", {})[label] = {
            "psnr": e["psnr"]["refit" if keep else "fixed"], "picked": "refit" if keep else "fixed",
            "inflation": ratio, "steps": 300, "tta": e.get("tta", True), "from": "docs/noise_fit_choice.json"}
    fs.save(full)


def write_doc(table: str, block: str = "noise_fit") -> None:
    write_block(DOC, block, table, required=True)


#: Rounds of this benchmark, each with its results file, table, starting weights and length: the
#: first (300 steps from random weights, before the warm start) and the warm start's one-shot
#: defaults (the shipped prior, 500 steps).
ROUNDS = {"first": (RESULTS, "noise_fit", "none", fs.STEPS),
          "prior": (ROOT / "docs" / "noise_fit_choice_prior.json", "noise_fit_prior", "prior", 500),
          # the same as "prior" from random weights: its results are a column of the prior's table
          "scratch": (ROOT / "docs" / "noise_fit_choice_scratch.json", "", "none", 500)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.noise_fit_choice", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("part", choices=("measure", "render"))
    p.add_argument("--images", nargs="*", default=[],
                   help="fine-set, Set12 or FMD (fmd_fov01, fmd_fov02) image names, in this order")
    p.add_argument("--steps", type=int, default=None, help="training steps [the round's: 300 or 500]")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--tta", action=argparse.BooleanOptionalAction, default=True,
                   help="predict with test-time augmentation (the one-shot default) [on]")
    p.add_argument("--round", choices=tuple(ROUNDS), default="first",
                   help="which results file and table: 'first' (before the warm start), 'prior' or "
                   "'scratch' (the prior round's images from random weights)")
    args = p.parse_args(argv)
    results, block, warm_start, steps = ROUNDS[args.round]
    if args.part == "measure":
        units = [u for u in fs.all_units() + fmd_units() if u.name in args.images]
        units.sort(key=lambda u: args.images.index(u.name))
        measure(units, args.steps or steps, args.threads, args.tta, results, warm_start)
    if args.round == "scratch":
        results, block = ROUNDS["prior"][:2]
    res = fs.load(results)
    table = render(res, fs.load(ROUNDS["scratch"][0]) if args.round != "first" else None)
    print(table)
    write_doc(table, block)
    if args.round != "first":
        return 0
    merge(res)
    from .fine_structures_report import render as render_fine

    render_fine(fs.load())
    return 0


if __name__ == "__main__":
    sys.exit(main())
