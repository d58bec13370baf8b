"""Sorting and filtering of the task table: state, repo, batch and free-text search."""
from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QSortFilterProxyModel

from agentdeck.desktop.tasks.qt_task_model import SortRole, TaskRole
from agentdeck.engine.models import Task

#: State filter keys beyond single `TaskState` values.
ACTIVE = "active"
TO_REVIEW = "review"


def state_matches(task: Task, key: str) -> bool:
    """Whether ``task`` passes the state filter ``key`` ("" matches all)."""
    if not key:
        return True
    if key == ACTIVE:
        return task.state.is_unfinished
    if key == TO_REVIEW:
        return task.review.is_open
    return task.state.value == key


class TaskFilterProxy(QSortFilterProxyModel):
    """Filters rows by state / repo / batch / search text and sorts by `SortRole`."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._state = ""
        self._repo = ""
        self._batch = ""
        self._search = ""
        self.setSortRole(SortRole)
        self.setDynamicSortFilter(True)

    def filters(self) -> dict[str, str]:
        """The current filters (what the UI state persists)."""
        return {"state": self._state, "repo": self._repo, "batch": self._batch,
                "search": self._search}

    def set_filters(self, *, state: str | None = None, repo: str | None = None,
                    batch: str | None = None, search: str | None = None) -> None:
        """Change any of the filters; None leaves one as it is."""
        self.beginFilterChange()
        if state is not None:
            self._state = state
        if repo is not None:
            self._repo = repo
        if batch is not None:
            self._batch = batch
        if search is not None:
            self._search = search.strip().lower()
        self.endFilterChange()

    def filterAcceptsRow(self, source_row: int,
                         source_parent: QModelIndex | QPersistentModelIndex) -> bool:
        task: Task | None = self.sourceModel().index(source_row, 0, source_parent).data(TaskRole)
        if task is None:
            return False
        if not state_matches(task, self._state):
            return False
        if self._repo and task.repo != self._repo:
            return False
        if self._batch and task.batch_id != self._batch:
            return False
        if self._search:
            haystack = f"{task.title}\n{task.prompt}\n{task.id}".lower()
            return self._search in haystack
        return True
