"""Vendor files through bioio: a real CZI file (written with pylibCZIrw) is read lazily with its
axes and pixel sizes, `blindspot train|denoise` take it and the OME-Zarr output keeps them;
without bioio the error names the install command."""

from __future__ import annotations

import builtins
import sys

import numpy as np
import pytest

from napari_blindspot.io.image import image_format, input_format, open_image
from napari_blindspot.io.vendor import INSTALL, read_vendor

pytest.importorskip("bioio", reason="the 'vendor' extra (bioio) is not installed")
pytest.importorskip("bioio_czi", reason="bioio-czi is not installed")
pyczi = pytest.importorskip("pylibCZIrw.czi", reason="pylibCZIrw (writes the test's CZI) is not installed")

TINY = ["--steps", "4", "--patch-size", "32", "--batch-size", "2", "--features", "8",
        "--validation-fraction", "0.1"]


def _write_czi(path, planes: np.ndarray, *, x_um=0.2, y_um=0.2, z_um=1.5) -> None:
    """A CZI file of ``planes`` ``(C, Z, Y, X)`` uint16 with pixel sizes in micrometres."""
    with pyczi.create_czi(str(path), exist_ok=True) as czi:
        for c in range(planes.shape[0]):
            for z in range(planes.shape[1]):
                czi.write(data=planes[c, z], plane={"C": c, "Z": z}, location=(0, 0))
        czi.write_metadata(document_name="test", channel_names={c: f"ch{c}" for c in range(planes.shape[0])},
                           scale_x=x_um * 1e-6, scale_y=y_um * 1e-6, scale_z=z_um * 1e-6)


def _planes(c=2, z=3, size=48, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    signal = 200 + 800 * (np.sin(xx / 5.0) * np.cos(yy / 7.0) > 0.2)
    return np.stack([np.stack([rng.poisson(signal * (k + 1) / 2 + 300 + 10 * zz) for zz in range(z)])
                     for k in range(c)]).astype(np.uint16)


@pytest.fixture(scope="module")
def czi_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("vendor") / "sample.czi"
    _write_czi(path, _planes())
    return path


def test_czi_is_read_lazily_with_axes_and_pixel_sizes(czi_path):
    import dask.array as da

    planes = _planes()
    assert input_format(czi_path) == "vendor" and image_format(czi_path) is None  # read, not written
    image = open_image(czi_path)
    assert isinstance(image.data, da.Array)  # lazy: nothing read yet
    assert image.axes == "CZYX" and image.axes_source == "bioio"  # T of length 1 left out
    assert image.data.shape == planes.shape and image.data.dtype == np.uint16
    assert image.pixel_size == {"X": pytest.approx(0.2), "Y": pytest.approx(0.2), "Z": pytest.approx(1.5)}
    assert image.unit == "micron"
    assert image.metadata["channel_names"] == ["ch0", "ch1"]
    np.testing.assert_array_equal(np.asarray(image.data[1, 2]), planes[1, 2])


def test_blindspot_train_and_denoise_a_czi_keep_axes_and_pixel_sizes(czi_path, tmp_path, capsys):
    from napari_blindspot.cli import main
    from napari_blindspot.io.omezarr import read_omezarr

    model = tmp_path / "m.safetensors"
    assert main(["train", str(czi_path), "--method", "n2v2", "-o", str(model), *TINY]) == 0
    out = tmp_path / "out.ome.zarr"
    assert main(["denoise", str(czi_path), "--model", str(model), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "axes 'CZYX' from bioio metadata" in err
    back = read_omezarr(out)
    assert back.axes == "CZYX" and back.data.shape == (2, 3, 48, 48)
    assert back.pixel_size["X"] == pytest.approx(0.2) and back.pixel_size["Y"] == pytest.approx(0.2)
    assert back.pixel_size["Z"] == pytest.approx(1.5) and back.unit == "micron"
    assert np.isfinite(np.asarray(back.data[:])).all()


def test_missing_bioio_names_the_install_command(czi_path, monkeypatch):
    real_import = builtins.__import__

    def no_bioio(name, *args, **kwargs):
        if name == "bioio" or name.startswith("bioio."):
            raise ImportError("No module named 'bioio'")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "bioio", raising=False)
    monkeypatch.setattr(builtins, "__import__", no_bioio)
    with pytest.raises(Exception) as info:
        read_vendor(czi_path)
    message = str(info.value)
    assert INSTALL in message and "bioio-czi" in message and "\n" not in message


def test_unreadable_vendor_file_is_one_clear_error(tmp_path):
    bad = tmp_path / "broken.czi"
    bad.write_bytes(b"not a czi file at all")
    with pytest.raises(Exception) as info:
        open_image(bad)
    assert str(info.value).startswith("Cannot read 'broken.czi' as a .czi file (")
    assert "re-export" in str(info.value) and "\n" not in str(info.value)
