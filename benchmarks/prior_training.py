"""Training the warm-start prior on a broad synthetic set with the true noise (issue 22).

The first prior (:func:`benchmarks.warm_start.train`) was the engine's one-shot training run on
twelve fluorescence-like images at one noise level, its noise measured from the pooled images.
This trains the same network (the CPU's one-shot HQ-SSL blind-spot U-Net, 16 features, depth 3)
on a broader set, each image with the variance of the noise model that made it in the likelihood
(the images are synthetic and the noise is ours; where the fluorescence-like images are clipped
at 0, as 8-bit camera data are, the clipped pixels' noise is smaller than that model says, which
the fine-tuning on the user's image, with its own measured noise, corrects):

* fluorescence-like images (filaments, membranes, textured blobs; seeds 100-107, apart from the
  fine set's dev and held-out seeds below 100) with Poisson-Gaussian noise over a range of gains
  around the one measured on FMD (so the prior does not assume one camera);
* **dead-leaves images** (occluding shapes with a power-law size distribution, the classical
  synthetic model of natural-image statistics) whose leaves are flat, shaded, striped (gratings
  of random frequency and orientation) or textured, with Gaussian noise of sigma 5-50 or
  Poisson-Gaussian noise: edges, corners and periodic textures, which nothing in the first set had;
* **natural pictures** (:data:`NATURAL`: the photographs and micrographs bundled with
  scikit-image, under its BSD licence and most stated CC0 or public domain, made grey;
  ``camera`` left out, since Set12 holds the same picture) with fresh Gaussian noise of sigma
  5-50 on every crop (``--natural``: the share of the patches cut from them): the edges,
  textures and shading of real scenes, which the dead leaves only imitate.

Each image is normalised by its own mean and std, as the engine normalises a user's image; the
noise variance enters the likelihood in those units.  Everything the weights learned from is
generated here or permissively licensed (the natural pictures: BSD, CC0, public domain), and no
picture is stored in them, so they carry this project's licence::

    python -m benchmarks.warm_start train --steps 3000 --out first_prior.pt    # the first prior
    python -m benchmarks.prior_training --steps 3500 --batch 4 --lr 1e-3 --start first_prior.pt \
        --out broader_prior.pt                                              # the broader one
    python -m benchmarks.prior_training --steps 3000 --batch 4 --lr 1e-3 --threads 1 --seed 0 \
        --natural 0.5 --start broader_prior.pt --out natural_prior.pt       # the fourth round's
    python -m benchmarks.prior_training --steps 3000 --batch 4 --lr 1e-3 --threads 1 --seed 1 \
        --natural 0.5 --start natural_prior.pt --out longer_1.pt            # the fifth round:
    python -m benchmarks.prior_training --steps 4500 --batch 4 --lr 1e-3 --threads 2 --seed 2 \
        --natural 0.5 --start longer_1.pt --out longer_prior.pt             # the fifth round's
    python -m benchmarks.prior_training --steps 14000 --batch 4 --lr 1e-3 --threads 2 --seed 3 \
        --natural 0.5 --start longer_prior.pt --out prior_31k.pt            # the sixth round's
    python -m benchmarks.prior_training --steps 14000 --batch 4 --lr 1e-3 --threads 2 --seed 4 \
        --natural 0.5 --start prior_31k.pt --out prior_45k.pt               # the eighth round's
    python -m benchmarks.prior_training --steps 16000 --batch 4 --lr 1e-3 --threads 2 --seed 5 \
        --natural 0.5 --start prior_45k.pt --out prior_2d.pt                # the shipped one
    python -m benchmarks.warm_start measure --arm prior --prior prior_2d.pt --label candidate ...
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from scipy import ndimage

#: Seeds of the generated training images (the fine set's dev/held-out seeds are below 100).
FLUO_SEEDS = range(100, 108)
LEAVES_SEEDS = range(200, 224)
LEAVES_SIZE = 384
#: Photographs and micrographs bundled with scikit-image (under its BSD licence, most stated CC0
#: or public domain in ``skimage.data``), made grey; ``camera`` is left out because Set12 holds
#: the same picture.
NATURAL = ("astronaut", "brick", "cell", "chelsea", "clock", "coffee", "coins", "grass", "gravel",
           "hubble_deep_field", "immunohistochemistry", "moon", "page", "retina", "rocket", "text")
#: Gaussian noise of the natural images: sigma drawn log-uniformly in this range (0..255 units).
NATURAL_SIGMA = (5.0, 50.0)


def _texture(rng: np.random.Generator, size: int, base: float) -> np.ndarray:
    """One leaf's fill (``size`` square, float): flat, a shading ramp, a grating or a texture."""
    kind = rng.choice(["flat", "ramp", "grating", "texture"], p=[0.3, 0.25, 0.25, 0.2])
    if kind == "flat":
        return np.full((size, size), base, np.float32)
    yy, xx = np.mgrid[:size, :size].astype(np.float32)
    th = rng.uniform(0, np.pi)
    u = xx * np.cos(th) + yy * np.sin(th)
    if kind == "ramp":
        return (base + rng.uniform(-0.6, 0.6) * u).astype(np.float32)
    if kind == "grating":
        period = rng.uniform(2.5, 24.0)
        amp = rng.uniform(10, 70)
        return (base + amp * np.sin(2 * np.pi * u / period + rng.uniform(0, 2 * np.pi))).astype(np.float32)
    tex = ndimage.gaussian_filter(rng.normal(0, 1, (size, size)), rng.uniform(0.7, 3.0))
    return (base + rng.uniform(10, 50) * tex / (tex.std() + 1e-6)).astype(np.float32)


def dead_leaves(seed: int, size: int = LEAVES_SIZE) -> np.ndarray:
    """A dead-leaves image, float32 0..255 (``(size, size)``): disks, ellipses and rectangles with
    radii drawn from ``r^-3`` between 3, 6 or 12 and ``size / 3`` pixels, each leaf filled by
    :func:`_texture`, later leaves lying under earlier ones, then anti-aliased."""
    rng = np.random.default_rng([seed, 7])
    img = np.full((size, size), np.nan, np.float32)
    rmin, rmax = float(rng.choice([3.0, 6.0, 12.0])), size / 3  # busy to calm scenes
    while np.isnan(img).mean() > 0.001:
        r = (rmin ** -2 - rng.random() * (rmin ** -2 - rmax ** -2)) ** -0.5
        cy, cx = rng.uniform(-r, size + r, 2)
        half = int(math.ceil(r * 1.5)) + 1
        y0, y1 = max(0, int(cy) - half), min(size, int(cy) + half + 1)
        x0, x1 = max(0, int(cx) - half), min(size, int(cx) + half + 1)
        if y0 >= y1 or x0 >= x1:
            continue
        yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        dy, dx = yy - cy, xx - cx
        th = rng.uniform(0, np.pi)
        u = dy * np.cos(th) + dx * np.sin(th)
        v = -dy * np.sin(th) + dx * np.cos(th)
        aspect = rng.uniform(0.4, 1.0)
        if rng.random() < 0.35:
            inside = (np.abs(u) < r) & (np.abs(v) < r * aspect)
        else:
            inside = (u / r) ** 2 + (v / (r * aspect)) ** 2 < 1
        region = img[y0:y1, x0:x1]
        fill = inside & np.isnan(region)
        if not fill.any():
            continue
        tex = _texture(rng, max(y1 - y0, x1 - x0), rng.uniform(20, 235))[:y1 - y0, :x1 - x0]
        region[fill] = tex[fill]
    img[np.isnan(img)] = float(np.nanmean(img))
    return np.clip(ndimage.gaussian_filter(img, rng.uniform(0.4, 0.9)), 0, 255).astype(np.float32)


def _poisson_gaussian(clean: np.ndarray, a: float, b: float, rng: np.random.Generator,
                      clip: bool) -> tuple[np.ndarray, np.ndarray]:
    noisy = rng.poisson(np.maximum(clean, 0) / a) * a + rng.normal(0, math.sqrt(b), clean.shape)
    if clip:
        noisy = np.clip(np.round(noisy), 0, 255)
    return noisy.astype(np.float32), (a * np.maximum(clean, 0) + b).astype(np.float32)


def training_set() -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``(name, noisy, noise variance)`` per training image, ``(Y, X)`` float32, intensity units."""
    from . import fine_structures_data as fsd
    from .warm_start import blobs

    out = []
    for seed in FLUO_SEEDS:
        rng = np.random.default_rng([seed, 11])
        for kind, make in (("filaments", fsd.filaments), ("membranes", fsd.membranes), ("blobs", blobs)):
            # gains around FMD's 4.2: half the images at it, the rest from 1 to 16
            a = fsd.FMD_NOISE["a"] if seed % 2 == 0 else float(np.exp(rng.uniform(0, np.log(16))))
            b = fsd.FMD_NOISE["b"] * float(rng.uniform(0.5, 3.0))
            noisy, var = _poisson_gaussian(make(seed), a, b, rng, clip=True)
            out.append((f"{kind}_{seed}", noisy, var))
    for seed in LEAVES_SEEDS:
        rng = np.random.default_rng([seed, 13])
        clean = dead_leaves(seed)
        if seed % 3 == 2:  # Poisson-Gaussian, a camera-like brightness range
            scale = float(rng.uniform(0.3, 1.0))
            noisy, var = _poisson_gaussian(clean * scale, float(rng.uniform(0.5, 6)),
                                           float(rng.uniform(1, 25)), rng, clip=True)
        else:
            sigma = float(rng.uniform(5, 50))
            noisy = (clean + rng.normal(0, sigma, clean.shape)).astype(np.float32)
            var = np.full(clean.shape, sigma * sigma, np.float32)
        out.append((f"leaves_{seed}", noisy, var))
    return out


def natural_images() -> list[tuple[str, np.ndarray]]:
    """``(name, clean)`` of the :data:`NATURAL` pictures, ``(Y, X)`` float32 0..255."""
    from skimage import color, data

    out = []
    for name in NATURAL:
        img = np.asarray(getattr(data, name)(), np.float32)
        if img.ndim == 3:  # RGB(A): luminance
            img = color.rgb2gray(img[..., :3] / 255.0).astype(np.float32) * 255.0
        out.append((name, img))
    return out


def _natural_patch(image: np.ndarray, rng: np.random.Generator,
                   patch: int) -> tuple[np.ndarray, np.ndarray]:
    """A ``patch``-square crop of the clean ``image`` with fresh Gaussian noise (a new sigma
    each time, :data:`NATURAL_SIGMA`), normalised as the engine normalises the whole noisy
    image (the image's mean; the std the noisy image would have), with its noise variance in
    those units."""
    lo, hi = NATURAL_SIGMA
    sigma = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
    i, j = (int(rng.integers(0, n - patch + 1)) for n in image.shape)
    crop = image[i:i + patch, j:j + patch]
    noisy = crop + rng.normal(0, sigma, crop.shape).astype(np.float32)
    s = math.sqrt(float(image.var()) + sigma * sigma)
    return (noisy - float(image.mean())) / s, np.full(crop.shape, (sigma / s) ** 2, np.float32)


def _batch(images: list[tuple[np.ndarray, np.ndarray]], rng: np.random.Generator, batch: int,
           patch: int, natural: Sequence[np.ndarray] = (), natural_share: float = 0.0,
           ) -> tuple[np.ndarray, np.ndarray]:
    """``batch`` random ``patch``-square crops, each turned and flipped at random, of the
    normalised images and of their noise variance alike: two ``(B, 1, patch, patch)`` arrays.
    A share ``natural_share`` of them (on average) are crops of the clean ``natural`` pictures
    with fresh noise (:func:`_natural_patch`)."""
    ys, vs = [], []
    for _ in range(batch):
        if natural_share > 0 and rng.random() < natural_share:
            y, v = _natural_patch(natural[int(rng.integers(len(natural)))], rng, patch)
            i = j = 0
        else:
            y, v = images[int(rng.integers(len(images)))]
            i, j = (int(rng.integers(0, n - patch + 1)) for n in y.shape)
        k, flip = int(rng.integers(4)), bool(rng.integers(2))
        py, pv = (np.rot90(a[i:i + patch, j:j + patch], k) for a in (y, v))
        if flip:
            py, pv = py[:, ::-1], pv[:, ::-1]
        ys.append(py)
        vs.append(pv)
    return np.stack(ys)[:, None].copy(), np.stack(vs)[:, None].copy()


def train(steps: int, *, batch: int = 4, patch: int = 128, lr: float = 1e-3, seed: int = 0,
          start: Path | None = None, out: Path, threads: int = 2,
          natural_share: float = 0.0) -> None:
    """Train the prior for ``steps`` steps (Adam, cosine-decayed ``lr``) from ``start`` (a prior
    file) or random weights, and write it to ``out``; ``natural_share`` of the patches (on
    average) come from the natural pictures (:func:`natural_images`)."""
    import torch

    from napari_blindspot.engine.methods.hqssl.blindspot import BlindSpotUNet
    from napari_blindspot.engine.methods.hqssl.network import HQSSLNet
    from napari_blindspot.engine.methods.hqssl.posterior import nll_diagonal
    from napari_blindspot.engine.methods.hqssl.prior_weights import PRIOR_SHAPE, load_prior, save_prior
    from napari_blindspot.engine.system.device import autocast, autocast_dtype

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    images = []
    for _, noisy, var in training_set():
        m, s = float(noisy.mean()), float(noisy.std())
        images.append(((noisy - m) / s, var / (s * s)))
    natural = [img for _, img in natural_images()] if natural_share > 0 else []
    unet = BlindSpotUNet(1, 2, depth=PRIOR_SHAPE["depth"], features=PRIOR_SHAPE["features"], ndim=2)
    net = HQSSLNet(unet, None, 1)
    if start is not None and not load_prior(net, start):
        raise SystemExit(f"could not start from {start}")
    cpu = torch.device("cpu")
    amp = autocast_dtype(cpu)
    opt = torch.optim.Adam(unet.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps, eta_min=lr * 0.02)
    t0, running = time.perf_counter(), []
    for step in range(1, steps + 1):
        y, v = (torch.from_numpy(a)
                for a in _batch(images, rng, batch, patch, natural, natural_share))
        with autocast(cpu, amp):  # as the engine trains on a CPU: bfloat16 where it runs
            mu, var_x = net.prior(y)
        loss = nll_diagonal(y, mu, var_x, v).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(unet.parameters(), 10.0)
        opt.step()
        sched.step()
        running.append(loss.item())
        if step % 100 == 0:
            print(f"step {step}/{steps} loss {np.mean(running):.4f} {time.perf_counter() - t0:.0f} s",
                  flush=True)
            running = []

    model = SimpleNamespace(net=net)  # what save_prior reads: a model holding one blind-spot U-Net
    before = 0 if start is None else int(torch.load(start, map_location="cpu", weights_only=True)["steps"])
    save_prior(model, before + steps, out)  # the steps behind the weights, the first prior's included
    print(f"prior: {steps} steps x {batch} patches on {len(images)} images "
          f"(+{len(natural)} natural pictures, share {natural_share:g}) in "
          f"{time.perf_counter() - t0:.0f} s -> {out}", flush=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=4000)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the patches, their noise and turns (a continued run: a new one)")
    p.add_argument("--start", help="a prior file to continue from (default: random weights)")
    p.add_argument("--natural", type=float, default=0.0,
                   help="share of the patches cut from the natural pictures (0..1)")
    p.add_argument("--out", required=True, help="where to write the prior")
    args = p.parse_args(argv)
    if not 0.0 <= args.natural <= 1.0:
        p.error("--natural is a share of the patches, from 0 to 1")
    train(args.steps, batch=args.batch, lr=args.lr, threads=args.threads, seed=args.seed,
          natural_share=args.natural, start=Path(args.start) if args.start else None,
          out=Path(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
