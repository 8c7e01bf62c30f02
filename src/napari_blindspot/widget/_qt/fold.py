"""A section of the dock that folds away: a bold header with an arrow, and its content."""

from __future__ import annotations

from qtpy.QtCore import Qt
from qtpy.QtWidgets import QSizePolicy, QToolButton, QVBoxLayout, QWidget


class Fold(QWidget):
    """``title`` as a clickable header over ``content``; ``open_`` whether it starts unfolded.

    Folding hides ``content`` (its buttons keep working from scripts), so a short window shows
    what is below it without scrolling.
    """

    def __init__(self, title: str, content: QWidget, open_: bool = True,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.content = content
        self.header = QToolButton()
        self.header.setText(title)
        self.header.setCheckable(True)
        self.header.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.header.setStyleSheet("QToolButton { border: none; font-weight: bold; }")
        self.header.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.header.setToolTip(f"Show or hide {title.lower()}.")
        self.header.toggled.connect(self.set_open)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.header)
        layout.addWidget(content)
        self.header.setChecked(open_)
        self.set_open(open_)

    @property
    def is_open(self) -> bool:
        return self.header.isChecked()

    def set_open(self, open_: bool) -> None:
        """Unfold (True) or fold (False) the section."""
        if self.header.isChecked() != open_:
            self.header.setChecked(open_)  # calls back here
            return
        self.content.setVisible(open_)
        self.header.setArrowType(Qt.ArrowType.DownArrow if open_ else Qt.ArrowType.RightArrow)
