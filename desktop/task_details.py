"""The details pane of one task: prompt, profile, commits, timing, exit code, cost."""
from __future__ import annotations

import time

from PySide6.QtCore import Qt
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QFormLayout, QLabel, QPlainTextEdit, QWidget

from desktop import format as fmt
from desktop.icons import state_color
from engine.models import ReviewState, Task

_FIELDS = (
    ("state", "State"), ("review", "Review"), ("agent", "Profile"), ("runtime", "Runtime"),
    ("repo", "Repository"), ("base", "Base commit"), ("result", "Result commit"),
    ("created", "Created"), ("started", "Started"), ("finished", "Finished"),
    ("elapsed", "Elapsed"), ("exit", "Exit code"), ("attempt", "Attempt"),
    ("changes", "Changes"), ("tokens", "Tokens"), ("cost", "Cost"), ("error", "Error"),
)


def field_values(task: Task, now: float | None = None) -> dict[str, str]:
    """The text of every details field for ``task``."""
    return {
        "state": task.state.value.replace("_", " "),
        "review": task.review.value if task.review is not ReviewState.NONE else "—",
        "agent": task.agent,
        "runtime": f"{task.runtime} · {task.endpoint}" if task.endpoint else task.runtime,
        "repo": task.repo,
        "base": (task.base_commit or "—")[:12],
        "result": (task.result_commit or "—")[:12],
        "created": fmt.timestamp(task.created_at),
        "started": fmt.timestamp(task.started_at),
        "finished": fmt.timestamp(task.finished_at),
        "elapsed": fmt.duration(fmt.elapsed_seconds(task, now or time.time())),
        "exit": "—" if task.exit_code is None else str(task.exit_code),
        "attempt": str(task.attempt),
        "changes": (f"{task.files_changed} files, {fmt.lines_changed(task)}"
                    if task.files_changed else "—"),
        "tokens": f"{task.tokens_in:,} in / {task.tokens_out:,} out",
        "cost": fmt.cost(task.cost_usd) or "—",
        "error": task.error or task.question or "—",
    }


class TaskDetails(QWidget):
    """Read-only form with the snapshot's fields; `show_task` re-renders it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QFormLayout(self)
        layout.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        layout.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self.title = QLabel()
        self.title.setWordWrap(True)
        self.title.setStyleSheet("font-weight: 600; font-size: 13pt;")
        layout.addRow(self.title)
        self.prompt = QPlainTextEdit(readOnly=True)
        self.prompt.setMaximumHeight(110)
        layout.addRow("Prompt", self.prompt)
        self.labels: dict[str, QLabel] = {}
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        for key, text in _FIELDS:
            label = QLabel()
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            label.setWordWrap(key in ("repo", "error"))
            if key in ("base", "result"):
                label.setFont(mono)
            self.labels[key] = label
            layout.addRow(text, label)

    def show_task(self, task: Task | None) -> None:
        """Render ``task`` (or clear the form)."""
        if task is None:
            self.title.setText("No task selected")
            self.prompt.setPlainText("")
            for label in self.labels.values():
                label.setText("")
            return
        self.title.setText(fmt.task_title(task))
        if self.prompt.toPlainText() != task.prompt:
            self.prompt.setPlainText(task.prompt)
        for key, value in field_values(task).items():
            self.labels[key].setText(value)
        self.labels["state"].setStyleSheet(f"color: {state_color(task.state).name()}; font-weight: 600;")
        self.labels["repo"].setToolTip(task.repo)
        self.labels["base"].setToolTip(task.base_commit or "")
        self.labels["result"].setToolTip(task.result_commit or "")
