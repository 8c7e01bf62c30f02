"""Training settings: the basic ones and a collapsible advanced section.

:func:`parse_length` understands "1500 steps", "20 epochs", "5 minutes", "1 h 30 min"…
:class:`SettingsPanel` turns its fields into :class:`TrainConfig` overrides and back.
"""

from __future__ import annotations

import re
from typing import Any

from qtpy.QtCore import Qt, Signal
from qtpy.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QHBoxLayout, QLabel,
                            QLineEdit, QSpinBox, QToolButton, QVBoxLayout, QWidget)

from ..engine import TrainConfig, available_devices
from ..engine.errors import ConfigError

LENGTH_EXAMPLES = "'1500 steps', '20 epochs', '5 minutes' or '1 h 30 min'"

_UNITS = {"h": 3600.0, "hr": 3600.0, "hrs": 3600.0, "hour": 3600.0, "hours": 3600.0,
          "m": 60.0, "min": 60.0, "mins": 60.0, "minute": 60.0, "minutes": 60.0,
          "s": 1.0, "sec": 1.0, "secs": 1.0, "second": 1.0, "seconds": 1.0}
_DURATION_TERM = r"(\d+(?:\.\d+)?)\s*(hours|hour|hrs|hr|h|minutes|minute|mins|min|m|seconds|second|secs|sec|s)"

NOISE_MODEL_LABELS = {
    "poisson-gaussian": "Poisson-Gaussian (camera)",
    "gaussian": "Gaussian (learned sigma)",
    "gaussian-known": "Gaussian, known sigma",
    "mean-only": "none (mean only)",
}


def parse_length(text: str) -> dict[str, Any]:
    """Training length -> ``{"steps", "epochs", "time_budget_s"}`` (exactly one set).

    A bare number means steps.  Raises :class:`ConfigError` for anything else.
    """
    t = text.strip().lower().replace(",", "").replace("_", "")
    out: dict[str, Any] = {"steps": None, "epochs": None, "time_budget_s": None}
    if m := re.fullmatch(r"(\d+)\s*(steps?|iterations?|iters?)?", t):
        out["steps"] = int(m.group(1))
    elif m := re.fullmatch(r"(\d+)\s*(epochs?|ep)", t):
        out["epochs"] = int(m.group(1))
    elif t and re.fullmatch(rf"(\s*{_DURATION_TERM}\s*)+", t):
        out["time_budget_s"] = sum(float(v) * _UNITS[u] for v, u in re.findall(_DURATION_TERM, t))
    else:
        raise ConfigError(f"Training length {text!r} is not understood: write e.g. {LENGTH_EXAMPLES}.")
    if not any(v for v in out.values()):
        raise ConfigError(f"Training length {text!r} must be more than zero.")
    return out


def format_length(config: TrainConfig) -> str:
    """The inverse of :func:`parse_length` for a configuration."""
    if config.time_budget_s:
        seconds = config.time_budget_s
        if seconds >= 60 and seconds % 60 == 0:
            return f"{int(seconds // 60)} minutes"
        return f"{seconds:g} s"
    if config.epochs:
        return f"{config.epochs} epochs"
    return f"{config.steps} steps"


def _spin(lo: int, hi: int, value: int, step: int = 1, tip: str = "") -> QSpinBox:
    box = QSpinBox()
    box.setRange(lo, hi)
    box.setSingleStep(step)
    box.setValue(value)
    box.setToolTip(tip)
    return box


class SettingsPanel(QWidget):
    """Basic settings (length, patch, batch) and an "Advanced" section that folds away."""

    changed = Signal()
    device_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._method = "n2v2"
        self._remembered: dict[str, dict[str, Any]] = {}
        base = TrainConfig.for_method(self._method)

        self.length = QLineEdit(format_length(base))
        self.length.setToolTip(f"How long to train: {LENGTH_EXAMPLES}. With a time budget, training "
                               "stops when the time is up.")
        self.patch = _spin(8, 1024, base.patch_size, 16, "Side of the square training patches, in pixels "
                           "(a multiple of 4). Larger patches see more context but need more memory.")
        self.patch_z = _spin(4, 256, base.patch_size_z, 4, "Depth of the training patches in Z (3D only).")
        self.batch = _spin(1, 1024, base.batch_size, 1, "Patches per training step. Lower it if the GPU "
                           "runs out of memory.")

        basic = QFormLayout()
        basic.setContentsMargins(0, 0, 0, 0)
        basic.addRow("Training length", self.length)
        patch_row = QHBoxLayout()
        patch_row.addWidget(self.patch)
        self.patch_z_label = QLabel("Z")
        patch_row.addWidget(self.patch_z_label)
        patch_row.addWidget(self.patch_z)
        basic.addRow("Patch size", patch_row)
        basic.addRow("Batch size", self.batch)

        # ---- advanced
        self.toggle = QToolButton()
        self.toggle.setText("Advanced settings")
        self.toggle.setCheckable(True)
        self.toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.toggle.setStyleSheet("QToolButton { border: none; }")
        self.toggle.toggled.connect(self._fold)

        self.learning_rate = QLineEdit(f"{base.learning_rate:g}")
        self.learning_rate.setToolTip("Peak learning rate (warm-up, then cosine decay).")
        self.mask_percent = QDoubleSpinBox()
        self.mask_percent.setRange(0.01, 25.0)
        self.mask_percent.setDecimals(2)
        self.mask_percent.setSingleStep(0.1)
        self.mask_percent.setSuffix(" %")
        self.mask_percent.setValue(base.mask_fraction * 100)
        self.mask_percent.setToolTip("Share of pixels masked per patch (N2V, N2V2); 0.2 % is the usual.")
        self.width_box = _spin(4, 256, base.unet_features, 4, "Features in the first network layer "
                               "(doubled at every level). Smaller is faster, larger may denoise better.")
        self.depth_box = _spin(1, 6, base.unet_depth, 1, "Levels (U-Net) or blocks (HQ-SSL) of the "
                               "network; more levels see more context.")
        net_row = QHBoxLayout()
        net_row.addWidget(QLabel("width"))
        net_row.addWidget(self.width_box)
        net_row.addWidget(QLabel("depth"))
        net_row.addWidget(self.depth_box)
        self.noise_model = QComboBox()
        for key, label in NOISE_MODEL_LABELS.items():
            self.noise_model.addItem(label, key)
        self.noise_model.setToolTip("HQ-SSL's noise model: Poisson-Gaussian for cameras (variance grows "
                                    "with brightness), Gaussian for constant noise.")
        self.noise_sigma = QLineEdit()
        self.noise_sigma.setPlaceholderText("sigma, in image units")
        self.noise_sigma.setToolTip("The known noise standard deviation, in the image's intensity units.")
        self.noise_model.currentIndexChanged.connect(self._update_enabled)
        noise_row = QHBoxLayout()
        noise_row.addWidget(self.noise_model, 2)
        noise_row.addWidget(self.noise_sigma, 1)
        self.validation = QDoubleSpinBox()
        self.validation.setRange(0.0, 0.45)
        self.validation.setSingleStep(0.05)
        self.validation.setValue(base.validation_fraction)
        self.validation.setToolTip("Share of the data held out to compute the validation loss; the "
                                   "model with the best validation loss is kept.")
        self.seed = _spin(0, 2**31 - 1, base.seed, 1, "Random seed: the same seed and settings give "
                          "the same model on the same device.")
        self.device = QComboBox()
        self.device.addItem("auto (best available)", "auto")
        for name in available_devices():
            self.device.addItem(name, name)
        self.device.currentIndexChanged.connect(lambda *_: self.device_changed.emit(self.device_name))
        self.channels = QComboBox()
        self.channels.addItem("independent", "independent")
        self.channels.addItem("joint", "joint")
        self.channels.setToolTip("independent: one network denoises each channel on its own; "
                                 "joint: channels are denoised together (correlated channels).")
        self.tile = _spin(32, 8192, base.tile_size, 64, "Denoising works on tiles of this size (pixels); "
                          "lower it if the GPU runs out of memory while denoising.")
        self.tta = QCheckBox("test-time augmentation (8x slower)")
        self.tta.setToolTip("Average the prediction over the 8 flips and rotations.")
        self.live_preview = QCheckBox("live preview while training")
        self.live_preview.setChecked(True)
        self.live_preview.setToolTip("Show the current model's output on the frame in view every few "
                                     "seconds while training. Off: training is slightly faster and "
                                     "the viewer redraws less (slow computers without a GPU).")

        self.advanced = QWidget()
        adv = QFormLayout(self.advanced)
        adv.setContentsMargins(12, 0, 0, 0)
        adv.addRow("Learning rate", self.learning_rate)
        adv.addRow("Masked pixels", self.mask_percent)
        adv.addRow("Network size", net_row)
        adv.addRow("Noise model", noise_row)
        adv.addRow("Validation", self.validation)
        adv.addRow("Seed", self.seed)
        adv.addRow("Device", self.device)
        adv.addRow("Channels", self.channels)
        adv.addRow("Tile size", self.tile)
        adv.addRow("", self.tta)
        adv.addRow("Preview", self.live_preview)
        self.advanced.setVisible(False)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(basic)
        layout.addWidget(self.toggle)
        layout.addWidget(self.advanced)
        self._three_d = False
        self._has_channels = False
        self._update_enabled()

    # ------------------------------------------------------------------ state
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
        m = self._method
        self.patch_z.setVisible(self._three_d)
        self.patch_z_label.setVisible(self._three_d)
        self.mask_percent.setEnabled(m in ("n2v", "n2v2"))
        self.noise_model.setEnabled(m == "hqssl")
        self.noise_sigma.setEnabled(m == "hqssl" and self.noise_model.currentData() == "gaussian-known")
        self.channels.setEnabled(self._has_channels)

    def _net_fields(self, method: str) -> tuple[str, str]:
        return ("hq_features", "hq_depth") if method == "hqssl" else ("unet_features", "unet_depth")

    def set_method(self, method: str) -> None:
        """Switch method: keep what the user set for the old one, restore the new one's values."""
        if method == self._method:
            return
        self._remembered[self._method] = {"batch": self.batch.value(), "lr": self.learning_rate.text(),
                                          "width": self.width_box.value(), "depth": self.depth_box.value()}
        self._method = method
        saved = self._remembered.get(method)
        if saved is None:
            cfg = TrainConfig.for_method(method)
            width, depth = (getattr(cfg, f) for f in self._net_fields(method))
            saved = {"batch": cfg.batch_size, "lr": f"{cfg.learning_rate:g}", "width": width, "depth": depth}
        self.batch.setValue(saved["batch"])
        self.learning_rate.setText(saved["lr"])
        self.width_box.setValue(saved["width"])
        self.depth_box.setValue(saved["depth"])
        self._update_enabled()

    # ------------------------------------------------------------------ config
    def _float(self, edit: QLineEdit, name: str) -> float:
        try:
            return float(edit.text().strip())
        except ValueError:
            raise ConfigError(f"{name} {edit.text()!r} is not a number.") from None

    def overrides(self, *, training: bool = True) -> dict[str, Any]:
        """The settings as :class:`TrainConfig` fields (raises ConfigError for bad text)."""
        width_field, depth_field = self._net_fields(self._method)
        out: dict[str, Any] = {
            "patch_size": self.patch.value(), "patch_size_z": self.patch_z.value(),
            "batch_size": self.batch.value(),
            "learning_rate": self._float(self.learning_rate, "Learning rate"),
            "mask_fraction": round(self.mask_percent.value() / 100, 6),
            width_field: self.width_box.value(), depth_field: self.depth_box.value(),
            "noise_model": self.noise_model.currentData(),
            "validation_fraction": round(self.validation.value(), 4),
            "seed": self.seed.value(), "device": self.device_name,
            "channels": self.channels.currentData() if self._has_channels else "independent",
            "tile_size": self.tile.value(),
        }
        if out["noise_model"] == "gaussian-known":
            out["noise_sigma"] = self._float(self.noise_sigma, "Noise sigma")
        if training:
            out.update(parse_length(self.length.text()))
        return out

    def apply_config(self, config: TrainConfig) -> None:
        """Show ``config``'s values (e.g. after loading a model)."""
        self.set_method(config.method)
        self.length.setText(format_length(config))
        self.patch.setValue(config.patch_size)
        self.patch_z.setValue(config.patch_size_z)
        self.batch.setValue(config.batch_size)
        self.learning_rate.setText(f"{config.learning_rate:g}")
        self.mask_percent.setValue(config.mask_fraction * 100)
        width_field, depth_field = self._net_fields(config.method)
        self.width_box.setValue(getattr(config, width_field))
        self.depth_box.setValue(getattr(config, depth_field))
        self.noise_model.setCurrentIndex(max(0, self.noise_model.findData(config.noise_model)))
        self.noise_sigma.setText("" if config.noise_sigma is None else f"{config.noise_sigma:g}")
        self.validation.setValue(config.validation_fraction)
        self.seed.setValue(config.seed)
        self.channels.setCurrentIndex(max(0, self.channels.findData(config.channels)))
        self.tile.setValue(config.tile_size)
        self._update_enabled()
