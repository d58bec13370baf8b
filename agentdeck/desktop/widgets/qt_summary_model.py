"""A table model over `TaskSummary` rows: the compare panel of a best-of-N group and the
batch report show the same columns (state, diff size, files, time, cost, why it failed)."""
from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

from agentdeck.desktop.widgets import format as fmt
from agentdeck.desktop.widgets.icons import state_color, state_icon
from agentdeck.desktop.widgets.plaintext import plain_tip
from agentdeck.engine.models import TaskSummary

Index = QModelIndex | QPersistentModelIndex

#: The `TaskSummary` of a row (any column).
SummaryRole = Qt.ItemDataRole.UserRole + 1


class SummaryColumn(IntEnum):
    TITLE = 0
    AGENT = 1
    STATE = 2
    REVIEW = 3
    LINES = 4
    FILES = 5
    TIME = 6
    COST = 7
    TESTS = 8
    FAILURE = 9


HEADERS = {
    SummaryColumn.TITLE: "Task", SummaryColumn.AGENT: "Agent", SummaryColumn.STATE: "State",
    SummaryColumn.REVIEW: "Review", SummaryColumn.LINES: "+/−", SummaryColumn.FILES: "Files",
    SummaryColumn.TIME: "Time", SummaryColumn.COST: "Cost", SummaryColumn.TESTS: "Tests",
    SummaryColumn.FAILURE: "Why it failed",
}
_RIGHT = {SummaryColumn.LINES, SummaryColumn.FILES, SummaryColumn.TIME, SummaryColumn.COST}


def cell_text(row: TaskSummary, column: SummaryColumn) -> str:
    """What a cell shows (agent text is shown as plain text by the views)."""
    match column:
        case SummaryColumn.TITLE:
            return row.title or row.id
        case SummaryColumn.AGENT:
            return row.agent
        case SummaryColumn.STATE:
            return row.state.value.replace("_", " ")
        case SummaryColumn.REVIEW:
            return "" if row.review.value == "none" else row.review.value
        case SummaryColumn.LINES:
            return f"+{row.added} −{row.removed}" if row.files else ""
        case SummaryColumn.FILES:
            return str(row.files) if row.files else ""
        case SummaryColumn.TIME:
            return fmt.duration(row.duration)
        case SummaryColumn.COST:
            return fmt.cost(row.cost_usd)
        case SummaryColumn.TESTS:
            return row.test_result or ""
        case SummaryColumn.FAILURE:
            return (row.failure or "").split("\n", 1)[0]


class SummaryTableModel(QAbstractTableModel):
    """Rows are the summaries last given to `set_rows`; nothing else is kept."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[TaskSummary] = []

    def set_rows(self, rows: Sequence[TaskSummary]) -> None:
        """Show ``rows``: the same tasks in the same order update in place."""
        rows = list(rows)
        if [r.id for r in rows] == [r.id for r in self._rows] and rows:
            self._rows = rows
            self.dataChanged.emit(self.index(0, 0),
                                  self.index(len(rows) - 1, len(SummaryColumn) - 1))
            return
        self.beginResetModel()
        self._rows = rows
        self.endResetModel()

    def rows(self) -> list[TaskSummary]:
        return list(self._rows)

    def row_of(self, task_id: str) -> int | None:
        return next((n for n, r in enumerate(self._rows) if r.id == task_id), None)

    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(SummaryColumn)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if (orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole
                and 0 <= section < len(SummaryColumn)):
            return HEADERS[SummaryColumn(section)]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row, column = self._rows[index.row()], SummaryColumn(index.column())
        if role == Qt.ItemDataRole.DisplayRole:
            return cell_text(row, column)
        if role == SummaryRole:
            return row
        if role == Qt.ItemDataRole.ToolTipRole and column == SummaryColumn.FAILURE:
            return plain_tip(row.failure) if row.failure else None
        if role == Qt.ItemDataRole.ToolTipRole and column == SummaryColumn.TESTS:
            return plain_tip(row.test_summary) if row.test_summary else None
        if role == Qt.ItemDataRole.DecorationRole and column == SummaryColumn.STATE:
            return state_icon(row.state)
        if role == Qt.ItemDataRole.ForegroundRole and column == SummaryColumn.STATE:
            return state_color(row.state)
        if role == Qt.ItemDataRole.TextAlignmentRole and column in _RIGHT:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None
