"""What a package tells people: citations, tags, its README and its cover image."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..config import TrainConfig

#: napari-blindspot's source repository (also in pyproject.toml's [project.urls]).
PROJECT_URL = "https://github.com/napari-blindspot/napari-blindspot"

#: The method papers (arXiv pages: stable, open access).
CITATIONS: dict[str, list[tuple[str, str]]] = {
    "n2v": [("Krull, A., Buchholz, T.-O., Jug, F. Noise2Void - Learning Denoising from Single "
             "Noisy Images. CVPR 2019.", "https://arxiv.org/abs/1811.10980")],
    "n2v2": [("Hoeck, E., Buchholz, T.-O., Brachmann, A., Jug, F., Freytag, A. N2V2 - Fixing "
              "Noise2Void Checkerboard Artifacts with Modified Sampling Strategies and a Tweaked "
              "Network Architecture. ECCV 2022 Workshops.", "https://arxiv.org/abs/2211.08512"),
             ("Krull, A., Buchholz, T.-O., Jug, F. Noise2Void - Learning Denoising from Single "
              "Noisy Images. CVPR 2019.", "https://arxiv.org/abs/1811.10980")],
    "hqssl": [("Laine, S., Karras, T., Lehtinen, J., Aila, T. High-Quality Self-Supervised Deep "
               "Image Denoising. NeurIPS 2019.", "https://arxiv.org/abs/1901.10277")],
    "n2n": [("Lehtinen, J., Munkberg, J., Hasselgren, J., Laine, S., Karras, T., Aittala, M., "
             "Aila, T. Noise2Noise: Learning Image Restoration without Clean Data. ICML 2018.",
             "https://arxiv.org/abs/1803.04189")],
}

METHOD_NAMES = {"n2v": "Noise2Void", "n2v2": "N2V2", "hqssl": "HQ-SSL", "n2n": "Noise2Noise"}


def tags(config: TrainConfig) -> list[str]:
    return ["denoising", "self-supervised", METHOD_NAMES[config.method].lower(), "napari-blindspot",
            "3d" if config.train_3d else "2d", "pytorch", "fluorescence-light-microscopy"]


def describe(config: TrainConfig, channels: int, version: str) -> str:
    """The package's one-paragraph description."""
    what = {"hqssl": "outputs the Bayesian posterior mean of the clean image given a blind-spot "
                     "prior network and the noise model of the training data, and the "
                     "posterior standard deviation as a second output ('uncertainty')",
            "n2v": "is a blind-spot U-Net trained with masked pixels",
            "n2v2": "is a blind-spot U-Net (BlurPool, no top skip) trained with masked pixels",
            "n2n": "maps one noisy acquisition to a second independent one"}[config.method]
    if config.method == "hqssl" and config.noise_model == "mean-only":
        what = "outputs the blind-spot network's prior mean (mean-only ablation, no noise model)"
    return (f"Self-supervised {METHOD_NAMES[config.method]} denoising model for "
            f"{'3D' if config.train_3d else '2D'} {channels}-channel microscopy images, trained "
            f"with napari-blindspot {version} on {config.axes} data. The network {what}.")


def readme(config: TrainConfig, channels: int, version: str, origin: str,
           noise: dict[str, float], info: dict, torchscript_note: str) -> str:
    """The package's README (Markdown)."""
    outputs = ("`denoised` (same units as the input) and `uncertainty` (posterior standard "
               "deviation, same units)") if config.method == "hqssl" and config.noise_model != "mean-only" \
        else "`denoised` (same units as the input)"
    noise_line = ", ".join(f"{k} = {v:.6g}" for k, v in noise.items())
    lines = [
        f"# {METHOD_NAMES[config.method]} denoising model (napari-blindspot {version})",
        "",
        describe(config, channels, version),
        "",
        "## Inputs and outputs",
        f"- input `input`: float32, axes batch, channel ({channels}), "
        + ("z, " if config.train_3d else "") + "y, x, in the intensity units of the training data.",
        f"- outputs: {outputs}.",
        "- preprocessing: per-channel `(x - mean) / std` with the training data's statistics; "
        "postprocessing maps back to intensity units (`x * std + mean`).",
        "- the network needs spatial sizes that are multiples of its size step (consumers pad); "
        "y and x declare a halo of the network's receptive radius for tiled prediction.",
        "",
        "## Training",
        f"- method `{config.method}`, axes `{config.axes}`, "
        f"{'3D' if config.train_3d else '2D'} patches of {config.patch_size} pixels, "
        f"channels `{config.channels}`, {info.get('steps', '?')} steps, seed {config.seed}.",
    ]
    if noise_line:
        lines.append(f"- noise model `{config.noise_model}`: {noise_line} (intensity units).")
    lines += [
        "",
        "## Test data",
        f"The test input is {origin}; the test output is napari-blindspot's own prediction "
        "(`DenoisingModel.predict`, float32) on it.",
        "",
        "## Validation",
        "When it was exported, bioimageio.core's model test ran the package (every weights format) "
        "on the test input and reproduced the test output within the tolerance in the description. "
        "Self-supervised denoising has no clean reference for the user's data, so the package "
        "carries no accuracy figure; napari-blindspot's benchmarks compare the methods on data "
        "with ground truth. Consumers that pad a whole image by the halo (bioimageio.core) may "
        "differ from napari-blindspot within the halo of the image border.",
        "",
        "## Weights",
        "- `pytorch_state_dict`: architecture `BlindspotNetwork` from "
        "`napari_blindspot.engine.bioimageio.network` (install `napari-blindspot`).",
        f"- `torchscript`: {torchscript_note}",
        "",
        "## Use",
        "- napari-blindspot: `blindspot denoise image.tif --model this-package.zip -o denoised.tif`.",
        "- bioimageio.core: `bioimageio predict this-package.zip --inputs image.npy`.",
        "",
        "## Limitations",
        "Blind-spot methods assume noise that is independent from pixel to pixel; structured noise "
        "(stripes, correlated camera noise) is partly kept. Apply the model to data like its "
        "training data (same microscope, noise level and intensity range).",
        "",
        "## Cite",
    ]
    lines += [f"- {text} {url}" for text, url in CITATIONS[config.method]]
    return "\n".join(lines) + "\n"


def _to_uint8(image: np.ndarray, low: float, high: float) -> np.ndarray:
    scale = 255.0 / max(high - low, 1e-12)
    return np.clip((np.asarray(image, np.float64) - low) * scale, 0, 255).astype(np.uint8)


def write_cover(path: Path, noisy: np.ndarray, denoised: np.ndarray) -> None:
    """A 2:1 PNG: the test input's first channel (left) and its denoised version (right),
    both at the denoised image's 0.5-99.5 percentile window; 3D: the middle Z slice."""
    import imageio.v3 as iio

    def plane(a: np.ndarray) -> np.ndarray:
        a = a[0, 0]
        return a[a.shape[0] // 2] if a.ndim == 3 else a

    left, right = plane(noisy), plane(denoised)
    side = min(left.shape)
    left, right = left[:side, :side], right[:side, :side]
    low, high = np.percentile(right, (0.5, 99.5))
    cover = np.concatenate([_to_uint8(left, low, high), _to_uint8(right, low, high)], axis=1)
    iio.imwrite(path, cover)


__all__ = ["CITATIONS", "PROJECT_URL", "METHOD_NAMES", "describe", "readme", "tags", "write_cover"]
