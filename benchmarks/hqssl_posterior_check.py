"""Does HQ-SSL's noise model help? Its posterior mean against its prior mean alone.

Trains HQ-SSL with the default settings on one noisy image for ``--seconds`` (wall clock), then
scores against the clean reference (PSNR, 0..255): the noisy input, the posterior mean (what
napari-blindspot returns), the prior mean alone (the blind-spot network's prediction, which never
sees the pixel itself), and the posterior mean recomputed with the learned noise variance scaled
by 2, 4 and 8.  A posterior below the prior mean, improving with larger noise variances, means the
learned noise model underestimates the noise::

    python -m benchmarks.hqssl_posterior_check --data fmd --seconds 60     # FMD fov01, 512x512
    python -m benchmarks.hqssl_posterior_check --data set12 --image 02     # house, sigma 25
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from benchmarks import datasets as ds
from benchmarks.metrics import psnr


def _psnr(a: np.ndarray, clean: np.ndarray) -> float:
    return psnr(clean, a, 255.0)


def main(argv: list[str] | None = None) -> int:
    from napari_blindspot.engine import TrainConfig, train_model

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", choices=("fmd", "set12"), default="fmd")
    p.add_argument("--image", default="02", help="Set12 image number [02]")
    p.add_argument("--fov", type=int, default=1, help="FMD field of view [1]")
    p.add_argument("--crop", type=int, default=0, help="centre crop in pixels, 0: full size [0]")
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--data-dir", default=str(ds.default_data_dir()))
    args = p.parse_args(argv)
    crop = args.crop or None
    unit = (ds.fmd_unit(Path(args.data_dir), [args.fov], crop) if args.data == "fmd"
            else ds.set12_units(Path(args.data_dir), [args.image], crop, 0)[0])
    noisy = np.asarray(unit.noisy, np.float32)
    clean = np.asarray(unit.clean, np.float64)
    image = noisy.reshape(noisy.shape[-2:]) if noisy.ndim == 3 else noisy
    clean = clean.reshape(clean.shape[-2:]) if clean.ndim == 3 else clean
    config = TrainConfig.for_method("hqssl", axes="YX", steps=None, time_budget_s=args.seconds)
    model = train_model(image, config)
    norm = model.normalization
    x = torch.from_numpy(norm.normalize(image[None])[None])
    with torch.no_grad():
        mu, prior_var = model.net.prior(x)
        noise_var = model.net.noise.variance(mu)

    def back(t: torch.Tensor) -> np.ndarray:
        return norm.denormalize(t[0].numpy())[0]

    rows = [("noisy input", _psnr(image, clean)),
            ("posterior mean (returned)", _psnr(model.denoise(image), clean)),
            ("prior mean alone", _psnr(back(mu), clean))]
    for k in (2, 4, 8):
        v = k * noise_var
        rows.append((f"posterior, noise variance x{k}", _psnr(back((x * prior_var + mu * v) / (prior_var + v)), clean)))
    print(f"{unit.name}: HQ-SSL {model.info['steps']} steps in {args.seconds:g} s; learned noise "
          + ", ".join(f"{k} = {v:.4g}" for k, v in model.noise_parameters().items()) + "\n")
    print("| output | PSNR dB |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
