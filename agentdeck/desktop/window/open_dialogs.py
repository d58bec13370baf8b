"""Open the window's dialogs, non-modally-safe with ``open()`` (never ``exec()``), and
connect their outcomes to the window."""
from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QDialog

from agentdeck.engine.api import user_guide

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


def open_land(window: "MainWindow") -> QDialog:
    """Task → Accept approved…"""
    from agentdeck.desktop.dialogs.land import LandDialog

    dialog = LandDialog(window.ctx, window)
    dialog.message.connect(window.show_message)
    return _show(dialog)


def user_guide_url() -> QUrl | None:
    """Where Help → User guide goes: the installed guide as a file URL (``None``: this
    installation has none)."""
    path = user_guide()
    return QUrl.fromLocalFile(str(path)) if path else None


def open_user_guide(window: "MainWindow") -> None:
    """Help → User guide, in the desktop's application for Markdown files."""
    url = user_guide_url()
    if url is None:
        window.show_message("The user guide is not installed with this agentdeck: it is "
                            "docs/user-guide.md in agentdeck's source")
    elif not QDesktopServices.openUrl(url):
        window.show_message(f"No application to open {url.toLocalFile()}")


def open_collect(window: "MainWindow") -> QDialog | None:
    """Task → Collect again (asks for the higher limits first)."""
    from agentdeck.desktop.dialogs.collect import CollectDialog

    ids = window.target_ids()
    if not ids:
        window.show_message("Select one or more tasks first")
        return None
    dialog = CollectDialog(len(ids), window)
    dialog.collect_requested.connect(
        lambda files, size: window.task_actions.collect(ids, files, size))
    return _show(dialog)
