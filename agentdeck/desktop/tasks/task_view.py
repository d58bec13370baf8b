"""The Task page: the live log of one task, its details, and a follow-up box."""
from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout, QLineEdit, QPushButton, QScrollArea, QSplitter, QVBoxLayout, QWidget,
)

from agentdeck.desktop.context import AppContext
from agentdeck.desktop.widgets.icons import icon
from agentdeck.desktop.log import LogView
from agentdeck.desktop.log.log_pager import LogPager
from agentdeck.desktop.ui_state import UiState
from agentdeck.desktop.tasks.task_details import TaskDetails
from agentdeck.desktop.widgets.theme import Theme
from agentdeck.engine.models import LogEntry, Task, TaskState

class TaskView(QWidget):
    """Log (paged from the store, live tail from the bridge) + details + follow-up."""

    def __init__(self, ctx: AppContext, theme: Theme, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._ctx = ctx
        self.task: Task | None = None
        self._pager: LogPager | None = None
        self._early: list[LogEntry] | None = None  # live lines that came while loading
        self.log = LogView(self, theme)
        self.details = TaskDetails()
        self.follow_up = QLineEdit(placeholderText="Follow-up instruction for the agent…  (Enter to send)")
        self.follow_up.returnPressed.connect(self.send_follow_up)
        self.send_button = QPushButton(icon("send"), "Send")
        self.send_button.clicked.connect(self.send_follow_up)
        row = QHBoxLayout()
        row.addWidget(self.follow_up, 1)
        row.addWidget(self.send_button)
        left = QWidget()
        column = QVBoxLayout(left)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.log, 1)
        column.addLayout(row)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(self.details)
        self.split = QSplitter(Qt.Orientation.Vertical)
        self.split.addWidget(scroll)
        self.split.addWidget(left)
        self.split.setStretchFactor(1, 1)
        self.split.setSizes([250, 600])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 8, 8, 8)
        layout.addWidget(self.split)
        ctx.ui_state.restore_splitter("task_view", self.split)
        self.show_task(None)

    def set_task(self, task: Task) -> None:
        """Show another task: details now, its stored log as soon as it is read."""
        if self._pager is not None:
            self._pager.close()
        self.task = task
        self.show_task(task)
        self.log.set_source(None)
        self._early = []
        self._pager = LogPager(self._ctx, task.id, self.log.model.page_size)
        self._ctx.runner.spawn(self._load(self._pager))
        self.details.show_attempts([])
        self._ctx.runner.spawn(self._load_attempts(task.id))

    async def _load_attempts(self, task_id: str) -> None:
        attempts = await self._ctx.engine.attempts(task_id)
        if self.task is not None and self.task.id == task_id:
            self.details.show_attempts(attempts)

    async def _load(self, pager: LogPager) -> None:
        await pager.start()
        if pager is not self._pager:
            return  # another task was chosen meanwhile
        self.log.set_source(pager.fetch_page)  # serves the page just read, synchronously
        early, self._early = self._early or [], None
        self.log.append_entries(early)  # the model skips lines it already has

    def show_task(self, task: Task | None) -> None:
        """Render a (newer) snapshot of the current task."""
        if task is not None and self.task is not None and task.id != self.task.id:
            return
        previous, self.task = self.task, task or self.task
        if task is not None and previous is not None and (
                previous.state, previous.attempt) != (task.state, task.attempt):
            self._ctx.runner.spawn(self._load_attempts(task.id))
        self.details.show_task(task)
        can_follow_up = task is not None and task.state.can_requeue
        self.follow_up.setEnabled(can_follow_up)
        self.send_button.setEnabled(can_follow_up)
        if task is not None and task.state is TaskState.NEEDS_INPUT:
            self.follow_up.setPlaceholderText("The agent asks: " + (task.question or "…") + "  — answer here")
        else:
            self.follow_up.setPlaceholderText("Follow-up instruction for the agent…  (Enter to send)")

    def append_entries(self, task_id: str, entries: Sequence[LogEntry]) -> None:
        """New live lines of ``task_id`` (ignored unless it is the one shown)."""
        if self.task is None or task_id != self.task.id:
            return
        if self._early is not None:
            self._early.extend(entries)
        else:
            self.log.append_entries(entries)

    def send_follow_up(self) -> None:
        """Send the typed instruction as a new attempt of the task."""
        text = self.follow_up.text().strip()
        if not text or self.task is None:
            return
        self.follow_up.clear()
        self._ctx.runner.spawn(self._ctx.engine.follow_up(self.task.id, text))

    def tick(self) -> None:
        """Refresh the elapsed time of a running task."""
        if self.task is not None and self.task.finished_at is None and self.task.started_at:
            self.details.show_task(self.task)

    def focus_log(self) -> None:
        """Put the keyboard focus in the log."""
        self.log.setFocus()

    def set_theme(self, theme: Theme) -> None:
        """Repaint in ``theme``."""
        self.log.set_theme(theme)

    def save_state(self, state: UiState) -> None:
        """Remember the details/log split."""
        state.save_splitter("task_view", self.split)
