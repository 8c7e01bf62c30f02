"""The widget's Channels setting reaches every channel mode, separate channels included."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

from napari_blindspot.engine import TrainConfig
from napari_blindspot.engine.config import CHANNEL_MODES
from napari_blindspot.widget._qt.settings import SettingsPanel

pytestmark = pytest.mark.gui


def test_channels_combo_offers_every_mode_and_gives_separate(qtbot):
    panel = SettingsPanel()
    qtbot.addWidget(panel)
    combo = panel.channels
    assert [combo.itemData(i) for i in range(combo.count())] == list(CHANNEL_MODES)
    assert "a network per channel" in combo.itemText(combo.findData("separate"))
    panel.set_context(three_d=False, has_channels=True)
    assert panel.overrides(training=False)["channels"] == "auto"
    combo.setCurrentIndex(combo.findData("separate"))
    config = TrainConfig.for_method("hqssl", axes="CYX", **panel.overrides(training=False))
    assert config.channels == "separate"
    panel.apply_config(TrainConfig.for_method("hqssl", axes="CYX", channels="independent"))
    assert combo.currentData() == "independent"
    panel.set_context(three_d=False, has_channels=False)  # one channel: nothing to choose
    assert not combo.isEnabled()
