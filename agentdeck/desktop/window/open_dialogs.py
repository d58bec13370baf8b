"""Open the window's dialogs, non-modally-safe with ``open()`` (never ``exec()``), and
connect their outcomes to the window."""
from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog

if TYPE_CHECKING:
    from agentdeck.desktop.window.main_window import MainWindow  # which builds the menus that call these


def _show(dialog: QDialog) -> QDialog:
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.open()
    return dialog


def open_new_task(window: "MainWindow") -> QDialog:
    """File → New task."""
    from agentdeck.desktop.dialogs.new_task import NewTaskDialog

    dialog = NewTaskDialog(window.ctx, window)
    dialog.submitted.connect(window.on_submitted)
    return _show(dialog)


def open_batch(window: "MainWindow") -> QDialog:
    """File → New batch."""
    from agentdeck.desktop.dialogs.batch import BatchDialog

    dialog = BatchDialog(window.ctx, window)
    dialog.submitted.connect(window.on_submitted)
    return _show(dialog)


def open_settings(window: "MainWindow") -> QDialog:
    """File → Settings."""
    from agentdeck.desktop.dialogs.settings import SettingsDialog

    dialog = SettingsDialog(window.ctx, window)
    dialog.message.connect(window.show_message)
    dialog.theme_changed.connect(window.theme_mode_changed)
    return _show(dialog)


def open_shortcuts(window: "MainWindow") -> QDialog:
    """Help → Keyboard shortcuts."""
    from agentdeck.desktop.dialogs.shortcuts import ShortcutsDialog

    return _show(ShortcutsDialog(window))


def open_collect(window: "MainWindow") -> QDialog | None:
    """Task → Collect again (asks for the higher limits first)."""
    from agentdeck.desktop.dialogs.collect import CollectDialog

    ids = window.selected_ids()
    if not ids:
        window.show_message("Select one or more tasks first")
        return None
    dialog = CollectDialog(len(ids), window)
    dialog.collect_requested.connect(
        lambda files, size: window.task_actions.collect(ids, files, size))
    return _show(dialog)
