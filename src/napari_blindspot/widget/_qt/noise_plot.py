"""A small plot of the noise model (HQ-SSL): noise standard deviation against brightness, in
the image's intensity units, painted with QPainter from a :class:`~.state.NoiseCurveSet`.

Dots are the calibration's measured points (one per brightness bin), the line is the model the
posterior uses (a measured curve, an ``a * x + b`` variance, or a flat Gaussian level), dashed
the posterior's curve after a refit.  :class:`NoisePanel` adds a title and the calibration's
warnings, and hides itself when there is no curve (methods without a noise model).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from qtpy.QtCore import QPointF, QRectF, Qt
from qtpy.QtGui import QColor, QPen, QPolygonF
from qtpy.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from ..state import NoiseCurveSet
from .inputs_view import WARNING_STYLE, small
from .loss_plot import PlotFrame, nice_ticks

#: Line colours of channels 0, 1, ... (the measured points in the same colour).
CHANNEL_COLORS = (QColor(80, 160, 255), QColor(255, 150, 40), QColor(110, 200, 110),
                  QColor(220, 110, 220))
POINT_COLOR_ALPHA = 200


def _ticks_text(value: float, decimals: int) -> str:
    return f"{value:.{decimals}f}" if abs(value) < 1e5 else f"{value:.2g}"


class NoisePlot(QWidget):
    """Noise std (y) against brightness (x), every channel of ``curves`` (see the module)."""

    def __init__(self, curves: NoiseCurveSet, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.curves = curves
        self.setMinimumHeight(130)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setToolTip("The noise model: noise standard deviation against brightness, in the "
                        "image's units. Dots: measured on the image (one per brightness bin); "
                        "line: the model the denoiser uses; dashed: its refit after training.")

    def sizeHint(self):  # noqa: D102 - Qt API
        hint = super().sizeHint()
        hint.setHeight(160)
        return hint

    def ranges(self) -> tuple[float, float, float, float]:
        """``(x0, x1, y0, y1)``: brightness and std ranges of every curve and point (y from 0)."""
        xs = np.concatenate([np.r_[c.signal, c.measured_signal] for c in self.curves.curves])
        ys = np.concatenate([np.r_[c.std, c.measured_std,
                                   c.posterior_std if c.posterior_std is not None else []]
                             for c in self.curves.curves])
        x0, x1 = float(xs.min()), float(xs.max())
        pad = (x1 - x0) * 0.04 or max(abs(x1) * 0.05, 1.0)
        y1 = float(ys.max()) * 1.1 or 1.0
        return x0 - pad, x1 + pad, 0.0, y1

    def paintEvent(self, event: Any) -> None:  # noqa: N802 - Qt API
        frame = PlotFrame(self, "00000.0", right=10, bottom_rows=2, bottom_extra=6)
        painter, text, grid, h, area = frame.painter, frame.text, frame.grid, frame.height, frame.area
        metrics = painter.fontMetrics()
        if not self.curves.curves:
            painter.setPen(text)
            painter.drawText(area, Qt.AlignmentFlag.AlignCenter, "HQ-SSL's noise curve appears here")
            painter.end()
            return
        x0, x1, y0, y1 = self.ranges()

        def to_point(x: float, y: float) -> QPointF:
            return QPointF(area.left() + (x - x0) / (x1 - x0) * area.width(),
                           area.bottom() - (min(max(y, y0), y1) - y0) / (y1 - y0) * area.height())

        yticks, ydec = nice_ticks(y0, y1)
        for value in yticks:
            y = to_point(x0, value).y()
            painter.setPen(QPen(grid, 1, Qt.PenStyle.DashLine))
            painter.drawLine(QPointF(area.left(), y), QPointF(area.right(), y))
            painter.setPen(text)
            painter.drawText(QRectF(0, y - h / 2, area.left() - 4, h),
                             Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                             _ticks_text(value, ydec))
        xticks, xdec = nice_ticks(x0, x1)
        for value in xticks:
            x = to_point(value, y0).x()
            painter.setPen(QPen(grid, 1, Qt.PenStyle.DashLine))
            painter.drawLine(QPointF(x, area.top()), QPointF(x, area.bottom()))
            painter.setPen(text)
            label = _ticks_text(value, xdec)
            width = metrics.horizontalAdvance(label)
            painter.drawText(QPointF(x - width / 2, area.bottom() + h), label)
        painter.drawText(QRectF(area.left(), area.bottom() + h + 2, area.width(), h),
                         Qt.AlignmentFlag.AlignHCenter, "brightness (image units)")
        painter.drawText(QPointF(2, h - 1), "noise std")

        painter.setClipRect(area.adjusted(-4, -4, 4, 4))
        for curve in self.curves.curves:
            color = CHANNEL_COLORS[curve.channel % len(CHANNEL_COLORS)]
            painter.setPen(QPen(color, 2.0))
            painter.drawPolyline(QPolygonF([to_point(x, y) for x, y in zip(curve.signal, curve.std)]))
            if curve.posterior_std is not None:
                painter.setPen(QPen(color, 1.5, Qt.PenStyle.DashLine))
                painter.drawPolyline(QPolygonF([to_point(x, y) for x, y in
                                                zip(curve.signal, curve.posterior_std)]))
            dots = QColor(color)
            dots.setAlpha(POINT_COLOR_ALPHA)
            painter.setPen(QPen(text, 0.8))
            painter.setBrush(dots)
            for x, y in zip(curve.measured_signal, curve.measured_std):
                painter.drawEllipse(to_point(x, y), 3.0, 3.0)
            painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setClipping(False)

        # legend: what the line and the dots are (and the channels, when several)
        x = area.left() + 6
        y = area.top() + h * 0.5 + 3
        items = [("measured", "dot"), ("model", "line")]
        if any(c.posterior_std is not None for c in self.curves.curves):
            items.append(("refit", "dash"))
        if len(self.curves.curves) > 1:
            items += [(f"channel {c.channel}", c.channel) for c in self.curves.curves]
        for label, kind in items:
            color = CHANNEL_COLORS[kind % len(CHANNEL_COLORS) if isinstance(kind, int) else 0]
            if kind == "dot":
                painter.setPen(QPen(text, 0.8))
                painter.setBrush(color)
                painter.drawEllipse(QPointF(x + 6, y), 3.0, 3.0)
                painter.setBrush(Qt.BrushStyle.NoBrush)
            else:
                style = Qt.PenStyle.DashLine if kind == "dash" else Qt.PenStyle.SolidLine
                painter.setPen(QPen(color, 2.0, style))
                painter.drawLine(QPointF(x, y), QPointF(x + 12, y))
            painter.setPen(text)
            painter.drawText(QPointF(x + 16, y + h / 2 - 3), label)
            x += 16 + metrics.horizontalAdvance(label) + 10
        painter.end()


class NoisePanel(QWidget):
    """The noise plot with its title and the calibration's warnings, shown only while there
    are curves (an HQ-SSL run after its calibration, or an HQ-SSL model)."""

    def __init__(self, curves: NoiseCurveSet, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.curves = curves
        self.title = small(QLabel("Noise model"))
        self.plot = NoisePlot(curves)
        self.warnings = small(QLabel())
        self.warnings.setWordWrap(True)
        self.warnings.setStyleSheet(WARNING_STYLE)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.title)
        layout.addWidget(self.plot)
        layout.addWidget(self.warnings)
        curves.changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        """Show (or hide) the panel for the curves now, with their warnings."""
        curves = self.curves.curves
        self.setVisible(bool(curves))
        source = {"image": "measured on the image", "repeats": "measured on repeats"}.get(
            curves[0].source if curves else "", "")
        self.title.setText("Noise model: noise std against brightness"
                           + (f", {source}" if source else ""))
        warnings = self.curves.warnings
        self.warnings.setText("\n".join(f"⚠ {w}" for w in warnings))
        self.warnings.setVisible(bool(warnings))
        self.plot.update()
