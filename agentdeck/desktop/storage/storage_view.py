"""The Storage tab: one row per task with files on disk, totals per repo, and "Clean up",
which shows what `gc` would remove (its dry run) and removes it once confirmed."""
from __future__ import annotations

from PySide6.QtWidgets import (
    QAbstractItemView, QHBoxLayout, QLabel, QMessageBox, QPushButton, QTableWidget,
    QTableWidgetItem, QVBoxLayout, QWidget,
)

from agentdeck.desktop.context import AppContext
from agentdeck.engine.models import StorageReport, format_size as size_text

COLUMNS = ("Task", "Size", "State", "Review", "Clean-up")
#: Most entries the confirmation lists by name (the count covers the rest).
LISTED = 20


class StorageView(QWidget):
    """The table, the totals, "Refresh" and "Clean up" (see the module docstring)."""

    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self._ctx = ctx
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setStretchLastSection(True)
        self.totals = QLabel("")
        self.totals.setWordWrap(True)
        self.refresh_button = QPushButton("Refresh")
        self.clean_button = QPushButton("Clean up…")
        self.refresh_button.clicked.connect(self.refresh)
        self.clean_button.clicked.connect(self.clean_up)
        self.confirmation: QMessageBox | None = None
        buttons = QHBoxLayout()
        buttons.addWidget(self.refresh_button)
        buttons.addWidget(self.clean_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.table)
        layout.addWidget(self.totals)

    def refresh(self) -> None:
        """Measure again (in the engine's thread: it walks the copies)."""
        self._ctx.runner.spawn(self._load())

    async def _load(self) -> None:
        self.show_report(await self._ctx.engine.disk_usage())

    def show_report(self, report: StorageReport) -> None:
        self.table.setRowCount(len(report.tasks))
        for row, entry in enumerate(report.tasks):
            cells = (entry.task_id, size_text(entry.bytes), entry.state or "(no task)",
                     entry.review or "-", entry.removable or "kept")
            for column, text in enumerate(cells):
                self.table.setItem(row, column, QTableWidgetItem(text))
        repos = [f"{repo}: {size_text(count)}" for repo, count in sorted(report.repos.items())]
        layers = [f"base layer {tag}: {size_text(count)}"
                  + (" (unused)" if tag in report.unused_layers else "")
                  for tag, count in sorted(report.base_layers.items())]
        self.totals.setText("\n".join([*repos, *layers, f"Total: {size_text(report.total)} "
                                       f"(retention {report.retention_days:g} days)"]))

    def clean_up(self) -> None:
        """Ask the engine what gc would remove, then ask the user."""
        self._ctx.runner.spawn(self._confirm())

    async def _confirm(self) -> None:
        report = await self._ctx.engine.collect_garbage(dry_run=True)
        self.show_report(report)
        gone = report.removable
        layers = [f"base layer {tag}  {size_text(report.base_layers[tag])}"
                  for tag in report.unused_layers]
        box = QMessageBox(self)
        box.setWindowTitle("Clean up storage")
        if not gone and not layers:
            box.setText("Nothing to remove: every copy on disk is still needed.")
            box.setStandardButtons(QMessageBox.StandardButton.Ok)
        else:
            names = [f"{e.task_id}  {size_text(e.bytes)}  ({e.removable})" for e in gone[:LISTED]]
            names += layers
            more = [f"… and {len(gone) - LISTED} more"] if len(gone) > LISTED else []
            layer_words = f" and {len(layers)} unused base layers" if layers else ""
            box.setText(f"Remove {len(gone)} task copies, "
                        f"{size_text(sum(e.bytes for e in gone))}{layer_words}?")
            box.setDetailedText("\n".join([*names, *more]))
            box.setInformativeText("\n".join([*names[:5], *more]))
            box.setStandardButtons(QMessageBox.StandardButton.Yes
                                   | QMessageBox.StandardButton.Cancel)
            box.accepted.connect(lambda: self._ctx.runner.spawn(self._collect()))
        self.confirmation = box
        box.open()

    async def _collect(self) -> None:
        await self._ctx.engine.collect_garbage()
        await self._load()
