"""Load a bioimage.io model package for prediction.

A package written by napari-blindspot (its ``config`` has a ``napari_blindspot`` section)
becomes the :class:`~..model.DenoisingModel` it was exported from: the same configuration,
normalisation and weights, so prediction, tiling, uncertainty and ``info`` behave exactly
as with the ``.safetensors`` file.  Any other model package with one image input and output
(e.g. a CAREamics Noise2Void export) becomes a :class:`~.foreign.BioimageioModel`, run by
``bioimageio.core`` with the package's own pre- and postprocessing.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import BlindspotError, ModelFileError
from .requirements import require
from .trust import CodeRefused, check_package, inspect_package

if TYPE_CHECKING:  # pragma: no cover
    from ..model import DenoisingModel
    from .foreign import BioimageioModel


def read_description(source: str | Path) -> Any:
    """The validated bioimage.io model description at ``source`` (zip, folder or rdf.yaml)."""
    require("bioimageio.spec")
    from bioimageio.spec import InvalidDescr, load_description

    path = Path(source)
    if not path.exists():
        raise ModelFileError(f"Model package {str(path)!r} does not exist.")
    if path.is_dir():
        candidates = [path / n for n in ("rdf.yaml", "bioimageio.yaml") if (path / n).is_file()]
        candidates += sorted(path.glob("*.bioimageio.yaml"))
        if not candidates:
            raise ModelFileError(f"The folder {str(path)!r} holds no bioimage.io description "
                                 "(rdf.yaml or *.bioimageio.yaml); choose a model package.")
        path = candidates[0]
    try:
        descr = load_description(path, perform_io_checks=False)
    except Exception as exc:  # zip, YAML and pydantic errors
        raise ModelFileError(f"{str(source)!r} is not a readable bioimage.io package: {exc}") from exc
    if isinstance(descr, InvalidDescr):
        errors = "; ".join(f"{'.'.join(map(str, e.loc))}: {e.msg}" for e in descr.validation_summary.errors[:3])
        raise ModelFileError(f"{str(source)!r} is not a valid bioimage.io model package ({errors}).")
    if getattr(descr, "type", None) != "model":
        raise ModelFileError(f"{str(source)!r} describes a bioimage.io {descr.type}, not a model.")
    return descr


def blindspot_section(descr: Any) -> dict[str, Any] | None:
    """The ``napari_blindspot`` config section of a package napari-blindspot wrote, else None."""
    from .export import FORMAT

    config = getattr(descr, "config", None)
    extra = getattr(config, "model_extra", None) or {}
    section = extra.get("napari_blindspot")
    if isinstance(section, dict) and section.get("format") == FORMAT:
        return section
    return None


def _own_model(descr: Any, section: dict[str, Any], source: str | Path, device: str) -> "DenoisingModel":
    import torch

    from ..config import TrainConfig, network_channels
    from ..system.device import select_device
    from ..methods import get_method
    from ..model import DenoisingModel
    from ..normalization import Normalization
    from .export import FORMAT_VERSION

    if int(section.get("format_version", -1)) != FORMAT_VERSION:
        raise ModelFileError(
            f"{str(source)!r} was exported by napari-blindspot {section.get('package_version', '?')} "
            f"in package format {section.get('format_version')!r}; this version reads "
            f"{FORMAT_VERSION}. Use that napari-blindspot version.")
    try:
        config = TrainConfig.from_dict(dict(section["config"]))
        normalization = Normalization.from_dict(dict(section["normalization"]))
        channels = int(section["channels"])
        info = dict(section.get("info") or {})
    except (KeyError, TypeError, ValueError, BlindspotError) as exc:
        raise ModelFileError(f"The napari-blindspot section of {str(source)!r} is damaged: {exc}") from exc
    weights = descr.weights.pytorch_state_dict
    if weights is None:
        raise ModelFileError(f"{str(source)!r} has no pytorch_state_dict weights.")
    try:
        data = weights.get_reader().read()
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ModelFileError(f"The weights in {str(source)!r} cannot be read: {exc}") from exc
    net_state = {k[len("net."):]: v for k, v in state.items() if k.startswith("net.")}
    method = get_method(config)
    net_channels = network_channels(config.channels, channels)
    net = method.build(config, net_channels, 3 if config.train_3d else 2, normalization)
    try:
        net.load_state_dict(net_state, strict=True)
    except RuntimeError as exc:
        raise ModelFileError(f"The weights in {str(source)!r} do not fit the network its description "
                             f"names (damaged or edited package): {exc}") from exc
    net.to(select_device(device))
    info.setdefault("source", f"bioimage.io package {os.fspath(source)}")
    return DenoisingModel(config=config, net=net, normalization=normalization, channels=channels,
                          info=info)


def load_package(source: str | Path, device: str = "auto", *, trust_code: bool = False,
                 describe_only: bool = False) -> "DenoisingModel | BioimageioModel":
    """Load the bioimage.io model package ``source`` (``.zip``, folder or ``rdf.yaml``).

    Returns a :class:`~..model.DenoisingModel` for packages napari-blindspot exported,
    else a :class:`~.foreign.BioimageioModel` (needs ``bioimageio.core``).
    Raises :class:`~..errors.ModelFileError` for unreadable or unsupported packages, and
    first, before anything reads the package, :class:`~.trust.PackageRefused` for one that
    names files on the internet or outside itself and :class:`~.trust.CodeRefused` for one
    that would run its code (unless ``trust_code``; ``describe_only``: loaded to be
    described, refused when run).  See :mod:`.trust`.
    """
    require("bioimageio.spec")
    if not Path(source).exists():
        raise ModelFileError(f"Model package {str(source)!r} does not exist.")
    report = inspect_package(source)
    refusal = None
    try:
        weights_format = check_package(report, trust_code)
    except CodeRefused as exc:
        if not describe_only:
            raise
        weights_format, refusal = None, str(exc)
    descr = read_description(source)
    section = blindspot_section(descr)
    if section is not None:
        return _own_model(descr, section, source, device)
    from .foreign import BioimageioModel

    return BioimageioModel(descr, source=os.fspath(source), device=device,
                           weights_format=weights_format, refusal=refusal)


__all__ = ["blindspot_section", "load_package", "read_description"]
