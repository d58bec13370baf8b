"""Status bar pieces: live counters and the progress of the current batch."""
from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QWidget

from agentdeck.desktop.widgets.icons import STATE_COLORS
from agentdeck.desktop.widgets.plaintext import plain_label
from agentdeck.engine.models import TaskState

_COUNTERS = (
    ("running", "running", STATE_COLORS[TaskState.RUNNING]),
    ("queued", "queued", STATE_COLORS[TaskState.QUEUED]),
    ("review_pending", "to review", STATE_COLORS[TaskState.NEEDS_INPUT]),
    ("failed", "failed", STATE_COLORS[TaskState.FAILED]),
)


class Counters(QWidget):
    """``● 3 running  ● 2 queued  ● 1 to review  ● 0 failed``."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 6, 0)
        layout.setSpacing(14)
        self.labels: dict[str, QLabel] = {}
        for key, _, _ in _COUNTERS:
            label = QLabel()
            self.labels[key] = label
            layout.addWidget(label)
        self.set_counts({})

    def set_counts(self, counts: dict[str, int]) -> None:
        """Show engine counts (``running`` includes preparing tasks)."""
        merged = dict(counts)
        merged["running"] = counts.get("running", 0) + counts.get("preparing", 0)
        merged["failed"] = counts.get("failed", 0) + counts.get("timed_out", 0)
        for key, words, color in _COUNTERS:
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
