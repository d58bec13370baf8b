"""Status bar pieces: live counters and the progress of the current batch."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QWidget

from agentdeck.desktop.widgets.icons import STATE_COLORS
from agentdeck.desktop.tasks.qt_task_filter import TO_REVIEW
from agentdeck.desktop.widgets.plaintext import plain_label
from agentdeck.engine.models import TaskState

_COUNTERS = (  # count key, words, dot colour, the task filter a click shows
    ("running", "running", STATE_COLORS[TaskState.RUNNING], TaskState.RUNNING.value),
    ("queued", "queued", STATE_COLORS[TaskState.QUEUED], TaskState.QUEUED.value),
    ("review_pending", "to review", STATE_COLORS[TaskState.NEEDS_INPUT], TO_REVIEW),
    ("failed", "failed", STATE_COLORS[TaskState.FAILED], TaskState.FAILED.value),
)


class _ClickableLabel(QLabel):
    clicked = Signal()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt API)
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit()
        super().mouseReleaseEvent(event)


class Counters(QWidget):
    """``● 3 running  ● 2 queued  ● 1 to review  ● 0 failed``; a click on one shows those
    tasks.

    Signals:
        chosen(str): the state filter of the task list to show (see `FilterBar`).
    """

    chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 6, 0)
        layout.setSpacing(14)
        self.labels: dict[str, QLabel] = {}
        for key, words, _, state_filter in _COUNTERS:
            label = _ClickableLabel()
            label.setCursor(Qt.CursorShape.PointingHandCursor)
            label.setToolTip(f"Show the tasks {words}" if key != "review_pending"
                             else "Open the review inbox: every task waiting for review")
            label.clicked.connect(lambda f=state_filter: self.chosen.emit(f))
            self.labels[key] = label
            layout.addWidget(label)
        self.set_counts({})

    def set_counts(self, counts: dict[str, int]) -> None:
        """Show engine counts (``running`` includes preparing tasks)."""
        merged = dict(counts)
        merged["running"] = counts.get("running", 0) + counts.get("preparing", 0)
        merged["failed"] = counts.get("failed", 0) + counts.get("timed_out", 0)
        for key, words, color, _ in _COUNTERS:
            value = merged.get(key, 0)
            dot_color = color if value else "palette(mid)"
            self.labels[key].setText(
                f"<span style='color:{dot_color}'>●</span>&nbsp;<b>{value}</b>&nbsp;{words}")


class BatchProgress(QWidget):
    """Name and progress bar of the batch still being worked on (hidden otherwise)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.label = plain_label()  # the batch's name comes from a batch file
        self.bar = QProgressBar()
        self.bar.setFixedWidth(160)
        self.bar.setMaximumHeight(14)
        self.bar.setTextVisible(False)
        layout.addWidget(self.label)
        layout.addWidget(self.bar)
        self.hide()

    def set_progress(self, name: str | None, progress: dict[str, int] | None) -> None:
        """Show ``done/total`` of a batch, or hide when there is none in progress."""
        if not name or not progress or not progress.get("total"):
            self.hide()
            return
        total, done = progress["total"], progress.get("done", 0)
        failed = progress.get("failed", 0)
        self.bar.setRange(0, total)
        self.bar.setValue(done)
        extra = f", {failed} failed" if failed else ""
        self.label.setText(f"Batch “{name}”: {done}/{total}{extra}")
        self.setToolTip(f"{progress.get('running', 0)} running, {progress.get('queued', 0)} queued")
        self.show()
