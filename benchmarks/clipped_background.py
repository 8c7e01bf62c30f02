"""The clipped dark background (issue 22, "what to try next"): a censored likelihood at 0.

On the filament images 8-11% of the pixels sit at 0: the Poisson-Gaussian noise of the dark
background was clipped by the uint8 conversion.  HQ-SSL's Gaussian likelihood takes those zeros
as measured values, so its prior mean learns the clipped (raised) mean of the background and
the posterior pulls the zeros towards 0 as if they were exact.  The probe, all in normalised
units, a pixel at the data's lowest value ``L`` meaning "the unclipped value lay below
``c = L + 0.5`` (one rounding step)":

* ``censored posterior`` (prediction only, the same network): for such pixels the posterior
  mean of ``x ~ N(mu, var_x)`` given ``x + n <= c`` (``n ~ N(0, var_n)``):
  ``mu - var_x / s * phi(z) / Phi(z)`` with ``s = sqrt(var_x + var_n)``, ``z = (c - mu) / s``;
* ``censored training``: the likelihood of those pixels is ``Phi(z)`` instead of the Gaussian
  density (the prior mean then learns the unclipped background), and the censored posterior.

Scored against the clean image over the whole image and over its background (clean < 15
counts), beside BM3D with the oracle sigma::

    python -m benchmarks.clipped_background measure --images filaments_1
    python -m benchmarks.clipped_background measure --images filaments_4 ... \
        --train "censored training" --predict posterior "dark noise x2"
    python -m benchmarks.clipped_background render

300 steps, one thread, the default noise fit (``auto``), no TTA.  Results accumulate in
``docs/clipped_background.json``; the table goes into ``docs/fine_structures.md`` between
``<!-- generated:clipped -->`` markers.  Also probed: the prior mean alone, and the posterior
with the noise share of the variance halved or doubled where the prior mean is dark
(``dark noise xF``, the total kept): is the split in the background the lever?
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from . import fine_structures as fs
from .doc_blocks import write_block
from .metrics import classical_denoise, psnr

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "clipped_background.json"
DOC = ROOT / "docs" / "fine_structures.md"
#: Clean values (counts) below which a pixel counts as background in the scores.
BACKGROUND_BELOW = 15.0
#: The lowest value (normalised units) and one rounding step, set per image before training.
CENSOR: dict[str, float] = {}


def _censored(y: torch.Tensor) -> torch.Tensor:
    return y <= CENSOR["low"] + 0.25 * CENSOR["step"]


def censored_loss(self, net, batch, generator, channels=None):  # HQSSL.loss, single channel
    from napari_blindspot.engine.methods.hqssl.posterior import nll_diagonal

    y = batch[0].float()
    mu, var_x = net.prior(y)
    var_n = net.noise.variance(mu, channels)
    gauss = nll_diagonal(y, mu, var_x, var_n)
    s = torch.sqrt(var_x + var_n)
    cens = -torch.special.log_ndtr((CENSOR["low"] + 0.5 * CENSOR["step"] - mu) / s)
    # the Gaussian term is a density in normalised units: times one rounding step it is the
    # probability of the pixel's value, comparable with the censored pixels' probability
    gauss = gauss - float(np.log(CENSOR["step"]))
    return torch.where(_censored(y), cens, gauss).mean()


def censored_infer(original):
    def infer(self, net, x, channels=None):
        out = original(self, net, x, channels)
        y = x.float()
        mu, var_x = net.prior(y)
        var_n = net.noise.variance(mu, channels)
        if getattr(net.noise, "refitted", False):  # as HQSSL.infer: the total kept, re-split
            post_n = net.noise.posterior_variance(mu, channels)
            var_x, var_n = torch.clamp(var_x + var_n - post_n, min=1e-6), post_n
        s = torch.sqrt(var_x + var_n)
        z = (CENSOR["low"] + 0.5 * CENSOR["step"] - mu) / s
        ratio = torch.exp(-0.5 * z * z - 0.5 * np.log(2 * np.pi) - torch.special.log_ndtr(z))
        out["denoised"] = torch.where(_censored(y), mu - var_x / s * ratio, out["denoised"])
        return out
    return infer


def train(noisy: np.ndarray, steps: int, censored: bool) -> tuple:
    from napari_blindspot.engine import TrainConfig, TrainingFinished, TrainingRun
    from napari_blindspot.engine.methods.hqssl.method import HQSSL

    torch.set_num_threads(1)
    # "refit": the same training as the default ("auto"); both curves are kept for prediction
    config = TrainConfig.for_method("hqssl", axes="YX", steps=steps, device="cpu", num_threads=1,
                                    seed=0, noise_fit="refit")
    run = TrainingRun(noisy, config)
    run.prepare()
    m, sd = run.normalization.mean[0], run.normalization.std[0]
    CENSOR.update(low=(float(noisy.min()) - m) / sd, step=1.0 / sd, dark=(BACKGROUND_BELOW - m) / sd)
    saved = HQSSL.loss
    if censored:  # the training step's loss was bound in prepare(); validation looks it up
        HQSSL.loss = censored_loss
        run._loss = functools.partial(censored_loss, run.method, run.net)
    t0 = time.perf_counter()
    try:
        finished = [ev for ev in run.events() if isinstance(ev, TrainingFinished)][-1]
    finally:
        HQSSL.loss = saved
    return finished.model, time.perf_counter() - t0


def dark_noise_infer(factor: float):
    """The posterior with the noise share of the total variance times ``factor`` where the prior
    mean is below :data:`BACKGROUND_BELOW` counts, the total kept (a sensitivity probe: is the
    dark noise level the lever?)."""
    def infer(self, net, x, channels=None):
        from napari_blindspot.engine.methods.hqssl.posterior import posterior_mean_diagonal

        y = x.float()
        mu, var_x = net.prior(y)
        var_n = net.noise.variance(mu, channels)
        if getattr(net.noise, "refitted", False):
            post_n = net.noise.posterior_variance(mu, channels)
            var_x, var_n = torch.clamp(var_x + var_n - post_n, min=1e-6), post_n
        dark = mu < CENSOR["dark"]
        new_n = torch.where(dark, var_n * factor, var_n)
        var_x = torch.clamp(var_x + var_n - new_n, min=1e-6)
        return {"denoised": posterior_mean_diagonal(y, mu, var_x, new_n)}
    return infer


def prior_infer(self, net, x, channels=None):
    return {"denoised": net.prior(x.float())[0]}


def predict(model, noisy: np.ndarray, how: str) -> np.ndarray:
    """``how``: "posterior", "censored posterior", "prior mean" or "dark noise xF"."""
    from napari_blindspot.engine.methods.hqssl.method import HQSSL

    saved = HQSSL.infer
    if how == "censored posterior":
        HQSSL.infer = censored_infer(saved)
    elif how == "prior mean":
        HQSSL.infer = prior_infer
    elif how.startswith("dark noise x"):
        HQSSL.infer = dark_noise_infer(float(how.rsplit("x", 1)[1]))
    try:
        return np.asarray(model.denoise(noisy, "YX", tta=False), np.float32)
    finally:
        HQSSL.infer = saved


def scores(clean: np.ndarray, out: np.ndarray) -> dict:
    bg = clean < BACKGROUND_BELOW
    err = (out.astype(np.float64) - clean) ** 2
    return {"psnr": psnr(clean, out, 255.0), "background_mse": float(err[bg].mean()),
            "structure_mse": float(err[~bg].mean()),
            "background_bias": float((out.astype(np.float64) - clean)[bg].mean())}


HOWS = ("posterior", "censored posterior", "prior mean", "dark noise x0.5", "dark noise x2")
CURVES = ("calibration", "refit")


def measure(names: list[str], steps: int, trainings: tuple[str, ...] = ("Gaussian", "censored training"),
            hows: tuple[str, ...] = HOWS) -> dict:
    """Per image and training: every prediction ``hows`` with the image calibration and with the
    refit curve (the same network), and which of the two ``noise_fit="auto"`` would keep."""
    from napari_blindspot.engine.methods.hqssl.noise_estimate import NoiseCalibration
    from napari_blindspot.engine.methods.hqssl.noise_fit_choice import keep_refit

    res = fs.load(RESULTS)
    units = {u.name: u for u in fs.all_units()}
    for name in names:
        u = units[name]
        entry = res.setdefault(name, {"zeros": float(np.mean(u.noisy == u.noisy.min())),
                                      "background": float(np.mean(u.clean < BACKGROUND_BELOW))})
        if "noisy" not in entry:
            entry["noisy"] = scores(u.clean, u.noisy.astype(np.float32))
            entry["BM3D"] = scores(u.clean, classical_denoise(u.noisy.astype(np.float32), u.sigma))
            fs.save(res, RESULTS)
        for label in trainings:
            wanted = [f"{label}, {c}, {h}" for c in CURVES for h in hows]
            if all(w in entry for w in wanted):
                continue
            print(f"{name}: {label} ({steps} steps)", flush=True)
            model, took = train(u.noisy, steps, label == "censored training")
            noise = model.net.noise
            refit = noise.post_values.clone()
            keep, ratio = keep_refit(NoiseCalibration.from_dict(model.info["noise_calibration"][0]),
                                     NoiseCalibration.from_dict(model.info["noise_refit"][0]))
            entry[f"{label}, auto"] = {"train_s": took, "keeps": "refit" if keep else "calibration",
                                       "ratio": ratio}
            for curve in CURVES:
                with torch.no_grad():
                    noise.post_values.copy_(noise.values if curve == "calibration" else refit)
                for h in hows:
                    w = f"{label}, {curve}, {h}"
                    entry[w] = scores(u.clean, predict(model, u.noisy, h))
                    print(f"    {w}: {entry[w]['psnr']:.2f} dB, background MSE "
                          f"{entry[w]['background_mse']:.2f} (BM3D {entry['BM3D']['background_mse']:.2f})",
                          flush=True)
                    fs.save(res, RESULTS)
    return res


COLUMNS = tuple(f"{t}, {c}, {h}" for t in ("Gaussian", "censored training") for c in CURVES
                for h in HOWS)


def render(res: dict) -> str:
    """One row per variant, one column per image: PSNR in dB and, in brackets, the MSE over the
    background (clean < :data:`BACKGROUND_BELOW` counts, counts²); rows no image has are left out."""
    names = list(res)
    rows = ["| variant | " + " | ".join(names) + " |", "|" + "---|" * (len(names) + 1),
            "| pixels at 0 | " + " | ".join(f"{100 * res[n]['zeros']:.1f}%" for n in names) + " |"]
    for t in ("Gaussian", "censored training"):
        if any(f"{t}, auto" in res[n] for n in names):
            rows.append(f"| {t}: auto keeps (ratio) | " + " | ".join(
                f"{res[n][t + ', auto']['keeps']} ({res[n][t + ', auto']['ratio']:.2f})"
                if f"{t}, auto" in res[n] else "—" for n in names) + " |")
    for key, label in [("noisy", "noisy"), ("BM3D", "BM3D, oracle σ")] + [(c, c) for c in COLUMNS]:
        if not any(key in res[n] for n in names):
            continue
        cells = [f"{res[n][key]['psnr']:.2f} ({res[n][key]['background_mse']:.2f})" if key in res[n]
                 else "—" for n in names]
        rows.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.clipped_background", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("part", nargs="?", choices=("measure", "render"), default="measure")
    p.add_argument("--images", nargs="+", default=["filaments_1"])
    p.add_argument("--steps", type=int, default=fs.STEPS)
    p.add_argument("--train", nargs="+", default=["Gaussian", "censored training"],
                   choices=["Gaussian", "censored training"])
    p.add_argument("--predict", nargs="+", default=list(HOWS), choices=list(HOWS))
    args = p.parse_args(argv)
    res = measure(args.images, args.steps, tuple(args.train), tuple(args.predict)) \
        if args.part == "measure" else fs.load(RESULTS)
    table = render(res)
    print(table)
    write_block(DOC, "clipped", table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
