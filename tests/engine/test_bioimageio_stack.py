"""A broken bioimage.io stack (a library outside our ranges, or one that fails inside) is one
clear line naming the package, its version and the fix, in the engine, the CLI and the widget's
logic; and ``blindspot doctor`` reports it. The rest keeps working.

The breaks are simulated (the installed stack is a good one): the installed versions are read
through :func:`requirements.installed_version`, and a library failure is a ``ModelDescr`` that
raises what pydantic 2.14 raised under bioimageio.spec 0.5.12.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("bioimageio.core", reason="needs the bioimageio extra")

from helpers_engine import untrained_model  # noqa: E402
from napari_blindspot.engine.bioimageio import export_package, requirements  # noqa: E402
from napari_blindspot.engine.errors import BlindspotError  # noqa: E402

DECLARED = {"bioimageio.spec": ">=0.5.12", "bioimageio.core": ">=0.11", "pydantic": ">=2.7,<2.14"}
PYDANTIC_ERROR = ("Error calling function `package_file_descr_serializer`: TypeError: 'index_key' "
                  "is expected to be an integer or a string, got 'SerializationInfo(...)'")


@pytest.fixture
def newer_pydantic(monkeypatch):
    """pydantic 2.14.4 installed, against our declared ``<2.14``."""
    real = requirements.installed_version
    monkeypatch.setattr(requirements, "declared_requirements",
                        lambda extra="bioimageio": dict(DECLARED) if extra == "bioimageio" else {})
    monkeypatch.setattr(requirements, "installed_version",
                        lambda name: "2.14.4" if name == "pydantic" else real(name))


@pytest.fixture
def failing_library(monkeypatch):
    """bioimageio.spec's model description raises inside the library."""
    from bioimageio.spec.model import v0_5

    def broken(*args, **kwargs):
        raise ValueError(PYDANTIC_ERROR)

    monkeypatch.setattr(v0_5, "ModelDescr", broken)


def test_the_declared_ranges_come_from_our_metadata():
    declared = requirements.declared_requirements("bioimageio")
    if not declared:
        pytest.skip("napari-blindspot runs uninstalled: no metadata to read")
    assert set(declared) >= {"bioimageio.spec", "bioimageio.core", "pydantic"}
    assert not requirements.stack_problems()  # the installed stack is within them
    base = requirements.declared_requirements("")
    assert "torch" in base and "pydantic" not in base


def test_a_version_outside_the_range_is_refused_with_the_fix(newer_pydantic):
    with pytest.raises(requirements.StackError) as info:
        requirements.require("bioimageio.spec")
    text = str(info.value)
    assert "pydantic 2.14.4" in text and "<2.14" in text
    assert 'pip install "pydantic' in text and "\n" not in text


def test_export_with_an_excluded_version_writes_nothing(newer_pydantic, tmp_path):
    with pytest.raises(requirements.StackError, match="pydantic 2.14.4"):
        export_package(untrained_model(), tmp_path / "m.zip", test=False)
    assert list(tmp_path.iterdir()) == []


def test_a_failure_inside_the_library_names_the_versions_not_the_model(failing_library, tmp_path):
    with pytest.raises(BlindspotError) as info:
        export_package(untrained_model(), tmp_path / "m.zip", test=False)
    text = str(info.value)
    assert "bioimage.io libraries failed while describing the package" in text
    assert "index_key" in text and "bioimageio.spec 0.5" in text and "pydantic 2." in text
    assert "not of your model" in text and "blindspot doctor" in text
    assert list(tmp_path.iterdir()) == []


def test_cli_export_and_denoise_say_it_in_one_line_and_the_rest_works(newer_pydantic, tmp_path, capsys):
    from napari_blindspot.cli import main
    from napari_blindspot.io.tiff import write_tiff

    untrained_model().save(str(tmp_path / "m.safetensors"))
    image = np.random.default_rng(0).normal(100, 20, (48, 48)).astype(np.float32)
    write_tiff(tmp_path / "x.tif", image, "YX")
    assert main(["export", str(tmp_path / "m.safetensors"), "-o", str(tmp_path / "m.zip")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("blindspot: error: bioimage.io support is off")
    assert "pydantic 2.14.4" in err[0] and 'pip install "pydantic' in err[0]
    assert not (tmp_path / "m.zip").exists()
    # our own model files need no bioimage.io: denoising goes on
    assert main(["denoise", str(tmp_path / "x.tif"), "--model", str(tmp_path / "m.safetensors"),
                 "-o", str(tmp_path / "out.tif")]) == 0
    assert (tmp_path / "out.tif").is_file()


def test_widget_export_says_which_package(failing_library, tmp_path):
    pytest.importorskip("napari")
    from napari.components import ViewerModel

    from napari_blindspot.widget.controller import DenoiseController
    from napari_blindspot.widget.jobs import run_now

    viewer = ViewerModel()
    controller = DenoiseController(viewer, run_now)
    try:
        controller.model = untrained_model(axes="TYX")
        controller.state.own_model = True
        layer = viewer.add_image(np.random.default_rng(0).normal(100, 20, (2, 80, 80)).astype(np.float32),
                                 name="cells")
        seen: list[tuple[str, str]] = []
        controller.message.connect(lambda text, level: seen.append((level, text)))
        controller.files.export_bioimageio(layer, "TYX", tmp_path / "cells")
        errors = [text for level, text in seen if level == "error"]
        assert errors and "bioimage.io libraries failed" in errors[-1] and "pydantic" in errors[-1]
        assert not (tmp_path / "cells.zip").exists()
    finally:
        controller.shutdown()


def test_doctor_marks_the_version_and_the_round_trip(newer_pydantic, capsys):
    from napari_blindspot.cli import main

    assert main(["doctor", "--software-only"]) == 1
    out = capsys.readouterr().out
    line = next(l for l in out.splitlines() if l.startswith("FAIL  pydantic"))
    assert "2.14.4" in line and 'pip install "pydantic' in line
    trip = next(l for l in out.splitlines() if "bioimage.io export round trip" in l)
    assert trip.startswith("FAIL") and "pydantic 2.14.4" in trip
    assert any(l.startswith("PASS  OME-Zarr write and read") for l in out.splitlines())


def test_doctor_passes_on_the_installed_stack(capsys):
    from napari_blindspot.engine.system.software_check import software_checks

    checks = {c.name: c for c in software_checks()}
    for name in ("torch", "zarr", "pydantic", "bioimageio.spec", "bioimageio.core"):
        assert checks[name].passed is True, checks[name]
    assert checks["bioimage.io export round trip"].passed is True, checks["bioimage.io export round trip"]
    assert checks["OME-Zarr write and read"].passed is True
