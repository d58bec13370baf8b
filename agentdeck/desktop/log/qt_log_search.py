"""The find bar of the log view (Ctrl+F): a query box with next/previous buttons."""
from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLineEdit, QToolButton, QWidget

from agentdeck.desktop.widgets.theme import Theme
from agentdeck.desktop.widgets.plaintext import plain_label


class _QueryEdit(QLineEdit):
    """A line edit where Enter / Shift+Enter / Escape mean next / previous / close."""

    enter = Signal(bool)  # True: forward
    escape = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt API)
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.enter.emit(not event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        elif event.key() == Qt.Key.Key_Escape:
            self.escape.emit()
        else:
            super().keyPressEvent(event)


class QtLogSearchBar(QFrame):
    """Find bar. Signals carry intent only; the log view does the searching.

    Signals:
        query_changed(str): the text changed and typing paused (search as you type).
        next_requested(), previous_requested(): Enter / Shift+Enter or the arrows.
        closed(): Escape or the close button; the bar hides itself.
    """

    query_changed = Signal(str)
    next_requested = Signal()
    previous_requested = Signal()
    closed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, objectName="logSearch")
        row = QHBoxLayout(self)
        row.setContentsMargins(10, 6, 10, 6)
        row.setSpacing(6)
        self.edit = _QueryEdit(self, placeholderText="Find in log")
        self.edit.setClearButtonEnabled(True)
        self.status = plain_label(parent=self)
        row.addWidget(self.edit, 1)
        row.addWidget(self.status)
        for text, tip, signal in (("↑", "Previous match (Shift+Enter)", self.previous_requested),
                                  ("↓", "Next match (Enter)", self.next_requested)):
            button = QToolButton(self, text=text, toolTip=tip)
            button.clicked.connect(signal.emit)
            row.addWidget(button)
        close = QToolButton(self, text="✕", toolTip="Close (Esc)")
        close.clicked.connect(self.close_bar)
        row.addWidget(close)
        # Searching a million lines takes a moment: wait for a pause in the typing.
        self._typing = QTimer(self, singleShot=True, interval=150)
        self._typing.timeout.connect(lambda: self.query_changed.emit(self.text()))
        self.edit.textChanged.connect(self._typing.start)
        self.edit.enter.connect(lambda forward: (self.next_requested if forward
                                                 else self.previous_requested).emit())
        self.edit.escape.connect(self.close_bar)

    def text(self) -> str:
        """The current query."""
        return self.edit.text()

    def open(self) -> None:
        """Show the bar with the query selected, ready to type."""
        self.show()
        self.edit.setFocus()
        self.edit.selectAll()

    def close_bar(self) -> None:
        """Hide the bar and say so."""
        self.hide()
        self.closed.emit()

    def show_result(self, found: bool) -> None:
        """Say "no match" when the last search found nothing."""
        self.status.setText("" if found or not self.text() else "no match")

    def set_theme(self, theme: Theme) -> None:
        """Colours of ``theme``."""
        self.setStyleSheet(
            f"#logSearch {{ background: {theme.surface};"
            f" border-bottom: 1px solid {theme.border}; }}"
            f"QLineEdit {{ background: {theme.base}; color: {theme.text};"
            f" border: 1px solid {theme.border}; border-radius: 6px; padding: 3px 8px; }}"
            f"QLineEdit:focus {{ border-color: {theme.link}; }}"
            f"QLabel {{ color: {theme.muted}; }}"
            f"QToolButton {{ color: {theme.text}; border: none; padding: 3px 6px; }}")
