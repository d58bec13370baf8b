"""The attempts of a best-of-N group side by side, above the diff of the one reviewed:
state, diff size, files, time, cost and why it failed; a click reviews another."""
from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QModelIndex, Signal
from PySide6.QtWidgets import (
    QAbstractItemView, QHeaderView, QTableView, QVBoxLayout, QWidget,
)

from agentdeck.desktop.widgets.plaintext import plain_label
from agentdeck.desktop.widgets.qt_summary_model import SummaryColumn, SummaryRole, SummaryTableModel
from agentdeck.engine.models import ReviewState, TaskSummary

_ROW_HEIGHT = 24
_MAX_ROWS = 6


class ComparePanel(QWidget):
    """Hidden unless the reviewed task is one attempt of a group.

    Signals:
        chosen(str): the user clicked another attempt (its task id).
    """

    chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = SummaryTableModel(self)
        self.heading = plain_label()
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(_ROW_HEIGHT)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(SummaryColumn.TITLE, QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        self.table.setColumnWidth(SummaryColumn.TITLE, 260)
        self.table.clicked.connect(self._on_clicked)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.addWidget(self.heading)
        layout.addWidget(self.table)
        self._current = ""
        self.hide()

    def show_group(self, rows: Sequence[TaskSummary], current: str) -> None:
        """Show the group's ``rows`` with ``current`` (the reviewed attempt) selected."""
        self._current = current
        self.model.set_rows(rows)
        taken = any(r.review == ReviewState.ACCEPTED for r in rows)
        self.heading.setText(
            f"Best of {len(rows)}: " + ("one attempt was accepted, the others rejected"
                                        if taken else "click an attempt to review it; "
                                        "accepting one rejects the others"))
        row = self.model.row_of(current)
        if row is not None:
            self.table.selectRow(row)
        self.table.setFixedHeight(self.table.horizontalHeader().height() + 4
                                  + _ROW_HEIGHT * min(len(rows), _MAX_ROWS))
        self.setVisible(bool(rows))

    def clear(self) -> None:
        """Not a group member: nothing to compare."""
        self._current = ""
        self.model.set_rows([])
        self.hide()

    def _on_clicked(self, index: QModelIndex) -> None:
        row = index.data(SummaryRole)
        if row is not None and row.id != self._current:
            self.chosen.emit(row.id)
