"""What a package tells people: citations, tags, its README and its cover image."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..config import TrainConfig
from ..methods.registry import get_method, method_class

#: napari-blindspot's source repository (also in pyproject.toml's [project.urls]).
PROJECT_URL = "https://github.com/napari-blindspot/napari-blindspot"

def citations(config: TrainConfig) -> list[tuple[str, str]]:
    """The method's papers, ``(reference, url)`` (arXiv pages: stable, open access)."""
    return list(method_class(config.method).citations)


def method_title(config: TrainConfig) -> str:
    """The method's name in a package's title and description."""
    return method_class(config.method).title()


def tags(config: TrainConfig) -> list[str]:
    return ["denoising", "self-supervised", method_title(config).lower(), "napari-blindspot",
            "3d" if config.train_3d else "2d", "pytorch", "fluorescence-light-microscopy"]


def describe(config: TrainConfig, channels: int, version: str) -> str:
    """The package's one-paragraph description."""
    what = get_method(config).network_summary()
    return (f"Self-supervised {method_title(config)} denoising model for "
            f"{'3D' if config.train_3d else '2D'} {channels}-channel microscopy images, trained "
            f"with napari-blindspot {version} on {config.axes} data. The network {what}.")


def readme(config: TrainConfig, channels: int, version: str, origin: str,
           noise: dict[str, float], info: dict, torchscript_note: str) -> str:
    """The package's README (Markdown)."""
    outputs = ("`denoised` (same units as the input) and `uncertainty` (posterior standard "
               "deviation, same units)") if get_method(config).has_uncertainty \
        else "`denoised` (same units as the input)"
    noise_line = ", ".join(f"{k} = {v:.6g}" for k, v in noise.items())
    lines = [
        f"# {method_title(config)} denoising model (napari-blindspot {version})",
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
    lines += [f"- {text} {url}" for text, url in citations(config)]
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


__all__ = ["PROJECT_URL", "citations", "describe", "method_title", "readme", "tags", "write_cover"]
