"""Model files: one ``.safetensors`` file holding weights and JSON metadata.

The weights are plain tensors (safetensors never executes code on load); the
metadata holds a format tag and version, the package version, the full training
configuration, the normalisation statistics and training information (learned
noise parameters, steps, losses).  Anything else is rejected with a
:class:`~.errors.ModelFileError` that says what is wrong.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any, NamedTuple

from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from .. import __version__
from .config import TrainConfig
from .device import select_device
from .errors import BlindspotError, ModelFileError
from .methods.registry import get_method, method_names
from .normalization import Normalization

if TYPE_CHECKING:  # pragma: no cover
    from .bioimageio.foreign import BioimageioModel
    from .model import DenoisingModel

FORMAT = "napari-blindspot-model"
FORMAT_VERSION = 1


def _package_version() -> str:
    return __version__


class StoredModel(NamedTuple):
    """What a model file holds, with the network built and its weights loaded."""

    config: TrainConfig
    net: nn.Module
    normalization: Normalization
    channels: int
    info: dict[str, Any]


def save_model(model: "DenoisingModel", path: str | os.PathLike) -> None:
    """Write ``model`` to ``path`` (conventionally ``*.safetensors``)."""
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.net.state_dict().items()}
    metadata = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "package_version": _package_version(),
        "config": model.config.to_json(),
        "normalization": json.dumps(model.normalization.to_dict()),
        "channels": str(model.channels),
        "info": json.dumps(model.info, default=float),
    }
    tmp = f"{os.fspath(path)}.partial"
    save_file(tensors, tmp, metadata=metadata)
    os.replace(tmp, path)


def read_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The metadata of a model file, validated; raises :class:`ModelFileError`."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ModelFileError(f"Model file {path!r} does not exist.")
    try:
        with safe_open(path, framework="pt") as f:
            meta = f.metadata() or {}
    except Exception as exc:  # safetensors raises several types for garbage
        raise ModelFileError(f"{path!r} is not a napari-blindspot model file (or it is damaged): "
                             f"{exc}. Choose a .safetensors file saved by napari-blindspot.") from exc
    if meta.get("format") != FORMAT:
        raise ModelFileError(f"{path!r} is a safetensors file but not a napari-blindspot model; "
                             "choose a model saved by napari-blindspot.")
    try:
        version = int(meta.get("format_version", "0"))
    except ValueError:
        version = -1
    if version != FORMAT_VERSION:
        raise ModelFileError(
            f"{path!r} has model format version {meta.get('format_version')!r}, but this "
            f"napari-blindspot ({_package_version()}) reads version {FORMAT_VERSION}; it was written "
            f"by napari-blindspot {meta.get('package_version', '?')}. Use that version or retrain.")
    return meta


def load_network(path: str | os.PathLike, device: str = "auto") -> StoredModel:
    """Read a model written by :func:`save_model`, its network on ``device``
    (:func:`.model.load_model` makes a :class:`~.model.DenoisingModel` of it)."""
    meta = read_metadata(path)
    try:
        method_name = json.loads(meta["config"]).get("method")
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise ModelFileError(f"The metadata of {os.fspath(path)!r} is damaged: {exc}") from exc
    if method_name not in method_names():
        raise ModelFileError(
            f"{os.fspath(path)!r} holds a model of the method {method_name!r}, which this napari-blindspot "
            f"({_package_version()}) does not know (it knows {', '.join(method_names())}); it was "
            f"written by napari-blindspot {meta.get('package_version', '?')}: use that version.")
    try:
        config = TrainConfig.from_json(meta["config"])
        normalization = Normalization.from_dict(json.loads(meta["normalization"]))
        channels = int(meta["channels"])
        info = json.loads(meta.get("info", "{}"))
    except (KeyError, ValueError, TypeError, BlindspotError) as exc:
        raise ModelFileError(f"The metadata of {os.fspath(path)!r} is damaged: {exc}") from exc
    try:
        tensors = load_file(os.fspath(path))
    except Exception as exc:
        raise ModelFileError(f"The weights in {os.fspath(path)!r} cannot be read (damaged file?): {exc}") from exc
    method = get_method(config)
    net_channels = 1 if config.channels == "independent" else channels
    net = method.build(config, net_channels, 3 if config.train_3d else 2, normalization)
    try:
        net.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:
        raise ModelFileError(f"The weights in {os.fspath(path)!r} do not fit the network described in "
                             f"its configuration (damaged or edited file): {exc}") from exc
    net.to(select_device(device))  # DenoisingModel puts it in its fastest memory format
    return StoredModel(config, net, normalization, channels, info)


__all__ = ["StoredModel", "load_network", "read_metadata", "save_model"]
