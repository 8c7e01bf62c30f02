"""Does HQ-SSL's noise model help, and which one?  The posterior mean under several noise
curves, on the same trained network.

Trains HQ-SSL with the default settings (the noise curve measured on the image and kept fixed)
on one noisy image for ``--seconds``, then scores against the clean reference (PSNR, 0..255):
the noisy input; the prior mean alone (the blind-spot network's prediction, which never sees the
pixel itself); the posterior mean with the measured curve (what napari-blindspot returns by
default); the posterior after the bootstrapped refit (``noise_fit="refit"``, the same network);
and, on FMD, the posterior with the oracle curve (from the two captures and the 50-capture mean).
The network's total variance ``sigma_x^2 + sigma_n^2`` is kept in each re-split::

    python -m benchmarks.hqssl_posterior_check --fovs 1-10 --seconds 120    # FMD, full frames
    python -m benchmarks.hqssl_posterior_check --data set12 --image 02     # house, sigma 25
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

import numpy as np
import torch

from benchmarks import datasets as ds
from benchmarks.metrics import psnr


def _fovs(text: str) -> list[int]:
    lo_hi = text.split("-")
    return list(range(int(lo_hi[0]), int(lo_hi[1]) + 1)) if len(lo_hi) == 2 else [int(v) for v in text.split(",")]


def oracle_curve(data_dir: Path, fov: int, crop: int | None) -> tuple[np.ndarray, np.ndarray]:
    """The true noise curve of an FMD field: half the mean squared difference of the two
    captures, binned by the 50-capture mean."""
    unit = ds.fmd_unit(data_dir, [fov], crop)
    a, b = (np.asarray(x, np.float64)[0] for x in unit.n2n[:2])
    clean = np.asarray(unit.clean, np.float64)[0]
    edges = np.unique(np.quantile(clean, np.linspace(0, 1, 25)))
    xs, vs = [], []
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = (clean >= lo) & (clean <= hi)
        if sel.sum() >= 200:
            xs.append(clean[sel].mean())
            vs.append(((a - b)[sel] ** 2).mean() / 2)
    return np.asarray(xs), np.asarray(vs)


def check(image: np.ndarray, clean: np.ndarray, seconds: float,
          oracle: tuple[np.ndarray, np.ndarray] | None) -> dict[str, float]:
    from napari_blindspot.engine import TrainConfig, train_model
    from napari_blindspot.engine.axes import CanonicalView

    model = train_model(image, TrainConfig.for_method("hqssl", axes="YX", steps=None, time_budget_s=seconds))
    norm, net = model.normalization, model.net
    x = torch.from_numpy(norm.normalize(image[None])[None])
    with torch.no_grad():
        mu, prior = net.prior(x)
        var_n = net.noise.variance(mu)
    total = prior + var_n
    m, s = norm.mean[0], norm.std[0]

    def posterior(noise_var: torch.Tensor) -> np.ndarray:
        nv = torch.minimum(noise_var, total)
        out = (x * (total - nv) + mu * nv) / total
        return out[0, 0].numpy() * s + m

    rows = {"noisy": psnr(clean, image, 255.0), "prior mean": psnr(clean, mu[0, 0].numpy() * s + m, 255.0),
            "posterior, measured curve (default)": psnr(clean, posterior(var_n), 255.0)}
    refit_net = copy.deepcopy(net)
    model.method.finish(refit_net, CanonicalView(image, "YX"), norm, True)
    with torch.no_grad():
        rows["posterior, refit after training"] = psnr(clean, posterior(refit_net.noise.posterior_variance(mu)),
                                                      255.0)
    if oracle is not None:
        intensity = mu[0, 0].numpy() * s + m
        oracle_var = np.interp(intensity, *oracle) / (s * s)
        rows["posterior, oracle curve"] = psnr(clean, posterior(torch.from_numpy(oracle_var)[None, None].float()),
                                               255.0)
    rows["steps"] = float(model.info["steps"])
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", choices=("fmd", "set12"), default="fmd")
    p.add_argument("--image", default="02", help="Set12 image number [02]")
    p.add_argument("--fovs", default="1", help="FMD fields of view, e.g. 1-10 [1]")
    p.add_argument("--crop", type=int, default=0, help="centre crop in pixels, 0: full size [0]")
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--data-dir", default=str(ds.default_data_dir()))
    args = p.parse_args(argv)
    crop, data_dir = args.crop or None, Path(args.data_dir)
    results = []
    if args.data == "fmd":
        for fov in _fovs(args.fovs):
            unit = ds.fmd_unit(data_dir, [fov], crop)
            image = np.asarray(unit.noisy, np.float32)[0]
            rows = check(image, np.asarray(unit.clean, np.float64)[0], args.seconds,
                         oracle_curve(data_dir, fov, crop))
            results.append((f"fov{fov:02d}", rows))
            print(f"fov{fov:02d}: " + ", ".join(f"{k} {v:.2f}" for k, v in rows.items()), flush=True)
    else:
        unit = ds.set12_units(data_dir, [args.image], crop, 0)[0]
        results.append((unit.name, check(np.asarray(unit.noisy, np.float32), np.asarray(unit.clean, np.float64),
                                         args.seconds, None)))
    names = list(results[0][1])
    print("\n| image | " + " | ".join(names) + " |\n|---" * 1 + "|---" * len(names) + "|")
    for image_name, rows in results:
        print(f"| {image_name} | " + " | ".join(f"{rows[k]:.2f}" if k != "steps" else f"{rows[k]:.0f}"
                                           for k in names) + " |")
    if len(results) > 1:
        print("| **mean** | " + " | ".join(f"**{np.mean([r[k] for _, r in results]):.2f}**" for k in names) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
