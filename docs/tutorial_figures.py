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
from pathlib import Path

import numpy as np
import tifffile
from PIL import Image, ImageDraw, ImageFont

HERE = Path(__file__).resolve().parent
IMAGES = HERE / "images"
FIELD = "fov01"
CROP = (slice(150, 342), slice(200, 392))  # 192 x 192 pixels of the 512 x 512 field
ZOOM = (slice(200, 264), slice(250, 314))  # 64 x 64 pixels, inside CROP
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
