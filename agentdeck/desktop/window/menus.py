"""Menus and toolbar of the main window, wired to its commands."""
from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QToolBar

from agentdeck.desktop.window.open_dialogs import (
    open_batch, open_collect, open_land, open_new_task, open_settings, open_shortcuts, open_user_guide,
)

if TYPE_CHECKING:
    from agentdeck.desktop.window.main_window import MainWindow


def build_menus(window: "MainWindow") -> None:
    """Create the menu bar and toolbar of ``window`` and connect every command."""
    a = window.actions_
    _connect(window)
    bar = window.menuBar()
    file_menu = bar.addMenu("&File")
    for name in ("new_task", "new_batch"):
        file_menu.addAction(a[name])
    file_menu.addSeparator()
    file_menu.addAction(a["settings"])
    file_menu.addSeparator()
    file_menu.addAction(a["quit"])
    task_menu = bar.addMenu("&Task")
    for name in ("accept", "reject", "undo", None, "next_review", "prev_review", None,
                 "next_hunk", "previous_hunk", "toggle_hunk", None, "comment",
                 "request_changes", None, "approve", "land", "freshen", "hand_back", None,
                 "cancel", "retry", "collect"):
        task_menu.addSeparator() if name is None else task_menu.addAction(a[name])
    view_menu = bar.addMenu("&View")
    for name in ("show_wall", "show_list", "show_review", "show_reports", None, "find"):
        view_menu.addSeparator() if name is None else view_menu.addAction(a[name])
    view_menu.addSeparator()
    notify = QAction("&Notifications", window, checkable=True)
    notify.setChecked(window.notifier.enabled)
    notify.toggled.connect(window.notifier.set_enabled)
    view_menu.addAction(notify)
    help_menu = bar.addMenu("&Help")
    help_menu.addAction(a["user_guide"])
    help_menu.addAction(a["shortcuts"])
    _toolbar(window)


def _toolbar(window: "MainWindow") -> None:
    a = window.actions_
    tools = QToolBar("Main")
    tools.setObjectName("main-toolbar")
    tools.setMovable(False)
    tools.setIconSize(QSize(18, 18))
    tools.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    for name in ("new_task", "new_batch", None, "accept", "reject", "undo", "next_review", None,
                 "cancel", "retry"):
        tools.addSeparator() if name is None else tools.addAction(a[name])
    window.addToolBar(tools)


def _connect(window: "MainWindow") -> None:
    a = window.actions_
    a["new_task"].triggered.connect(lambda: open_new_task(window))
    a["new_batch"].triggered.connect(lambda: open_batch(window))
    a["settings"].triggered.connect(lambda: open_settings(window))
    a["shortcuts"].triggered.connect(lambda: open_shortcuts(window))
    a["quit"].triggered.connect(window.close)
    a["show_wall"].triggered.connect(lambda: window.tabs.setCurrentWidget(window.wall))
    a["show_list"].triggered.connect(lambda: window.tabs.setCurrentWidget(window.split))
    a["show_review"].triggered.connect(lambda: window.tabs.setCurrentWidget(window.review))
    a["show_reports"].triggered.connect(lambda: window.tabs.setCurrentWidget(window.reports))
    a["find"].triggered.connect(_find(window))
    a["accept"].triggered.connect(window.accept)
    a["reject"].triggered.connect(window.reject)
    a["comment"].triggered.connect(_in_review(window, window.review.request_comment))
    a["request_changes"].triggered.connect(
        _in_review(window, window.review.panel.request_changes))
    a["next_review"].triggered.connect(lambda: window.step_review(1))
    a["prev_review"].triggered.connect(lambda: window.step_review(-1))
    a["undo"].triggered.connect(window.undo_reject)
    a["approve"].triggered.connect(lambda: window.task_actions.approve(window.selected_tasks()))
    a["land"].triggered.connect(lambda: open_land(window))
    a["freshen"].triggered.connect(lambda: window.task_actions.freshen(window.target_ids()))
    a["hand_back"].triggered.connect(
        lambda: window.task_actions.freshen(window.target_ids(), hand_back=True))
    for name, slot in (("next_hunk", window.review.request_next_hunk),
                       ("previous_hunk", window.review.request_previous_hunk),
                       ("toggle_hunk", window.review.request_toggle_hunk)):
        a[name].triggered.connect(_in_review(window, slot))
    # Only on the Review tab: elsewhere J, K and space stay the list's and the dialogs'.
    window.tabs.currentChanged.connect(lambda _index: _enable_hunk_keys(window))
    _enable_hunk_keys(window)
    a["cancel"].triggered.connect(lambda: window.task_actions.cancel(window.target_ids()))
    a["retry"].triggered.connect(lambda: window.task_actions.retry(window.target_ids()))
    a["collect"].triggered.connect(lambda: open_collect(window))
    a["user_guide"].triggered.connect(lambda: open_user_guide(window))


def _enable_hunk_keys(window: "MainWindow") -> None:
    shown = window.tabs.currentWidget() is window.review
    for name in ("next_hunk", "previous_hunk", "toggle_hunk"):
        window.actions_[name].setEnabled(shown)


def _in_review(window: "MainWindow", slot):
    """``slot``, run only while the Review tab is shown (its keys act on what it shows)."""
    def run() -> None:
        if window.tabs.currentWidget() is window.review:
            slot()
    return run


def _find(window: "MainWindow"):
    def run() -> None:
        window.tabs.setCurrentWidget(window.split)
        window.filter_bar.focus_search()
    return run
