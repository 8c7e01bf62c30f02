"""The npe2 manifest, the sample data and the TIFF writer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

npe2 = pytest.importorskip("npe2")

from napari_blindspot.samples import sample_data  # noqa: E402
from napari_blindspot.io.tiff import read_tiff  # noqa: E402
from napari_blindspot.io.writer import write_image_tiff  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "napari.yaml"


def test_manifest_is_valid_and_importable():
    manifest = npe2.PluginManifest.from_file(MANIFEST)
    manifest.validate_imports()
    assert manifest.name == "napari-blindspot"
    assert [w.display_name for w in manifest.contributions.widgets] == ["Self-supervised denoising"]
    assert {s.key for s in manifest.contributions.sample_data} == {"fluorescence", "fluorescence_clean"}
    (writer,) = manifest.contributions.writers
    assert ".tif" in writer.filename_extensions and writer.layer_types == ["image"]


def test_manifest_reads_tiff_and_zarr():
    manifest = npe2.PluginManifest.from_file(MANIFEST)
    (reader,) = manifest.contributions.readers
    assert set(reader.filename_patterns) == {"*.tif", "*.tiff", "*.zarr"}
    assert reader.accepts_directories  # an OME-Zarr is a folder
    pm = npe2.PluginManager()
    pm.register(manifest)
    for path in ("cells.tif", "cells.ome.tiff", "cells.ome.zarr"):
        assert "napari-blindspot" in {r.plugin_name for r in pm.iter_compatible_readers([path])}


def test_manifest_is_found_in_the_package():
    packaged = ROOT / "src" / "napari_blindspot" / "napari.yaml"
    assert packaged.resolve() == MANIFEST.resolve()
    manifest = npe2.PluginManifest.from_distribution("napari-blindspot")
    assert manifest.name == "napari-blindspot"


def test_sample_data_noisy_and_clean():
    ((noisy, kwargs, kind),) = sample_data.fluorescence_sample()
    ((clean, clean_kwargs, clean_kind),) = sample_data.fluorescence_clean_sample()
    assert kind == clean_kind == "image"
    assert noisy.shape == clean.shape == (8, 256, 256)
    assert noisy.dtype == np.uint16 and clean.dtype == np.float32
    assert kwargs["metadata"]["axes"] == "TYX"
    # synthetic pixels have no physical size: no scale, no units (napari's defaults)
    assert "scale" not in kwargs and "units" not in kwargs
    # noise is there, and it is Poisson-Gaussian around the clean image
    residual = noisy.astype(np.float32) - clean
    assert abs(float(residual.mean())) < 1.0
    assert 2.0 < float(residual.std()) < 30.0


def test_writer_keeps_axes_pixel_size_and_dtype(tmp_path):
    data = (np.arange(3 * 16 * 20) % 1000).astype(np.uint16).reshape(3, 16, 20)
    meta = {"scale": (2.0, 0.25, 0.25), "units": ("micrometer",) * 3, "metadata": {"axes": "ZYX"},
            "rgb": False, "axis_labels": ("0", "1", "2")}
    (written,) = write_image_tiff(str(tmp_path / "stack"), data, meta)
    assert written.endswith("stack.tif")
    back = read_tiff(written)
    assert back.axes == "ZYX"
    assert back.data.dtype == np.uint16
    np.testing.assert_array_equal(back.data, data)
    assert back.pixel_size["X"] == pytest.approx(0.25, rel=1e-5)
    assert back.pixel_size["Z"] == pytest.approx(2.0)
    assert back.unit == "micron"


def test_writer_guesses_axes_from_labels_and_converts_float64(tmp_path):
    data = np.random.default_rng(0).random((4, 8, 8))
    meta = {"scale": (1.0, 0.5, 0.5), "axis_labels": ("t", "y", "x")}
    (written,) = write_image_tiff(str(tmp_path / "movie.tif"), data, meta)
    back = read_tiff(written)
    assert back.axes == "TYX" and back.data.dtype == np.float32
    np.testing.assert_allclose(back.data, data.astype(np.float32))
    assert back.pixel_size["Y"] == pytest.approx(0.5, rel=1e-5)
    assert back.unit == ""  # the layer has no unit: none is invented


def test_writer_invents_no_unit_for_an_uncalibrated_layer(tmp_path):
    """Save Layers of a plain layer (scale 1, no units) gives an uncalibrated TIFF."""
    import tifffile

    data = np.ones((2, 8, 8), np.float32)
    meta = {"scale": (1.0, 1.0, 1.0), "units": ("pixel",) * 3, "metadata": {"axes": "TYX"}}
    (written,) = write_image_tiff(str(tmp_path / "plain.tif"), data, meta)
    with tifffile.TiffFile(written) as tif:
        assert "unit" not in tif.imagej_metadata
        tags = tif.pages[0].tags
        assert "XResolution" not in tags or (tags["XResolution"].value == (1, 1)
                                             and int(tags["ResolutionUnit"].value) == 1)
    back = read_tiff(written)
    assert back.pixel_size == {} and back.unit == ""


def test_save_layers_through_napari_uses_the_writer(tmp_path):
    napari = pytest.importorskip("napari")
    from napari.layers import Image

    npe2.PluginManager.instance().discover()  # what napari does at start-up
    layer = Image(np.ones((2, 8, 8), np.float32), scale=(1.0, 0.2, 0.2), metadata={"axes": "TYX"},
                  units=("pixel", "micrometer", "micrometer"), name="x")
    paths = napari.save_layers(str(tmp_path / "x.tif"), [layer], plugin="napari-blindspot")
    back = read_tiff(paths[0])
    assert back.axes == "TYX"
    assert back.pixel_size["X"] == pytest.approx(0.2, rel=1e-5)
