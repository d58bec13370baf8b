"""The review inbox as a list model: every task waiting for review, in inbox order.

It adapts snapshots only: `reset` takes what `Engine.review_queue` returned, `upsert` the
snapshots the bridge sends (a task that now waits joins, one that no longer waits leaves)
and the order is `agentdeck.engine.models.review_order`, the rule the CLI's `inbox` uses.
`set_overlaps` takes the overlap radar's answer (`Engine.overlaps`, polled by the window
for the Tasks list too) and marks the rows that touch the same files as another task.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt

from agentdeck.desktop.widgets import format as fmt
from agentdeck.desktop.widgets.overlap_marks import overlap_lines, overlap_mark
from agentdeck.desktop.widgets.plaintext import plain_tip
from agentdeck.engine.models import Overlap, ReviewState, Task, review_order

Index = QModelIndex | QPersistentModelIndex
#: The `Task` snapshot of a row.
TaskRole = Qt.ItemDataRole.UserRole + 1


def inbox_text(task: Task, overlaps: tuple[Overlap, ...] = ()) -> str:
    """One inbox row: title, then what it changed, for a conflict that it did, and how
    many other tasks touch the same files."""
    conflict = " · conflict" if task.review is ReviewState.CONFLICT else ""
    overlap = f" · {overlap_mark(overlaps)}" if overlaps else ""
    return (f"{fmt.task_title(task)}\n"
            f"{fmt.lines_changed(task)} · {task.agent}{conflict}{overlap}")


def inbox_tip(task: Task, overlaps: tuple[Overlap, ...] = ()) -> str:
    """A row's tooltip: the whole title, id and repo, then the overlapping tasks' files."""
    text = f"{fmt.task_title(task)}\n{task.id} · {fmt.short_repo(task.repo)}"
    return plain_tip(f"{text}\n\n{overlap_lines(overlaps)}" if overlaps else text)


class InboxModel(QAbstractListModel):
    """The waiting tasks, ordered ``oldest`` or by ``batch`` (see `review_order`)."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._tasks: dict[str, Task] = {}
        self._rows: list[Task] = []
        self._overlaps: dict[str, tuple[Overlap, ...]] = {}
        self.order = "oldest"

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802 (Qt API)
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        task = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return inbox_text(task, self._overlaps.get(task.id, ()))
        if role == Qt.ItemDataRole.ToolTipRole:
            return inbox_tip(task, self._overlaps.get(task.id, ()))
        if role == TaskRole:
            return task
        return None

    def ids(self) -> list[str]:
        """Task ids in inbox order."""
        return [task.id for task in self._rows]

    def row_of(self, task_id: str | None) -> int | None:
        """The row of ``task_id`` (``None``: it does not wait for review)."""
        for row, task in enumerate(self._rows):
            if task.id == task_id:
                return row
        return None

    def task_at(self, row: int) -> Task:
        return self._rows[row]

    def reset(self, tasks: Iterable[Task]) -> None:
        """Hold exactly ``tasks`` (the engine's review queue)."""
        self._tasks = {task.id: task for task in tasks if task.reviewable}
        self._arrange()

    def upsert(self, tasks: Iterable[Task]) -> None:
        """Take newer snapshots: waiting ones join or change, the others leave."""
        for task in tasks:
            if task.reviewable:
                self._tasks[task.id] = task
            else:
                self._tasks.pop(task.id, None)
        self._arrange()

    def set_overlaps(self, overlaps: dict[str, tuple[Overlap, ...]]) -> None:
        """Hold the overlap radar's answer (task id -> the others and shared paths);
        only rows whose overlaps changed are announced."""
        changed = [row for row, task in enumerate(self._rows)
                   if self._overlaps.get(task.id, ()) != overlaps.get(task.id, ())]
        self._overlaps = dict(overlaps)
        for row in changed:
            self.dataChanged.emit(self.index(row), self.index(row))

    def set_order(self, order: str) -> None:
        """``oldest`` or ``batch``."""
        self.order = order
        self._arrange()

    def _arrange(self) -> None:
        rows = review_order(self._tasks.values(), self.order)
        if [t.id for t in rows] == self.ids():
            changed = [row for row, task in enumerate(rows) if task is not self._rows[row]]
            self._rows = rows
            if changed:
                self.dataChanged.emit(self.index(min(changed)), self.index(max(changed)))
            return
        self.beginResetModel()
        self._rows = rows
        self.endResetModel()
