"""The dialog for a bug (an exception no one caught): what happened, where the log file
is, and a button that copies the log's last lines for a bug report."""
from __future__ import annotations

import logging
import sys
import traceback
from pathlib import Path
from types import TracebackType

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QPlainTextEdit, QPushButton,
                               QVBoxLayout, QWidget)

from agentdeck.desktop.widgets.plaintext import plain_label
from agentdeck.engine.api import tail_log

log = logging.getLogger("agentdeck.desktop")
#: How many of the log's last lines "Copy last lines" copies.
COPY_LINES = 200


class CrashDialog(QDialog):
    """Shows one unexpected error; ``log_path`` None: no log file could be written."""

    def __init__(self, summary: str, details: str, log_path: Path | None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("agentdeck: unexpected error")
        self.log_path = log_path
        where = (f"details are in the log file {log_path}" if log_path else
                 "no log file could be written; the details are below")
        self.message = plain_label(f"{summary}\n\nThis is a bug; {where}.")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details = QPlainTextEdit(details)
        self.details.setReadOnly(True)
        self.status = plain_label("")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        self.copy_button = QPushButton(f"Copy last {COPY_LINES} lines")
        self.copy_button.setEnabled(log_path is not None)
        self.copy_button.clicked.connect(self._on_copy)
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        layout = QVBoxLayout(self)
        for widget in (self.message, self.details, self.status, buttons):
            layout.addWidget(widget)

    def _on_copy(self) -> None:
        """The log's last lines to the clipboard (a small read: at most 256 KiB)."""
        assert self.log_path is not None
        text = tail_log(self.log_path, COPY_LINES)
        QGuiApplication.clipboard().setText(text)
        self.status.setText(f"copied the last {text.count(chr(10))} lines of {self.log_path}")


#: Open crash dialogs: parentless, so nothing else keeps them alive.
_open: set[CrashDialog] = set()


def show_crash(kind: type[BaseException], exc: BaseException, tb: TracebackType | None,
               log_path: Path | None) -> CrashDialog:
    """Log the error and show it (never exec(): we may be inside a coroutine)."""
    text = "".join(traceback.format_exception(kind, exc, tb))
    log.error("unexpected error:\n%s", text)
    dialog = CrashDialog(f"{kind.__name__}: {exc}", text, log_path)
    _open.add(dialog)
    dialog.finished.connect(lambda _code: _open.discard(dialog))
    dialog.open()
    return dialog


def install_excepthook(log_path: Path | None) -> None:
    """Bugs in slots and coroutines: log them and show them, never die silently."""
    sys.excepthook = lambda kind, exc, tb: show_crash(kind, exc, tb, log_path)
