"""File → New task: repository, prompt, agent profile, runtime, priority, start time."""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox, QDialog, QDialogButtonBox, QFormLayout, QLineEdit, QPlainTextEdit,
    QVBoxLayout, QWidget,
)

from agentdeck.desktop.context import AppContext
from agentdeck.desktop.dialogs.fields import ERROR_STYLE, RepoPicker, StartTime, TaskSettings
from agentdeck.desktop.widgets.plaintext import plain_label
from agentdeck.engine.errors import AgentdeckError, InvalidInput


class NewTaskDialog(QDialog):
    """Collects one task and submits it through ``engine.submit``.

    Errors (bad repo, empty prompt, unknown time) are shown inline; the dialog closes
    only once the engine accepted the task.

    Signals:
        submitted(list): the new task, in a one-element list.
    """

    submitted = Signal(list)

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._ctx = ctx
        self.setWindowTitle("New task")
        self.repo = RepoPicker(ctx)
        self.include_uncommitted = QCheckBox("Include uncommitted changes in the snapshot")
        self.include_uncommitted.setEnabled(False)
        self.repo.checked.connect(lambda info: self.include_uncommitted.setEnabled(bool(info and info.dirty)))
        self.title = QLineEdit(placeholderText="optional; the prompt's first line otherwise")
        self.prompt = QPlainTextEdit()
        self.prompt.setPlaceholderText("What should the agent do?")
        self.prompt.setTabChangesFocus(True)
        self.prompt.setMinimumHeight(140)
        self.start = StartTime()
        form = QFormLayout()
        form.addRow("Repository", self.repo)
        form.addRow("", self.include_uncommitted)
        form.addRow("Title", self.title)
        form.addRow("Prompt", self.prompt)
        self.settings = TaskSettings(ctx, form)
        form.addRow("Start", self.start)
        self.error = plain_label()
        self.error.setWordWrap(True)
        self.error.setStyleSheet(ERROR_STYLE)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.start_button = self.buttons.addButton("Start task", QDialogButtonBox.ButtonRole.AcceptRole)
        self.start_button.setDefault(True)
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.resize(640, 560)

    def submit(self) -> None:
        """Validate and hand the task to the engine (the dialog closes on success)."""
        self.error.clear()
        try:
            settings = self.settings.values()
            not_before = self.start.value()
        except InvalidInput as exc:
            self.show_error(str(exc))
            return
        self.start_button.setEnabled(False)
        self._ctx.runner.spawn(self._submit(settings, not_before), on_error=self._failed)

    async def _submit(self, settings: dict, not_before: float | None) -> None:
        task = await self._ctx.engine.submit(
            self.repo.path(), self.prompt.toPlainText(), not_before=not_before,
            title=self.title.text().strip() or None,
            include_uncommitted=self.include_uncommitted.isChecked(), **settings)
        self._ctx.ui_state.add_recent_repo(task.repo)
        self.submitted.emit([task])
        self.accept()

    def _failed(self, exc: AgentdeckError) -> None:
        self.start_button.setEnabled(True)
        self.show_error(str(exc))

    def show_error(self, text: str) -> None:
        """Show a problem inline, in red."""
        self.error.setText(text)
