"""The noise plot: it paints the model curve and the measured points, shows the calibration's
warnings, and is shown for HQ-SSL (after training and for a loaded model), not for N2V2."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("napari")
pytest.importorskip("pytestqt")

from qtpy.QtWidgets import QVBoxLayout, QWidget  # noqa: E402

from napari_blindspot.engine.methods.hqssl.noise_curves import ChannelNoiseCurve  # noqa: E402
from napari_blindspot.widget._qt.noise_plot import CHANNEL_COLORS, NoisePanel  # noqa: E402
from napari_blindspot.widget.state import NoiseCurveSet  # noqa: E402

from test_dock import PLUGIN, WIDGET, stack, tiny, wait_idle  # noqa: E402

pytestmark = pytest.mark.gui


@pytest.fixture
def docked(make_napari_viewer):
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, WIDGET)
    yield viewer, widget
    widget.shutdown()


def poisson_curve(warnings: tuple[str, ...] = ()) -> ChannelNoiseCurve:
    x = np.linspace(100.0, 4000.0, 64)
    xs = np.linspace(100.0, 4000.0, 12)
    return ChannelNoiseCurve(0, x, np.sqrt(x), None, xs, np.sqrt(xs) * 1.02, "image", warnings)


def blue_rows(image, x: int) -> list[int]:
    """Rows of column ``x`` painted in (about) the model line's colour."""
    c = CHANNEL_COLORS[0]
    rows = []
    for y in range(image.height()):
        p = image.pixelColor(x, y)
        if abs(p.red() - c.red()) < 40 and abs(p.green() - c.green()) < 40 and abs(p.blue() - c.blue()) < 40:
            rows.append(y)
    return rows


def test_the_plot_paints_a_rising_curve_and_the_warnings(qtbot):
    curves = NoiseCurveSet()
    holder = QWidget()
    qtbot.addWidget(holder)
    panel = NoisePanel(curves, holder)
    QVBoxLayout(holder).addWidget(panel)
    holder.resize(380, 260)
    holder.show()
    assert panel.isHidden()  # no curve: nothing to show
    curves.set([poisson_curve(("12% of the pixels are at the highest value: saturated",))])
    assert not panel.isHidden() and "measured on the image" in panel.title.text()
    assert "saturated" in panel.warnings.text() and not panel.warnings.isHidden()
    image = panel.plot.grab().toImage()
    width = image.width()
    columns = [int(width * f) for f in (0.3, 0.5, 0.7, 0.9)]
    heights = []
    for x in columns:
        rows = [y for y in blue_rows(image, x) if y > 30]  # below the legend
        assert rows, f"no curve in column {x}"
        heights.append(np.mean(rows))
    assert heights == sorted(heights, reverse=True)  # std rises with brightness: up the widget
    background = panel.plot.palette().color(panel.plot.palette().ColorRole.Base)
    assert image.pixelColor(width // 2, image.height() - 2) == background  # below the axis labels
    curves.clear()
    assert panel.isHidden()


def test_shown_for_hqssl_training_and_loaded_model_not_for_n2v2(qtbot, docked, tmp_path):
    viewer, widget = docked
    viewer.add_image(stack(), name="cells")
    panel = widget.training.noise_panel
    tiny(widget, "hqssl")
    widget.train()
    wait_idle(qtbot, widget)
    assert not panel.isHidden() and len(widget.controller.noise_curves.curves) == 1
    path = widget.save_model(tmp_path / "hq.safetensors")
    tiny(widget, "n2v2")
    widget.reset()
    widget.train()
    wait_idle(qtbot, widget)
    assert panel.isHidden()
    widget.load_model(path)
    assert not panel.isHidden()
