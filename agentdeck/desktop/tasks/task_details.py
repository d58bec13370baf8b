"""The details pane of one task: prompt, profile, commits, timing, exit code, cost."""
from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QFontDatabase
from PySide6.QtWidgets import QGridLayout, QLabel, QPlainTextEdit, QVBoxLayout, QWidget

from agentdeck.desktop.widgets import format as fmt
from agentdeck.desktop.widgets.icons import state_color
from agentdeck.desktop.widgets.plaintext import plain_label, plain_tip
from agentdeck.engine.models import ReviewState, Task

_FIELDS = (  # first half: left column, second half: right column
    ("state", "State"), ("review", "Review"), ("agent", "Profile"), ("runtime", "Runtime"),
    ("repo", "Repository"), ("paths", "Checkout"), ("base", "Base commit"),
    ("result", "Result commit"),
    ("changes", "Changes"), ("error", "Error"), ("history", "Attempts"),
    ("created", "Created"), ("started", "Started"), ("finished", "Finished"),
    ("elapsed", "Elapsed"), ("exit", "Exit code"), ("attempt", "Attempt"),
    ("tokens", "Tokens"), ("cost", "Cost"),
)


def attempts_text(attempts: list[dict[str, Any]]) -> str:
    """One line per finished attempt: ``#1 failed (exit 1) · 0:42``."""
    lines = []
    for row in attempts:
        took = (row["finished_at"] - row["started_at"]
                if row.get("finished_at") and row.get("started_at") else None)
        code = "" if row.get("exit_code") is None else f" (exit {row['exit_code']})"
        lines.append(f"#{row['attempt']} {(row.get('state') or '?').replace('_', ' ')}{code}"
                     f" · {fmt.duration(took)}")
    return "\n".join(lines) or "—"


def field_values(task: Task, now: float | None = None) -> dict[str, str]:
    """The text of every details field for ``task``."""
    return {
        "state": task.state.value.replace("_", " "),
        "review": task.review.value if task.review is not ReviewState.NONE else "—",
        "agent": task.agent,
        "runtime": f"{task.runtime} · {task.endpoint}" if task.endpoint else task.runtime,
        "repo": task.repo,
        "paths": ", ".join(task.paths) if task.paths else "whole repo",
        "base": (task.base_commit or "—")[:12],
        "result": (task.result_commit or "—")[:12],
        "created": fmt.timestamp(task.created_at),
        "started": (f"not before {fmt.timestamp(task.not_before)}"
                    if task.started_at is None and task.not_before else
                    fmt.timestamp(task.started_at)),
        "finished": fmt.timestamp(task.finished_at),
        "elapsed": fmt.duration(fmt.elapsed_seconds(task, now or time.time())),
        "exit": "—" if task.exit_code is None else str(task.exit_code),
        "attempt": str(task.attempt),
        "changes": (f"{task.files_changed} file{'s' * (task.files_changed != 1)}, "
                    f"{fmt.lines_changed(task)}"
                    if task.files_changed else "—"),
        "tokens": f"{task.tokens_in:,} in / {task.tokens_out:,} out",
        "cost": (fmt.cost(task.cost_usd) or "$0") + (f" of {fmt.cost(task.budget_usd)} budget"
                                                    if task.budget_usd else "")
                if task.cost_usd or task.budget_usd else "—",
        "error": task.error or task.question or "—",
    }


class TaskDetails(QWidget):
    """Read-only summary of a snapshot, in two label/value columns; `show_task` re-renders it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 4)
        self.title = plain_label()
        self.title.setWordWrap(True)
        font = QFont(self.font())
        font.setPointSizeF(font.pointSizeF() * 1.3)
        font.setBold(True)
        self.title.setFont(font)
        layout.addWidget(self.title)
        self.prompt = QPlainTextEdit(readOnly=True)
        self.prompt.setMaximumHeight(64)
        layout.addWidget(self.prompt)
        grid = QGridLayout()
        grid.setHorizontalSpacing(10)
        grid.setVerticalSpacing(3)
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(3, 1)
        self.labels: dict[str, QLabel] = {}
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        half = (len(_FIELDS) + 1) // 2
        for number, (key, text) in enumerate(_FIELDS):
            row, column = (number, 0) if number < half else (number - half, 2)
            name = QLabel(text)
            name.setEnabled(False)  # drawn in the muted colour of the palette
            name.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
            label = plain_label()
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            label.setWordWrap(key in ("error", "history", "paths"))
            if key in ("base", "result"):
                label.setFont(mono)
            self.labels[key] = label
            grid.addWidget(name, row, column)
            grid.addWidget(label, row, column + 1)
        layout.addLayout(grid)
        layout.addStretch(1)

    def show_attempts(self, attempts: list[dict[str, Any]]) -> None:
        """Show the history of earlier attempts (from ``engine.attempts``)."""
        self.labels["history"].setText(attempts_text(attempts))

    def show_task(self, task: Task | None) -> None:
        """Render ``task`` (or clear the form; the attempts stay until `show_attempts`)."""
        if task is None:
            self.title.setText("No task selected")
            self.prompt.setPlainText("")
            for label in self.labels.values():
                label.setText("")
            return
        self.title.setText(fmt.task_title(task))
        if self.prompt.toPlainText() != task.prompt:
            self.prompt.setPlainText(task.prompt)
        for key, value in field_values(task).items():  # "history" comes from show_attempts
            self.labels[key].setText(value)
        self.labels["state"].setStyleSheet(f"color: {state_color(task.state).name()}; font-weight: 600;")
        self.labels["repo"].setText(fmt.short_repo(task.repo))
        self.labels["repo"].setToolTip(plain_tip(task.repo))
        self.labels["base"].setToolTip(task.base_commit or "")
        self.labels["result"].setToolTip(task.result_commit or "")
