"""Channels: a CYX image denoised in one run against each channel denoised alone, and the
automatic choice of shared (independent), separate or joint channels (``--channels auto``).

    python -m benchmarks.channels                       # long runs (300 steps, 128x128)
    python -m benchmarks.channels --steps 40 --size 64  # a quick look
    python -m benchmarks.channels --steps 40 --size 64 --methods hqssl --write  # docs/channels.md

``--write`` puts the table between the ``<!-- generated:channels -->`` markers of
docs/channels.md.

The data (:func:`napari_blindspot.samples.cells.three_channel_cell`): three channels with a
Poisson-Gaussian noise of their own (bright nuclei, dimmer F-actin filaments, dim and noisy
mitochondria), either with a different structure per channel ("different") or the same scene
in every channel at different brightness ("same").  Every run trains the same number of steps
with the method's CPU defaults and seed 0 (fixed steps: the numbers do not depend on the
machine's load); PSNR per channel is against the clean channel over its own range.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np

from .doc_blocks import write_block
from .warm_start import prior_digest

REPO = Path(__file__).resolve().parents[1]


def psnr(clean: np.ndarray, image: np.ndarray) -> float:
    """PSNR in dB of ``image`` against ``clean`` over the clean image's range."""
    mse = float(np.mean((np.asarray(image, np.float64) - clean) ** 2))
    return float(10 * np.log10(float(np.ptp(clean)) ** 2 / mse))


def _train_denoise(data: np.ndarray, axes: str, method: str, steps: int,
                   **overrides) -> tuple[np.ndarray, float, str]:
    from napari_blindspot.engine import TrainConfig, TrainingRun
    from napari_blindspot.engine.events import run_to_end

    config = TrainConfig.for_method(method, axes=axes, steps=steps, device="cpu", seed=0, **overrides)
    t0 = time.perf_counter()
    run = TrainingRun(data, config)
    model = run_to_end(run.events())
    out = model.denoise(data, axes)
    choice = run.channel_choice.message() if run.channel_choice is not None else run.config.channels
    return out, time.perf_counter() - t0, choice


def measure(kind: str, method: str, steps: int, size: int, seed: int) -> dict:
    """PSNR per channel: noisy, alone, independent (shared), separate, joint, and the auto
    choice, for one scene."""
    from napari_blindspot.engine import CanonicalView
    from napari_blindspot.engine.training.channel_choice import choose_channels
    from napari_blindspot.samples.cells import three_channel_cell

    sample = three_channel_cell(size, seed=seed, correlated=(kind == "same"))
    clean, noisy = sample.clean, sample.noisy
    row: dict = {"scene": kind, "method": method, "steps": steps, "size": size,
                 "noisy": [psnr(clean[c], noisy[c]) for c in range(3)]}
    alone, secs = [], 0.0
    for c in range(3):
        out, dt, _ = _train_denoise(noisy[c], "YX", method, steps)
        alone.append(psnr(clean[c], out))
        secs += dt
    row["alone"], row["alone_s"] = alone, secs
    for mode in ("independent", "separate", "joint"):
        out, dt, _ = _train_denoise(noisy, "CYX", method, steps, channels=mode)
        row[mode] = [psnr(clean[c], out[c]) for c in range(3)]
        row[f"{mode}_s"] = dt
    # "auto" trains exactly as the mode it picks (same seed and settings): measure only the pick
    choice = choose_channels(CanonicalView(noisy, "CYX"))
    row["auto"], row["auto_mode"], row["auto_choice"] = row[choice.mode], choice.mode, choice.message()
    logging.info("%s", json.dumps(row))
    return row


def table(rows: list[dict]) -> str:
    """A markdown table of the rows (PSNR per channel, dB)."""
    lines = ["| scene | method | steps | channel | noisy | alone | CYX independent (shared) "
             "| CYX separate | CYX joint | CYX auto |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    names = ("nuclei", "F-actin", "mitochondria")
    for r in rows:
        for c in range(3):
            name = names[c] if r["scene"] == "different" else ""
            lines.append(f"| {r['scene']} | {r['method']} | {r['steps']} | {c} {name} "
                         f"| {r['noisy'][c]:.2f} | {r['alone'][c]:.2f} | {r['independent'][c]:.2f} "
                         f"| {r['separate'][c]:.2f} | {r['joint'][c]:.2f} "
                         f"| {r['auto'][c]:.2f} ({r['auto_mode']}) |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--methods", default="hqssl,n2v2")
    p.add_argument("--scenes", default="different,same")
    p.add_argument("--json", type=Path, default=None, help="write the rows here")
    p.add_argument("--write", action="store_true",
                   help="put the table into docs/channels.md (between its generated markers)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    rows = [measure(kind, method, args.steps, args.size, args.seed)
            for method in args.methods.split(",") for kind in args.scenes.split(",")]
    print(table(rows))
    for r in rows:
        print(f"{r['scene']}/{r['method']}: auto chose: {r['auto_choice']}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    if args.write:
        command = (f"python -m benchmarks.channels --steps {args.steps} --size {args.size} --seed "
                   f"{args.seed} --methods {args.methods} --scenes {args.scenes} --write")
        body = f"`{command}`\n\n{table(rows)}"
        if "hqssl" in args.methods.split(","):  # which prior the single-channel networks started from
            body += f"\n\nThe shipped HQ-SSL prior at the time of this run: sha256 `{prior_digest()}`."
        write_block(REPO / "docs" / "channels.md", "channels", body, required=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
