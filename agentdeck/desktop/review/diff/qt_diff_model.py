"""A list model over the display rows of one file's diff."""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt

from agentdeck.desktop.review.diff.highlight import FileHighlight
from agentdeck.desktop.review.diff.rows import DiffRow, RowKind

ROW_ROLE = Qt.ItemDataRole.UserRole + 1
EXCLUDED_MARK = "✕ left out ·"  # before the header of a hunk that Accept leaves out
Index = QModelIndex | QPersistentModelIndex


class QtDiffRowsModel(QAbstractListModel):
    """Rows of one file (`DiffRow`) plus that file's highlight once it arrives.

    The model only adapts data: rows come from `agentdeck.desktop.review.diff.rows.build_rows`, tokens
    from the highlighter; `expand` unfolds a "⋯ N unchanged lines" row in place. Which
    hunks are left out of the accept and which one is current are the review's; the
    model only shows them (`set_hunk_marks`).
    """

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.rows: list[DiffRow] = []
        self.highlight: FileHighlight | None = None
        self.side_by_side = False
        self.widest = 0  # characters in the longest line, for the view's scroll width
        self.excluded: frozenset[int] = frozenset()  # hunks (from 0) left out
        self.all_excluded = False  # the whole file is left out
        self.current_hunk: int | None = None

    def set_rows(self, rows: list[DiffRow], side_by_side: bool,
                 highlight: FileHighlight | None = None) -> None:
        """Show new rows (a new file, or the other layout of the same file)."""
        self.beginResetModel()
        self.rows = rows
        self.side_by_side = side_by_side
        self.highlight = highlight
        self.widest = max((_row_width(row) for row in rows), default=0)
        self.endResetModel()

    def set_highlight(self, highlight: FileHighlight | None) -> None:
        """Attach tokens and change marks; every row repaints."""
        self.highlight = highlight
        if self.rows:
            self.dataChanged.emit(self.index(0), self.index(len(self.rows) - 1), [ROW_ROLE])

    def set_hunk_marks(self, excluded: frozenset[int], all_excluded: bool,
                       current: int | None) -> None:
        """Show hunks ``excluded`` (or, ``all_excluded``, the whole file) as left out and
        hunk ``current`` as the one ``space`` toggles; every row repaints."""
        self.excluded, self.all_excluded, self.current_hunk = excluded, all_excluded, current
        if self.rows:
            self.dataChanged.emit(self.index(0), self.index(len(self.rows) - 1),
                                  [ROW_ROLE, Qt.ItemDataRole.DisplayRole])

    def is_excluded(self, row: DiffRow) -> bool:
        """Whether ``row`` shows a part of the change that is left out."""
        return self.all_excluded or row.hunk in self.excluded

    def hunk_row(self, hunk: int) -> int | None:
        """The row number of hunk ``hunk``'s header, None when the file has no such hunk."""
        return next((i for i, row in enumerate(self.rows)
                     if row.kind == RowKind.HUNK and row.hunk == hunk), None)

    def expand(self, row: int) -> bool:
        """Replace the COLLAPSED row at ``row`` by the rows it hides; False if it is not one."""
        if not 0 <= row < len(self.rows) or self.rows[row].kind != RowKind.COLLAPSED:
            return False
        hidden = self.rows[row].hidden
        self.beginRemoveRows(QModelIndex(), row, row)
        del self.rows[row]
        self.endRemoveRows()
        self.beginInsertRows(QModelIndex(), row, row + len(hidden) - 1)
        self.rows[row:row] = hidden
        self.endInsertRows()
        self.widest = max(self.widest, *(_row_width(r) for r in hidden))
        return True

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802 (Qt API)
        return 0 if parent.isValid() else len(self.rows)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self.rows):
            return None
        row = self.rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            if row.kind == RowKind.HUNK and self.is_excluded(row):
                return f"{EXCLUDED_MARK} {row.text}"
            return row.text
        if role == ROW_ROLE:
            return row
        if role == Qt.ItemDataRole.ToolTipRole and row.kind == RowKind.COLLAPSED:
            return "Click to show these lines"
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | \
            Qt.ItemFlag.ItemNeverHasChildren


def _row_width(row: DiffRow) -> int:
    return max(len(row.old_text), len(row.new_text), 24 if row.kind == RowKind.COLLAPSED else 0)
