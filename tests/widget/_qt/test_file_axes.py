"""Axes and pixel sizes survive from file to export: ImageJ TIFFs and an OME-Zarr opened the
way a user opens them (``viewer.open`` with napari-blindspot's reader, napari's own, or the
one a reader preference picks), shown in the dock, trained on and exported."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("napari")
pytest.importorskip("pytestqt")

import tifffile  # noqa: E402
from napari.components import viewer_model  # noqa: E402
from napari.errors import MultipleReaderError  # noqa: E402

from napari_blindspot.io.omezarr import OmeZarrWriter  # noqa: E402
from napari_blindspot.io.tiff import read_tiff, write_tiff  # noqa: E402
from napari_blindspot.samples.fluorescence import fluorescence_timelapse  # noqa: E402

pytestmark = pytest.mark.gui

PLUGIN = "napari-blindspot"
WIDGET = "Self-supervised denoising"
PX = {"X": 0.1, "Y": 0.1, "Z": 0.5}
#: kind -> (axes of the file, shape, the layer's scale)
FILES = {
    "TYX": ("TYX", (4, 48, 48), (2.0, 0.1, 0.1)),
    "ZYX": ("ZYX", (4, 48, 48), (0.5, 0.1, 0.1)),
    "CZYX": ("ZCYX", (3, 2, 48, 48), (0.5, 1.0, 0.1, 0.1)),  # ImageJ stores C after Z
    "TZCYX": ("TZCYX", (2, 3, 2, 48, 48), (2.0, 0.5, 1.0, 0.1, 0.1)),
    "OME-Zarr": ("TYX", (3, 48, 48), (1.0, 0.1, 0.1)),
}


def make_file(folder, kind: str) -> str:
    """A noisy uint16 image of ``kind`` (see FILES) with a 0.1 µm pixel size, a 0.5 µm Z spacing
    and, in the TIFFs with T, 2 s between frames."""
    axes, shape, _ = FILES[kind]
    frames = int(np.prod(shape[:-2]))
    data = fluorescence_timelapse(frames=frames, size=shape[-1], seed=1).noisy.reshape(shape)
    sizes = {k: v for k, v in PX.items() if k in axes}
    if kind == "OME-Zarr":
        path = folder / "cells.ome.zarr"
        writer = OmeZarrWriter(path, axes, shape, dtype=np.uint16, pixel_size=sizes, unit="micron")
        writer.write((slice(None),) * len(shape), data)
        writer.finish()
    else:
        path = folder / f"{kind.lower()}.tif"
        write_tiff(path, data, axes, pixel_size=sizes, unit="micron", dtype=np.uint16,
                   metadata={"finterval": 2.0} if "T" in axes else None)
    return str(path)


@pytest.fixture
def viewer_widget(make_napari_viewer):
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, WIDGET)
    yield viewer, widget
    widget.shutdown()


def open_with(viewer, path: str, opener: str, monkeypatch):
    """``viewer.open(path)`` as ``opener`` says: ``"plain"`` (napari's default, its own
    reader), a plugin's name, or ``"prefer:<plugin>"``: ``plugin=None`` (as File > Open) with
    that reader preferred (what napari's reader dialog remembers)."""
    if opener == "plain":
        return viewer.open(path)
    if opener.startswith("prefer:"):
        monkeypatch.setattr(viewer_model, "get_preferred_reader", lambda _: opener[len("prefer:"):])
        return viewer.open(path, plugin=None)
    return viewer.open(path, plugin=opener)


def tiny(widget, method: str) -> None:
    widget.set_method(method)
    s = widget.settings
    s.length.setText("4 steps")
    s.patch.setValue(32)
    s.batch.setValue(2)
    s.width_box.setValue(8)
    s.depth_box.setValue(2)
    s.tile.setValue(64)


def train(qtbot, widget, method: str = "n2v2") -> None:
    tiny(widget, method)
    widget.train()
    qtbot.waitUntil(lambda: widget.busy is None, timeout=60_000)


@pytest.mark.parametrize("opener", [PLUGIN, "plain"])
@pytest.mark.parametrize("kind", list(FILES))
def test_opened_files_keep_their_axes_and_pixel_size(viewer_widget, tmp_path, monkeypatch, kind, opener):
    viewer, widget = viewer_widget
    axes, shape, scale = FILES[kind]
    [layer] = open_with(viewer, make_file(tmp_path, kind), opener, monkeypatch)
    assert widget.layer_picker.current_layer() is layer
    assert widget.axes_edit.text() == axes
    np.testing.assert_allclose(layer.scale, scale)
    assert layer.metadata["axes"] == axes
    assert layer.axis_labels == tuple(axes.lower())
    assert {str(u) for a, u in zip(axes, layer.units) if a in "XYZ"} == {"micrometer"}
    hint = widget.axes_hint.text()
    assert ("depth" in hint) == ("Z" in axes)
    assert ("time" in hint) == ("T" in axes)
    assert widget.dim_combo.isEnabled() == ("Z" in axes)  # no 3D choice for a time-lapse
    assert "pixel 0.1 µm" in hint
    assert ("Z step 0.5 µm" in hint) == ("Z" in axes)
    assert ("2 s per frame" in hint) == (kind in ("TYX", "TZCYX"))


@pytest.mark.parametrize("opener", ["napari", f"prefer:{PLUGIN}", "prefer:napari"])
def test_every_reader_choice_gives_the_files_axes(viewer_widget, tmp_path, monkeypatch, opener):
    viewer, widget = viewer_widget
    [layer] = open_with(viewer, make_file(tmp_path, "TYX"), opener, monkeypatch)
    assert layer.source.reader_plugin == opener.split(":")[-1]
    assert widget.axes_edit.text() == "TYX"
    np.testing.assert_allclose(layer.scale, (2.0, 0.1, 0.1))


def test_open_without_a_reader_preference_names_both_readers(viewer_widget, tmp_path):
    """``plugin=None`` (File > Open) with no preference: napari asks which reader to use
    (in the window, its reader dialog); plain ``viewer.open`` uses napari's own."""
    viewer, _ = viewer_widget
    with pytest.raises(MultipleReaderError) as info:
        viewer.open(make_file(tmp_path, "TYX"), plugin=None)
    assert {PLUGIN, "napari"} <= set(info.value.available_plugins)


def exported(path) -> tuple[str, dict, float]:
    """Axes, ImageJ metadata and X pixel size (from the resolution tag) of a written file."""
    with tifffile.TiffFile(path) as tif:
        num, den = tif.pages[0].tags["XResolution"].value
        return tif.series[0].axes, dict(tif.imagej_metadata), den / num


def test_a_time_lapse_from_napari_reader_exports_as_tyx(qtbot, viewer_widget, tmp_path):
    """The issue's case: napari's reader, HQ-SSL (denoised and uncertainty), Export TIFF."""
    viewer, widget = viewer_widget
    [layer] = viewer.open(make_file(tmp_path, "TYX"))
    assert layer.source.reader_plugin == "napari"
    train(qtbot, widget, "hqssl")
    assert "Z stack" not in widget.message.text()
    for kind in ("denoised", "uncertainty"):
        result = viewer.layers[f"{layer.name} [{kind}]"]
        np.testing.assert_allclose(result.scale, layer.scale)
        assert result.units == layer.units and result.metadata["axes"] == "TYX"
    written = widget.export(tmp_path / "out.tif")
    assert [p.name for p in written] == ["out.tif", "out_uncertainty.tif"]
    for path in written:
        axes, meta, size = exported(path)
        assert axes == "TYX"
        assert meta["frames"] == 4 and "slices" not in meta
        assert meta["unit"] == "micron" and meta["finterval"] == pytest.approx(2.0)
        assert size == pytest.approx(0.1)


def test_a_hyperstack_from_our_reader_exports_as_it_was(qtbot, viewer_widget, tmp_path):
    viewer, widget = viewer_widget
    [layer] = viewer.open(make_file(tmp_path, "TZCYX"), plugin=PLUGIN)
    train(qtbot, widget)
    [path] = widget.export(tmp_path / "out.tif")
    axes, meta, size = exported(path)
    assert axes == "TZCYX"
    assert (meta["frames"], meta["slices"], meta["channels"]) == (2, 3, 2)
    assert meta["spacing"] == pytest.approx(0.5) and size == pytest.approx(0.1)
    assert meta["finterval"] == pytest.approx(2.0)
    back = read_tiff(path)
    np.testing.assert_array_equal(back.data, viewer.layers[f"{layer.name} [denoised]"].data)


def test_a_lazy_layer_keeps_its_scale(qtbot, viewer_widget, tmp_path):
    """A compressed OME-TIFF is read through zarr (never whole); its results keep its scale,
    and File > Save Layers (the npe2 writer) writes its calibration back."""
    viewer, widget = viewer_widget
    data = fluorescence_timelapse(frames=3, size=48, seed=2).noisy
    path = tmp_path / "lazy.ome.tif"
    tifffile.imwrite(path, data, ome=True, compression="zlib",
                     metadata={"axes": "TYX", "PhysicalSizeX": 0.2, "PhysicalSizeY": 0.2,
                               "TimeIncrement": 5.0, "TimeIncrementUnit": "s"})
    [layer] = viewer.open(str(path), plugin=PLUGIN)
    assert not isinstance(layer.data, np.ndarray)
    np.testing.assert_allclose(layer.scale, (5.0, 0.2, 0.2))
    train(qtbot, widget)
    denoised = viewer.layers["lazy [denoised]"]
    np.testing.assert_allclose(denoised.scale, layer.scale)
    viewer.layers.selection.active = denoised
    [saved] = viewer.layers.save(str(tmp_path / "saved.tif"), selected=True, plugin=PLUGIN)
    axes, meta, size = exported(saved)
    assert axes == "TYX" and meta["frames"] == 3
    assert size == pytest.approx(0.2) and meta["finterval"] == pytest.approx(5.0)
