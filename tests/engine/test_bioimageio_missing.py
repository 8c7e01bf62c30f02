"""Without the ``bioimageio`` extra: the package imports, and export/import say what to install."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

from napari_blindspot.io.tiff import write_tiff

SRC = str(Path(__file__).resolve().parents[1] / "src")


def test_without_the_extra_imports_and_says_what_to_install(tmp_path):
    """Blocks every bioimageio module: importing works, using it names the install."""
    code = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {SRC!r})
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name == "bioimageio" or name.startswith("bioimageio."):
                    raise ImportError("blocked " + name)
        sys.meta_path.insert(0, Block())
        import napari_blindspot.engine.bioimageio.export, napari_blindspot.engine.bioimageio.load
        from napari_blindspot.cli import main
        rc1 = main(["export", {str(tmp_path / 'm.safetensors')!r}, "-o", {str(tmp_path / 'm.zip')!r}])
        rc2 = main(["denoise", {str(tmp_path / 'x.tif')!r}, "--model", {str(tmp_path / 'm.zip')!r},
                    "-o", {str(tmp_path / 'o.tif')!r}])
        print("RC", rc1, rc2)
    """)
    write_tiff(tmp_path / "x.tif", np.zeros((32, 32), np.float32), "YX")
    (tmp_path / "m.zip").write_bytes(b"PK\x05\x06" + bytes(18))  # an (empty) package file: it exists
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert "RC 2 2" in out.stdout, out.stdout + out.stderr
    assert out.stderr.count('pip install "napari-blindspot[bioimageio]"') == 2, out.stderr
