"""What bioimage.io support needs, checked without importing it; and what a package path is."""

from __future__ import annotations

from pathlib import Path

from ..errors import BlindspotError

INSTALL_HINT = 'pip install "napari-blindspot[bioimageio]"'


def require(*modules: str) -> None:
    """Raise :class:`BlindspotError` unless every module (``bioimageio.spec``, ...) imports."""
    import importlib

    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise BlindspotError(f"bioimage.io packages need the optional package {name!r}, which "
                                 f"is not installed ({exc}); install it with: {INSTALL_HINT}") from exc


def is_package_path(path: str | Path) -> bool:
    """Whether ``path`` names a bioimage.io package: a ``.zip``, a folder or its ``rdf.yaml``."""
    p = Path(path)
    return p.suffix.lower() in (".zip", ".yaml", ".yml") or p.is_dir()
