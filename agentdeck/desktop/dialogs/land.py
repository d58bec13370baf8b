"""Task → Accept approved…: order the approved tasks, then land them one at a time with
the repo's tests run on each (the engine's merge queue), with progress and the failing
test output when the queue stops."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView, QDialog, QDialogButtonBox, QHBoxLayout, QLabel, QLineEdit,
    QListWidget, QListWidgetItem, QPlainTextEdit, QProgressBar, QPushButton, QVBoxLayout,
    QWidget,
)

from agentdeck.desktop.context import AppContext
from agentdeck.desktop.widgets import format as fmt
from agentdeck.engine.errors import AgentdeckError
from agentdeck.engine.models import LandReport, LandStep, Task


class LandDialog(QDialog):
    """The approved tasks in landing order (drag, or Up/Down), a test command, Land.

    Signals:
        message(str): a one-line outcome for the status bar.
    """

    message = Signal(str)

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setWindowTitle("Accept approved tasks")
        self.order = QListWidget()
        self.order.setDragDropMode(QAbstractItemView.DragDropMode.InternalMove)
        self.test = QLineEdit()
        self.test.setPlaceholderText("the profile's test_command, else agentdeck.toml [test] "
                                     "command")
        self.progress = QProgressBar()
        self.output = QPlainTextEdit(readOnly=True)
        self.output.setPlaceholderText("What the queue does, and the test output where it "
                                       "stops")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.land_button = self.buttons.addButton("Land in this order",
                                                  QDialogButtonBox.ButtonRole.ApplyRole)
        self.land_button.clicked.connect(self._on_land)
        self.buttons.rejected.connect(self.reject)
        self._layout()
        self.ctx.runner.spawn(self._load())

    def _layout(self) -> None:
        up, down = QPushButton("Up"), QPushButton("Down")
        up.clicked.connect(lambda: self._move(-1))
        down.clicked.connect(lambda: self._move(1))
        moves = QVBoxLayout()
        moves.addWidget(up)
        moves.addWidget(down)
        moves.addStretch()
        row = QHBoxLayout()
        row.addWidget(self.order, 1)
        row.addLayout(moves)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Approved tasks, landed top to bottom; the queue stops at "
                                "the first whose tests fail."))
        layout.addLayout(row)
        layout.addWidget(QLabel("Test command (run in a temporary checkout of each):"))
        layout.addWidget(self.test)
        layout.addWidget(self.progress)
        layout.addWidget(self.output, 1)
        layout.addWidget(self.buttons)
        self.resize(620, 520)

    async def _load(self) -> None:
        self.set_tasks(await self.ctx.engine.approved())

    def set_tasks(self, tasks: list[Task]) -> None:
        """Show ``tasks`` in this order."""
        self.order.clear()
        for task in tasks:
            item = QListWidgetItem(f"{task.id}  {fmt.task_title(task)}")
            item.setData(Qt.ItemDataRole.UserRole, task.id)
            self.order.addItem(item)
        self.land_button.setEnabled(bool(tasks))
        if not tasks and not self.output.toPlainText():
            self.output.setPlainText("No task is approved: approve waiting tasks in the "
                                     "task list or the review first (Ctrl+Shift+A).")

    def ids(self) -> list[str]:
        """The task ids in the order shown."""
        return [self.order.item(row).data(Qt.ItemDataRole.UserRole) for row in range(self.order.count())]

    def _move(self, step: int) -> None:
        row = self.order.currentRow()
        if row < 0 or not 0 <= row + step < self.order.count():
            return
        item = self.order.takeItem(row)
        self.order.insertItem(row + step, item)
        self.order.setCurrentRow(row + step)

    def _on_land(self) -> None:
        ids = self.ids()
        self.land_button.setEnabled(False)
        self.progress.setRange(0, len(ids))
        self.progress.setValue(0)
        self.output.clear()
        self.ctx.runner.spawn(self.land(ids, self.test.text().strip() or None))

    async def land(self, ids: list[str], test: str | None) -> None:
        """Run the queue and show what it did."""
        try:
            report = await self.ctx.engine.land(ids, test=test, progress=self._on_step)
        except AgentdeckError as exc:
            self.output.appendPlainText(str(exc))
            self.land_button.setEnabled(True)
            self.message.emit(str(exc))
            return
        self._show_report(report)
        self.set_tasks(await self.ctx.engine.approved())  # what is left to land

    def _on_step(self, step: LandStep) -> None:
        self.output.appendPlainText(f"[{step.index + 1}/{step.total}] {step.task} {step.stage}")
        if step.stage == "landed":
            self.progress.setValue(self.progress.value() + 1)

    def _show_report(self, report: LandReport) -> None:
        landed = len(report.landed)
        summary = f"Landed {landed} task{'s' if landed != 1 else ''}"
        if report.failed:
            summary += f"; stopped at {report.failed}: {report.reason}"
            if report.output:
                self.output.appendPlainText("--- test output ---\n" + report.output)
        self.output.appendPlainText(summary)
        self.message.emit(summary)
