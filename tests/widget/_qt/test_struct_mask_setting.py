"""The structN2V setting in the N2V/N2V2 advanced settings (and nowhere else)."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

from napari_blindspot.engine import ConfigError, TrainConfig
from napari_blindspot.engine.methods import HQSSL, N2V2, Noise2Noise, Noise2Void
from napari_blindspot.widget._qt.method_panel import MethodPanel

pytestmark = pytest.mark.gui


def test_n2v2_panel_offers_the_struct_mask(qtbot):
    panel = MethodPanel(N2V2)
    qtbot.addWidget(panel.advanced)
    mask, span = panel.editors["struct_mask"], panel.editors["struct_span"]
    assert [mask.itemText(i) for i in range(mask.count())] == ["none", "horizontal", "vertical"]
    assert panel.values()["struct_mask"] == "none" and not span.isEnabled()
    mask.setCurrentText("horizontal")
    assert span.isEnabled()
    span.setValue(7)
    values = panel.values()
    assert (values["struct_mask"], values["struct_span"]) == ("horizontal", 7)
    config = TrainConfig.for_method("n2v2", **values)
    assert (config.struct_mask, config.struct_span) == ("horizontal", 7)

    mask.setCurrentText("010/111/010")  # a typed pattern
    assert not span.isEnabled() and panel.values()["struct_mask"] == "010/111/010"
    mask.setCurrentText("1111")
    with pytest.raises(ConfigError, match="no centre pixel"):
        TrainConfig.for_method("n2v2", **panel.values())

    panel.apply(TrainConfig.for_method("n2v2", struct_mask="vertical", struct_span=9))
    assert mask.currentText() == "vertical" and span.value() == 9 and span.isEnabled()


@pytest.mark.parametrize("method,has", [(Noise2Void, True), (HQSSL, False), (Noise2Noise, False)])
def test_only_n2v_family_panels_have_it(qtbot, method, has):
    panel = MethodPanel(method)
    qtbot.addWidget(panel.advanced)
    assert ("struct_mask" in panel.editors) is has
