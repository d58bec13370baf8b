"""File → New batch: many prompts (one per line) or a template over a glob, or TOML.

Whatever the input, the dialog turns it into batch-file TOML and lets the engine's
parser (`Engine.parse_batch`) check it, so the GUI, a saved file and the
CLI accept exactly the same batches and report the same line-numbered errors.
"""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import tomli_w
from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (
    QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QHeaderView, QLabel, QLineEdit,
    QPlainTextEdit, QTableWidget, QTableWidgetItem, QTabWidget, QVBoxLayout, QWidget,
)

from agentdeck.desktop.widgets import format as fmt
from agentdeck.desktop.context import AppContext
from agentdeck.desktop.dialogs.fields import ERROR_STYLE, OK_STYLE, RepoPicker, StartTime, TaskSettings
from agentdeck.desktop.widgets.plaintext import plain_label, plain_tip
from agentdeck.engine.api import BatchSpec
from agentdeck.engine.errors import AgentdeckError, InvalidInput

_PREVIEW_DELAY_MS = 350
LIST, TEMPLATE, TOML = range(3)
#: What the status line says per tab while nothing is typed.
_EMPTY_HINTS = ("Type one prompt per line: one task each.",
                "Type a prompt with {path} and the globs of the files it applies to.",
                "Type or import a batch file (TOML).")


def form_document(name: str, mode: int, text: str, globs: str,
                  settings: dict[str, Any]) -> str:
    """Batch TOML for the "Prompts" (one per line) or "Template" tab."""
    doc: dict[str, Any] = {"name": name or "batch"}
    doc.update({key: value for key, value in settings.items() if value not in (None, "", 0)})
    if mode == LIST:
        doc["task"] = [{"prompt": line.strip()} for line in text.splitlines() if line.strip()]
    else:
        doc["template"] = {"prompt": text, "paths": globs.replace(",", " ").split()}
    return tomli_w.dumps(doc, multiline_strings=True)


class BatchDialog(QDialog):
    """Build, preview, import/export and submit a batch.

    Signals:
        submitted(list): the tasks the engine created.
    """

    submitted = Signal(list)

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._ctx = ctx
        self.spec: BatchSpec | None = None
        self._source = "batch.toml"
        self._base_dir = Path.home()
        self._file_dialog: QFileDialog | None = None
        self.setWindowTitle("New batch")
        self._build()
        self._timer = QTimer(self, singleShot=True, interval=_PREVIEW_DELAY_MS)
        self._timer.timeout.connect(self.refresh_preview)
        for signal in (self.name.textChanged, self.prompts.textChanged, self.template.textChanged,
                       self.globs.textChanged, self.toml.textChanged, self.tabs.currentChanged,
                       self.repo.checked, self.start.combo.editTextChanged,
                       self.settings.agent.currentIndexChanged, self.settings.priority.valueChanged):
            signal.connect(lambda *_: self._timer.start())
        self.resize(820, 720)

    def _build(self) -> None:
        self.name = QLineEdit(placeholderText="nightly-cleanup")
        self.prompts = QPlainTextEdit(placeholderText="One prompt per line:\nAdd type hints to utils.py\nFix the flaky test in test_api.py")
        self.template = QPlainTextEdit(placeholderText="Write unit tests for {path}")
        self.template.setMaximumHeight(90)
        self.globs = QLineEdit(placeholderText="src/**/*.py, lib/*.py")
        template_page = QWidget()
        template_form = QFormLayout(template_page)
        template_form.addRow("Prompt template", self.template)
        template_form.addRow("Files (globs)", self.globs)
        template_form.addRow(QLabel("One task per matching file; {path} is replaced by the file."))
        self.toml = QPlainTextEdit(placeholderText="name = \"…\"\n\n[[task]]\nprompt = \"…\"")
        self.tabs = QTabWidget()
        self.tabs.addTab(self.prompts, "Prompts")
        self.tabs.addTab(template_page, "Template + glob")
        self.tabs.addTab(self.toml, "TOML")
        self.repo = RepoPicker(self._ctx)
        self.start = StartTime()
        self.start.set_text("tonight 01:00")
        form = QFormLayout()
        form.addRow("Name", self.name)
        form.addRow("Repository", self.repo)
        self.settings = TaskSettings(self._ctx, form)
        form.addRow("Start", self.start)
        self.preview = QTableWidget(0, 4)
        self.preview.setHorizontalHeaderLabels(["Title / prompt", "Repository", "Agent", "Starts"])
        header = self.preview.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.preview.verticalHeader().hide()
        self.preview.setShowGrid(False)
        self.preview.setAlternatingRowColors(True)
        self.preview.setWordWrap(False)
        self.preview.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.status = plain_label()
        self.status.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.import_button = self.buttons.addButton("Import TOML…", QDialogButtonBox.ButtonRole.ActionRole)
        self.export_button = self.buttons.addButton("Export TOML…", QDialogButtonBox.ButtonRole.ActionRole)
        self.create_button = self.buttons.addButton("Create tasks", QDialogButtonBox.ButtonRole.AcceptRole)
        self.create_button.setEnabled(False)
        self.create_button.setDefault(True)
        self.import_button.clicked.connect(self._choose_import)
        self.export_button.clicked.connect(self._choose_export)
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.tabs, 2)
        layout.addWidget(QLabel("Preview"))
        layout.addWidget(self.preview, 2)
        layout.addWidget(self.status)
        layout.addWidget(self.buttons)

    # -- parsing ------------------------------------------------------------------------
    def document(self) -> tuple[str, str | None]:
        """The TOML text to parse and the start-time override (None: the file decides)."""
        mode = self.tabs.currentIndex()
        if mode == TOML:
            return self.toml.toPlainText(), None
        values = self.settings.values()
        settings = {"agent": values["agent"], "runtime": values["runtime"],
                    "priority": values["priority"], "timeout": values["timeout"]}
        text = self.prompts.toPlainText() if mode == LIST else self.template.toPlainText()
        doc = form_document(self.name.text().strip(), mode, text, self.globs.text(), settings)
        start = self.start.text()
        return doc, (None if start.lower() in ("", "now") else start)

    def refresh_preview(self) -> None:
        """Re-parse the batch and show its tasks or the reason it is malformed (nothing
        typed yet is not a problem: it gets a hint, not an error)."""
        self._timer.stop()
        if not self._main_text().strip():
            self._show_problem(_EMPTY_HINTS[self.tabs.currentIndex()], error=False)
            return
        try:
            text, at = self.document()
        except InvalidInput as exc:
            self._show_problem(str(exc))
            return
        self._ctx.runner.spawn(self._parse(text, at), on_error=lambda e: self._show_problem(str(e)))

    async def _parse(self, text: str, at: str | None) -> None:
        spec = await self._ctx.engine.parse_batch(
            text, source=self._source, base_dir=self._base_dir,
            default_repo=self.repo.path() or None, at_override=at)
        self._show_spec(spec)

    def _show_spec(self, spec: BatchSpec) -> None:
        self.spec = spec
        self.preview.setRowCount(len(spec.tasks))
        for row, task in enumerate(spec.tasks):
            cells = (task.title or task.prompt.splitlines()[0], fmt.short_repo(task.repo),
                     task.agent or "shell", fmt.timestamp(task.not_before) if task.not_before else "now")
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(plain_tip(task.prompt if column == 0 else task.repo))
                self.preview.setItem(row, column, item)
        when = f", starting {fmt.timestamp(spec.not_before)}" if spec.not_before else ""
        self.status.setStyleSheet(OK_STYLE)
        self.status.setText(f"{len(spec.tasks)} tasks in batch “{spec.name}”{when}")
        self.create_button.setText(f"Create {len(spec.tasks)} tasks")
        self.create_button.setEnabled(True)

    def _main_text(self) -> str:
        """What the current tab's tasks come from: the prompts, the template or the TOML."""
        return (self.prompts, self.template, self.toml)[self.tabs.currentIndex()].toPlainText()

    def _show_problem(self, message: str, error: bool = True) -> None:
        self.spec = None
        self.preview.setRowCount(0)
        self.status.setStyleSheet(ERROR_STYLE if error else "")
        self.status.setText(message)
        self.create_button.setText("Create tasks")
        self.create_button.setEnabled(False)

    # -- import / export / submit --------------------------------------------------------
    def _choose_import(self) -> None:
        self._file_dialog = QFileDialog(self, "Import batch", str(self._base_dir), "Batch files (*.toml)")
        self._file_dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        self._file_dialog.fileSelected.connect(self.import_file)
        self._file_dialog.open()

    def import_file(self, path: str) -> asyncio.Task[None]:
        """Load a batch file into the TOML tab (relative repos resolve from its folder)."""
        return self._ctx.runner.spawn(self._import(Path(path)),
                                      on_error=lambda e: self._show_problem(str(e)))

    async def _import(self, file: Path) -> None:
        text = await self._ctx.engine.read_batch_file(file)
        self._source, self._base_dir = file.name, file.parent
        self.toml.setPlainText(text)
        self.tabs.setCurrentIndex(TOML)
        self.refresh_preview()

    def _choose_export(self) -> None:
        if self.spec is None:
            self.status.setText("Nothing to export: the batch has problems")
            return
        self._file_dialog = QFileDialog(self, "Export batch", str(self._base_dir / f"{self.spec.name}.toml"))
        self._file_dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        self._file_dialog.setDefaultSuffix("toml")
        self._file_dialog.fileSelected.connect(self.export_file)
        self._file_dialog.open()

    def export_file(self, path: str) -> asyncio.Task[None] | None:
        """Write the previewed batch as a batch file."""
        if self.spec is None:
            return None
        return self._ctx.runner.spawn(self._export(self.spec, path),
                                      on_error=lambda e: self.status.setText(str(e)))

    async def _export(self, spec: BatchSpec, path: str) -> None:
        await self._ctx.engine.export_batch(spec, path)
        self.status.setText(f"Saved {path}")

    def submit(self) -> None:
        """Submit the previewed batch in one transaction."""
        if self.spec is None:
            return
        self.create_button.setEnabled(False)
        self._ctx.runner.spawn(self._submit(self.spec), on_error=self._failed)

    async def _submit(self, spec: BatchSpec) -> None:
        tasks = await self._ctx.engine.submit_batch(spec)
        if self.repo.path():
            self._ctx.ui_state.add_recent_repo(tasks[0].repo)
        self.submitted.emit(tasks)
        self.accept()

    def _failed(self, exc: AgentdeckError) -> None:
        self._show_problem(str(exc))
