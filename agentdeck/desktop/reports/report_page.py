"""The Reports tab: pick a batch or "Last night"; see each task's state, diff size, time,
cost and why it failed, and charts of cost and duration per task.

The report is read when the tab is shown or another set is picked, and again (at most
once a second) while tasks of the shown report change.
"""
from __future__ import annotations

from PySide6.QtCore import QModelIndex, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView, QComboBox, QHBoxLayout, QHeaderView, QPushButton, QSplitter,
    QTableView, QVBoxLayout, QWidget,
)

from agentdeck.desktop.context import AppContext
from agentdeck.desktop.reports.qt_report_charts import ReportCharts
from agentdeck.desktop.widgets.plaintext import plain_label
from agentdeck.desktop.widgets.qt_summary_model import SummaryColumn, SummaryRole, SummaryTableModel
from agentdeck.desktop.widgets.theme import Theme
from agentdeck.engine.api import LAST_NIGHT
from agentdeck.engine.models import Batch, Report, Task

_RELOAD_MS = 1000


def report_heading(report: Report) -> str:
    """The report's title and totals, for the line above the table."""
    failed = report.failures
    return (f"{report.title}: {len(report.tasks)} task(s), {failed} failed, "
            f"cost ${report.cost_usd:.2f}")


class ReportPage(QWidget):
    """Shows the report of the set chosen in `choice` (a batch id, or ``LAST_NIGHT``).

    Signals:
        open_task(str): the user double-clicked a task.
        message(str): a problem for the status bar.
    """

    open_task = Signal(str)
    message = Signal(str)

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._ctx = ctx
        self.report: Report | None = None
        self.choice = QComboBox()
        self.choice.setMinimumContentsLength(30)
        self.choice.addItem("Last night (since yesterday 18:00)", LAST_NIGHT)
        self.refresh_button = QPushButton("Refresh")
        self.heading = plain_label()
        self.model = SummaryTableModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        self.table.setColumnWidth(SummaryColumn.TITLE, 280)
        self.charts = ReportCharts()
        self._build_layout()
        self._reload = QTimer(self, singleShot=True, interval=_RELOAD_MS)
        self._reload.timeout.connect(self.load)
        self.choice.activated.connect(lambda _index: self.load())
        self.refresh_button.clicked.connect(self.load)
        self.table.doubleClicked.connect(self._on_double_click)

    def _build_layout(self) -> None:
        top = QHBoxLayout()
        top.addWidget(self.choice)
        top.addWidget(self.refresh_button)
        top.addWidget(self.heading, 1)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(self.charts)
        split.setSizes([360, 300])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addLayout(top)
        layout.addWidget(split, 1)

    def load(self) -> None:
        """Read the batches and the chosen report again."""
        self._reload.stop()
        self._ctx.runner.spawn(self._load(), on_error=lambda e: self.message.emit(str(e)))

    async def _load(self) -> None:
        engine = self._ctx.engine
        self._set_batches(await engine.list_batches())
        which = self.choice.currentData()
        report = await engine.report(which)
        if which == self.choice.currentData():  # not changed meanwhile
            self.show_report(report)

    def _set_batches(self, batches: list[Batch]) -> None:
        chosen = self.choice.currentData()
        self.choice.blockSignals(True)
        while self.choice.count() > 1:
            self.choice.removeItem(1)
        for batch in batches:
            self.choice.addItem(f"Batch {batch.name or batch.id} ({batch.id})", batch.id)
        self.choice.setCurrentIndex(max(0, self.choice.findData(chosen)))
        self.choice.blockSignals(False)

    def show_report(self, report: Report) -> None:
        """Fill the heading, the table and the charts from ``report``."""
        self.report = report
        self.heading.setText(report_heading(report))
        self.model.set_rows(report.tasks)
        self.charts.show_rows(report.tasks)

    def tasks_changed(self, tasks: list[Task]) -> None:
        """Tasks changed: read the report again soon if it is shown and holds one (or,
        for last night, a task was added)."""
        if not self.isVisible() or self._reload.isActive():
            return
        shown = {r.id for r in self.report.tasks} if self.report else set()
        last_night = self.choice.currentData() == LAST_NIGHT
        if any(t.id in shown or last_night or t.batch_id == self.choice.currentData()
               for t in tasks):
            self._reload.start()

    def set_theme(self, theme: Theme) -> None:
        """Draw the charts to match ``theme``."""
        self.charts.set_dark(theme.dark)

    def _on_double_click(self, index: QModelIndex) -> None:
        row = index.data(SummaryRole)
        if row is not None:
            self.open_task.emit(row.id)
