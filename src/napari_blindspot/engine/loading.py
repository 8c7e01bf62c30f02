"""Loading any model a user may give: a napari-blindspot ``.safetensors`` file or a
bioimage.io model package (``.zip``, folder or ``rdf.yaml``)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from .bioimageio import is_package_path, load_package
from .model import DenoisingModel

if TYPE_CHECKING:  # pragma: no cover
    from .bioimageio.foreign import BioimageioModel


def load_model(path: str | os.PathLike, device: str = "auto", *, trust_code: bool = False,
               describe_only: bool = False) -> "DenoisingModel | BioimageioModel":
    """Load a model onto ``device``: a ``.safetensors`` file written by
    :meth:`DenoisingModel.save`, or a bioimage.io package (needs the ``bioimageio`` extra; one
    exported by napari-blindspot comes back as a :class:`DenoisingModel`, others as a
    :class:`~.bioimageio.foreign.BioimageioModel`).

    No model file runs code or fetches anything: a package from another tool whose weights
    need its Python code is refused (:class:`~.bioimageio.trust.CodeRefused`) unless
    ``trust_code``; ``describe_only`` loads it to describe it (it refuses to run).  See
    :mod:`.bioimageio.trust`."""
    if is_package_path(path):
        return load_package(path, device=device, trust_code=trust_code, describe_only=describe_only)
    return DenoisingModel.load(os.fspath(path), device=device)
