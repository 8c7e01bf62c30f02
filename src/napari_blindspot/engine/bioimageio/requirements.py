"""What bioimage.io support needs, checked without running it; and what a package path is.

The versions that work are declared once, in ``pyproject.toml``'s ``bioimageio`` extra (with
the reason for each bound); :func:`stack_problems` reads them back from the installed
distribution's metadata, so a user who upgraded a library past a known break (e.g.
``pydantic`` 2.14 under ``bioimageio.spec`` 0.5.12) is told which package and version is the
problem and what to install, before any work, instead of a traceback from deep inside it.
"""

from __future__ import annotations

import importlib
from importlib import metadata
from pathlib import Path

from ..errors import BlindspotError

INSTALL_HINT = 'pip install "napari-blindspot[bioimageio]"'
DISTRIBUTION = "napari-blindspot"
#: The libraries behind bioimage.io support whose versions the messages name.
STACK = ("bioimageio.spec", "bioimageio.core", "pydantic")


class StackError(BlindspotError):
    """The installed bioimage.io libraries cannot do the job (missing, or a known-bad version)."""


def installed_version(name: str) -> str | None:
    """The installed version of the distribution ``name``, or None when it is not installed."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def declared_requirements(extra: str = "bioimageio") -> dict[str, str]:
    """``{distribution: specifier}`` that napari-blindspot's ``extra`` asks for (``""``: the
    dependencies of every install), from the installed metadata; empty when napari-blindspot
    runs from a source tree that is not installed."""
    from packaging.requirements import Requirement

    try:
        lines = metadata.requires(DISTRIBUTION) or []
    except metadata.PackageNotFoundError:
        return {}
    out: dict[str, str] = {}
    for line in lines:
        req = Requirement(line)
        if extra:
            wanted = req.marker is not None and req.marker.evaluate({"extra": extra}) \
                and not req.marker.evaluate({"extra": ""})
        else:  # the dependencies every install has
            wanted = req.marker is None or req.marker.evaluate({"extra": ""})
        if wanted:
            out[req.name] = str(req.specifier)
    return out


def excluded_versions(extra: str = "bioimageio") -> list[tuple[str, str, str]]:
    """``(name, installed version, specifier)`` of each installed library whose version
    ``extra``'s bounds exclude; missing ones are left to :func:`require` (they fail to import)."""
    from packaging.specifiers import SpecifierSet

    out = []
    for name, spec in declared_requirements(extra).items():
        version = installed_version(name)
        if version is not None and spec and not SpecifierSet(spec).contains(version, prereleases=True):
            out.append((name, version, spec))
    return out


def stack_problems(extra: str = "bioimageio") -> list[str]:
    """:func:`excluded_versions` as phrases, e.g.
    ``"pydantic 2.14.4 (napari-blindspot needs >=2.7,<2.14)"``."""
    return [f"{n} {v} (napari-blindspot needs {s})" for n, v, s in excluded_versions(extra)]


def fix_command(extra: str = "bioimageio") -> str:
    """The pip command that installs versions within ``extra``'s bounds."""
    pins = [f'"{name}{spec}"' for name, _, spec in excluded_versions(extra)]
    return "pip install " + " ".join(pins) if pins else INSTALL_HINT


def stack_versions() -> str:
    """The installed versions of :data:`STACK`, e.g. ``"bioimageio.spec 0.5.12.0, ..."``."""
    return ", ".join(f"{name} {installed_version(name) or 'not installed'}" for name in STACK)


def require(*modules: str) -> None:
    """Raise :class:`StackError` unless every module (``bioimageio.spec``, ...) imports and
    the installed bioimage.io libraries are within the versions the extra declares."""
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise StackError(f"bioimage.io packages need the optional package {name!r}, which "
                             f"is not installed ({exc}); install it with: {INSTALL_HINT}") from exc
        except Exception as exc:  # noqa: BLE001 - a library that breaks on import
            raise StackError(f"The installed {name} cannot be imported ({type(exc).__name__}: "
                             f"{exc}; installed: {stack_versions()}); reinstall the tested versions "
                             f"with: {INSTALL_HINT}") from exc
    problems = stack_problems()
    if problems:
        raise StackError(f"bioimage.io support is off: the installed {'; '.join(problems)} is known "
                         f"not to work with it; install a working version with: {fix_command()}")


def library_failure(exc: BaseException, doing: str) -> StackError:
    """``exc``, raised inside the bioimage.io libraries while ``doing``, as one line that
    names the installed versions and the fix (the model itself is not the problem)."""
    first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
    return StackError(f"The bioimage.io libraries failed while {doing} ({type(exc).__name__}: {first}); "
                      f"installed: {stack_versions()}. This is a problem of that software, not of "
                      f"your model: install the tested versions with {INSTALL_HINT} --upgrade, "
                      "or run `blindspot doctor` to see which one is off.")


def is_package_path(path: str | Path) -> bool:
    """Whether ``path`` names a bioimage.io package: a ``.zip``, a folder or its ``rdf.yaml``."""
    p = Path(path)
    return p.suffix.lower() in (".zip", ".yaml", ".yml") or p.is_dir()
