"""Loading any model a user may give: a napari-blindspot ``.safetensors`` file or a
bioimage.io model package (``.zip``, folder or ``rdf.yaml``)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from .bioimageio import is_package_path, load_package
from .model import DenoisingModel

if TYPE_CHECKING:  # pragma: no cover
    from .bioimageio.foreign import BioimageioModel


def load_model(path: str | os.PathLike, device: str = "auto") -> "DenoisingModel | BioimageioModel":
    """Load a model onto ``device``: a ``.safetensors`` file written by
    :meth:`DenoisingModel.save`, or a bioimage.io package (needs the ``bioimageio`` extra; one
    exported by napari-blindspot comes back as a :class:`DenoisingModel`, others as a
    :class:`~.bioimageio.foreign.BioimageioModel`)."""
    if is_package_path(path):
        return load_package(path, device=device)
    return DenoisingModel.load(os.fspath(path), device=device)
