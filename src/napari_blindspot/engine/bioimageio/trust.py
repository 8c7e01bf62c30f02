"""What a bioimage.io package asks for, read from its ``rdf.yaml`` before anything uses it.

A package is a description plus files.  Before ``bioimageio.spec`` or ``bioimageio.core``
sees it, :func:`inspect_package` reads the description as plain YAML and finds:

* every file it names (weights, architecture source, test and sample tensors, covers,
  documentation, attachments, environment files, icons): one that is a URL would be
  downloaded, one with an absolute path or ``..`` (or, in a folder, a link leading out)
  would be read from outside the package.  Both are refused (:class:`PackageRefused`):
  napari-blindspot fetches nothing and reads nothing the package does not hold;
* whether running it executes code: ``pytorch_state_dict`` weights build their network by
  calling a Python callable the package names (a source file in it, or any importable
  module, with arguments of its choosing); Keras and TensorFlow weights can hold code too.
  TorchScript and ONNX weights are run without Python code from the package.  A package
  whose weights all need code runs only when the user trusts it (``--trust-code``, or the
  widget's confirmation); otherwise its code-free weights are used, or it is refused
  (:class:`CodeRefused`) with the reason and the way to allow it.

Packages napari-blindspot exported are recognised by their ``config.napari_blindspot``
section and loaded by napari-blindspot itself (its own network, weights read as tensors
only), so they run no code from the package.
"""

from __future__ import annotations

import os
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import ModelFileError

#: Description file names, in the order bioimageio.spec looks for them.
DESCRIPTION_NAMES = ("rdf.yaml", "bioimageio.yaml")
#: Weight formats bioimageio.core runs without Python code from the package.
CODE_FREE_FORMATS = ("torchscript", "onnx")
#: Keys whose values are files of the package (strings, or lists of them).
FILE_KEYS = {"source", "documentation", "covers", "test_inputs", "test_outputs", "sample_inputs",
             "sample_outputs", "files", "icon", "download_url", "architecture", "dependencies",
             "environment", "rdf_source"}
#: Sections that name no file of the package (links, citations, tool settings).
SKIPPED_KEYS = {"cite", "config", "links", "git_repo", "authors", "maintainers", "uploader",
                "badges", "id", "parent", "training_data"}
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")


class PackageRefused(ModelFileError):
    """A package names files on the internet or outside itself."""


class CodeRefused(ModelFileError):
    """Running a package needs its code, and the user has not said to trust it."""


@dataclass
class PackageReport:
    """What :func:`inspect_package` found (see the module docstring)."""

    source: str
    own: bool = False
    urls: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)
    formats: list[str] = field(default_factory=list)
    code: list[str] = field(default_factory=list)  # why running it needs code, per format

    @property
    def code_free_format(self) -> str | None:
        """The first weight format that runs without the package's code, else None."""
        return next((f for f in CODE_FREE_FORMATS if f in self.formats), None)


def _load_yaml(text: str, where: str) -> Any:
    """``text`` parsed by a safe YAML loader (PyYAML, else the ruyaml bioimageio.spec brings)."""
    try:
        import yaml

        load = yaml.safe_load
    except ImportError:
        import ruyaml

        load = ruyaml.YAML(typ="safe").load
    try:
        return load(text)
    except Exception as exc:  # noqa: BLE001 - YAML errors
        raise ModelFileError(f"{where!r} is not a readable bioimage.io package: its description "
                             f"is not valid YAML ({exc}).") from None


def _description(source: Path) -> tuple[str, str, Path | None]:
    """The description's text, its name (for messages) and the package folder (None: a zip)."""
    if source.is_dir():
        names = [n for n in DESCRIPTION_NAMES if (source / n).is_file()]
        names += sorted(p.name for p in source.glob("*.bioimageio.yaml"))
        if not names:
            raise ModelFileError(f"The folder {str(source)!r} holds no bioimage.io description "
                                 "(rdf.yaml or *.bioimageio.yaml); choose a model package.")
        return (source / names[0]).read_text(encoding="utf-8"), str(source / names[0]), source
    if source.suffix.lower() in (".yaml", ".yml"):
        return source.read_text(encoding="utf-8"), str(source), source.parent
    try:
        with zipfile.ZipFile(source) as z:
            members = z.namelist()
            names = [n for n in DESCRIPTION_NAMES if n in members]
            names += sorted(n for n in members if "/" not in n and n.endswith(".bioimageio.yaml"))
            if not names:
                raise ModelFileError(f"{str(source)!r} holds no bioimage.io description (rdf.yaml) "
                                     "at its top level; choose a model package.")
            return z.read(names[0]).decode("utf-8"), f"{source}/{names[0]}", None
    except (zipfile.BadZipFile, OSError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{str(source)!r} is not a readable bioimage.io package: {exc}") from None


def _file_values(node: Any, key: str | None = None) -> list[tuple[str, str]]:
    """``(key, value)`` for every string a file key of ``node`` holds, recursively."""
    out: list[tuple[str, str]] = []
    if isinstance(node, dict):
        for k, v in node.items():
            k = str(k)
            if k in SKIPPED_KEYS:
                continue
            if k in FILE_KEYS and isinstance(v, str):
                out.append((k, v))
            elif k in FILE_KEYS and isinstance(v, list) and all(isinstance(x, str) for x in v):
                out.extend((k, x) for x in v)
            else:
                out.extend(_file_values(v, k))
    elif isinstance(node, list):
        for v in node:
            out.extend(_file_values(v, key))
    return out


def _as_file(key: str, value: str) -> str | None:
    """The file a value names (None: not a file, e.g. an icon emoji or a module to import)."""
    value = value.strip()
    if key == "icon" and not any(c in value for c in "./\\:"):
        return None  # an emoji or a short text
    if key == "dependencies" and not _URL.match(value) and ":" in value:
        value = value.split(":", 1)[1]  # 0.4: "conda:environment.yaml"
    if key == "architecture" and not _URL.match(value):
        if ":" not in value or ".py:" not in value:
            return None  # 0.4: "module.Class" (imported, not a file)
        value = value.rsplit(":", 1)[0]
    return value or None


def _outside(value: str, folder: Path | None) -> bool:
    if value.startswith(("/", "\\", "~")) or _DRIVE.match(value):
        return True
    if ".." in re.split(r"[\\/]+", value):
        return True
    if folder is not None:
        root = os.path.realpath(folder)
        real = os.path.realpath(os.path.join(root, *PurePosixPath(value.replace("\\", "/")).parts))
        return not (real == root or real.startswith(root.rstrip(os.sep) + os.sep))
    return False


def _code_reasons(weights: Any) -> tuple[list[str], list[str]]:
    """The weight formats, and why each of those that needs code does."""
    if not isinstance(weights, dict):
        return [], []
    formats = [str(k) for k, v in weights.items() if v is not None]
    reasons = []
    for fmt in formats:
        entry = weights.get(fmt) or {}
        if fmt == "pytorch_state_dict":
            arch = entry.get("architecture") if isinstance(entry, dict) else None
            if isinstance(arch, dict) and arch.get("source"):
                what = f"the Python file {arch.get('source')!r} of the package"
            elif isinstance(arch, dict) and arch.get("import_from"):
                what = f"the module {arch.get('import_from')!r}"
            else:
                what = f"{arch!r}" if arch else "its architecture"
            callable_ = arch.get("callable") if isinstance(arch, dict) else None
            reasons.append(f"its pytorch_state_dict weights build their network by running "
                           f"{(repr(callable_) + ' from ') if callable_ else ''}{what}")
        elif fmt not in CODE_FREE_FORMATS:
            reasons.append(f"its {fmt} weights can hold code")
    return formats, reasons


def inspect_package(source: str | os.PathLike) -> PackageReport:
    """Read ``source`` (zip, folder or description file) as plain YAML; see the module
    docstring.  Raises :class:`~..errors.ModelFileError` for an unreadable package."""
    from .export import FORMAT

    path = Path(source)
    text, where, folder = _description(path)
    rdf = _load_yaml(text, where)
    if not isinstance(rdf, dict):
        raise ModelFileError(f"{where!r} is not a bioimage.io description (not a YAML mapping).")
    report = PackageReport(os.fspath(source))
    config = rdf.get("config")
    section = config.get("napari_blindspot") if isinstance(config, dict) else None
    report.own = isinstance(section, dict) and section.get("format") == FORMAT
    for key, value in _file_values(rdf):
        name = _as_file(key, value)
        if name is None:
            continue
        if _URL.match(name):
            report.urls.append(name)
        elif _outside(name, folder):
            report.outside.append(name)
    report.formats, report.code = _code_reasons(rdf.get("weights"))
    return report


def check_package(report: PackageReport, trust_code: bool) -> str | None:
    """Refuse what :func:`inspect_package` found; returns the weight format to run (None:
    bioimageio.core's choice, for our own packages and trusted ones)."""
    src = report.source
    if report.urls:
        more = f" and {len(report.urls) - 3} more" if len(report.urls) > 3 else ""
        raise PackageRefused(
            f"{src!r} names files on the internet ({', '.join(report.urls[:3])}{more}): "
            "napari-blindspot downloads nothing; download the complete package (e.g. the .zip "
            "from bioimage.io) and give that.")
    if report.outside:
        raise PackageRefused(
            f"{src!r} names files outside the package ({', '.join(report.outside[:3])}): a package "
            "may only use its own files; use an unmodified package from its source.")
    if report.own or trust_code or not report.code:
        return None
    safe = report.code_free_format
    if safe is not None:
        return safe
    raise CodeRefused(
        f"{src!r} would run code from the package: {'; '.join(report.code)}. Model files never "
        "run code unless you trust their source: if you do, allow it with --trust-code (in napari: "
        "confirm when asked).")


__all__ = ["CODE_FREE_FORMATS", "CodeRefused", "PackageRefused", "PackageReport", "check_package",
           "inspect_package"]
