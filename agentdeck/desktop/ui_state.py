"""UI state that survives restarts (geometry, splitters, columns, filters, recent repos).

Stored with QSettings in an INI file inside the agentdeck data dir, so a separate
``AGENTDECK_HOME`` (tests, a second profile) gets its own UI state too.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings
from PySide6.QtWidgets import QHeaderView, QMainWindow, QSplitter

MAX_RECENT_REPOS = 12


class UiState:
    """Typed accessors over one QSettings INI file."""

    def __init__(self, path: Path) -> None:
        self._settings = QSettings(str(path), QSettings.Format.IniFormat)

    def sync(self) -> None:
        """Write pending changes to disk."""
        self._settings.sync()

    # -- widgets ------------------------------------------------------------------------
    def save_window(self, window: QMainWindow) -> None:
        """Remember the window geometry and dock/toolbar layout."""
        self._settings.setValue("window/geometry", window.saveGeometry())
        self._settings.setValue("window/state", window.saveState())

    def restore_window(self, window: QMainWindow) -> bool:
        """Restore what `save_window` kept; False when nothing was saved."""
        geometry = self._bytes("window/geometry")
        if geometry is None:
            return False
        window.restoreGeometry(geometry)
        state = self._bytes("window/state")
        if state is not None:
            window.restoreState(state)
        return True

    def save_splitter(self, name: str, splitter: QSplitter) -> None:
        """Remember a splitter's sizes."""
        self._settings.setValue(f"splitter/{name}", splitter.saveState())

    def restore_splitter(self, name: str, splitter: QSplitter) -> None:
        """Restore a splitter's sizes when known."""
        state = self._bytes(f"splitter/{name}")
        if state is not None:
            splitter.restoreState(state)

    def save_header(self, name: str, header: QHeaderView) -> None:
        """Remember column widths, order and sort of a table header."""
        self._settings.setValue(f"header/{name}", header.saveState())

    def restore_header(self, name: str, header: QHeaderView) -> bool:
        """Restore a header's columns; False when nothing was saved."""
        state = self._bytes(f"header/{name}")
        return state is not None and header.restoreState(state)

    def _bytes(self, key: str) -> QByteArray | None:
        value = self._settings.value(key)
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    # -- plain values -------------------------------------------------------------------
    def filters(self) -> dict[str, str]:
        """The task table filters in use when the app last closed."""
        return self._json("table/filters", {})

    def set_filters(self, filters: dict[str, str]) -> None:
        self._settings.setValue("table/filters", json.dumps(filters))

    def recent_repos(self) -> list[str]:
        """Repositories used for new tasks, most recent first."""
        return self._json("dialogs/recent_repos", [])

    def add_recent_repo(self, path: str) -> None:
        """Put ``path`` first in the recent repositories."""
        repos = [path] + [r for r in self.recent_repos() if r != path]
        self._settings.setValue("dialogs/recent_repos", json.dumps(repos[:MAX_RECENT_REPOS]))

    def notifications(self) -> bool:
        """Whether finish/fail/review notifications are shown."""
        return self._json("notify/enabled", True)

    def set_notifications(self, enabled: bool) -> None:
        self._settings.setValue("notify/enabled", json.dumps(enabled))

    def theme(self) -> str:
        """"system", "light" or "dark"."""
        return self._json("ui/theme", "system")

    def set_theme(self, theme: str) -> None:
        self._settings.setValue("ui/theme", json.dumps(theme))

    def view(self) -> str:
        """The page shown last: "wall", "list"..."""
        return self._json("ui/view", "list")

    def set_view(self, view: str) -> None:
        self._settings.setValue("ui/view", json.dumps(view))

    def review_order(self) -> str:
        """How the review inbox is ordered: "oldest" or "batch"."""
        return self._json("review/order", "oldest")

    def set_review_order(self, order: str) -> None:
        self._settings.setValue("review/order", json.dumps(order))

    def _json(self, key: str, default: Any) -> Any:
        # Values go through JSON so types survive the INI format (which keeps strings).
        raw = self._settings.value(key)
        if not isinstance(raw, str):
            return default
        try:
            value = json.loads(raw)
        except ValueError:
            return default
        return value if isinstance(value, type(default)) else default
