"""The engine is headless: importing it must not pull in Qt or napari."""

from __future__ import annotations

import json
import subprocess
import sys

FORBIDDEN = ("qtpy", "PyQt5", "PyQt6", "PySide2", "PySide6", "napari", "magicgui", "superqt")


def _modules_after(statement: str) -> list[str]:
    code = f"{statement}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_engine_import_pulls_in_no_gui():
    modules = _modules_after("import napari_blindspot.engine")
    assert "napari_blindspot.engine" in modules
    leaked = [m for m in modules if m.split(".")[0] in FORBIDDEN]
    assert not leaked, f"importing the engine imported GUI modules: {leaked[:10]}"


def test_engine_submodules_pull_in_no_gui():
    stmt = ("import napari_blindspot.io.tiff, napari_blindspot.engine.methods.hqssl.method, "
            "napari_blindspot.engine.methods.hqssl.noise_estimate, napari_blindspot.samples")
    modules = _modules_after(stmt)
    leaked = [m for m in modules if m.split(".")[0] in FORBIDDEN]
    assert not leaked, f"engine submodules imported GUI modules: {leaked[:10]}"


def test_public_api_is_exported():
    import napari_blindspot.engine as engine

    for name in engine.__all__:
        assert hasattr(engine, name), name
    assert set(engine.METHODS) == {"n2v", "n2v2", "hqssl", "n2n"}
    assert issubclass(engine.BlindspotError, ValueError)
    for err in (engine.AxesError, engine.ConfigError, engine.DataError, engine.ModelFileError):
        assert issubclass(err, engine.BlindspotError)
