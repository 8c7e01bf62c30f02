"""Remedies for very bright sparse beads, measured as experiments (docs/channels.md, issue 22).

    python -m benchmarks.bead_remedies --method hqssl --variant huber
    python -m benchmarks.bead_remedies --method n2v2 --variant saturated

The image and the score are :mod:`benchmarks.bit_depth`'s (96x96, beads of ``amplitude`` x the
brightest structure, PSNR away from the beads, 30 steps, seed 0).  Variants, none of them an
engine option (they monkeypatch or wrap it):

- ``base``: the engine as it is;
- ``huber``: a pixel's weight in the loss bounded beyond ``k`` (``--k``, 3): HQ-SSL's NLL with
  ``0.5 z^2`` (z: the residual over the predicted total std) replaced by ``k|z| - k^2/2`` beyond
  ``k``; N2V2's masked MSE replaced by a Huber loss with delta ``k`` x the batch's robust residual
  scale (1.4826 x the median absolute residual);
- ``saturated``: train on the image clipped at ``q99.5 + 0.5 (q99.5 - median)``, predict the
  clipped image, and leave the clipped pixels as measured.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from . import bit_depth as bd


def huber_nll(k: float):
    def nll(y, mu, var_x, var_n):
        var_y = var_x + var_n
        z2 = (y - mu) ** 2 / var_y
        z = torch.sqrt(z2 + 1e-12)
        return torch.where(z <= k, 0.5 * z2, k * z - 0.5 * k * k) + 0.5 * torch.log(var_y)
    return nll


def huber_mse(k: float):
    def mse(prediction, target, coords):
        idx = (coords[:, 0],) + tuple(coords[:, d] for d in range(1, coords.shape[1]))
        r = prediction.movedim(1, -1)[idx].float() - target.movedim(1, -1)[idx].float()
        d = k * (1.4826 * r.detach().abs().median()).clamp(min=1e-6)
        a = r.abs()
        return torch.mean(torch.where(a <= d, r * r, 2 * d * a - d * d))
    return mse


def saturated(noisy: np.ndarray, steps: int, method: str) -> tuple[np.ndarray, float]:
    """Train on the clipped image, predict it, clipped pixels as measured; and the clipped share."""
    med, hi = np.quantile(noisy, [0.5, 0.995])
    cap = hi + 0.5 * (hi - med)
    clipped = np.minimum(noisy, cap).astype(np.float32)
    out = bd.denoise(clipped, steps, method)
    return np.where(noisy > cap, noisy, out), float(np.mean(noisy > cap))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--method", default="hqssl", choices=("hqssl", "n2v2"))
    p.add_argument("--variant", default="base", choices=("base", "huber", "saturated"))
    p.add_argument("--k", type=float, default=3.0)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--amplitudes", default="0,3,15")
    args = p.parse_args(argv)
    if args.variant == "huber":
        from napari_blindspot.engine.methods.hqssl import method as hqssl
        from napari_blindspot.engine.methods.n2v import method as n2v

        hqssl.nll_diagonal = huber_nll(args.k)
        n2v.masked_mse = huber_mse(args.k)
    print(f"| beads (x brightest) | noisy | {args.method}, {args.variant} |\n|---|---|---|")
    for amp in (float(a) for a in args.amplitudes.split(",")):
        clean, noisy, beads = bd.bead_image(amp)
        if args.variant == "saturated":
            out, share = saturated(noisy, args.steps, args.method)
        else:
            out = bd.denoise(noisy.astype(np.float32), args.steps, args.method)
        far = ~beads
        print(f"| {amp:g} | {bd.psnr(clean, noisy, far):.2f} | {bd.psnr(clean, out, far):.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
