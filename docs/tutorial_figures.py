"""Make the pictures and numbers of ``docs/tutorial.md`` from one real confocal frame.

    nice -n 19 python docs/tutorial_figures.py --data ../shared/data/fmd_confocal_bpae_b

Takes field of view 1 of FMD's Confocal_BPAE_B set (Zhang et al., CVPR 2019; not part of this
repository), writes its first raw capture as a TIFF into a scratch folder (``--work``, default
a folder in the system's temp directory), and runs the command a user would run::

    blindspot denoise noisy.tif -o denoised.tif --uncertainty uncertainty.tif \
        --save-model model.safetensors --minutes 1 --seed 0

(HQ-SSL, the default method), then ``blindspot info model.safetensors``.  From the results it
writes, into ``docs/images``:

* ``tutorial_panels.png``: noisy | denoised | uncertainty of one crop, side by side;
* ``tutorial_noise_curve.png``: the model's noise curve (line), the points it was measured at
  (dots) and, as a check only possible with FMD, the noise measured from the field's second
  raw capture (crosses);
* ``tutorial_check.png``: a zoom with the noisy data, the result, the 50-capture average
  (the "truth" of this data set) and what the denoiser removed (noisy - denoised).

and prints the numbers the tutorial quotes (PSNR against the 50-capture average, the noise
curve).  Only these derived, small PNGs go into the repository; never the data.
``--skip-run`` makes the pictures again from the scratch folder's results.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import tifffile
from PIL import Image, ImageDraw, ImageFont

HERE = Path(__file__).resolve().parent
IMAGES = HERE / "images"
FIELD = "fov01"
CROP = (slice(290, 482), slice(180, 372))  # 192 x 192 pixels of the 512 x 512 field: 4 nuclei
ZOOM = (slice(42, 106), slice(348, 412))  # 64 x 64 pixels: the large nucleus at the top right
#: magma-like colours for the uncertainty map (dark: certain, bright: uncertain).
LUT_ANCHORS = np.array([[0, 0, 4], [59, 15, 112], [140, 41, 129], [222, 73, 104], [254, 159, 109],
                        [252, 253, 191]], np.float64)


def font(size: int) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def read_png(path: Path) -> np.ndarray:
    """A grey PNG as float64 ``(Y, X)`` (grey levels 0..255)."""
    return np.asarray(Image.open(path).convert("L"), np.float64)


def psnr(image: np.ndarray, truth: np.ndarray) -> float:
    """PSNR in dB on the 0..255 range."""
    return float(10 * np.log10(255.0 ** 2 / np.mean((image - truth) ** 2)))


def blindspot(*args: str) -> str:
    """Run the ``blindspot`` command line (the user's command), nicely; its standard output."""
    cmd = ["nice", "-n", "19", sys.executable, "-c", "from napari_blindspot.cli import main; main()", *args]
    print("$ blindspot " + " ".join(args), flush=True)
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    sys.stderr.write(done.stderr)
    return done.stdout


def run(data: Path, work: Path, minutes: float) -> None:
    work.mkdir(parents=True, exist_ok=True)
    noisy = read_png(data / "raw" / f"{FIELD}_capture0.png").astype(np.uint8)
    tifffile.imwrite(work / "noisy.tif", noisy, imagej=True, metadata={"axes": "YX"})
    blindspot("denoise", str(work / "noisy.tif"), "-o", str(work / "denoised.tif"),
              "--uncertainty", str(work / "uncertainty.tif"), "--save-model", str(work / "model.safetensors"),
              "--minutes", f"{minutes:g}", "--seed", "0", "--overwrite")
    info = blindspot("info", str(work / "model.safetensors"))
    (work / "info.txt").write_text(info, "utf-8")


# ------------------------------------------------------------------ pictures
def grey(image: np.ndarray, lo: float, hi: float, zoom: int) -> Image.Image:
    """``image`` shown from ``lo`` (black) to ``hi`` (white), each pixel ``zoom`` x ``zoom``."""
    scaled = np.clip((image - lo) / (hi - lo), 0, 1) * 255
    pic = Image.fromarray(np.round(scaled).astype(np.uint8), "L").convert("RGB")
    return pic.resize((pic.width * zoom, pic.height * zoom), Image.Resampling.NEAREST)


def colour(image: np.ndarray, lo: float, hi: float, zoom: int) -> Image.Image:
    """``image`` through the magma-like :data:`LUT_ANCHORS` (dark: low, bright: high)."""
    t = np.clip((image - lo) / (hi - lo), 0, 1) * (len(LUT_ANCHORS) - 1)
    i = np.minimum(t.astype(int), len(LUT_ANCHORS) - 2)
    f = (t - i)[..., None]
    rgb = LUT_ANCHORS[i] * (1 - f) + LUT_ANCHORS[i + 1] * f
    pic = Image.fromarray(np.round(rgb).astype(np.uint8), "RGB")
    return pic.resize((pic.width * zoom, pic.height * zoom), Image.Resampling.NEAREST)


def row(panels: list[tuple[str, Image.Image]], note: str = "") -> Image.Image:
    """Panels side by side with a title above each and an optional note below."""
    gap, top, bottom = 8, 26, 22 if note else 6
    width = sum(p.width for _, p in panels) + gap * (len(panels) + 1)
    height = max(p.height for _, p in panels) + top + bottom
    canvas = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(canvas)
    x = gap
    for title, pic in panels:
        canvas.paste(pic, (x, top))
        draw.text((x + pic.width // 2, top // 2), title, fill="black", font=font(15), anchor="mm")
        x += pic.width + gap
    if note:
        draw.text((gap, height - bottom // 2 - 2), note, fill=(80, 80, 80), font=font(12), anchor="lm")
    return canvas


def colour_bar(lo: float, hi: float, height: int, label: str) -> Image.Image:
    """A vertical colour bar for :func:`colour` with its end values."""
    ramp = np.linspace(hi, lo, height)[:, None].repeat(14, axis=1)
    bar = colour(ramp, lo, hi, 1)
    canvas = Image.new("RGB", (70, height), "white")
    canvas.paste(bar, (0, 0))
    draw = ImageDraw.Draw(canvas)
    draw.text((18, 0), f"{hi:.0f}", fill="black", font=font(12), anchor="lt")
    draw.text((18, height), f"{lo:.0f}", fill="black", font=font(12), anchor="lb")
    draw.text((18, height // 2), label, fill="black", font=font(12), anchor="lm")
    return canvas


def plot_curve(series: list[tuple[str, np.ndarray, np.ndarray, str, tuple[int, int, int]]],
               xlabel: str, ylabel: str, size: tuple[int, int] = (640, 400)) -> Image.Image:
    """A small linear x-y plot: ``(name, x, y, style, colour)``, style ``"line"``, ``"dots"``
    or ``"crosses"``, with ticks and a legend."""
    w, h = size
    left, right, top, bottom = 70, 20, 20, 55
    xs = np.concatenate([s[1] for s in series])
    ys = np.concatenate([s[2] for s in series])
    x0, x1 = 0.0, float(xs.max()) * 1.05
    y0, y1 = 0.0, float(ys.max()) * 1.08
    canvas = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(canvas)

    def to_px(x: np.ndarray, y: np.ndarray) -> list[tuple[float, float]]:
        px = left + (np.asarray(x) - x0) / (x1 - x0) * (w - left - right)
        py = h - bottom - (np.asarray(y) - y0) / (y1 - y0) * (h - top - bottom)
        return list(zip(px.tolist(), py.tolist()))

    draw.rectangle([left, top, w - right, h - bottom], outline="black")
    for lo, hi, horizontal in ((x0, x1, True), (y0, y1, False)):
        step = 10 ** np.floor(np.log10((hi - lo) / 5))
        step *= next(m for m in (1, 2, 5, 10) if (hi - lo) / (step * m) <= 6)
        for t in np.arange(0, hi, step):
            if horizontal:
                (px, py), = to_px([t], [y0])
                draw.line([px, py, px, py + 5], fill="black")
                draw.text((px, py + 8), f"{t:g}", fill="black", font=font(12), anchor="mt")
            else:
                (px, py), = to_px([x0], [t])
                draw.line([px - 5, py, px, py], fill="black")
                draw.line([px, py, w - right, py], fill=(230, 230, 230))
                draw.text((px - 8, py), f"{t:g}", fill="black", font=font(12), anchor="rm")
    draw.text(((left + w - right) / 2, h - 14), xlabel, fill="black", font=font(13), anchor="mm")
    label = Image.new("RGB", (h - top - bottom, 18), "white")
    ImageDraw.Draw(label).text((label.width / 2, 9), ylabel, fill="black", font=font(13), anchor="mm")
    canvas.paste(label.rotate(90, expand=True), (4, top))
    for i, (name, x, y, style, rgb) in enumerate(series):
        pts = to_px(x, y)
        if style == "line":
            draw.line(pts, fill=rgb, width=2)
        for px, py in pts:
            if style == "dots":
                draw.ellipse([px - 3.5, py - 3.5, px + 3.5, py + 3.5], fill=rgb)
            elif style == "crosses":
                draw.line([px - 4, py - 4, px + 4, py + 4], fill=rgb, width=2)
                draw.line([px - 4, py + 4, px + 4, py - 4], fill=rgb, width=2)
        ly = top + 14 + 20 * i
        lx = left + 16
        if style == "line":
            draw.line([lx, ly, lx + 22, ly], fill=rgb, width=2)
        elif style == "dots":
            draw.ellipse([lx + 7, ly - 3.5, lx + 14, ly + 3.5], fill=rgb)
        else:
            draw.line([lx + 7, ly - 4, lx + 15, ly + 4], fill=rgb, width=2)
            draw.line([lx + 7, ly + 4, lx + 15, ly - 4], fill=rgb, width=2)
        draw.text((lx + 30, ly), name, fill="black", font=font(12), anchor="lm")
    return canvas


def binned_noise(first: np.ndarray, second: np.ndarray, truth: np.ndarray, bins: int = 16
                 ) -> tuple[np.ndarray, np.ndarray]:
    """The noise variance measured from two captures: half their squared difference, binned
    by the clean signal (quantile bins of ``truth``); ``(signal, variance)``."""
    half_sq = 0.5 * (first - second) ** 2
    edges = np.unique(np.quantile(truth, np.linspace(0, 1, bins + 1)))
    index = np.clip(np.searchsorted(edges, truth, side="right") - 1, 0, len(edges) - 2)
    signal = np.array([truth[index == b].mean() for b in range(len(edges) - 1)])
    variance = np.array([half_sq[index == b].mean() for b in range(len(edges) - 1)])
    return signal, variance


def figures(data: Path, work: Path) -> None:
    from napari_blindspot.engine import load_model

    noisy = read_png(data / "raw" / f"{FIELD}_capture0.png")
    second = read_png(data / "raw" / f"{FIELD}_capture1.png")
    truth = read_png(data / "gt" / f"{FIELD}_avg50.png")
    denoised = np.asarray(tifffile.imread(work / "denoised.tif"), np.float64)
    sd = np.asarray(tifffile.imread(work / "uncertainty.tif"), np.float64)
    print(f"PSNR against the 50-capture average: noisy {psnr(noisy, truth):.2f} dB, "
          f"denoised {psnr(denoised, truth):.2f} dB")
    bright = truth > np.quantile(truth, 0.9)
    dark = truth < np.quantile(truth, 0.5)
    print(f"uncertainty (posterior std, grey levels): median {np.median(sd):.2f}; dark half "
          f"{np.median(sd[dark]):.2f}; brightest 10% {np.median(sd[bright]):.2f}")
    print(f"noise std of the raw capture (against the average): dark half "
          f"{np.std((noisy - truth)[dark]):.2f}; brightest 10% {np.std((noisy - truth)[bright]):.2f}")
    print(f"error of the result (against the average): dark half {np.std((denoised - truth)[dark]):.2f}; "
          f"brightest 10% {np.std((denoised - truth)[bright]):.2f}")

    for name, image in (("raw capture", noisy), ("denoised", denoised)):
        error = np.where(dark, image - truth, np.nan)
        with warnings.catch_warnings():  # columns without dark pixels
            warnings.simplefilter("ignore", RuntimeWarning)
            columns = np.nanmean(error, axis=0)
        independent = np.nanstd(error) / np.sqrt(np.mean(np.sum(dark, axis=0)))
        print(f"vertical stripes, {name}: the dark background's column means scatter by "
              f"{np.nanstd(columns):.2f} grey levels (independent noise: {independent:.2f})")
    error = noisy - truth
    print(f"noise correlation of neighbouring pixels: along X {np.corrcoef(error[:, 1:].ravel(), error[:, :-1].ravel())[0, 1]:.3f}, "
          f"along Y {np.corrcoef(error[1:].ravel(), error[:-1].ravel())[0, 1]:.3f}")

    lo, hi = 0.0, float(np.quantile(truth, 0.998))
    crop = [noisy[CROP], denoised[CROP], sd[CROP]]
    sd_hi = float(np.ceil(np.quantile(sd, 0.995)))
    panels = row([("noisy (one capture)", grey(crop[0], lo, hi, 2)),
                  ("denoised (HQ-SSL, 1 min)", grey(crop[1], lo, hi, 2)),
                  ("uncertainty (posterior std)", colour(crop[2], 0, sd_hi, 2))],
                 note=f"FMD Confocal_BPAE_B, field 1, a 192 x 192 crop; grey: 0 to {hi:.0f} "
                      "(same for both); colour: std in grey levels")
    bar = colour_bar(0, sd_hi, 384, "std")
    full = Image.new("RGB", (panels.width + bar.width, panels.height), "white")
    full.paste(panels, (0, 0))
    full.paste(bar, (panels.width, 26))
    full.save(IMAGES / "tutorial_panels.png", optimize=True)

    model = load_model(work / "model.safetensors", device="cpu")
    curve = model.noise_curve(0)
    signal, variance = binned_noise(noisy, second, truth)
    plot_curve([("the model's noise curve (what HQ-SSL uses)", curve["signal"], curve["variance"],
                 "line", (31, 119, 180)),
                ("measured on the noisy image (calibration)", curve["signal"], curve["measured"],
                 "dots", (31, 119, 180)),
                ("check: two captures of the same field", signal, variance, "crosses", (214, 39, 40))],
               "brightness (clean signal, grey levels)", "noise variance (grey levels squared)"
               ).save(IMAGES / "tutorial_noise_curve.png", optimize=True)
    print("noise check (signal, variance from the two captures):",
          ", ".join(f"{s:.0f}: {v:.0f}" for s, v in zip(signal, variance)))

    residual = noisy - denoised
    r = float(np.ceil(3 * np.std(residual)))
    row([("noisy", grey(noisy[ZOOM], lo, hi, 4)), ("denoised", grey(denoised[ZOOM], lo, hi, 4)),
         ("average of 50 captures", grey(truth[ZOOM], lo, hi, 4)),
         ("removed: noisy - denoised", grey(residual[ZOOM], -r, r, 4))],
        note=f"a 64 x 64 zoom; 'removed' from -{r:.0f} (black) to +{r:.0f} (white) grey levels: "
             "noise only: stronger where bright, but no shapes of its own").save(IMAGES / "tutorial_check.png", optimize=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=HERE.parent.parent / "shared" / "data" /
                        "fmd_confocal_bpae_b", help="the FMD Confocal_BPAE_B folder")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "blindspot_tutorial",
                        help="scratch folder for the TIFFs and the model")
    parser.add_argument("--minutes", type=float, default=1.0, help="training budget")
    parser.add_argument("--skip-run", action="store_true", help="reuse the results in --work")
    args = parser.parse_args(argv)
    if not args.skip_run:
        run(args.data, args.work, args.minutes)
    figures(args.data, args.work)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
