"""Very bright sparse beads: the engine's saturation level against the remedies tried before
(docs/channels.md, "very bright sparse beads", issue 22).

    python -m benchmarks.bead_remedies                      # the table, HQ-SSL and N2V2
    python -m benchmarks.bead_remedies --write              # ... into docs/channels.md
    python -m benchmarks.bead_remedies --methods n2v2 --variants engine --amplitudes 15
    python -m benchmarks.bead_remedies --ordinary           # does the level act on real images?

The image and the score are :mod:`benchmarks.bit_depth`'s (96x96, beads of ``amplitude`` x the
brightest structure, PSNR away from the beads, 30 steps, seed 0, one thread).  Variants:

- ``engine``: the engine as it is: a saturation level where bright sparse spots call for one
  (:mod:`napari_blindspot.engine.normalization.saturation`), stored with the model, the network trained and
  predicting below it, the pixels above it returned as measured;
- ``none``: the engine without the saturation level (as before it; the level search switched off);
- ``huber``: ``none`` with a pixel's weight in the loss bounded beyond ``k`` (``--k``, 3):
  HQ-SSL's NLL with ``0.5 z^2`` (z: the residual over the predicted total std) replaced by
  ``k|z| - k^2/2`` beyond ``k``; N2V2's masked MSE replaced by a Huber loss with delta ``k`` x the
  batch's robust residual scale (1.4826 x the median absolute residual);
- ``wrapper``: the experiment that led to the level: ``none`` on the image clipped at
  ``q99.5 + 0.5 (q99.5 - median)`` outside the engine, clipped pixels put back as measured.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from . import bit_depth as bd
from .doc_blocks import write_block

REPO = Path(__file__).resolve().parent.parent
VARIANTS = ("none", "huber", "engine", "wrapper")
WORDS = {"none": "no level", "huber": "no level, Huber", "engine": "engine (level)",
         "wrapper": "clipped outside"}
NAMES = {"hqssl": "HQ-SSL", "n2v2": "N2V2"}


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


@contextlib.contextmanager
def patched(variant: str, k: float) -> Iterator[None]:
    """The engine as ``variant`` needs it (restored afterwards)."""
    from napari_blindspot.engine import normalization
    from napari_blindspot.engine.methods.hqssl import method as hqssl
    from napari_blindspot.engine.methods.n2v import method as n2v

    saved = normalization.find_levels, hqssl.nll_diagonal, n2v.masked_mse
    if variant != "engine":
        normalization.find_levels = lambda values: (None,) * len(values)
    if variant == "huber":
        hqssl.nll_diagonal, n2v.masked_mse = huber_nll(k), huber_mse(k)
    try:
        yield
    finally:
        normalization.find_levels, hqssl.nll_diagonal, n2v.masked_mse = saved


def wrapper(noisy: np.ndarray, steps: int, method: str) -> np.ndarray:
    """Train on the clipped image, predict it, clipped pixels as measured."""
    med, hi = np.quantile(noisy, [0.5, 0.995])
    cap = hi + 0.5 * (hi - med)
    out = bd.denoise(np.minimum(noisy, cap).astype(np.float32), steps, method)
    return np.where(noisy > cap, noisy, out)


def measure(method: str, variant: str, amplitude: float, steps: int, k: float) -> tuple[float, float]:
    """``(noisy, denoised)`` PSNR away from the beads."""
    torch.set_num_threads(1)
    clean, noisy, beads = bd.bead_image(amplitude)
    with patched(variant, k):
        if variant == "wrapper":
            out = wrapper(noisy, steps, method)
        else:
            out = bd.denoise(noisy.astype(np.float32), steps, method)
    return bd.psnr(clean, noisy, ~beads), bd.psnr(clean, out, ~beads)


def level_share(amplitude: float) -> str:
    """The engine's saturation level on the bead image: the share above it, or "none"."""
    from napari_blindspot.engine.normalization.saturation import find_level

    found = find_level(bd.bead_image(amplitude)[1])
    return "none" if found is None else f"{100 * found.share:.2f}%"


def ordinary() -> list[str]:
    """The engine's normalisation on ordinary images (FMD fields 1-10, the fine-structure
    development set): one line each, saying whether a saturation level acts (it should not)."""
    from napari_blindspot.engine.axes import CanonicalView
    from napari_blindspot.engine.normalization import compute_normalization

    from .datasets import default_data_dir, fmd_unit
    from .fine_structures import dev_units

    images = [(f"FMD field {f}", fmd_unit(default_data_dir(), [f], None).noisy[0]) for f in range(1, 11)]
    images += [(u.name, u.noisy) for u in dev_units(None)]
    lines = []
    for name, image in images:
        norm = compute_normalization(CanonicalView(np.asarray(image, np.float32), "YX"))
        lines.append(f"- {name}: " + ("; ".join(norm.messages()) if norm.clips else "no level"))
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--methods", default="hqssl,n2v2")
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument("--k", type=float, default=3.0)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--amplitudes", default="0,3,15")
    p.add_argument("--write", action="store_true",
                   help="put the table into docs/channels.md (between its generated markers)")
    p.add_argument("--ordinary", action="store_true",
                   help="only say whether the level acts on FMD and the fine-structure set")
    args = p.parse_args(argv)
    if args.ordinary:
        print("\n".join(ordinary()))
        return 0
    methods, variants = args.methods.split(","), args.variants.split(",")
    cols = [(m, v) for m in methods for v in variants]
    header = ("| beads (x brightest) | level acts (pixels above) | noisy | "
              + " | ".join(f"{NAMES[m]}, {WORDS[v]}" for m, v in cols) + " |")
    lines = [header, "|" + "---|" * (3 + len(cols))]
    print("\n".join(lines), flush=True)
    for amp in (float(a) for a in args.amplitudes.split(",")):
        scores = [measure(m, v, amp, args.steps, args.k) for m, v in cols]
        row = (f"| {amp:g} | {level_share(amp)} | {scores[0][0]:.2f} | "
               + " | ".join(f"{s[1]:.2f}" for s in scores) + " |")
        lines.append(row)
        print(row, flush=True)
    if args.write:
        command = (f"python -m benchmarks.bead_remedies --methods {args.methods} --variants "
                   f"{args.variants} --amplitudes {args.amplitudes} --steps {args.steps} --write")
        body = f"`{command}`\n\n" + "\n".join(lines)
        write_block(REPO / "docs" / "channels.md", "bead_remedies", body, required=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
