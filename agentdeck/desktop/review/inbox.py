"""The review inbox: the list beside the diff of every task waiting for review.

It follows no filter of the Tasks view. `step` is what ``n`` / ``p`` do: the next (or
previous) waiting task, wrapping around; when the shown task left the inbox (accepted,
rejected), ``n`` opens the one that took its place.
"""
from __future__ import annotations

from PySide6.QtCore import QModelIndex, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QListView, QVBoxLayout, QWidget

from agentdeck.desktop.review.qt_inbox_model import InboxModel, TaskRole
from agentdeck.engine.models import Task

ORDERS = (("oldest", "Oldest first"), ("batch", "By batch"))


class Inbox(QWidget):
    """The waiting tasks; choosing one (click, keys, `step`) emits `chosen`.

    Signals:
        chosen(object): the `Task` to review now.
        order_changed(str): the user picked "oldest" or "batch".
    """

    chosen = Signal(object)
    order_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = InboxModel(self)
        self._shown: str | None = None   # the task last chosen
        self._anchor = 0                 # its row, kept when it leaves the inbox
        self.count = QLabel()
        self.order = QComboBox()
        for key, text in ORDERS:
            self.order.addItem(text, key)
        self.order.setToolTip("Review the tasks that waited longest first, or batch by batch")
        self.view = QListView()
        self.view.setModel(self.model)
        self.view.setAlternatingRowColors(True)
        self.view.setUniformItemSizes(True)
        header = QHBoxLayout()
        header.addWidget(self.count, 1)
        header.addWidget(self.order)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 0, 8)
        layout.addLayout(header)
        layout.addWidget(self.view)
        self._marking = False
        self.view.selectionModel().currentChanged.connect(self._on_current)
        self.order.currentIndexChanged.connect(self._on_order)
        self.model.modelReset.connect(self._on_reset)
        self._on_reset()

    @property
    def shown_id(self) -> str | None:
        """The task last chosen from the inbox."""
        return self._shown

    def set_order(self, order: str) -> None:
        """Order the inbox by ``order`` ("oldest", "batch") without saying so."""
        index = self.order.findData(order)
        self.order.blockSignals(True)
        self.order.setCurrentIndex(max(index, 0))
        self.order.blockSignals(False)
        self.model.set_order(self.order.currentData())

    def show_task(self, task_id: str | None) -> None:
        """Mark ``task_id`` as the one on screen (chosen elsewhere, e.g. in Tasks)."""
        self._shown = task_id
        self._mark()

    def step(self, delta: int) -> Task | None:
        """Choose the waiting task ``delta`` rows on (1: next, -1: previous) and return
        it (``None``: nothing waits)."""
        row = self._row_after(delta)
        return None if row is None else self._choose(row)

    def peek(self, delta: int) -> Task | None:
        """The task `step` would choose, left unchosen."""
        row = self._row_after(delta)
        return None if row is None else self.model.task_at(row)

    def _row_after(self, delta: int) -> int | None:
        count = self.model.rowCount()
        if not count:
            return None
        row = self.model.row_of(self._shown)
        if row is None:  # it left the inbox: its successor now sits at its row
            row = min(self._anchor, count) - (1 if delta > 0 else 0)
        return (row + delta) % count

    def _choose(self, row: int) -> Task:
        task = self.model.task_at(row)
        self._shown, self._anchor = task.id, row
        self._mark()
        self.chosen.emit(task)
        return task

    def _on_current(self, index: QModelIndex, _previous: QModelIndex) -> None:
        """The user moved in the list (click, arrow keys): review that task."""
        if index.isValid() and not self._marking:
            self._choose(index.row())

    def _on_order(self, _index: int) -> None:
        order = self.order.currentData()
        self.model.set_order(order)
        self.order_changed.emit(order)

    def _on_reset(self) -> None:
        count = self.model.rowCount()
        self.count.setText(f"{count} waiting for review" if count else "Nothing waits for review")
        self._mark()

    def _mark(self) -> None:
        """Select the shown task's row (nothing when it is not in the inbox)."""
        row = self.model.row_of(self._shown)
        selection = self.view.selectionModel()
        if row is None:
            self._marking = True
            selection.clear()
            self._marking = False
            return
        self._anchor = row
        index = self.model.index(row)
        self._marking = True
        try:
            selection.setCurrentIndex(index, selection.SelectionFlag.ClearAndSelect)
        finally:
            self._marking = False
        self.view.scrollTo(index)

    def task(self, row: int) -> Task:
        """The task at ``row`` (for tests and the window)."""
        return self.model.index(row).data(TaskRole)
