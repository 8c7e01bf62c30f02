"""One method's settings in the widget, built from what the method declares.

:class:`MethodPanel` makes an editor for each :class:`~..engine.methods.Setting` of a method
(plus its batch size, learning rate and network size, which every method has but with its
own defaults), so a new method gets its settings panel without any change here.
"""

from __future__ import annotations

from typing import Any

from qtpy.QtWidgets import (QAbstractSpinBox, QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QLabel, QLineEdit,
                            QSizePolicy, QSpinBox, QWidget)

from ...engine import ConfigError, Method, Setting, TrainConfig
from ...engine.methods import declared_setting


#: Width of a spin box's two step buttons and frame, in pixels (napari's style: 20 px buttons).
SPIN_BUTTONS_PX = 46


def compact(box: QAbstractSpinBox, digits: int = 5) -> QAbstractSpinBox:
    """Let ``box`` shrink to ``digits`` characters plus its buttons.

    Qt sizes a spin box for the text of its largest value (e.g. 2147483647), more than a
    narrow dock has room for; a long value then scrolls inside the box.
    """
    box.setMinimumWidth(box.fontMetrics().horizontalAdvance("0" * digits) + SPIN_BUTTONS_PX)
    box.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
    return box


def compact_combo(combo: QComboBox, chars: int = 12) -> QComboBox:
    """Let ``combo`` shrink to ``chars`` characters (longer choices are elided; the list shows
    them whole)."""
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(chars)
    return combo


def form_layout(parent: QWidget | None = None) -> QFormLayout:
    """A form whose fields go under their labels when the dock is too narrow for both."""
    form = QFormLayout(parent) if parent is not None else QFormLayout()
    form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
    form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
    return form


def declared(name: str) -> Setting:
    """The declaration of setting ``name`` (engine/settings.py or a method's)."""
    setting = declared_setting(name)
    if setting is None:
        raise KeyError(name)
    return setting


def spin_digits(setting: Setting) -> int:
    """How many digits a spin box of ``setting`` shrinks to: its largest value's, at most 5."""
    if setting.kind != "int":
        return 4
    return min(len(str(int(setting.editor_bounds()[1] or 0))), 5)


def sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def _float(text: str, name: str) -> float:
    try:
        return float(text.strip())
    except ValueError:
        raise ConfigError(f"{name} {text!r} is not a number.") from None


def make_editor(setting: Setting, value: Any, digits: int = 6) -> QWidget:
    """An editor for ``setting`` showing ``value`` (see :class:`Setting` for the kinds; its
    range is the declared one, or ``editor_range``); a spin box shrinks to ``digits``."""
    editor: Any
    if setting.kind == "choice":
        editor = QComboBox()
        for choice in setting.choices:
            editor.addItem(setting.label_of(choice), choice)
        compact_combo(editor)
    elif setting.kind == "optional-float":
        editor = QLineEdit()
        editor.setPlaceholderText(setting.placeholder)
    elif setting.kind == "text":  # suggested values, or any text typed in
        editor = QComboBox()
        editor.setEditable(True)
        editor.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        for suggestion, label in setting.labels:
            editor.addItem(label, suggestion)
        compact_combo(editor)
    elif setting.kind == "bool":
        editor = QCheckBox()
    elif setting.kind == "int":
        editor = QSpinBox()
        lo, hi = setting.editor_bounds()
        editor.setRange(int(lo or 0), int(hi if hi is not None else 2**31 - 1))
        editor.setSingleStep(int(setting.step or 1))
    else:
        editor = QDoubleSpinBox()
        scale = 100.0 if setting.kind == "percent" else 1.0
        editor.setDecimals(setting.decimals)
        lo, hi = setting.editor_bounds(scale)
        editor.setRange(lo or 0.0, hi if hi is not None else 1e9 * scale)
        editor.setSingleStep((setting.step or 0.1) * scale)
        if setting.kind == "percent":
            editor.setSuffix(" %")
    if isinstance(editor, QAbstractSpinBox):
        compact(editor, digits)
    editor.setToolTip(sentence(setting.help))
    set_editor_value(setting, editor, value)
    return editor


def set_editor_value(setting: Setting, editor: Any, value: Any) -> None:
    if setting.kind == "choice":
        editor.setCurrentIndex(max(0, editor.findData(value)))
    elif setting.kind == "optional-float":
        editor.setText("" if value is None else f"{value:g}")
    elif setting.kind == "text":
        editor.setCurrentIndex(editor.findData(value))  # -1 (no item) for a typed value
        editor.setEditText(setting.label_of(str(value)))
    elif setting.kind == "percent":
        editor.setValue(float(value) * 100)
    elif setting.kind == "bool":
        editor.setChecked(bool(value))
    else:
        editor.setValue(value)


def editor_value(setting: Setting, editor: Any) -> Any:
    """The value ``editor`` holds for ``setting`` (raises ConfigError for bad text)."""
    if setting.kind == "choice":
        return editor.currentData()
    if setting.kind == "optional-float":
        text = editor.text().strip()
        return None if not text else _float(text, setting.label)
    if setting.kind == "text":
        text = editor.currentText().strip()
        by_label = {label: value for value, label in setting.labels}
        return by_label.get(text, text)
    if setting.kind == "percent":
        return round(editor.value() / 100, 6)
    if setting.kind == "bool":
        return bool(editor.isChecked())
    return editor.value()


class MethodPanel:
    """The settings of one method: ``basic`` (batch size) and ``advanced`` (learning rate, the
    method's own settings, network size), two widgets for the settings' two stacks."""

    def __init__(self, method: type[Method]) -> None:
        self.method = method
        base = TrainConfig.for_method(method.name)
        self.batch = make_editor(declared("batch_size"), base.batch_size,
                                 spin_digits(declared("batch_size")))
        self.basic = QWidget()
        basic = form_layout(self.basic)
        basic.setContentsMargins(0, 0, 0, 0)
        basic.addRow(declared("batch_size").label, self.batch)

        self.learning_rate = QLineEdit(f"{base.learning_rate:g}")  # typed: 4e-4 reads better
        self.learning_rate.setToolTip(sentence(declared("learning_rate").help))
        self.editors: dict[str, Any] = {s.field: make_editor(s, getattr(base, s.field))
                                        for s in method.settings}
        width_field, depth_field = method.network_size
        self.width_box, self.depth_box = (
            make_editor(declared(name), getattr(base, name), spin_digits(declared(name)))
            for name in (width_field, depth_field))

        self.advanced = QWidget()
        adv = form_layout(self.advanced)
        adv.setContentsMargins(0, 0, 0, 0)
        adv.addRow(declared("learning_rate").label, self.learning_rate)
        for setting in method.settings:
            adv.addRow(setting.label, self.editors[setting.field])
            if setting.note:
                note = QLabel(sentence(setting.note))
                note.setWordWrap(True)
                note.setStyleSheet("color: gray;")
                adv.addRow("", note)
        for name, box in ((width_field, self.width_box), (depth_field, self.depth_box)):
            adv.addRow(declared(name).label, box)  # two rows: one does not fit a narrow dock
        for editor in self.editors.values():
            for signal in ("currentTextChanged", "currentIndexChanged", "valueChanged", "textChanged"):
                if hasattr(editor, signal):
                    getattr(editor, signal).connect(self._update_enabled)
                    break
        self._update_enabled()

    def _applies(self, setting: Setting) -> bool:
        """Whether ``setting`` matters with the values now shown (see ``Setting.only_if``)."""
        if setting.only_if is None:
            return True
        field = setting.only_if[0]
        other = next((s for s in self.method.settings if s.field == field), None)
        if other is None:
            return True
        return setting.applies(editor_value(other, self.editors[field]))

    def _update_enabled(self, *_: Any) -> None:
        for setting in self.method.settings:
            if setting.only_if is not None:
                self.editors[setting.field].setEnabled(self._applies(setting))

    def values(self) -> dict[str, Any]:
        """This method's settings as :class:`TrainConfig` fields (raises ConfigError)."""
        width_field, depth_field = self.method.network_size
        out: dict[str, Any] = {"batch_size": self.batch.value(),
                               "learning_rate": _float(self.learning_rate.text(), "Learning rate"),
                               width_field: self.width_box.value(), depth_field: self.depth_box.value()}
        for setting in self.method.settings:
            if self._applies(setting):
                out[setting.field] = editor_value(setting, self.editors[setting.field])
        return out

    def apply(self, config: TrainConfig) -> None:
        """Show ``config``'s values for this method's settings."""
        width_field, depth_field = self.method.network_size
        self.batch.setValue(config.batch_size)
        self.learning_rate.setText(f"{config.learning_rate:g}")
        self.width_box.setValue(getattr(config, width_field))
        self.depth_box.setValue(getattr(config, depth_field))
        for setting in self.method.settings:
            set_editor_value(setting, self.editors[setting.field], getattr(config, setting.field))
        self._update_enabled()
