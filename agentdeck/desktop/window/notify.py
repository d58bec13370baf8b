"""Desktop notifications: a tray icon with counts, messages on finish / fail / review.

The notifier watches the coalesced task snapshots from the bridge and compares each with
the one it saw before, so a message is shown once per transition. It can be switched off
(persisted in `UiState`). Messages go to the tray icon where the platform has one, else to
the desktop's notification daemon over D-Bus (`bus_messages`), and always to the status bar.
"""
from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QSystemTrayIcon, QWidget

from agentdeck.desktop.widgets import format as fmt
from agentdeck.desktop.window.bus_messages import BusMessages
from agentdeck.desktop.widgets.icons import icon
from agentdeck.desktop.widgets.plaintext import inert_markup
from agentdeck.desktop.ui_state import UiState
from agentdeck.engine.models import ReviewState, Task, TaskState

_ENDINGS = {
    TaskState.SUCCEEDED: "finished",
    TaskState.FAILED: "failed",
    TaskState.TIMED_OUT: "timed out",
    TaskState.NEEDS_INPUT: "needs your input",
}


def transition_message(before: Task | None, after: Task) -> str | None:
    """What to tell the user about ``before -> after``, or None when nothing noteworthy."""
    if before is None:
        return None
    if after.review is ReviewState.PENDING and before.review is not ReviewState.PENDING:
        return f"“{fmt.task_title(after)}” is ready to review"
    if after.state is not before.state and after.state in _ENDINGS:
        return f"“{fmt.task_title(after)}” {_ENDINGS[after.state]}"
    return None


Spawn = Callable[[Coroutine[Any, Any, Any]], Any]


class Notifier(QObject):
    """Tray icon (or the D-Bus notification service) plus per-transition messages.

    Args:
        ui_state: where the on/off switch is kept.
        parent: the main window.
        spawn: starts a coroutine on the running loop (`TaskRunner.spawn`); without it,
            and without a tray, messages go only to the `notified` signal.

    Signals:
        notified(str, str): title and body of a message just shown (also when there is no
            tray, so the status bar can show it).
        show_requested(): the user clicked the tray icon or its "Show" entry.
        review_requested(): "Review N waiting" in the tray menu.
        quit_requested(): "Quit" in the tray menu.
    """

    notified = Signal(str, str)
    show_requested = Signal()
    review_requested = Signal()
    quit_requested = Signal()

    def __init__(self, ui_state: UiState, parent: QWidget | None = None,
                 spawn: Spawn | None = None) -> None:
        super().__init__(parent)
        self._state = ui_state
        self._seen: dict[str, Task] = {}
        self._tray: QSystemTrayIcon | None = None
        self._bus: BusMessages | None = None
        self._spawn = spawn
        self.menu = self._make_menu(parent)
        self.tooltip = "agentdeck"
        if QSystemTrayIcon.isSystemTrayAvailable():
            self._tray = self._make_tray(parent)
        elif spawn is not None:
            self._bus = BusMessages()

    def _make_menu(self, parent: QWidget | None) -> QMenu:
        """The tray's menu (made without a tray too: what it says is tested offscreen)."""
        menu = QMenu(parent)
        menu.addAction("Show agentdeck", self.show_requested.emit)
        self.review_action = menu.addAction("Nothing waits for review")
        self.review_action.setEnabled(False)
        self.review_action.triggered.connect(self._on_review)
        self.toggle_action = QAction("Notifications", menu, checkable=True)
        self.toggle_action.setChecked(self.enabled)
        self.toggle_action.toggled.connect(self.set_enabled)
        menu.addAction(self.toggle_action)
        menu.addSeparator()
        menu.addAction("Quit", self.quit_requested.emit)
        return menu

    def _on_review(self) -> None:
        self.show_requested.emit()
        self.review_requested.emit()

    def _make_tray(self, parent: QWidget | None) -> QSystemTrayIcon:
        tray = QSystemTrayIcon(icon("app"), parent)
        tray.setContextMenu(self.menu)
        tray.activated.connect(self._on_activated)
        tray.setToolTip("agentdeck")
        tray.show()
        return tray

    def _on_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason == QSystemTrayIcon.ActivationReason.Trigger:
            self.show_requested.emit()

    @property
    def enabled(self) -> bool:
        """Whether messages are shown."""
        return self._state.notifications()

    def set_enabled(self, enabled: bool) -> None:
        """Switch messages on or off (persisted)."""
        self._state.set_notifications(enabled)

    def seed(self, tasks: list[Task]) -> None:
        """Remember snapshots loaded at start, so they are not announced."""
        self._seen.update((task.id, task) for task in tasks)

    def on_tasks_changed(self, tasks: list[Task]) -> None:
        """Announce noteworthy transitions among the new snapshots."""
        for task in tasks:
            message = transition_message(self._seen.get(task.id), task)
            self._seen[task.id] = task
            if message and self.enabled:
                self._show(task, message)

    def _show(self, task: Task, message: str) -> None:
        failed = task.state.is_failure
        if self._tray is not None:
            kind = (QSystemTrayIcon.MessageIcon.Warning if failed
                    else QSystemTrayIcon.MessageIcon.Information)
            self._tray.showMessage("agentdeck", inert_markup(message), kind, 6000)
        elif self._bus is not None and self._spawn is not None:
            self._spawn(self._bus.send("agentdeck", inert_markup(message), warning=failed))
        self.notified.emit("agentdeck", message)

    def set_counts(self, counts: dict[str, int]) -> None:
        """Show the running / queued / review / failed counts in the tray tooltip, and
        the tasks waiting for review in its menu."""
        waiting = counts.get("review_pending", 0)
        self.tooltip = (
            f"agentdeck — {counts.get('running', 0)} running, {counts.get('queued', 0)} queued, "
            f"{waiting} to review, {counts.get('failed', 0)} failed")
        self.review_action.setText(f"Review {waiting} waiting…" if waiting
                                   else "Nothing waits for review")
        self.review_action.setEnabled(bool(waiting))
        if self._tray is not None:
            self._tray.setToolTip(self.tooltip)

    def hide(self) -> None:
        """Remove the tray icon (on quit)."""
        if self._tray is not None:
            self._tray.hide()
