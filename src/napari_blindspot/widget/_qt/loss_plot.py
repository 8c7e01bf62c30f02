"""A small live plot of training and validation loss (a :class:`~.state.LossHistory`), painted
with QPainter; the owner calls ``update()`` to repaint it."""

from __future__ import annotations

import math

import numpy as np
from qtpy.QtCore import QPointF, QRectF, Qt
from qtpy.QtGui import QColor, QFont, QPainter, QPen, QPolygonF
from qtpy.QtWidgets import QSizePolicy, QWidget

from ...text import format_duration, loss_help, loss_legend
from ..state import LossHistory

TRAIN_COLOR = QColor(80, 160, 255)
VAL_COLOR = QColor(255, 150, 40)
MAX_DRAWN = 1500


def _fmt(value: float) -> str:
    return f"{value:.3g}"


def nice_ticks(lo: float, hi: float, count: int = 4) -> tuple[list[float], int]:
    """Round tick values covering ``[lo, hi]`` (about ``count`` of them) and their decimals."""
    span = max(hi - lo, 1e-12)
    raw = span / count
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1.0, 2.0, 2.5, 5.0, 10.0) if m * magnitude >= raw)
    decimals = max(0, -int(math.floor(math.log10(step))) + (1 if step / magnitude == 2.5 else 0))
    first = math.ceil(lo / step) * step
    ticks = []
    while (value := first + len(ticks) * step) <= hi + step * 1e-6:
        ticks.append(0.0 if abs(value) < step * 1e-9 else value)
    return ticks, decimals



class PlotFrame:
    """What a small QPainter plot starts with (shared by the loss and the noise plots): the
    painter on ``widget`` with a smaller font, the text and grid colours, the font's height and
    the plot area (room for ``widest_label`` on the left, ``bottom`` pixels below), framed on the
    background."""

    def __init__(self, widget: QWidget, widest_label: str, right: int, bottom_rows: float,
                 bottom_extra: int) -> None:
        self.painter = painter = QPainter(widget)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = widget.palette()
        self.text = palette.color(palette.ColorRole.WindowText)
        self.grid = QColor(self.text)
        self.grid.setAlpha(50)
        font = QFont(painter.font())
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.85))
        painter.setFont(font)
        metrics = painter.fontMetrics()
        self.height = h = metrics.height()
        self.area = QRectF(widget.rect()).adjusted(metrics.horizontalAdvance(widest_label) + 6, h + 6,
                                                   -right, -bottom_rows * h - bottom_extra)
        painter.fillRect(widget.rect(), palette.color(palette.ColorRole.Base))
        painter.setPen(QPen(self.grid, 1))
        painter.drawRect(self.area)

class LossPlot(QWidget):
    """Training loss (blue line) and validation loss (orange line with dots) against step.

    The y range ignores the first tenth of the training curve once there are enough
    points, so the large initial losses do not flatten the interesting part.  The legend
    names the loss of the history's method and the tooltip explains both curves
    (:func:`~napari_blindspot.text.loss_help`); the step axis ends with the run's time.
    """

    def __init__(self, history: LossHistory, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.history = history
        self.setMinimumHeight(130)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self._explained: str | None = None
        self._explain()

    def _explain(self) -> None:
        """The tooltip for the history's method (set again when the method changes)."""
        method = self.history.method or "hqssl"
        if method != self._explained:
            self._explained = method
            self.setToolTip(loss_help(method))

    def legend(self) -> tuple[str, str]:
        """The labels of the training and validation curves."""
        return loss_legend(self.history.method or "hqssl")

    def sizeHint(self):  # noqa: D102 - Qt API
        hint = super().sizeHint()
        hint.setHeight(150)
        return hint

    # ------------------------------------------------------------------ data
    @property
    def train(self) -> list[tuple[float, float]]:
        """The training loss points ``(step, loss)`` drawn."""
        return self.history.train

    @property
    def validation(self) -> list[tuple[float, float]]:
        """The validation loss points ``(step, loss)`` drawn."""
        return self.history.validation

    def smoothed_train(self) -> list[tuple[float, float]]:
        """Exponential running average of the training loss (about 1/20 of the curve)."""
        if len(self.train) < 10:
            return []
        alpha = min(0.5, 20.0 / len(self.train))
        out, value, weight = [], 0.0, 0.0
        for step, loss in self.train:  # bias-corrected, so the start does not lag
            value = (1 - alpha) * value + alpha * loss
            weight = (1 - alpha) * weight + alpha
            out.append((step, value / weight))
        return out

    # --------------------------------------------------------------- drawing
    def _ranges(self) -> tuple[float, float, float, float]:
        steps = [s for s, _ in self.train + self.validation]
        x0, x1 = 0.0, max(steps) if steps else 1.0
        train = np.array([v for _, v in self.train], float)
        if len(train) >= 20:
            train = train[len(train) // 10:]
        values = np.concatenate([train, np.array([v for _, v in self.validation], float)])
        lo, hi = float(values.min()), float(values.max())
        pad = (hi - lo) * 0.08 or max(abs(hi) * 0.05, 1e-3)
        return x0, max(x1, x0 + 1.0), lo - pad, hi + pad

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt API
        self._explain()
        frame = PlotFrame(self, "-0.0000", right=8, bottom_rows=1, bottom_extra=4)
        painter, text, grid, height, area = frame.painter, frame.text, frame.grid, frame.height, frame.area
        metrics = painter.fontMetrics()
        if not self.train and not self.validation:
            painter.setPen(text)
            painter.drawText(area, Qt.AlignmentFlag.AlignCenter, "Loss curves appear here (hover: what they are)")
            painter.end()
            return
        x0, x1, y0, y1 = self._ranges()

        def to_point(step: float, value: float) -> QPointF:
            value = min(max(value, y0), y1)
            return QPointF(area.left() + (step - x0) / (x1 - x0) * area.width(),
                           area.bottom() - (value - y0) / (y1 - y0) * area.height())

        # grid and y labels at round values
        ticks, decimals = nice_ticks(y0, y1)
        for value in ticks:
            y = to_point(x0, value).y()
            painter.setPen(QPen(grid, 1, Qt.PenStyle.DashLine))
            painter.drawLine(QPointF(area.left(), y), QPointF(area.right(), y))
            painter.setPen(text)
            label_rect = QRectF(0, y - height / 2, area.left() - 4, height)
            painter.drawText(label_rect, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                             f"{value:.{decimals}f}")
        painter.drawText(QRectF(area.left(), area.bottom() + 2, area.width(), height),
                         Qt.AlignmentFlag.AlignLeft, "0")
        painter.drawText(QRectF(area.left(), area.bottom() + 2, area.width(), height),
                         Qt.AlignmentFlag.AlignRight, f"step {int(x1):,}" + (
                             f" · {format_duration(self.history.elapsed_s)}" if self.history.elapsed_s else ""))

        # curves: raw training loss faint, its running average and the validation loss bold
        painter.setClipRect(area.adjusted(-3, -3, 3, 3))
        faint = QColor(TRAIN_COLOR)
        faint.setAlpha(90)
        for points, color, dots in ((self.train, faint, False), (self.smoothed_train(), TRAIN_COLOR, False),
                                    (self.validation, VAL_COLOR, True)):
            if not points:
                continue
            stride = max(1, len(points) // MAX_DRAWN)
            drawn = points[::stride] if stride > 1 else points
            if stride > 1 and drawn[-1] is not points[-1]:
                drawn = drawn + [points[-1]]
            poly = QPolygonF([to_point(s, v) for s, v in drawn])
            painter.setPen(QPen(color, 1.2 if color is faint else 1.8))
            painter.drawPolyline(poly)
            if dots or len(drawn) == 1:
                painter.setBrush(color)
                for p in poly:
                    painter.drawEllipse(p, 2.2, 2.2)
                painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setClipping(False)

        # legend with the latest values
        x = area.left()
        train_label, val_label = self.legend()
        for label, points, color in ((train_label, self.smoothed_train() or self.train, TRAIN_COLOR),
                                     (val_label, self.validation, VAL_COLOR)):
            if not points:
                continue
            painter.setPen(QPen(color, 2.5))
            painter.drawLine(QPointF(x, height / 2 + 2), QPointF(x + 14, height / 2 + 2))
            painter.setPen(text)
            caption = f"{label} {_fmt(points[-1][1])}"
            painter.drawText(QPointF(x + 18, height - 1), caption)
            x += 18 + metrics.horizontalAdvance(caption) + 14
        painter.end()
