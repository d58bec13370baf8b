"""File → New task: repository, prompt, agent profile, runtime, priority, start time, and
best-of-N attempts (several attempts or agents make one group to compare)."""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox, QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit, QPlainTextEdit,
    QVBoxLayout, QWidget,
)

from agentdeck.desktop.context import AppContext
from agentdeck.desktop.dialogs.attempts import AttemptsChoice
from agentdeck.desktop.dialogs.fields import ERROR_STYLE, RepoPicker, StartTime, TaskSettings
from agentdeck.desktop.widgets.plaintext import plain_label
from agentdeck.engine.api import validate
from agentdeck.engine.errors import AgentdeckError, InvalidInput


class NewTaskDialog(QDialog):
    """Collects one task and submits it through ``engine.submit`` (several attempts or
    agents: ``engine.submit_group``).

    Errors (bad repo, empty prompt, unknown time) are shown inline; the dialog closes
    only once the engine accepted the task.

    Signals:
        submitted(list): the new tasks (one, or the attempts of a group).
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
        self.prompt_error = _error_label()
        form.addRow("", self.prompt_error)
        self.settings = TaskSettings(ctx, form)
        self.timeout_error = _error_label()
        form.insertRow(form.getWidgetPosition(self.settings.timeout)[0] + 1, "", self.timeout_error)
        self.attempts = AttemptsChoice()
        self.settings.on_profiles.append(self.attempts.set_profiles)
        form.insertRow(form.getWidgetPosition(self.settings.runtime)[0], "Attempts",
                       self.attempts)
        form.addRow("Start", self.start)
        self.error = _error_label()  # what no single field explains (the engine's refusal)
        for changed in (self.prompt.textChanged, self.title.textChanged,
                        self.settings.timeout.textChanged, self.repo.checked,
                        self.start.combo.editTextChanged):
            changed.connect(self.clear_errors)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.start_button = self.buttons.addButton("Start task", QDialogButtonBox.ButtonRole.AcceptRole)
        self.start_button.setDefault(True)
        self.attempts.changed.connect(self._name_start_button)
        self.settings.agent.currentIndexChanged.connect(self._name_start_button)
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.resize(640, 560)

    def submit(self) -> None:
        """Validate and hand the task to the engine (the dialog closes on success). A
        problem of one field is shown under that field; the start time's beside it."""
        self.clear_errors()
        checks = ((self.prompt_error, lambda: validate.prompt(self.prompt.toPlainText())),
                  (self.timeout_error, self.settings.values),
                  (None, self.start.value))
        values = []
        for label, check in checks:
            try:
                values.append(check())
            except InvalidInput as exc:
                if label is not None:
                    label.setText(str(exc))
                    label.show()
                return
        _, settings, not_before = values
        self.start_button.setEnabled(False)
        self._ctx.runner.spawn(self._submit(settings, not_before), on_error=self._failed)

    def _name_start_button(self) -> None:
        size = self.attempts.size(self.settings.agent.currentData() or "shell")
        self.start_button.setText("Start task" if size == 1 else f"Start {size} attempts")

    async def _submit(self, settings: dict, not_before: float | None) -> None:
        agent = settings.pop("agent")
        options = dict(not_before=not_before, title=self.title.text().strip() or None,
                       include_uncommitted=self.include_uncommitted.isChecked(), **settings)
        engine, path, prompt = self._ctx.engine, self.repo.path(), self.prompt.toPlainText()
        if self.attempts.size(agent) == 1:
            tasks = [await engine.submit(path, prompt, agent=agent, **options)]
        else:
            tasks = await engine.submit_group(path, prompt, agents=self.attempts.agents(agent),
                                              attempts=self.attempts.attempts.value(), **options)
        self._ctx.ui_state.add_recent_repo(tasks[0].repo)
        self.submitted.emit(tasks)
        self.accept()

    def _failed(self, exc: AgentdeckError) -> None:
        self.start_button.setEnabled(True)
        self.show_error(str(exc))

    def show_error(self, text: str) -> None:
        """Show a problem inline, in red."""
        self.error.setText(text)
        self.error.show()

    def clear_errors(self) -> None:
        """Forget shown problems: the user is changing what they were about."""
        for label in (self.prompt_error, self.timeout_error, self.error):
            label.clear()
            label.hide()


def _error_label() -> QLabel:
    label = plain_label()  # may quote what the user typed
    label.setWordWrap(True)
    label.setStyleSheet(ERROR_STYLE)
    label.hide()
    return label
