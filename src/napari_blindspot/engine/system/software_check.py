"""The software half of ``blindspot doctor``: the installed versions of what each feature
needs, each marked ok or not with the fix, and quick round trips through the optional stacks.

The bounds come from napari-blindspot's own metadata (``pyproject.toml``: the engine's
dependencies and the ``napari``, ``bioimageio`` and ``distributed`` extras), so a bound added
there for a known break is checked here without a second list.  Nothing here imports napari
or Qt (versions are read from the installed metadata); the round trips use the engine:

* **bioimage.io**: a small untrained model is exported as a package (with
  ``bioimageio.core``'s own model test), loaded back, and must predict as before;
* **OME-Zarr**: a small image is written with its pixel size and read back.

:func:`software_checks` returns :class:`~.gpu_check.Check` results (no prints).
"""

from __future__ import annotations

import platform
import tempfile
from pathlib import Path

import numpy as np

from ..bioimageio import requirements as _req
from .gpu_check import Check

#: The extras whose libraries are reported, with what they are for.
EXTRAS = {"": "the engine and the command line", "napari": "the napari plugin",
          "bioimageio": "bioimage.io export and models", "distributed": "dask cluster prediction"}
#: Qt bindings napari can use, in qtpy's order of preference.
QT_BINDINGS = ("PyQt6", "PySide6", "PyQt5", "PySide2")


def _install_hint(extra: str) -> str:
    return f'pip install "napari-blindspot[{extra}]"' if extra else 'pip install napari-blindspot'


def version_checks() -> list[Check]:
    """One :class:`Check` per library that napari-blindspot or one of its extras declares:
    ``passed`` True within the declared bounds, False outside them (the fix in ``detail``),
    None when an optional one is not installed."""
    from packaging.specifiers import SpecifierSet

    checks = [Check("python", None, platform.python_version())]
    seen: set[str] = set()
    for extra, purpose in EXTRAS.items():
        for name, spec in _req.declared_requirements(extra).items():
            if name in seen or name == "napari-blindspot":
                continue
            seen.add(name)
            version = _req.installed_version(name)
            if version is None:
                passed = False if not extra else None
                detail = f"not installed (needed for {purpose}): {_install_hint(extra)}"
            elif spec and not SpecifierSet(spec).contains(version, prereleases=True):
                passed = False
                detail = (f"{version} is outside {spec}, which {purpose} needs: "
                          f'pip install "{name}{spec}"')
            else:
                passed, detail = True, version + (f" ({spec})" if spec else "")
            checks.append(Check(name, passed, detail))
    checks.append(qt_binding_check())
    return checks


def qt_binding_check() -> Check:
    """Which Qt binding napari would use (by what is installed; nothing is imported)."""
    found = [(b, _req.installed_version(b)) for b in QT_BINDINGS]
    found = [(b, v) for b, v in found if v]
    if not found:
        if _req.installed_version("napari") is None:
            return Check("Qt binding", None, "none installed (only the napari plugin needs one)")
        return Check("Qt binding", False, "napari is installed but no Qt binding is: "
                     'pip install "napari[qt]"')
    detail = ", ".join(f"{b} {v}" for b, v in found)
    if len(found) > 1:
        detail += f" (qtpy uses {found[0][0]} unless QT_API says otherwise)"
    return Check("Qt binding", True, detail)


def bioimageio_round_trip() -> Check:
    """Export a small untrained model as a bioimage.io package (``bioimageio.core`` tests
    it), load it back and compare its prediction with the model's."""
    name = "bioimage.io export round trip"
    if _req.installed_version("bioimageio.spec") is None:
        return Check(name, None, "skipped: the bioimageio extra is not installed "
                     f"({_install_hint('bioimageio')})")
    from ..bioimageio import export_package, load_package
    from ..errors import BlindspotError

    model = _small_model()
    image = np.random.default_rng(0).normal(100.0, 20.0, (64, 64)).astype(np.float32)
    try:
        with tempfile.TemporaryDirectory(prefix="blindspot-doctor-") as tmp:
            result = export_package(model, Path(tmp) / "check.zip", sample=image, sample_axes="YX")
            loaded = load_package(result.path, device="cpu")
            got = loaded.denoise(image, "YX")
    except BlindspotError as exc:
        return Check(name, False, str(exc))
    want = model.denoise(image, "YX")
    diff = float(np.abs(got - want).max())
    if diff > 1e-3 * float(np.abs(want).max() + 1.0):
        return Check(name, False, f"the package predicts differently from the model (largest "
                     f"difference {diff:.3g}); please report this with `blindspot doctor` output")
    return Check(name, True, f"exported, {result.test_status} bioimageio.core's test, loaded back, "
                 "same prediction")


def omezarr_round_trip() -> Check:
    """Write a small OME-Zarr image with a pixel size and read it back."""
    from ...io.image import open_image, open_writer
    from ..errors import BlindspotError

    name = "OME-Zarr write and read"
    data = np.arange(2 * 32 * 32, dtype=np.uint16).reshape(2, 32, 32)
    try:
        with tempfile.TemporaryDirectory(prefix="blindspot-doctor-") as tmp:
            path = str(Path(tmp) / "check.ome.zarr")
            writer = open_writer(path, "TYX", data.shape, dtype=data.dtype,
                                 pixel_size={"Y": 0.25, "X": 0.25}, unit="micron")
            writer.write((slice(None), slice(None), slice(None)), data)
            writer.finish()
            image = open_image(path)
            back = np.asarray(image.data)
            same = (image.axes == "TYX" and np.array_equal(back, data)
                    and image.pixel_size.get("X") == 0.25)
    except (BlindspotError, OSError) as exc:
        return Check(name, False, f"{exc}; reinstall zarr: pip install --upgrade "
                     f'"zarr{_req.declared_requirements("").get("zarr", "")}"')
    if not same:
        return Check(name, False, f"read back as {image.axes} with pixel size {image.pixel_size}; "
                     "please report this with `blindspot doctor` output")
    return Check(name, True, "TYX uint16 with its pixel size, written and read back")


def _small_model():
    import torch

    from ..config import TrainConfig
    from ..methods import get_method
    from ..model import DenoisingModel
    from ..normalization import Normalization

    config = TrainConfig(method="n2v2", axes="YX", patch_size=32, batch_size=2, steps=3,
                         unet_features=8, unet_depth=2, device="cpu").validate()
    normalization = Normalization((100.0,), (20.0,))
    torch.manual_seed(0)
    net = get_method(config).build(config, 1, 2, normalization)
    return DenoisingModel(config, net, normalization, 1)


def software_checks(*, round_trips: bool = True) -> list[Check]:
    """:func:`version_checks`, then (with ``round_trips``) the OME-Zarr and bioimage.io round
    trips."""
    checks = version_checks()
    if round_trips:
        checks += [omezarr_round_trip(), bioimageio_round_trip()]
    return checks


__all__ = ["bioimageio_round_trip", "omezarr_round_trip", "qt_binding_check", "software_checks",
           "version_checks"]
