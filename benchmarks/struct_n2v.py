"""structN2V against N2V2 on synthetic stripes: noise correlated along rows.

    python -m benchmarks.struct_n2v                      # the figure and numbers in docs/struct_n2v.md
    python -m benchmarks.struct_n2v --steps 60 --frames 2 --size 64 --figure /tmp/s.png  # a quick look

The data: a smooth clean image (Gaussian blobs, 100-200) plus pixel-independent Gaussian noise
plus *stripe noise*: white noise smoothed along X by a box of ``--stripe-length`` pixels, so the
stripe noise of a pixel is correlated with its neighbours on the same row (not with those above
or below), like sCMOS line noise or scan stripes.  N2V2 and N2V2 + structN2V (a horizontal mask
of ``--span`` pixels) train with the same settings and seed on the same noisy stack.

Measured on the result ``r`` minus the clean image (the residual):

- PSNR against the clean image (range of the clean image);
- *stripes kept*: the least-squares share of the stripe noise ``s`` still in the residual,
  ``<r, s> / <s, s>`` (100 %: all of it kept, as in the noisy input; 0: removed);
- the row-averaged power spectrum along X of the residual (the figure's lower panel): the stripe
  noise's spectrum is a low-pass ``|H(f)|^2`` of the box, so stripes left in show up as excess
  power at low horizontal frequencies.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def smooth_image(shape: tuple[int, int, int], seed: int) -> np.ndarray:
    """A smooth ``(T, Y, X)`` float32 image in about [0, 1]: Gaussian blobs per frame."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:shape[1], :shape[2]].astype(np.float32)
    out = np.zeros(shape, np.float32)
    for t in range(shape[0]):
        for _ in range(max(4, shape[1] * shape[2] // 800)):
            cy, cx = rng.uniform(0, shape[1]), rng.uniform(0, shape[2])
            r = rng.uniform(4, 12)
            out[t] += rng.uniform(0.3, 1.0) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r))
    return out


def striped_data(frames: int = 4, size: int = 128, pixel_sigma: float = 8.0,
                 stripe_sigma: float = 16.0, stripe_length: int = 3,
                 seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(clean, noisy, stripes)`` float32 ``(T, Y, X)``: ``noisy = clean + pixel noise + stripes``.

    ``stripes``: white noise averaged along X over ``stripe_length`` pixels (a box), scaled to
    standard deviation ``stripe_sigma``; intensities in the clean image's units (100-200).
    """
    rng = np.random.default_rng(seed + 1)
    clean = (100 + 100 * smooth_image((frames, size, size), seed)).astype(np.float32)
    white = rng.normal(0, 1, (frames, size, size + stripe_length - 1))
    box = np.ones(stripe_length) / stripe_length
    stripes = np.apply_along_axis(lambda row: np.convolve(row, box, mode="valid"), 2, white)
    stripes *= stripe_sigma / stripes.std()
    noisy = clean + rng.normal(0, pixel_sigma, clean.shape) + stripes
    return clean, noisy.astype(np.float32), stripes.astype(np.float32)


def stripes_kept(result: np.ndarray, clean: np.ndarray, stripes: np.ndarray) -> float:
    """Share of the stripe noise still in ``result``: ``<result - clean, s> / <s, s>``."""
    r = np.asarray(result, np.float64) - clean
    s = np.asarray(stripes, np.float64)
    return float((r * s).sum() / (s * s).sum())


def row_spectrum(residual: np.ndarray) -> np.ndarray:
    """Power spectrum along X averaged over all rows (and frames): ``(X // 2 + 1,)``."""
    r = np.asarray(residual, np.float64)
    r = r - r.mean(axis=-1, keepdims=True)
    return (np.abs(np.fft.rfft(r, axis=-1)) ** 2).reshape(-1, r.shape[-1] // 2 + 1).mean(0) / r.shape[-1]


def psnr(image: np.ndarray, clean: np.ndarray) -> float:
    mse = float(np.mean((np.asarray(image, np.float64) - clean) ** 2))
    return 10 * np.log10(float(clean.max() - clean.min()) ** 2 / mse)


def train_and_denoise(noisy: np.ndarray, struct_mask: str, span: int, steps: int, seed: int,
                      threads: int | None, patch: int = 64, batch: int = 16,
                      mask_fraction: float = 0.02) -> tuple[np.ndarray, float]:
    """N2V2 (with ``struct_mask``) trained on ``noisy`` ``(T, Y, X)``; ``(denoised, seconds)``."""
    from napari_blindspot.engine import TrainConfig
    from napari_blindspot.engine.training.loop import train_model

    config = TrainConfig.for_method("n2v2", axes="TYX", steps=steps, patch_size=patch,
                                    batch_size=batch, mask_fraction=mask_fraction, seed=seed,
                                    struct_mask=struct_mask, struct_span=span, device="cpu",
                                    num_threads=threads, validation_interval=max(1, steps // 10))
    start = time.perf_counter()
    model = train_model(noisy, config)
    denoised = model.denoise(noisy, "TYX")
    return np.asarray(denoised, np.float32), time.perf_counter() - start


def _plot(spectra: dict[str, np.ndarray], width: int, height: int) -> np.ndarray:
    """A log-scale line plot of the spectra (uint8 RGB ``(height, width, 3)``), with a legend."""
    from PIL import Image, ImageDraw

    colours = [(120, 120, 120), (214, 96, 40), (40, 110, 200), (40, 160, 70)]
    img = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(img)
    left, right, top, bottom = 60, width - 10, 10, height - 30
    values = np.concatenate([np.log10(s[1:]) for s in spectra.values()])
    lo, hi = float(values.min()) - 0.1, float(values.max()) + 0.1
    draw.rectangle([left, top, right, bottom], outline=(0, 0, 0))
    for dec in range(int(np.ceil(lo)), int(np.floor(hi)) + 1):
        y = bottom - (dec - lo) / (hi - lo) * (bottom - top)
        draw.line([left - 4, y, left, y], fill=(0, 0, 0))
        draw.text((8, y - 6), f"1e{dec}", fill=(0, 0, 0))
    draw.text((left, bottom + 4), "0", fill=(0, 0, 0))
    draw.text((right - 80, bottom + 4), "0.5 cycles/px", fill=(0, 0, 0))
    draw.text((left + 40, bottom + 16), "row-averaged power spectrum along X of (result - clean), "
              "log scale", fill=(0, 0, 0))
    for i, (name, spec) in enumerate(spectra.items()):
        f = np.arange(1, spec.size)
        xs = left + (f - 1) / (spec.size - 2) * (right - left)
        ys = bottom - (np.log10(spec[1:]) - lo) / (hi - lo) * (bottom - top)
        draw.line(list(zip(xs.tolist(), ys.tolist())), fill=colours[i % 4], width=2)
        draw.line([right - 250, top + 12 + 14 * i, right - 230, top + 12 + 14 * i], fill=colours[i % 4],
                  width=2)
        draw.text((right - 225, top + 6 + 14 * i), name, fill=colours[i % 4])
    return np.asarray(img)


def write_figure(path: Path, noisy: np.ndarray, results: dict[str, np.ndarray],
                 spectra: dict[str, np.ndarray]) -> None:
    """noisy | N2V2 | structN2V (one crop, shared display range) above the spectra plot."""
    from PIL import Image, ImageDraw

    from napari_blindspot.samples.comparison import side_by_side
    from napari_blindspot.engine.atomic import atomic_path

    panels = [noisy] + list(results.values())
    crop = min(160, noisy.shape[-1])
    strip = side_by_side([p[:crop, :crop] for p in panels], gap=6)
    scale = max(1, 800 // strip.shape[1])
    strip = np.kron(strip, np.ones((scale, scale), np.uint8))
    top = np.repeat(strip[..., None], 3, axis=2)
    header = Image.new("RGB", (top.shape[1], 18), "white")
    draw = ImageDraw.Draw(header)
    for i, name in enumerate(["noisy (a crop)"] + list(results)):
        draw.text((i * (crop + 6) * scale + 4, 3), name, fill=(0, 0, 0))
    plot = _plot(spectra, top.shape[1], 300)
    figure = np.concatenate([np.asarray(header), top, plot], axis=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        Image.fromarray(figure).save(tmp, format="PNG")


def run(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    clean, noisy, stripes = striped_data(args.frames, args.size, args.pixel_sigma, args.stripe_sigma,
                                         args.stripe_length, args.seed)
    results, numbers, spectra = {}, {}, {"noise (noisy - clean)": row_spectrum(noisy - clean),
                                         "stripe noise alone": row_spectrum(stripes)}
    numbers["noisy"] = {"psnr": psnr(noisy, clean), "stripes_kept": stripes_kept(noisy, clean, stripes),
                        "seconds": 0.0}
    for name, mask in (("N2V2", "none"), (f"structN2V (horizontal, span {args.span})", "horizontal")):
        out, seconds = train_and_denoise(noisy, mask, args.span, args.steps, args.seed, args.threads)
        results[name] = out[0]
        spectra[name] = row_spectrum(out - clean)
        numbers[name] = {"psnr": psnr(out, clean), "stripes_kept": stripes_kept(out, clean, stripes),
                         "seconds": seconds}
    write_figure(Path(args.figure), noisy[0], results,
                 {k: spectra[k] for k in list(spectra)[:1] + list(spectra)[2:]})
    return numbers


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=4, help="frames of the synthetic stack")
    p.add_argument("--size", type=int, default=128, help="side of a frame in pixels")
    p.add_argument("--pixel-sigma", type=float, default=8.0, help="pixel-independent noise std")
    p.add_argument("--stripe-sigma", type=float, default=16.0, help="stripe noise std")
    p.add_argument("--stripe-length", type=int, default=3, help="box length of the stripes along X")
    p.add_argument("--span", type=int, default=5, help="structN2V line length")
    p.add_argument("--steps", type=int, default=1000, help="training steps of each model")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: all cores)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--figure", default=str(REPO / "docs" / "images" / "struct_n2v.png"))
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    numbers = run(args)
    print("| result | PSNR (dB) | stripes kept | training + prediction (s) |")
    print("|---|---|---|---|")
    for name, n in numbers.items():
        print(f"| {name} | {n['psnr']:.2f} | {100 * n['stripes_kept']:.0f} % | {n['seconds']:.0f} |")
    print(f"figure: {args.figure}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
