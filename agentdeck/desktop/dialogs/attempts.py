"""The best-of-N part of the New task dialog: how many attempts per agent, and which
other agents run the same prompt (all of them form one group to compare)."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QSpinBox, QVBoxLayout, QWidget

from agentdeck.engine.api import validate

_LIST_HEIGHT = 72


class AttemptsChoice(QWidget):
    """An "attempts" spin box and a checkable list of further agents.

    Signals:
        changed(): the number of attempts or the chosen agents changed.
    """

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.attempts = QSpinBox(minimum=1, maximum=validate.MAX_GROUP)
        self.attempts.setSuffix(" per agent")
        self.attempts.setToolTip("Run the prompt several times as a best-of-N group: the "
                                 "review shows the attempts side by side, accepting one "
                                 "rejects the others")
        self.others = QListWidget()
        self.others.setToolTip("Also run the prompt with these agents, in the same group")
        self.others.setFixedHeight(_LIST_HEIGHT)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.attempts)
        layout.addWidget(self.others)
        self.attempts.valueChanged.connect(self.changed)
        self.others.itemChanged.connect(lambda _item: self.changed.emit())

    def set_profiles(self, names: list[str]) -> None:
        """List ``names`` as agents that can be added, none checked."""
        self.others.clear()
        for name in names:
            item = QListWidgetItem(name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.others.addItem(item)

    def agents(self, main: str) -> list[str]:
        """``main`` and the checked agents (each once, ``main`` first)."""
        checked = [self.others.item(n).text() for n in range(self.others.count())
                   if self.others.item(n).checkState() == Qt.CheckState.Checked]
        return [main, *(name for name in checked if name != main)]

    def size(self, main: str) -> int:
        """How many tasks the dialog starts."""
        return len(self.agents(main)) * self.attempts.value()
