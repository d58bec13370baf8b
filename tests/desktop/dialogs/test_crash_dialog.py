"""The crash dialog (the excepthook's): it names the log file, the error is in that file,
and "Copy last lines" puts the file's last lines on the clipboard."""
from __future__ import annotations

import logging
import sys

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication

from agentdeck.desktop.dialogs.crash import COPY_LINES, CrashDialog, install_excepthook
from agentdeck.engine.api import start_log_file


@pytest.fixture
def hooked(tmp_path):
    """The app's excepthook with a real log file in a tmp data dir; all restored after."""
    root = logging.getLogger()
    handlers, level, hook = list(root.handlers), root.level, sys.excepthook
    path = start_log_file(tmp_path / "home")
    install_excepthook(path)
    yield path
    sys.excepthook = hook
    for handler in set(root.handlers) - set(handlers):
        handler.close()
    root.handlers[:] = handlers
    root.setLevel(level)


def _raise_into_hook() -> None:
    try:
        raise ValueError("the widget lost its model")
    except ValueError as exc:
        sys.excepthook(type(exc), exc, exc.__traceback__)


def _crash_dialog(qapp) -> CrashDialog:
    found = [w for w in qapp.topLevelWidgets() if isinstance(w, CrashDialog) and w.isVisible()]
    assert len(found) == 1
    return found[0]


def test_a_bug_is_logged_to_the_file_the_dialog_names(qtbot, qapp, hooked):
    logging.getLogger("agentdeck.test").info("before the bug")
    _raise_into_hook()
    dialog = _crash_dialog(qapp)
    assert f"details are in the log file {hooked}" in dialog.message.text()
    assert "ValueError: the widget lost its model" in dialog.message.text()
    assert "Traceback" in dialog.details.toPlainText()
    text = hooked.read_text()
    assert "ERROR agentdeck.desktop: unexpected error" in text
    assert "ValueError: the widget lost its model" in text
    dialog.reject()


def test_copy_last_lines_puts_the_tail_of_the_log_on_the_clipboard(qtbot, qapp, hooked):
    for i in range(500):
        logging.getLogger("agentdeck.test").info("line %d", i)
    _raise_into_hook()
    dialog = _crash_dialog(qapp)
    qtbot.mouseClick(dialog.copy_button, Qt.MouseButton.LeftButton)
    copied = QGuiApplication.clipboard().text().splitlines()
    assert len(copied) == COPY_LINES
    assert copied == hooked.read_text().splitlines()[-COPY_LINES:]
    assert "ValueError: the widget lost its model" in "\n".join(copied)
    assert dialog.isVisible()  # copying does not close it
    assert f"copied the last {COPY_LINES} lines" in dialog.status.text()
    dialog.reject()


def test_without_a_log_file_the_dialog_says_so_and_cannot_copy(qtbot, qapp):
    dialog = CrashDialog("ValueError: x", "Traceback ...", None)
    qtbot.addWidget(dialog)
    assert "no log file could be written" in dialog.message.text()
    assert not dialog.copy_button.isEnabled()
