"""Task → Collect again: the limits to copy a kept container's change back with.

A Docker task whose change was over a limit ended failed with its container kept; this
asks for the higher limits and hands them on (`collect_requested`), like
``agentdeck collect ID --max-files N --max-bytes N``.
"""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLabel, QSpinBox, QWidget

#: What the fields offer first: five times the runtime's default limits.
DEFAULT_FILES = 100_000
DEFAULT_MIB = 5 * 1024


class CollectDialog(QDialog):
    """Emits ``collect_requested(max_files, max_bytes)`` when the user confirms."""

    collect_requested = Signal(int, object)  # (files, bytes: may pass 2**31)

    def __init__(self, count: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Collect again")
        form = QFormLayout(self)
        form.addRow(QLabel(f"Copy the change of {count} task{'s' if count != 1 else ''} back "
                           "from the kept container, with these limits:"))
        self.files = QSpinBox(minimum=1, maximum=10_000_000, value=DEFAULT_FILES)
        self.mib = QSpinBox(minimum=1, maximum=1_000_000, value=DEFAULT_MIB, suffix=" MiB")
        form.addRow("Most changed files", self.files)
        form.addRow("Most bytes", self.mib)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._confirm)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def _confirm(self) -> None:
        self.collect_requested.emit(self.files.value(), self.mib.value() << 20)
        self.accept()
