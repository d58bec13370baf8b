"""The filter bar above the task table: state, repository, batch and a search box."""
from __future__ import annotations

from PySide6.QtCore import QSignalBlocker, QTimer, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLineEdit, QWidget

from agentdeck.desktop.widgets import format as fmt
from agentdeck.desktop.widgets.icons import icon, state_icon
from agentdeck.desktop.tasks.qt_task_filter import ACTIVE, TO_REVIEW
from agentdeck.engine.models import Batch, TaskState

SEARCH_DELAY_MS = 180


class FilterBar(QWidget):
    """Combos and a search box; emits the whole filter set when any part changes.

    Signals:
        changed(dict): {"state", "repo", "batch", "search"} (empty string = any).
    """

    changed = Signal(dict)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        self.state = QComboBox()
        self.state.addItem("All states", "")
        self.state.addItem("Unfinished", ACTIVE)
        self.state.addItem("To review", TO_REVIEW)
        for state in TaskState:
            self.state.addItem(state_icon(state), state.value.replace("_", " ").capitalize(), state.value)
        self.repo = QComboBox()
        self.repo.addItem("All repositories", "")
        self.repo.setMinimumContentsLength(14)
        self.batch = QComboBox()
        self.batch.addItem("All batches", "")
        self.batch.setMinimumContentsLength(12)
        self.search = QLineEdit(placeholderText="Search title, prompt, id…  (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.search_icon = self.search.addAction(icon("search"), QLineEdit.ActionPosition.LeadingPosition)
        for widget in (self.state, self.repo, self.batch):
            layout.addWidget(widget)
            widget.currentIndexChanged.connect(self._emit)
        layout.addWidget(self.search, 1)
        self._debounce = QTimer(self, singleShot=True, interval=SEARCH_DELAY_MS)
        self._debounce.timeout.connect(self._emit)
        self.search.textChanged.connect(self._debounce.start)

    def values(self) -> dict[str, str]:
        """The current filters."""
        return {"state": self.state.currentData() or "", "repo": self.repo.currentData() or "",
                "batch": self.batch.currentData() or "", "search": self.search.text()}

    def show_state(self, state_filter: str) -> None:
        """Filter by one state (a `TaskState` value, ``ACTIVE`` or ``TO_REVIEW``); emits."""
        self.state.setCurrentIndex(max(0, self.state.findData(state_filter)))

    def set_values(self, values: dict[str, str]) -> None:
        """Select filters (unknown repos / batches are added) without emitting per widget."""
        with QSignalBlocker(self.state), QSignalBlocker(self.repo), \
                QSignalBlocker(self.batch), QSignalBlocker(self.search):
            self.state.setCurrentIndex(max(0, self.state.findData(values.get("state", ""))))
            if values.get("repo"):
                self.add_repos([values["repo"]])
            self.repo.setCurrentIndex(max(0, self.repo.findData(values.get("repo", ""))))
            self.batch.setCurrentIndex(max(0, self.batch.findData(values.get("batch", ""))))
            self.search.setText(values.get("search", ""))
        self._emit()

    def add_repos(self, repos: list[str]) -> None:
        """Offer these repositories in the repo combo (known ones are skipped)."""
        for repo in repos:
            if repo and self.repo.findData(repo) < 0:
                self.repo.addItem(fmt.short_repo(repo), repo)
                self.repo.setItemData(self.repo.count() - 1, repo, 3)  # tooltip role

    def set_batches(self, batches: list[Batch]) -> None:
        """Offer these batches in the batch combo, keeping the current choice."""
        current = self.batch.currentData()
        with QSignalBlocker(self.batch):
            self.batch.clear()
            self.batch.addItem("All batches", "")
            for batch in batches:
                self.batch.addItem(batch.name or batch.id, batch.id)
            self.batch.setCurrentIndex(max(0, self.batch.findData(current)))

    def refresh_icons(self) -> None:
        """Re-tint the icons (after a theme change)."""
        self.search_icon.setIcon(icon("search"))

    def focus_search(self) -> None:
        """Put the cursor in the search box, selecting what is there."""
        self.search.setFocus()
        self.search.selectAll()

    def _emit(self) -> None:
        self.changed.emit(self.values())
