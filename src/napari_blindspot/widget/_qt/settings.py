"""Training settings: the basic ones and a collapsible advanced section.

The training length is text (:func:`.lengths.parse_length`: "1500 steps", "5 minutes"…);
:class:`SettingsPanel` turns its fields into :class:`TrainConfig` overrides and back; the
settings that differ between methods sit in one :class:`~.method_panel.MethodPanel` per
method, in stacked widgets (only the chosen method's panel shows).
"""

from __future__ import annotations

from typing import Any

from qtpy.QtCore import Qt, Signal
from qtpy.QtWidgets import (QCheckBox, QComboBox, QHBoxLayout, QLabel, QLineEdit, QSizePolicy,
                            QStackedWidget, QToolButton, QVBoxLayout, QWidget)

from ...engine import Setting, TrainConfig, available_devices, method_classes
from ...engine.defaults import ONE_SHOT_TTA, ONE_SHOT_TTA_MAX_PIXELS
from ...engine.settings import BY_NAME, GENERAL
from ..expected import widget_plan
from ..lengths import LENGTH_EXAMPLES, format_length, parse_length
from .method_panel import (MethodPanel, compact_combo, editor_value, form_layout, make_editor,
                           sentence, set_editor_value, spin_digits)

__all__ = ["LENGTH_EXAMPLES", "SettingsPanel", "format_length", "parse_length"]


def _stack(pages: list[QWidget]) -> QStackedWidget:
    stack = QStackedWidget()
    for page in pages:
        stack.addWidget(page)
    return stack


def _show_page(stack: QStackedWidget, index: int) -> None:
    """Show page ``index``; the stack takes the size of that page, not of its largest one."""
    for i in range(stack.count()):
        policy = QSizePolicy.Policy.Preferred if i == index else QSizePolicy.Policy.Ignored
        stack.widget(i).setSizePolicy(policy, policy)
    stack.setCurrentIndex(index)
    stack.adjustSize()


class SettingsPanel(QWidget):
    """Basic settings (length, patch, batch) and an "Advanced" section that folds away."""

    changed = Signal()
    device_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        base = TrainConfig()
        plan = widget_plan()  # the engine's defaults, the command line's too
        self.panels = {cls.name: MethodPanel(cls) for cls in method_classes()}
        self._method = plan.method if plan.method in self.panels else next(iter(self.panels))

        # each method's default patch on this device (HQ-SSL's is larger than N2V2's): the patch
        # box follows the method until the user types another size
        self._patch_defaults = {name: (c.patch_size, c.patch_size_z) for name, c in
                                ((n, TrainConfig.for_method(n)) for n in self.panels)}
        patch, patch_z = self._patch_defaults[self._method]
        self.length = QLineEdit(format_length(base.replace(**plan.length)))
        self.length.setToolTip(f"How long to train: {LENGTH_EXAMPLES}. With a time budget, training "
                               "stops when the time is up. The default is the command line's "
                               f"one-shot default: {plan.reason}.")
        self.patch, self.patch_z = (make_editor(BY_NAME[name], value, spin_digits(BY_NAME[name]))
                                    for name, value in (("patch_size", patch), ("patch_size_z", patch_z)))
        self.basic_stack = _stack([panel.basic for panel in self.panels.values()])

        basic = form_layout()
        basic.setContentsMargins(0, 0, 0, 0)
        basic.addRow("Training length", self.length)
        patch_row = QHBoxLayout()
        patch_row.addWidget(self.patch)
        self.patch_z_label = QLabel(BY_NAME["patch_size_z"].label)
        patch_row.addWidget(self.patch_z_label)
        patch_row.addWidget(self.patch_z)
        basic.addRow(BY_NAME["patch_size"].label, patch_row)

        # ---- advanced
        self.toggle = QToolButton()
        self.toggle.setText("Advanced settings")
        self.toggle.setCheckable(True)
        self.toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.toggle.setStyleSheet("QToolButton { border: none; }")
        self.toggle.toggled.connect(self._fold)
        self.advanced_stack = _stack([panel.advanced for panel in self.panels.values()])

        # the general settings of the advanced section, as declared (engine/settings.py)
        self.general = sorted((s for s in GENERAL if s.widget), key=lambda s: s.widget)
        self.general_editors: dict[str, Any] = {
            s.field: self._device_box(s) if s.field == "device" else
            make_editor(s, getattr(base, s.field), spin_digits(s)) for s in self.general}
        self.validation = self.general_editors["validation_fraction"]
        self.seed = self.general_editors["seed"]
        self.device = self.general_editors["device"]
        self.channels = self.general_editors["channels"]
        self.tile = self.general_editors["tile_size"]
        self.tta = QCheckBox("rotations (+ mirror images)")
        self.tta.setToolTip("Average the prediction over the 4 rotations (+0.1-0.3 dB) and, for HQ-SSL "
                            "2D, their mirror images too (+0.01-0.14 dB more), as one-shot `blindspot "
                            "denoise` does; HQ-SSL's rotations share one network pass, so its "
                            f"{ONE_SHOT_TTA} transforms take about 3.3x one pass, other methods' 4 "
                            f"rotations 4x. Images over {ONE_SHOT_TTA_MAX_PIXELS / 1e6:.0f} MP are "
                            "denoised without it.")
        self.tta.setChecked(True)
        self.live_preview = QCheckBox("live preview while training")
        self.live_preview.setChecked(True)
        self.live_preview.setToolTip("Show the current model's output on the frame in view every few "
                                     "seconds while training. Off: training is slightly faster and "
                                     "the viewer redraws less (slow computers without a GPU).")

        self.advanced = QWidget()
        adv_layout = QVBoxLayout(self.advanced)
        adv_layout.setContentsMargins(12, 0, 0, 0)
        adv_layout.setSpacing(0)
        adv_layout.addWidget(self.advanced_stack)
        adv = self.advanced_form = form_layout()
        for setting in self.general:
            adv.addRow(setting.label, self.general_editors[setting.field])
        adv.addRow("Test-time aug.", self.tta)
        adv.addRow("Preview", self.live_preview)
        adv_layout.addLayout(adv)
        self.advanced.setVisible(False)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(basic)
        layout.addWidget(self.basic_stack)
        layout.addWidget(self.toggle)
        layout.addWidget(self.advanced)
        self._three_d = False
        self._has_channels = False
        self._show_method()
        self._update_enabled()

    def _device_box(self, setting: Setting) -> QComboBox:
        """The device editor: the devices this machine has."""
        box = QComboBox()
        box.addItem("auto (best available)", "auto")
        for name in available_devices():
            box.addItem(name, name)
        compact_combo(box)
        box.setToolTip(sentence(setting.help))
        box.currentIndexChanged.connect(lambda *_: self.device_changed.emit(self.device_name))
        return box

    # ------------------------------------------------------------------ state
    @property
    def method(self) -> str:
        """The method whose settings are shown."""
        return self._method

    @property
    def panel(self) -> MethodPanel:
        """The settings panel of the chosen method."""
        return self.panels[self._method]

    @property
    def batch(self) -> Any:
        """The chosen method's batch size box."""
        return self.panel.batch

    @property
    def learning_rate(self) -> QLineEdit:
        return self.panel.learning_rate

    @property
    def width_box(self) -> Any:
        """The chosen method's network width box."""
        return self.panel.width_box

    @property
    def depth_box(self) -> Any:
        """The chosen method's network depth box."""
        return self.panel.depth_box

    def editor(self, field: str) -> QWidget:
        """The chosen method's editor of its setting ``field`` (KeyError if it has none)."""
        return self.panel.editors[field]

    @property
    def device_name(self) -> str:
        return str(self.device.currentData())

    @property
    def tile_size(self) -> int:
        return int(self.tile.value())

    def _fold(self, open_: bool) -> None:
        self.advanced.setVisible(open_)
        self.toggle.setArrowType(Qt.ArrowType.DownArrow if open_ else Qt.ArrowType.RightArrow)

    def set_context(self, *, three_d: bool, has_channels: bool) -> None:
        """Enable the Z patch for 3D training and the channel mode for multichannel data."""
        self._three_d, self._has_channels = three_d, has_channels
        self._update_enabled()

    def _update_enabled(self, *_: Any) -> None:
        self.patch_z.setVisible(self._three_d)
        self.patch_z_label.setVisible(self._three_d)
        self.channels.setEnabled(self._has_channels)

    def set_method(self, method: str) -> None:
        """Show ``method``'s settings; each method keeps the values the user gave it."""
        if method not in self.panels:
            raise KeyError(method)
        old, new = self._patch_defaults[self._method], self._patch_defaults[method]
        if self.patch.value() == old[0]:  # untouched: the new method's default
            self.patch.setValue(new[0])
        if self.patch_z.value() == old[1]:
            self.patch_z.setValue(new[1])
        self._method = method
        self._show_method()

    def _show_method(self) -> None:
        index = list(self.panels).index(self._method)
        _show_page(self.basic_stack, index)
        _show_page(self.advanced_stack, index)

    # ------------------------------------------------------------------ config
    def overrides(self, *, training: bool = True) -> dict[str, Any]:
        """The settings as :class:`TrainConfig` fields (raises ConfigError for bad text)."""
        out: dict[str, Any] = {"patch_size": self.patch.value(), "patch_size_z": self.patch_z.value()}
        for setting in self.general:
            out[setting.field] = editor_value(setting, self.general_editors[setting.field])
        out["device"] = self.device_name  # the name behind the device's label
        if not self._has_channels:
            out["channels"] = "independent"
        out.update(self.panel.values())
        if training:
            out.update(parse_length(self.length.text()))
        return out

    def apply_config(self, config: TrainConfig) -> None:
        """Show ``config``'s values (e.g. after loading a model)."""
        self.set_method(config.method)
        self.length.setText(format_length(config))
        self.patch.setValue(config.patch_size)
        self.patch_z.setValue(config.patch_size_z)
        self.panel.apply(config)
        for setting in self.general:
            if setting.field != "device":  # the device is this machine's choice
                set_editor_value(setting, self.general_editors[setting.field],
                                 getattr(config, setting.field))
        self._update_enabled()
