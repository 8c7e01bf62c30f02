"""bioimage.io (BioImage Model Zoo) packages: export a trained model, load one for prediction.

* :func:`export_package` writes a model as a bioimage.io 0.5 model package (a ``.zip``):
  ``pytorch_state_dict`` weights whose architecture is
  :class:`~.network.BlindspotNetwork` (the method's whole inference, HQ-SSL's posterior
  mean included), TorchScript weights where the traced network reproduces it, the
  per-channel normalisation as pre- and postprocessing, a test input and output, a cover,
  a README and the method's citation.
* :func:`load_package` reads a package: one exported by napari-blindspot becomes a
  :class:`~..model.DenoisingModel` (the same as loading its ``.safetensors`` file); any
  other model package (e.g. a CAREamics Noise2Void model) becomes a
  :class:`~.foreign.BioimageioModel`, which runs it through ``bioimageio.core``.

``bioimageio.spec`` and ``bioimageio.core`` are optional (``pip install
"napari-blindspot[bioimageio]"``); importing this package works without them, and each
function that needs them raises one :class:`~..errors.BlindspotError` naming the install.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import BlindspotError

if TYPE_CHECKING:  # pragma: no cover
    from .export import ExportResult
    from .foreign import BioimageioModel
    from ..model import DenoisingModel

from .requirements import INSTALL_HINT, is_package_path, require

def export_package(model: "DenoisingModel", output: str | Path, **kwargs: Any) -> "ExportResult":
    """Write ``model`` as a bioimage.io model package; see :func:`.export.export_package`."""
    from .export import export_package as _export

    return _export(model, output, **kwargs)


def load_package(source: str | Path, device: str = "auto", *, trust_code: bool = False,
                 describe_only: bool = False) -> "DenoisingModel | BioimageioModel":
    """Load a bioimage.io model package for prediction; see :func:`.load.load_package`."""
    from .load import load_package as _load

    return _load(source, device=device, trust_code=trust_code, describe_only=describe_only)


__all__ = ["INSTALL_HINT", "export_package", "is_package_path", "load_package", "require"]
