"""Model files: one ``.safetensors`` file holding weights and JSON metadata.

The weights are plain tensors (safetensors never executes code on load); the
metadata holds a format tag and version, the package version, the full training
configuration, the normalisation statistics and training information (learned
noise parameters, steps, losses).  Anything else is rejected with a
:class:`~.errors.ModelFileError` that says what is wrong.
"""

from __future__ import annotations

import json
import math
import os
from typing import TYPE_CHECKING, Any, NamedTuple

from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from .. import __version__
from .atomic import atomic_path
from .config import TrainConfig, network_channels
from .system.device import select_device
from .errors import BlindspotError, ModelFileError
from .methods.registry import get_method, method_names
from .normalization import Normalization

if TYPE_CHECKING:  # pragma: no cover
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
    with atomic_path(path) as tmp:  # the previous file stays whole until this one is
        try:
            save_file(tensors, tmp, metadata=metadata)
        except OSError:
            raise
        except Exception as exc:  # safetensors reports failed writes as its own error type
            raise OSError(getattr(exc, "errno", None) or _errno_in(str(exc)), str(exc)) from exc


def _errno_in(text: str) -> int:
    """The errno a writer's message names (``No space left on device``...), else EIO."""
    import errno

    for code in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EFBIG, errno.ENOENT):
        if os.strerror(code).lower() in text.lower():
            return code
    return errno.EIO


def damaged(path: str | os.PathLike, why: str) -> ModelFileError:
    """The one message for a model file whose content cannot be trusted."""
    return ModelFileError(f"The model file {os.fspath(path)!r} is damaged ({why}): save or copy "
                          "it again, or retrain.")


def check_normalization(normalization: Normalization, path: str | os.PathLike) -> None:
    """Refuse statistics no trained model can have: non-finite, or a std that is not > 0."""
    values = list(normalization.mean) + list(normalization.std)
    if not normalization.mean or len(normalization.mean) != len(normalization.std):
        raise damaged(path, "its normalisation statistics are missing or mismatched")
    if not all(math.isfinite(v) for v in values):
        raise damaged(path, f"its normalisation statistics are not finite: mean "
                      f"{list(normalization.mean)}, std {list(normalization.std)}")
    if not all(v > 0 for v in normalization.std):
        raise damaged(path, f"its normalisation std {list(normalization.std)} is not positive")


def check_weights(tensors: dict, path: str | os.PathLike) -> None:
    """Refuse weights holding NaN or infinite values."""
    import torch

    for name, tensor in tensors.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise damaged(path, f"its weights {name!r} hold NaN or infinite values")


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
        raise damaged(path, f"its metadata cannot be read: {exc}") from exc
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
        raise damaged(path, f"its metadata cannot be read: {exc}") from exc
    check_normalization(normalization, path)
    try:
        tensors = load_file(os.fspath(path))
    except Exception as exc:
        raise damaged(path, f"its weights cannot be read: {exc}") from exc
    check_weights(tensors, path)
    method = get_method(config)
    net_channels = network_channels(config.channels, channels)
    net = method.build(config, net_channels, 3 if config.train_3d else 2, normalization)
    try:
        net.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:
        detail = [line.strip() for line in str(exc).splitlines() if line.strip()]
        raise damaged(path, "its weights do not fit the network its configuration describes: "
                      + (detail[1] if len(detail) > 1 else detail[0] if detail else "")) from exc
    net.to(select_device(device))  # DenoisingModel puts it in its fastest memory format
    return StoredModel(config, net, normalization, channels, info)


__all__ = ["StoredModel", "load_network", "read_metadata", "save_model"]
