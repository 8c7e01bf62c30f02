"""The engine and the command line work where napari, Qt and magicgui are not installed (the
core install, ``pip install napari-blindspot``): a subprocess makes them unimportable, then
runs the CLI's demo, trains, inspects a model and asks for the viewer."""

from __future__ import annotations

import subprocess
import sys

import pytest

#: Everything the [napari] extra brings (and scikit-image, which comes with napari).
BLOCKED = ("napari", "qtpy", "PyQt5", "PyQt6", "PySide2", "PySide6", "magicgui", "npe2", "superqt",
           "psygnal", "vispy", "skimage")

RUN = f"""
import importlib.abc, sys

class Blocked(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {BLOCKED!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}} (not installed in this test)")
        return None

sys.meta_path.insert(0, Blocked())
from napari_blindspot.cli import main
code = main(sys.argv[1:])
leaked = sorted(m for m in sys.modules if m.split(".")[0] in {BLOCKED!r})
assert not leaked, leaked
sys.exit(code)
"""


def blindspot(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", RUN, *args], capture_output=True, text=True,
                          timeout=600)


def test_the_blocker_blocks():
    proc = subprocess.run([sys.executable, "-c", RUN.replace("from napari_blindspot.cli import main",
                                                             "import napari")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "not installed in this test" in proc.stderr


@pytest.mark.parametrize("method", ["hqssl", "n2v2"])
def test_cli_demo_train_and_info_without_napari(tmp_path, method):
    out = tmp_path / "demo"
    proc = blindspot("demo", "--out", str(out), "--frames", "1", "--size", "48", "--steps", "3",
                     "--patch-size", "32", "--batch-size", "2", "--features", "8", "--method", method)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "PSNR noisy" in proc.stdout  # computed without scikit-image
    assert (out / "comparison.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    model = out / "model.safetensors"
    proc = blindspot("train", str(out / "sample_noisy.tif"), "--steps", "2", "--patch-size", "32",
                     "--method", method, "--seed", "1", "-o", str(tmp_path / "again.safetensors"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    proc = blindspot("info", str(model))
    assert proc.returncode == 0 and f"method: {method}" in proc.stdout


def test_asking_for_the_viewer_without_napari_says_what_to_install():
    proc = blindspot("napari", "--no-sample")
    assert proc.returncode == 2
    assert "napari is not installed" in proc.stderr and "napari-blindspot[napari]" in proc.stderr


def test_napari_is_an_extra_not_a_core_dependency():
    tomllib = pytest.importorskip("tomllib")
    from pathlib import Path

    project = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())["project"]
    core = " ".join(project["dependencies"]).lower()
    for name in ("napari", "qt", "magicgui", "npe2", "psygnal", "scikit-image"):
        assert name not in core, name
    extra = " ".join(project["optional-dependencies"]["napari"]).lower()
    assert "napari[qt]" in extra and "magicgui" in extra
    assert "napari" in project["optional-dependencies"]["all"][0]
