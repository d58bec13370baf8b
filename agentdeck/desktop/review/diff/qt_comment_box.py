"""The box under the diff where a comment on the selected lines is written (key ``c``)."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (QFrame, QHBoxLayout, QLabel, QPlainTextEdit, QPushButton,
                               QVBoxLayout, QWidget)

from agentdeck.engine.api import escape_name


class QtCommentBox(QFrame):
    """Asks for the text of one comment on ``path`` lines ``line``..``end``.

    Signals:
        submitted(str, int, int, str): path, first line, last line, text.
    """

    submitted = Signal(str, int, int, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, objectName="commentBox")
        self._target: tuple[str, int, int] | None = None
        self.where = QLabel(self, textFormat=Qt.TextFormat.PlainText)
        self.text = QPlainTextEdit(self, placeholderText="What should the agent change here?")
        self.text.setFixedHeight(self.text.fontMetrics().height() * 4 + 12)
        self.save_button = QPushButton("Comment", self, toolTip="Save the comment (Ctrl+Return)")
        cancel = QPushButton("Cancel", self, toolTip="Close without saving (Esc)")
        self.save_button.clicked.connect(self._submit)
        cancel.clicked.connect(self.close_box)
        buttons = QHBoxLayout()
        buttons.addWidget(self.where, 1)
        buttons.addWidget(cancel)
        buttons.addWidget(self.save_button)
        column = QVBoxLayout(self)
        column.setContentsMargins(14, 6, 14, 6)
        column.addLayout(buttons)
        column.addWidget(self.text)
        for keys, slot in (("Ctrl+Return", self._submit), ("Escape", self.close_box)):
            shortcut = QShortcut(QKeySequence(keys), self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(slot)
        self.hide()

    def open_for(self, path: str, line: int, end: int) -> None:
        """Show the box for these lines, empty, with the keyboard in it."""
        self._target = (path, line, end)
        span = str(line) if end == line else f"{line}–{end}"
        self.where.setText(f"Comment on {escape_name(path)}:{span}")
        self.text.clear()
        self.show()
        self.text.setFocus()

    def close_box(self) -> None:
        """Hide the box without saving."""
        self._target = None
        self.hide()

    def _submit(self) -> None:
        text = self.text.toPlainText()
        if self._target is None or not text.strip():
            return
        path, line, end = self._target
        self.close_box()
        self.submitted.emit(path, line, end, text)
