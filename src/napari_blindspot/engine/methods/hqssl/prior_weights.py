"""A warm start for HQ-SSL: blind-spot weights trained ahead of time, fine-tuned on the image.

One training from scratch on a single image spends its first minute learning what any
image looks like (edges, blobs, lines, textures, a dark background).  The shipped prior
(``prior_2d.pt`` beside this module) has learned that already: the CPU's one-shot network
(16 features, depth 3, one channel, 2D), first trained by ``python -m benchmarks.warm_start
train`` on synthetic filaments, membranes and textured blobs with the Poisson-Gaussian noise
measured on FMD confocal data, then by ``python -m benchmarks.prior_training`` on a broader
synthetic set (those kinds at several camera gains, and dead-leaves images with edges, shading,
gratings and textures under Gaussian or Poisson-Gaussian noise), each image with the noise
model that made it.
The images are generated from seeds by the benchmarks, so the weights carry this project's
licence.  Only the blind-spot network's weights start from the prior; the noise model is
measured on the user's image as always, and every weight is trained on it.

The prior fits a network of the same size and dimensionality with one input channel (a
single-channel image, or each network of ``channels="separate"``); other networks start from
random weights, as they always did.
"""

from __future__ import annotations

import logging
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

log = logging.getLogger(__name__)

PRIOR_FILE = Path(__file__).with_name("prior_2d.pt")
#: The network the prior was trained for (the CPU's HQ-SSL defaults).
PRIOR_SHAPE = {"features": 16, "depth": 3, "ndim": 2}


def blindspot_networks(net: nn.Module) -> list[nn.Module]:
    """The single-input-channel blind-spot U-Nets inside an HQ-SSL network (one, or one per
    channel for separate channel networks); empty when the input has several channels."""
    from .blindspot import BlindSpotUNet

    inner = getattr(net, "net", net)
    found = [m for m in inner.modules() if isinstance(m, BlindSpotUNet)]
    return [m for m in found if m.enc0.conv.in_channels == 1]


def _fits(unet: nn.Module, shape: dict[str, int]) -> bool:
    return (unet.depth == shape["depth"] and unet.ndim == shape["ndim"]
            and unet.enc0.conv.out_channels == shape["features"])


def load_prior(net: nn.Module, path: Path | None = None) -> int:
    """Copy the prior's weights (``path``, by default :data:`PRIOR_FILE`) into every fitting
    blind-spot network of ``net``; returns how many networks started from it (0: none fits, or
    the file is missing or unreadable, logged)."""
    targets = blindspot_networks(net)
    if not targets:
        return 0
    path = PRIOR_FILE if path is None else path
    try:
        stored = torch.load(path, map_location="cpu", weights_only=True)
        shape = {k: int(stored[k]) for k in PRIOR_SHAPE}
    except (OSError, RuntimeError, ValueError, EOFError, KeyError, TypeError,
            pickle.UnpicklingError) as exc:  # a damaged install trains from random weights
        log.warning("no warm start: the prior %s could not be read (%s)", path,
                    str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        return 0
    done = 0
    for unet in targets:
        if not _fits(unet, shape):
            continue
        try:
            unet.load_state_dict(stored["state_dict"])
        except RuntimeError as exc:  # out channels differ (e.g. the mean-only ablation)
            log.info("no warm start for this network: %s", exc)
            continue
        done += 1
    return done


def save_prior(model: Any, steps: int, path: Path = PRIOR_FILE) -> None:
    """Write the blind-spot weights of a trained single-channel HQ-SSL ``model`` as the prior
    (atomically: a temporary file renamed over ``path``)."""
    unets = blindspot_networks(model.net)
    if len(unets) != 1:
        raise ValueError("the prior is the network of a single-channel 2D HQ-SSL model")
    unet = unets[0]
    payload = {"state_dict": {k: v.detach().float().contiguous().cpu() for k, v in unet.state_dict().items()},
               "features": unet.enc0.conv.out_channels, "depth": unet.depth, "ndim": unet.ndim,
               "steps": int(steps)}
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    try:
        torch.save(payload, tmp)
        os.chmod(tmp, 0o644)  # package data: readable by every user (mkstemp made it 0600)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


__all__ = ["PRIOR_FILE", "PRIOR_SHAPE", "blindspot_networks", "load_prior", "save_prior"]
