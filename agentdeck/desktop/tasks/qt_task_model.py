"""A table model over `Task` snapshots sent by the engine.

The model only adapts: rows are the snapshots it was given, newest first (new tasks are
inserted at the top, like the engine lists them); sorting by a column and filtering
belong to `TaskFilterProxy`. Updates for known tasks become ``dataChanged`` on their row.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from enum import IntEnum
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QFont

from agentdeck.desktop.widgets import format as fmt
from agentdeck.desktop.widgets.icons import state_color, state_icon
from agentdeck.desktop.widgets.overlap_marks import overlap_lines, overlap_mark
from agentdeck.desktop.widgets.plaintext import plain_tip
from agentdeck.engine.models import Overlap, ReviewState, Task

Index = QModelIndex | QPersistentModelIndex

#: The `Task` snapshot of a row (any column).
TaskRole = Qt.ItemDataRole.UserRole + 1
#: A plain sortable value for the column.
SortRole = Qt.ItemDataRole.UserRole + 2


class Column(IntEnum):
    STATE = 0
    TITLE = 1
    AGENT = 2
    REPO = 3
    RUNTIME = 4
    ELAPSED = 5
    LINES = 6
    TOKENS = 7
    COST = 8
    REVIEW = 9
    OVERLAP = 10


HEADERS = {
    Column.STATE: "State", Column.TITLE: "Title", Column.AGENT: "Agent",
    Column.REPO: "Repo", Column.RUNTIME: "Runtime", Column.ELAPSED: "Elapsed",
    Column.LINES: "+/−", Column.TOKENS: "Tokens", Column.COST: "Cost",
    Column.REVIEW: "Review", Column.OVERLAP: "Overlap",
}

_RIGHT = {Column.ELAPSED, Column.LINES, Column.TOKENS, Column.COST}


def _runtime_text(task: Task) -> str:
    return f"{task.runtime} · {task.endpoint}" if task.endpoint else task.runtime


def cell_text(task: Task, column: Column, now: float) -> str:
    """The text a cell of the task table shows for ``task`` at time ``now``."""
    match column:
        case Column.STATE:
            return task.state.value.replace("_", " ")
        case Column.TITLE:
            return fmt.task_title(task)
        case Column.AGENT:
            return task.agent
        case Column.REPO:
            return fmt.short_repo(task.repo)
        case Column.RUNTIME:
            return _runtime_text(task)
        case Column.ELAPSED:
            if task.started_at is None and task.not_before and task.not_before > now:
                return f"at {fmt.clock(task.not_before, now)}"  # scheduled: when it starts
            return fmt.duration(fmt.elapsed_seconds(task, now))
        case Column.LINES:
            return fmt.lines_changed(task)
        case Column.TOKENS:
            return fmt.tokens(task.tokens_in + task.tokens_out)
        case Column.COST:
            return fmt.cost(task.cost_usd)
        case Column.REVIEW:
            return "" if task.review is ReviewState.NONE else task.review.value
    return ""


def overlap_tip(overlaps: tuple[Overlap, ...]) -> str | None:
    """The Overlap cell's tooltip: each other task and the files both change."""
    return plain_tip(overlap_lines(overlaps)) if overlaps else None


def _sort_key(task: Task, column: Column, now: float) -> Any:
    match column:
        case Column.ELAPSED:
            return fmt.elapsed_seconds(task, now) or 0.0
        case Column.LINES:
            return task.lines_added + task.lines_removed
        case Column.TOKENS:
            return task.tokens_in + task.tokens_out
        case Column.COST:
            return task.cost_usd
        case Column.STATE:
            return task.state.value
    return cell_text(task, column, now).lower()


class TaskTableModel(QAbstractTableModel):
    """Rows of task snapshots, one per task id."""

    def __init__(self, parent=None, clock: Callable[[], float] = time.time) -> None:
        super().__init__(parent)
        self._tasks: list[Task] = []
        self._rows: dict[str, int] = {}
        self._overlaps: dict[str, tuple[Overlap, ...]] = {}
        self._clock = clock
        self._bold = QFont()
        self._bold.setBold(True)

    # -- Qt interface -------------------------------------------------------------------
    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._tasks)

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(Column)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._tasks):
            return None
        task = self._tasks[index.row()]
        column = Column(index.column())
        if column is Column.OVERLAP:
            return self._overlap_data(task, role)
        if role == Qt.ItemDataRole.DisplayRole:
            return cell_text(task, column, self._clock())
        if role == TaskRole:
            return task
        if role == SortRole:
            return _sort_key(task, column, self._clock())
        return self._decoration(task, column, role)

    def _overlap_data(self, task: Task, role: int) -> Any:
        overlaps = self._overlaps.get(task.id, ())
        if role == Qt.ItemDataRole.DisplayRole:
            return overlap_mark(overlaps)
        if role == SortRole:
            return len(overlaps)
        if role == TaskRole:
            return task
        if role == Qt.ItemDataRole.ToolTipRole:
            return overlap_tip(overlaps)
        return None

    def _decoration(self, task: Task, column: Column, role: int) -> Any:
        if role == Qt.ItemDataRole.DecorationRole and column is Column.STATE:
            return state_icon(task.state)
        if role == Qt.ItemDataRole.ForegroundRole and column is Column.STATE:
            return state_color(task.state)
        if role == Qt.ItemDataRole.FontRole and column is Column.REVIEW:
            return self._bold if task.review is ReviewState.PENDING else None
        if role == Qt.ItemDataRole.TextAlignmentRole and column in _RIGHT:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(task, column)
        return None

    @staticmethod
    def _tooltip(task: Task, column: Column) -> str | None:
        # Item tooltips are rich text when they look like it: prompt, path and error shown
        # as they are.
        if column is Column.TITLE:
            return plain_tip(task.prompt[:2000])
        if column is Column.REPO:
            return plain_tip(task.repo)
        if column in (Column.STATE, Column.REVIEW) and task.error:
            return plain_tip(task.error)
        return None

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(Column):
            if role == Qt.ItemDataRole.DisplayRole:
                return HEADERS[Column(section)]
            if role == Qt.ItemDataRole.TextAlignmentRole and Column(section) in _RIGHT:
                return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    # -- snapshots ----------------------------------------------------------------------
    def reset(self, tasks: Iterable[Task]) -> None:
        """Replace all rows with ``tasks`` (given newest first)."""
        self.beginResetModel()
        self._tasks = list(tasks)
        self._rows = {task.id: row for row, task in enumerate(self._tasks)}
        self.endResetModel()

    def upsert(self, tasks: Iterable[Task]) -> None:
        """Update known tasks in place; insert new ones at the top (in one insert).

        Changed rows are announced in one ``dataChanged`` over their span, unchanged
        snapshots not at all: a query re-reading 2000 shown tasks costs no repaint.
        """
        fresh: list[Task] = []
        changed: list[int] = []
        for task in tasks:
            row = self._rows.get(task.id)
            if row is None:
                fresh.append(task)
            elif self._tasks[row] != task:
                self._tasks[row] = task
                changed.append(row)
        if changed:
            self.dataChanged.emit(self.index(min(changed), 0),
                                  self.index(max(changed), len(Column) - 1))
        if fresh:
            fresh.sort(key=lambda t: t.created_at, reverse=True)
            self.beginInsertRows(QModelIndex(), 0, len(fresh) - 1)
            self._tasks[0:0] = fresh
            self._rows = {task.id: row for row, task in enumerate(self._tasks)}
            self.endInsertRows()

    def set_overlaps(self, overlaps: dict[str, tuple[Overlap, ...]]) -> None:
        """Show which tasks touch the same files (task id -> the others); only rows
        whose overlaps changed are announced."""
        changed = [row for task_id, row in self._rows.items()
                   if self._overlaps.get(task_id, ()) != overlaps.get(task_id, ())]
        self._overlaps = dict(overlaps)
        for row in changed:
            index = self.index(row, Column.OVERLAP)
            self.dataChanged.emit(index, index)

    def tick(self) -> None:
        """Refresh the elapsed column of rows whose task is still running: one signal
        from the first to the last such row (200 signals a second cost a frame)."""
        rows = [row for row, task in enumerate(self._tasks)
                if task.started_at is not None and task.finished_at is None]
        if rows:
            self.dataChanged.emit(self.index(rows[0], Column.ELAPSED),
                                  self.index(rows[-1], Column.ELAPSED),
                                  [Qt.ItemDataRole.DisplayRole])

    def task(self, task_id: str) -> Task | None:
        """The latest snapshot of ``task_id``, or None when the model does not hold it."""
        row = self._rows.get(task_id)
        return None if row is None else self._tasks[row]

    def row_of(self, task_id: str) -> int | None:
        """The source row of ``task_id``."""
        return self._rows.get(task_id)

    def tasks(self) -> list[Task]:
        """All snapshots, in row order."""
        return list(self._tasks)
